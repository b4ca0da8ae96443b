import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, lstat, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { syncPath } from '../disk.js';
import { KilnError } from '../errors.js';

/** 32 random bytes, base64url: 43 characters, 256 bits. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,512}$/;

/**
 * The control-plane token of a data dir (`<data>/control-token`): read it, or make it at the
 * first start. It is made the containerd way (a temp file written with mode 0600 from its
 * creation, fsynced, then committed) except that the commit is `link`, not `rename`: two
 * gateways starting at once on a fresh data dir must end with one token, not each its own.
 */
export async function loadOrCreateToken(file: string): Promise<string> {
  const existing = await readTokenFile(file);
  if (existing !== undefined) return existing;
  const token = randomBytes(32).toString('base64url');
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${token}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  await syncPath(path.dirname(file));
  // Whoever won the link, this is the token now.
  const committed = await readTokenFile(file);
  if (committed === undefined) throw new Error(`${file} vanished while it was being made`);
  return committed;
}

/**
 * The token in `file`, or undefined if there is none. A token file that others could read
 * is refused (as ssh refuses a private key with loose modes): whoever read it holds the
 * control plane.
 */
export async function readTokenFile(file: string): Promise<string | undefined> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!info.isFile())
    throw new KilnError(
      'invalid_token_file',
      `${file} must be a regular file holding the control-plane token`,
      500,
    );
  if (info.mode & 0o077)
    throw new KilnError(
      'insecure_token_file',
      `${file} can be read by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it, or delete it to get a new token`,
      500,
    );
  const token = (await readFile(file, 'utf8')).trim();
  if (!TOKEN_SHAPE.test(token))
    throw new KilnError(
      'invalid_token_file',
      `${file} does not hold a token (32-512 characters of A-Z a-z 0-9 _ -): delete it to get a new one`,
      500,
    );
  return token;
}

/**
 * For the CLI: the token in `file` if this user can read it, else undefined (the gateway
 * then answers 401 and says what to do). Never throws: a CLI without a token still works
 * against a gateway that needs none.
 */
export function readTokenFileIfReadable(file: string): string | undefined {
  try {
    const token = readFileSync(file, 'utf8').trim();
    return TOKEN_SHAPE.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}
