import http from 'node:http';
import type net from 'node:net';

/**
 * A stand-in for a Kubernetes API server on 127.0.0.1, for `kiln export k8s --apply`: no
 * cluster can run on this machine, so this is the one place a fake is used. It answers the
 * discovery requests a client makes to learn a kind's resource name (`GET /api/v1`,
 * `GET /apis/GROUP/VERSION`: an APIResourceList, as the real server answers) and records
 * every request; a write is answered with the object it sent, or with what `refuse` says.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

export interface FakeKubernetesApi {
  url: string;
  requests: RecordedRequest[];
  /** Answer a write to this path with an error: a Status object, as the API server sends one. */
  refuse(path: string, code: number, reason: string, message: string): void;
  /** Answer every write as accepted again. */
  acceptAll(): void;
  close(): Promise<void>;
}

/** The resources of each API group version the manifests use (names from `kubectl api-resources`). */
const RESOURCES: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  '/api/v1': [
    { name: 'secrets', kind: 'Secret', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
  ],
  '/apis/apps/v1': [{ name: 'deployments', kind: 'Deployment', namespaced: true }],
  '/apis/autoscaling/v2': [
    { name: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true },
  ],
  '/apis/serving.knative.dev/v1': [{ name: 'services', kind: 'Service', namespaced: true }],
};

/** A Kubernetes Status object, as the API server sends with an error. */
interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
}

function status(code: number, reason: string, message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code };
}

export async function startFakeKubernetesApi(): Promise<FakeKubernetesApi> {
  const requests: RecordedRequest[] = [];
  const refusals = new Map<string, Status>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const resources = RESOURCES[url.pathname];
      if (req.method === 'GET' && resources) {
        const groupVersion = url.pathname.replace(/^\/apis?\//, '');
        return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources });
      }
      const refusal = refusals.get(url.pathname);
      if (refusal) return send(refusal.code, refusal);
      if (req.method === 'PATCH') return send(200, JSON.parse(recorded.body || '{}'));
      return send(404, status(404, 'NotFound', `the fake has no ${req.method} ${url.pathname}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    refuse: (path, code, reason, message) => refusals.set(path, status(code, reason, message)),
    acceptAll: () => refusals.clear(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
