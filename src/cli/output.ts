/** What a command prints: `--json` gives the gateway's answer as JSON, else a human form. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
