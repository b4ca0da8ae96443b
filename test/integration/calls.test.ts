import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Calls between functions through the gateway (docs/SECURITY.md, "Calls between functions"),
 * with real containers: a function whose spec's `calls` names another reaches it over the
 * unix socket at $KILN_GATEWAY_SOCKET (node's http.request({socketPath}), python's
 * http.client over AF_UNIX), on a cold start and on a specialized stem cell; nothing else is
 * reachable over that socket; a function without `calls` has no socket; a loop is stopped.
 */
let t: TestGateway;
let work: string;
const ORDER = { items: [{ sku: 'mug', qty: 2 }] };

/** Node: `?path=/fn/…&method=…` is called through the socket; without it, what the instance sees. */
const NODE_CALLER = `import http from 'node:http';
import { existsSync, statSync, writeFileSync } from 'node:fs';

function call(path, method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: process.env.KILN_GATEWAY_SOCKET, path, method, headers: { 'content-type': 'application/json' } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const to = url.searchParams.get('path');
    if (to === null) {
      const sock = '/run/kiln/gateway.sock';
      const seen = { env: process.env.KILN_GATEWAY_SOCKET ?? null, socket: existsSync(sock) };
      if (seen.socket) {
        const st = statSync(sock);
        Object.assign(seen, { mode: st.mode & 0o777, mine: st.uid === process.getuid() });
        try { writeFileSync('/run/kiln/other', 'x'); seen.write = 'written'; } catch (e) { seen.write = e.code; }
      }
      return Response.json(seen);
    }
    const method = url.searchParams.get('method') ?? 'POST';
    return Response.json(await call(to, method, method === 'GET' ? undefined : ${JSON.stringify(JSON.stringify(ORDER))}));
  },
};
`;

/** Node: calls itself one level deeper until the gateway refuses, and says where it stopped. */
const NODE_LOOP = `import http from 'node:http';

function call(path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: process.env.KILN_GATEWAY_SOCKET, path, method: 'GET' }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end();
  });
}

export default {
  async fetch(request) {
    const level = Number(new URL(request.url).searchParams.get('level') ?? 0);
    const inner = await call('/fn/loop/?level=' + (level + 1));
    if (inner.status === 200) return Response.json(inner.body);
    return Response.json({ stoppedAt: level, status: inner.status, code: inner.body.error?.code });
  },
};
`;

/** Node: submits the next level as an async invocation of itself, and says how that went. */
const NODE_ASYNC_CHAIN = `import http from 'node:http';

export default {
  fetch: (request) =>
    new Promise((resolve, reject) => {
      const level = Number(new URL(request.url).searchParams.get('level') ?? 0);
      const path = '/async/chain/?level=' + (level + 1);
      const req = http.request({ socketPath: process.env.KILN_GATEWAY_SOCKET, path, method: 'POST' }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          const body = JSON.parse(data);
          resolve(Response.json({ level, status: res.statusCode, code: body.error?.code }));
        });
      });
      req.on('error', reject);
      req.end();
    }),
};
`;

/** Python: prices an order; says whether it sees a call socket (it has no calls). */
const PY_QUOTE = `import json
import os


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    total = sum({"mug": 12.5}.get(i.get("sku"), 0.0) * i.get("qty", 1) for i in order.get("items", []))
    return {
        "total": total,
        "socket": os.path.exists("/run/kiln/gateway.sock"),
        "env": os.environ.get("KILN_GATEWAY_SOCKET"),
    }
`;

/** Python: the call as docs/SECURITY.md shows it (http.client over AF_UNIX). */
const PY_CALLER = `import http.client
import json
import os
import socket


class GatewayConnection(http.client.HTTPConnection):
    """HTTP/1.1 to the gateway over its unix socket ($KILN_GATEWAY_SOCKET)."""

    def __init__(self):
        super().__init__("localhost")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["KILN_GATEWAY_SOCKET"])


def handler(event, context):
    conn = GatewayConnection()
    conn.request("POST", "/fn/quote/", body=json.dumps(${JSON.stringify(ORDER)}), headers={"content-type": "application/json"})
    res = conn.getresponse()
    return {"status": res.status, "body": json.loads(res.read())}
`;

/** Java: the call as docs/SECURITY.md shows it (a SocketChannel to a UnixDomainSocketAddress). */
const JAVA_CALLER = `import com.amazonaws.services.lambda.runtime.Context;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Map;

public class Caller {
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) throws Exception {
    String body = ${JSON.stringify(JSON.stringify(ORDER))};
    String request = "POST /fn/quote/ HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\n"
        + "Content-Length: " + body.length() + "\\r\\nConnection: close\\r\\n\\r\\n" + body;
    var address = UnixDomainSocketAddress.of(System.getenv("KILN_GATEWAY_SOCKET"));
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(address);
      channel.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      Channels.newInputStream(channel).transferTo(answer);
      String text = answer.toString(StandardCharsets.UTF_8);
      return Map.of("statusLine", text.substring(0, text.indexOf("\\r\\n")), "body", text.substring(text.indexOf("\\r\\n\\r\\n") + 4));
    }
  }
}
`;

async function fnDir(name: string, file: string, source: string): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, file), source);
  return dir;
}

async function deploy(dir: string, query: Record<string, string>): Promise<void> {
  const res = await deployDir(t.url, dir, query);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the function answers
async function invoke(name: string, query = ''): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.url}/fn/${name}/${query}`);
  return { status: res.status, json: await res.json() };
}

/** The pool keeps one node stem cell once a node function exists; the next start takes it. */
const nodeCellReady = () =>
  vi.waitFor(
    async () => {
      const cells = (await t.kiln.pool.listStemCells()).filter((c) => c.language === 'node');
      if (cells.length === 0) throw new Error('no node stem cell yet');
    },
    { timeout: 60_000, interval: 100 },
  );

const startedAs = async (name: string) =>
  (await t.kiln.pool.list()).filter((i) => i.function === name).map((i) => i.startedAs);

// Several deploys and starts in two languages; a loaded 2-core machine needs more than 60 s.
describe('calls between functions', { timeout: 300_000 }, () => {
  beforeAll(async () => {
    // One stem cell per language: the first node function starts cold, later ones from cells.
    t = await startTestGateway({ stemCells: 1 });
    work = t.srcDir;
    await deploy(await fnDir('quote', 'quote.py', PY_QUOTE), {
      name: 'quote',
      runtime: 'python',
      handler: 'quote.handler',
    });
    const caller = await fnDir('caller', 'index.mjs', NODE_CALLER);
    // The first node function: a cold start.
    await deploy(caller, { name: 'caller-cold', runtime: 'node', calls: 'quote,guarded' });
    await nodeCellReady();
    await deploy(caller, { name: 'caller', runtime: 'node', calls: 'quote' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reach a function the spec names, from a cold start and from a stem cell', async () => {
    expect(await startedAs('caller-cold')).toEqual(['cold']);
    expect(await startedAs('caller')).toEqual(['stem']);
    for (const name of ['caller-cold', 'caller']) {
      const seen = await invoke(name);
      expect(seen.json).toEqual({
        env: '/run/kiln/gateway.sock',
        socket: true,
        mode: 0o600,
        mine: true,
        write: 'EROFS',
      });
      const called = await invoke(name, '?path=/fn/quote/');
      expect(called.status).toBe(200);
      expect(called.json).toEqual({ status: 200, body: { total: 25, socket: false, env: null } });
    }
    // Counted and logged as an invoke of the callee, like a client's.
    const { functions } = (await (await fetch(`${t.url}/functions`)).json()) as {
      functions: { name: string }[];
    };
    expect(functions.map((f) => f.name).sort()).toEqual(['caller', 'caller-cold', 'quote']);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/kiln_invocations_total\{[^}]*function="quote"[^}]*\} [1-9]/);
  });

  it('refuse a function the spec does not name, and every control-plane route', async () => {
    await deploy(await fnDir('other', 'quote.py', PY_QUOTE), {
      name: 'other',
      runtime: 'python',
      handler: 'quote.handler',
    });
    expect((await invoke('other')).status).toBe(200);
    const refused = [
      ['/fn/other/', 'POST'],
      ['/fn/other@1/', 'POST'],
      ['/fn/caller/', 'POST'],
      ['/functions', 'GET'],
      ['/functions?name=x&runtime=node', 'POST'],
      ['/secrets', 'GET'],
      ['/instances', 'GET'],
      ['/async/other/', 'POST'],
      ['/async/quote/', 'GET'],
      ['/async', 'GET'],
      ['/fn/..%2Ffunctions/', 'GET'],
    ];
    for (const [to, method] of refused) {
      const res = await invoke('caller', `?path=${encodeURIComponent(to!)}&method=${method}`);
      expect(res.json, to).toMatchObject({ status: 403, body: { error: { code: 'call_not_allowed' } } });
    }
    // A named function whose invokes need the token still needs it (this gateway has none:
    // such a function answers 401 to everyone).
    await deploy(await fnDir('guarded', 'quote.py', PY_QUOTE), {
      name: 'guarded',
      runtime: 'python',
      handler: 'quote.handler',
      auth: 'token',
    });
    const guarded = await invoke('caller-cold', `?path=${encodeURIComponent('/fn/guarded/')}`);
    expect(guarded.json).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    // A version or an alias of a named function is that function.
    const pinned = await invoke('caller', `?path=${encodeURIComponent('/fn/quote@1/')}`);
    expect(pinned.json).toMatchObject({ status: 200, body: { total: 25 } });
  });

  it('give no socket to a function without calls, on a stem cell either', async () => {
    await nodeCellReady();
    await deploy(await fnDir('plain', 'index.mjs', NODE_CALLER), { name: 'plain', runtime: 'node' });
    expect(await startedAs('plain')).toEqual(['stem']);
    expect((await invoke('plain')).json).toEqual({ env: null, socket: false });
    // python's quote started cold without calls: its answers above said socket false.
  });

  it('works from python with http.client over AF_UNIX', async () => {
    await deploy(await fnDir('py-caller', 'caller.py', PY_CALLER), {
      name: 'py-caller',
      runtime: 'python',
      handler: 'caller.handler',
      calls: 'quote',
    });
    const res = await invoke('py-caller');
    expect(res.json).toEqual({ status: 200, body: { total: 25, socket: false, env: null } });
  });

  it('works from java with a SocketChannel to a UnixDomainSocketAddress', async () => {
    await deploy(await fnDir('java-caller', 'Caller.java', JAVA_CALLER), {
      name: 'java-caller',
      runtime: 'java',
      handler: 'Caller',
      calls: 'quote',
      memoryMb: '256',
    });
    const res = await invoke('java-caller');
    expect(res.json.statusLine).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(res.json.body)).toEqual({ total: 25, socket: false, env: null });
  });

  it('stops a function calling itself at the depth limit', async () => {
    // One instance serves every level (concurrency), so no level waits for a free instance.
    await deploy(await fnDir('loop', 'index.mjs', NODE_LOOP), {
      name: 'loop',
      runtime: 'node',
      calls: 'loop',
      concurrency: '32',
      maxInstances: '1',
    });
    const res = await invoke('loop');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ stoppedAt: 16, status: 403, code: 'call_depth_exceeded' });
    // The next chain starts from the top again: depths are released as calls end.
    expect((await invoke('loop')).json).toEqual({ stoppedAt: 16, status: 403, code: 'call_depth_exceeded' });
  });

  it('submits async invocations, and stops a chain of them at the depth limit', async () => {
    await deploy(await fnDir('chain', 'index.mjs', NODE_ASYNC_CHAIN), {
      name: 'chain',
      runtime: 'node',
      calls: 'chain',
      asyncRetries: '0',
    });
    // The first level is a client's request; each level after it an async invocation.
    expect((await invoke('chain', '?level=0')).json).toEqual({ level: 0, status: 202 });
    type Listed = { id: string; state: string };
    type Viewed = { result?: { body: { data: string } } };
    const finished = await vi.waitFor(
      async () => {
        const res = await fetch(`${t.url}/async?function=chain`);
        const { invocations } = (await res.json()) as { invocations: Listed[] };
        const done = invocations.filter((i) => i.state === 'succeeded');
        const answers: { level: number; code?: string }[] = [];
        for (const i of done) {
          const view = (await (await fetch(`${t.url}/async/${i.id}`)).json()) as Viewed;
          answers.push(JSON.parse(view.result!.body.data));
        }
        if (!answers.some((a) => a.code === 'call_depth_exceeded')) throw new Error(`${done.length} done`);
        return { invocations, answers };
      },
      { timeout: 120_000, interval: 500 },
    );
    expect(finished.invocations).toHaveLength(16);
    expect(finished.answers.sort((a, b) => a.level - b.level).at(-1)).toEqual({
      level: 16,
      status: 403,
      code: 'call_depth_exceeded',
    });
  });

  it('closes an instance call socket when the instance goes', async () => {
    const before = t.kiln.calls.open;
    const [instance] = (await t.kiln.pool.list()).filter((i) => i.function === 'caller');
    expect(before).toBeGreaterThanOrEqual(1);
    const res = await fetch(`${t.url}/instances/${instance!.id}`, { method: 'DELETE' });
    expect(res.status).toBeLessThan(300);
    await expect.poll(() => t.kiln.calls.open, { timeout: 30_000 }).toBe(before - 1);
    // The next request starts a new instance with a socket of its own.
    expect((await invoke('caller', '?path=/fn/quote/')).json).toMatchObject({ status: 200 });
    expect(t.kiln.calls.open).toBe(before);
  });
});
