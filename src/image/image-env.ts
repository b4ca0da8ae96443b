/**
 * An image config's `Env` (image-spec config.md: `VARNAME=VARVALUE` entries) with each name
 * once, the last value of a name winning, in first-seen order. A list with a name twice is
 * read differently by different readers: ld.so and a shell take the last, glibc's getenv the
 * first, so a function's `LD_PRELOAD` or `PATH` over the base image's must replace it.
 */
export function mergeEnv(entries: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    byName.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  }
  return [...byName.values()];
}
