import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../harness.js';
import { gzipBomb, rawTar, rawTarGz } from '../tar-builder.js';

/**
 * issue 8 §10 and §13: a 712 KB bundle of 100 000 empty files took 209 s to deploy and
 * stalled /healthz; a gzip bomb was inflated synchronously. Bundles now stream in with
 * their caps checked as they arrive, and the gateway keeps answering meanwhile.
 */
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

const deploying = async () =>
  (await readdir(path.join(t.dataDir, 'tmp'))).some((n) => n.startsWith('deploy-'));

/**
 * POST a deploy with node:http, which hands over an answer that comes while the body is
 * still being sent (a refusal comes early; fetch in this same busy process may see the
 * connection end first).
 */
function postDeploy(
  body: Buffer | Buffer[],
  headers: Record<string, string> = { 'content-type': 'application/gzip' },
): Promise<{ status: number; body: { error?: { code: string } } }> {
  const url = new URL(`${t.url}/functions?name=bomb&runtime=node`);
  const chunks = Array.isArray(body) ? body : [body];
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        // One buffer: content-length; chunks: transfer-encoding chunked.
        headers: Array.isArray(body) ? headers : { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          answered = true;
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        });
      },
    );
    // The server may close once it has answered; what we were still sending is moot.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const send = async () => {
      for (const chunk of chunks) {
        if (answered || req.destroyed) return;
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    };
    void send();
  });
}

/**
 * Deploy `body` while asking /healthz over and over; count the answers that came while the
 * deploy was being worked on (its work dir there before and after the answer).
 */
async function deployWhileProbing(
  body: Buffer,
): Promise<{ status: number; code?: string; servedDuring: number }> {
  let done = false;
  const deploy = postDeploy(body).finally(() => {
    done = true;
  });
  let servedDuring = 0;
  while (!done) {
    const before = await deploying();
    const res = await fetch(`${t.url}/healthz`);
    if (before && res.ok && (await deploying())) servedDuring++;
  }
  const res = await deploy;
  return { status: res.status, code: res.body.error?.code, servedDuring };
}

describe('bombs are refused without stalling the gateway', () => {
  it('a 10 GiB gzip bomb declaring one huge file: 413 at its header', async () => {
    const res = await postDeploy(gzipBomb({ declaredSize: 10 * 1024 ** 3, inflatedMiB: 10 * 1024 }));
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('bundle_too_large');
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('a 10 GiB gzip bomb of zeros after the tar: 413 at the inflated cap, /healthz served meanwhile', async () => {
    const result = await deployWhileProbing(gzipBomb({ declaredSize: 0, inflatedMiB: 10 * 1024 }));
    expect(result).toMatchObject({ status: 413, code: 'bundle_too_large' });
    expect(result.servedDuring).toBeGreaterThan(0);
  });

  it('100 000 empty files: 413 bundle_too_many_files, /healthz served meanwhile', async () => {
    const body = rawTarGz(Array.from({ length: 100_000 }, (_, i) => ({ path: `f/${i}` })));
    const result = await deployWhileProbing(body);
    expect(result).toMatchObject({ status: 413, code: 'bundle_too_many_files' });
    expect(result.servedDuring).toBeGreaterThan(0);
  });

  it('a chunked body of 200 MiB that is not gzip: refused at its first bytes', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const res = await postDeploy(Array.from({ length: 200 }, () => chunk));
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_bundle' } } });
  });

  it('a chunked gzip tar of 17 random 8 MiB files (136 MiB, past the 64 MiB unpacked cap): 413', async () => {
    // Random bytes do not deflate: the body is as big as the tar.
    const { randomBytes } = await import('node:crypto');
    const { gzipSync } = await import('node:zlib');
    const content = randomBytes(8 * 1024 * 1024);
    const members = Array.from({ length: 17 }, (_, i) =>
      gzipSync(Buffer.concat([rawTar([{ path: `r${i}`, size: content.length }]).subarray(0, 512), content]), {
        level: 0,
      }),
    );
    const res = await postDeploy(members);
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('bundle_too_large');
  });

  it('malformed multipart: 400 invalid_multipart', async () => {
    const res = await fetch(`${t.url}/functions`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="bundle"; filename="b.tgz"\r\n\r\nno end boundary',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_multipart');
  });

  it('leaves no work dir behind', async () => {
    expect(await readdir(path.join(t.dataDir, 'tmp'))).toEqual([]);
  });
});
