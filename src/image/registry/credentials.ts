import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../disk.js';
import { KilnError } from '../../errors.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Anything that answers "which credentials for this registry?". */
export interface CredentialSource {
  get(registry: string): Promise<Credentials | undefined>;
}

/** Where credentials are looked for: Kiln's own file first, then Docker's. */
export interface CredentialPaths {
  /** `kiln login` writes here (0600): `$KILN_CONFIG_DIR/auth.json`, else `~/.config/kiln/auth.json`. */
  kiln: string;
  /** Read only: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  docker: string;
}

export function defaultCredentialPaths(env: NodeJS.ProcessEnv = process.env): CredentialPaths {
  const home = env.HOME || os.homedir();
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return {
    kiln: path.join(env.KILN_CONFIG_DIR || path.join(configHome, 'kiln'), 'auth.json'),
    docker: path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'config.json'),
  };
}

/** Docker's config shape: `{"auths": {"host": {"auth": base64("user:pass")}}}`; Kiln's file uses it too. */
interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

/** Registry credentials from `kiln login` or Docker's config. Credential helpers are not run. */
export class CredentialStore implements CredentialSource {
  constructor(readonly paths: CredentialPaths = defaultCredentialPaths()) {}

  async get(registry: string): Promise<Credentials | undefined> {
    for (const file of [this.paths.kiln, this.paths.docker]) {
      const entry = findEntry(await readAuthFile(file), registry);
      if (entry) return entry;
    }
    return undefined;
  }

  /** Store credentials for a registry in Kiln's file, readable by its owner only. */
  async save(registry: string, credentials: Credentials): Promise<void> {
    const file = await readAuthFile(this.paths.kiln);
    const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    file.auths = { ...file.auths, [registry]: { auth } };
    await mkdir(path.dirname(this.paths.kiln), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.paths.kiln, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  }

  async remove(registry: string): Promise<boolean> {
    const file = await readAuthFile(this.paths.kiln);
    if (!file.auths?.[registry]) return false;
    delete file.auths[registry];
    await writeFileAtomic(this.paths.kiln, `${JSON.stringify(file, null, 2)}\n`, 0o600);
    return true;
  }
}

async function readAuthFile(file: string): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as AuthFile) : {};
  } catch {
    throw new KilnError('invalid_config', `${file} is not valid JSON; fix or remove it`);
  }
}

/** Docker writes Hub's entry as a URL; other registries as host[:port], sometimes with a scheme. */
function findEntry(file: AuthFile, registry: string): Credentials | undefined {
  const names =
    registry === 'docker.io'
      ? ['docker.io', 'https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io']
      : [registry, `https://${registry}`, `http://${registry}`];
  for (const name of names) {
    const entry = file.auths?.[name];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}
