import { KilnError } from '../../errors.js';
import { readJsonObject } from '../json-body.js';
import type { RouteContext } from './route-context.js';

/** `kiln ps`, `kiln stop` and `kiln exec`. */
export function register({ app, kiln, control }: RouteContext): void {
  app.delete('/instances/:id', control, async (c) => {
    await kiln.pool.stop(c.req.param('id'));
    return c.json({ stopped: c.req.param('id') });
  });
  app.get('/instances', control, async (c) =>
    c.json({ instances: await kiln.pool.list(), stemCells: await kiln.pool.listStemCells() }),
  );
  // `{cmd: [...], timeoutMs?}`: the command runs in the instance (OCI `exec`) as its uid; the
  // answer comes when it ends, with its exit code and output (each stream capped by the driver).
  app.post('/instances/:id/exec', control, async (c) => {
    const body = await readJsonObject(c);
    const result = await kiln.pool.exec(
      c.req.param('id'),
      execCommand(body.cmd),
      execTimeout(body.timeoutMs),
    );
    return c.json({
      exitCode: result.code,
      signal: result.signal,
      stdout: result.stdout,
      stderr: result.stderr,
    });
  });
}

function execCommand(raw: unknown): string[] {
  const ok =
    Array.isArray(raw) &&
    raw.length > 0 &&
    raw.length <= 256 &&
    raw.every((a) => typeof a === 'string' && a.length <= 4096 && !a.includes('\0'));
  if (!ok)
    throw new KilnError(
      'invalid_command',
      '"cmd" must be a non-empty array of strings, e.g. ["cat", "/etc/os-release"]',
    );
  return raw as string[];
}

function execTimeout(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 600_000)
    throw new KilnError('invalid_command', '"timeoutMs" must be a whole number of ms between 1 and 600000');
  return raw;
}
