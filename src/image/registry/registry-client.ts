import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { KilnError } from '../../errors.js';
import { parseDigest } from '../digest.js';
import { type Challenge, parseChallenge } from './challenge.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { apiHost, isLoopback } from './reference.js';

export interface RegistryClientOptions {
  /** Plain http for a registry that is not on loopback (`--insecure`). */
  insecure?: boolean;
  credentials?: CredentialSource;
  /** Blobs larger than this are uploaded in chunks of this size (PATCH with Content-Range). */
  chunkSize?: number;
}

/** A manifest or index as the registry sent it: the exact bytes, so its digest can be checked. */
export interface FetchedManifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

type Body = Buffer | NodeJS.ReadableStream | undefined;

interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: {
    text(): Promise<string>;
    arrayBuffer(): Promise<ArrayBuffer>;
    dump(): Promise<void>;
  } & AsyncIterable<Buffer>;
}

/** The most Kiln reads of a manifest (containerd's limit is the same 4 MiB). */
const MAX_MANIFEST_BYTES = 4 << 20;
const DEFAULT_CHUNK = 32 << 20;

/**
 * A client of one registry's OCI distribution API (distribution-spec v1.1, `/v2/`).
 * Authentication follows the registry's `WWW-Authenticate` challenge: Basic with the
 * stored credentials, or the Bearer-token flow (a token from the challenge's realm for the
 * repository's scope, with Basic credentials when there are some), cached per scope.
 * Plain http only on loopback or when asked for (`insecure`).
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly tokens = new Map<string, string>();
  private basic: Credentials | undefined;
  private challenge: Challenge | undefined;
  private readonly chunkSize: number;

  constructor(
    readonly registry: string,
    private readonly options: RegistryClientOptions = {},
  ) {
    const plain = options.insecure === true || isLoopback(registry);
    this.baseUrl = `${plain ? 'http' : 'https'}://${apiHost(registry)}`;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  }

  /** GET /v2/: checks that the registry answers and takes the credentials (`kiln login`). */
  async ping(): Promise<void> {
    const res = await this.send('GET', '/v2/', []);
    if (res.status !== 200) throw await this.failure(res, 'answer GET /v2/');
    await res.body.dump();
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`, pullScope(repo));
    await res.body.dump();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `HEAD blob ${digest} in ${repo}`);
  }

  /**
   * Upload a blob from a file, unless a cross-repository mount from `mountFrom` (a
   * repository of this registry known to hold it) gives it for free.
   * @returns how it got there
   */
  async pushBlob(
    repo: string,
    blob: { digest: string; size: number; file: string },
    mountFrom: string[] = [],
    onProgress: (bytes: number) => void = () => {},
  ): Promise<'mounted' | 'uploaded'> {
    let location: string | undefined;
    for (const from of mountFrom.filter((r) => r !== repo)) {
      const query = new URLSearchParams({ mount: blob.digest, from });
      const res = await this.send('POST', `/v2/${repo}/blobs/uploads/?${query}`, [
        ...pushScope(repo),
        `repository:${from}:pull`,
      ]);
      await res.body.dump();
      // 201: mounted. 202: the registry does not mount (or lacks it there) and opened an upload instead.
      if (res.status === 201) return 'mounted';
      if (res.status !== 202) throw await this.failure(res, `mount ${blob.digest} into ${repo}`);
      location = header(res, 'location');
      break;
    }
    if (location === undefined) {
      const res = await this.send('POST', `/v2/${repo}/blobs/uploads/`, pushScope(repo));
      await res.body.dump();
      if (res.status !== 202) throw await this.failure(res, `start an upload to ${repo}`);
      location = header(res, 'location');
    }
    if (!location)
      throw new KilnError('registry_error', `${this.registry} opened an upload without a Location`, 502);
    if (blob.size <= this.chunkSize) {
      const res = await this.send(
        'PUT',
        withDigest(this.resolve(location), blob.digest),
        pushScope(repo),
        { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        () => progressStream(createReadStream(blob.file), onProgress),
      );
      await res.body.dump();
      if (res.status !== 201) throw await this.failure(res, `upload ${blob.digest} to ${repo}`);
      return 'uploaded';
    }
    // Chunked upload (distribution-spec "Pushing a blob in chunks"): PATCH each range in
    // order, following the Location each answer gives, then PUT with the digest.
    for (let start = 0; start < blob.size; start += this.chunkSize) {
      const end = Math.min(blob.size, start + this.chunkSize) - 1;
      const res = await this.send(
        'PATCH',
        this.resolve(location),
        pushScope(repo),
        {
          'content-type': 'application/octet-stream',
          'content-length': String(end - start + 1),
          'content-range': `${start}-${end}`,
        },
        () => progressStream(createReadStream(blob.file, { start, end }), onProgress),
      );
      await res.body.dump();
      if (res.status !== 202) throw await this.failure(res, `upload bytes ${start}-${end} of ${blob.digest}`);
      location = header(res, 'location') ?? location;
    }
    const res = await this.send('PUT', withDigest(this.resolve(location), blob.digest), pushScope(repo), {
      'content-length': '0',
    });
    await res.body.dump();
    if (res.status !== 201) throw await this.failure(res, `finish the upload of ${blob.digest}`);
    return 'uploaded';
  }

  /** PUT a manifest under a tag (or its digest); returns the digest the registry reports. */
  async putManifest(repo: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const res = await this.send(
      'PUT',
      `/v2/${repo}/manifests/${reference}`,
      pushScope(repo),
      { 'content-type': mediaType, 'content-length': String(bytes.length) },
      () => bytes,
    );
    await res.body.dump();
    if (res.status !== 201) throw await this.failure(res, `put the manifest ${repo}:${reference}`);
    return header(res, 'docker-content-digest') ?? '';
  }

  /**
   * GET a manifest or index by tag or digest. The bytes are checked against the digest
   * asked for, or against the registry's `Docker-Content-Digest` when a tag was.
   */
  async getManifest(repo: string, reference: string, accept: readonly string[]): Promise<FetchedManifest> {
    const res = await this.send('GET', `/v2/${repo}/manifests/${reference}`, pullScope(repo), {
      accept: accept.join(', '),
    });
    if (res.status === 404) {
      await res.body.dump();
      throw new KilnError(
        'image_not_found',
        `${this.registry}/${repo}:${reference} does not exist in the registry`,
        404,
      );
    }
    if (res.status !== 200) throw await this.failure(res, `get the manifest ${repo}:${reference}`);
    const bytes = await readCapped(res.body, MAX_MANIFEST_BYTES, `the manifest ${repo}:${reference}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const expected = reference.startsWith('sha256:') ? reference : header(res, 'docker-content-digest');
    if (expected && expected !== digest) {
      throw new KilnError(
        'digest_mismatch',
        `${this.registry} sent a manifest for ${repo}:${reference} that hashes to ${digest}, not ${expected}`,
        502,
      );
    }
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]!.trim();
    return { mediaType, bytes, digest };
  }

  /**
   * GET a blob into `file`, hashing it on the way: a blob whose size or digest is not the
   * descriptor's is refused (the caller removes the file).
   */
  async fetchBlob(
    repo: string,
    blob: { digest: string; size: number },
    file: string,
    onProgress: (bytes: number) => void = () => {},
  ): Promise<void> {
    parseDigest(blob.digest);
    const res = await this.send('GET', `/v2/${repo}/blobs/${blob.digest}`, pullScope(repo));
    if (res.status !== 200) throw await this.failure(res, `get blob ${blob.digest} of ${repo}`);
    const hash = createHash('sha256');
    let size = 0;
    const check = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > blob.size) {
          done(
            new KilnError(
              'digest_mismatch',
              `blob ${blob.digest} is longer than its descriptor's ${blob.size} bytes`,
              502,
            ),
          );
          return;
        }
        hash.update(chunk);
        onProgress(chunk.length);
        done(null, chunk);
      },
    });
    await pipeline(res.body, check, createWriteStream(file, { mode: 0o644 }));
    const digest = `sha256:${hash.digest('hex')}`;
    if (size !== blob.size || digest !== blob.digest) {
      throw new KilnError(
        'digest_mismatch',
        `${this.registry} sent ${size} bytes hashing to ${digest} for blob ${blob.digest} (${blob.size} bytes): refused, nothing stored`,
        502,
      );
    }
  }

  private resolve(location: string): string {
    return new URL(location, this.baseUrl).toString();
  }

  /**
   * One request, authenticated as the registry asks: on a 401 the challenge is read and
   * the request sent once more with Basic credentials or a Bearer token for `scopes`.
   */
  private async send(
    method: string,
    pathOrUrl: string,
    scopes: string[],
    headers: Record<string, string> = {},
    body: () => Body = () => undefined,
  ): Promise<Exchange> {
    const url = pathOrUrl.startsWith('/') ? `${this.baseUrl}${pathOrUrl}` : pathOrUrl;
    let res = await this.raw(method, url, { ...headers, ...this.authHeader(scopes) }, body());
    if (res.status !== 401) return res;
    const challenge = parseChallenge(header(res, 'www-authenticate'));
    await res.body.dump();
    if (!challenge) throw this.unauthorized('it sent no WWW-Authenticate challenge');
    this.challenge = challenge;
    this.basic ??= await this.options.credentials?.get(this.registry);
    if (challenge.scheme === 'bearer') await this.fetchToken(challenge, scopes);
    else if (challenge.scheme !== 'basic')
      throw this.unauthorized(`it asks for ${challenge.scheme} authentication, which Kiln does not speak`);
    else if (!this.basic) throw this.unauthorized('no credentials are stored for it');
    res = await this.raw(method, url, { ...headers, ...this.authHeader(scopes) }, body());
    if (res.status === 401) {
      await res.body.dump();
      throw this.unauthorized('it refused the stored credentials');
    }
    return res;
  }

  private authHeader(scopes: string[]): Record<string, string> {
    if (this.challenge?.scheme === 'bearer') {
      const token = this.tokens.get(scopes.join(' '));
      return token ? { authorization: `Bearer ${token}` } : {};
    }
    if (this.challenge?.scheme === 'basic' && this.basic) {
      return { authorization: `Basic ${basicToken(this.basic)}` };
    }
    return {};
  }

  /** distribution's token flow: GET realm?service=…&scope=… (with Basic credentials if any) → {token}. */
  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<void> {
    const realm = challenge.params.realm;
    if (!realm) throw this.unauthorized('its Bearer challenge has no realm');
    const url = new URL(realm);
    if (url.protocol !== 'https:' && !(this.options.insecure || isLoopback(url.host))) {
      throw this.unauthorized(`its token realm ${realm} is not https`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = this.basic
      ? { authorization: `Basic ${basicToken(this.basic)}` }
      : {};
    const res = await this.raw('GET', url.toString(), headers, undefined);
    if (res.status !== 200) {
      await res.body.dump();
      throw this.unauthorized(`its token service ${url.origin} answered ${res.status}`);
    }
    const answer = JSON.parse(await res.body.text()) as { token?: string; access_token?: string };
    const token = answer.token ?? answer.access_token;
    if (!token) throw this.unauthorized('its token service sent no token');
    this.tokens.set(scopes.join(' '), token);
  }

  private async raw(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Body,
  ): Promise<Exchange> {
    try {
      const res = await request(url, {
        method: method as 'GET',
        headers,
        body: body as Buffer | undefined,
      });
      // Blob GETs may redirect to storage (S3, a CDN): follow without our Authorization.
      if ((res.statusCode === 307 || res.statusCode === 302 || res.statusCode === 303) && method === 'GET') {
        const to = res.headers.location;
        await res.body.dump();
        if (typeof to === 'string') return this.raw('GET', new URL(to, url).toString(), {}, undefined);
      }
      return { status: res.statusCode, headers: res.headers, body: res.body as unknown as Exchange['body'] };
    } catch (err) {
      if (err instanceof KilnError) throw err;
      throw new KilnError(
        'registry_unreachable',
        `cannot reach the registry ${this.registry} at ${this.baseUrl}: ${(err as Error).message}${this.baseUrl.startsWith('https') ? ' (a registry serving plain http needs --insecure)' : ''}`,
        502,
      );
    }
  }

  private unauthorized(why: string): KilnError {
    return new KilnError(
      'registry_unauthorized',
      `the registry ${this.registry} refused access: ${why} (run: kiln login ${this.registry})`,
      403,
    );
  }

  private async failure(res: Exchange, what: string): Promise<KilnError> {
    const text = await res.body.text().catch(() => '');
    let detail = text.slice(0, 300);
    try {
      const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
      if (errors?.length) detail = errors.map((e) => `${e.code}: ${e.message}`).join('; ');
    } catch {}
    if (res.status === 401 || res.status === 403)
      return this.unauthorized(`${what}: ${res.status} ${detail}`);
    return new KilnError(
      'registry_error',
      `the registry ${this.registry} failed to ${what}: ${res.status} ${detail}`,
      502,
    );
  }
}

function pullScope(repo: string): string[] {
  return [`repository:${repo}:pull`];
}

function pushScope(repo: string): string[] {
  return [`repository:${repo}:pull,push`];
}

function basicToken(c: Credentials): string {
  return Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

function header(res: Exchange, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function withDigest(url: string, digest: string): string {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u.toString();
}

function progressStream(
  stream: NodeJS.ReadableStream,
  onProgress: (bytes: number) => void,
): NodeJS.ReadableStream {
  return stream.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        onProgress(chunk.length);
        done(null, chunk);
      },
    }),
  );
}

async function readCapped(body: AsyncIterable<Buffer>, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new KilnError('registry_error', `${what} is larger than ${max >> 20} MiB`, 502);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
