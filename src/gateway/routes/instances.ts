import { StringDecoder } from 'node:string_decoder';
import { stream } from 'hono/streaming';
import { errorAnswer, KilnError } from '../../errors.js';
import { readJsonObject } from '../json-body.js';
import type { RouteContext } from './route-context.js';

/** `kiln ps`, `kiln stop` and `kiln exec`. */
export function register({ app, kiln, control }: RouteContext): void {
  app.delete('/instances/:id', control, async (c) => {
    await kiln.pool.stop(c.req.param('id'));
    return c.json({ stopped: c.req.param('id') });
  });
  app.get('/instances', control, async (c) =>
    c.json({
      instances: await kiln.pool.list(),
      stemCells: await kiln.pool.listStemCells(),
      precreated: kiln.pool.created.list(),
    }),
  );
  // `{cmd: [...], timeoutMs?}`: the command runs in the instance (OCI `exec`) as its uid.
  // Buffered: the answer comes when it ends, with its exit code and output (capped by the
  // driver). `?stream=1`: NDJSON as the command writes, `{"stdout": "…"}` / `{"stderr": "…"}`,
  // then `{"exitCode", "signal"}` (or `{"error"}` if the instance went meanwhile).
  app.post('/instances/:id/exec', control, async (c) => {
    const body = await readJsonObject(c);
    const id = c.req.param('id');
    const cmd = execCommand(body.cmd);
    const timeoutMs = execTimeout(body.timeoutMs);
    if (!['1', 'true'].includes(c.req.query('stream') ?? '')) {
      const result = await kiln.pool.exec(id, cmd, { timeoutMs });
      return c.json({
        exitCode: result.code,
        signal: result.signal,
        stdout: result.stdout,
        stderr: result.stderr,
      });
    }
    // 404 and 409 answer as errors before the stream starts.
    kiln.pool.execTarget(id);
    c.header('content-type', 'application/x-ndjson');
    return stream(c, async (out) => {
      const gone = new AbortController();
      out.onAbort(() => gone.abort());
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const line = (value: unknown) => out.write(`${JSON.stringify(value)}\n`);
      try {
        const result = await kiln.pool.exec(id, cmd, {
          timeoutMs,
          signal: gone.signal,
          // Awaited: the command's pipe is not read while the client is behind.
          onOutput: (name, chunk) => {
            const text = decoders[name].write(chunk);
            return text ? line({ [name]: text }).then(() => undefined) : undefined;
          },
        });
        for (const name of ['stdout', 'stderr'] as const) {
          const rest = decoders[name].end();
          if (rest) await line({ [name]: rest });
        }
        await line({ exitCode: result.code, signal: result.signal });
      } catch (err) {
        await line(errorAnswer(err).body);
      }
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
