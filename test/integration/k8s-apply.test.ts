import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  type FakeKubernetesApi,
  type RecordedRequest,
  startFakeKubernetesApi,
} from '../fake-kubernetes-api.js';
import { deployDir, EXAMPLES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import { validateKubernetesObject } from '../kubernetes-schemas.js';
import { startRegistry, type TestRegistry } from '../registry-server.js';

/**
 * `kiln export k8s --apply` against a stand-in API server (test/fake-kubernetes-api.ts: no
 * cluster runs here) that records what a real one would get: one server-side apply PATCH per
 * object, Secrets first, with the user's kubeconfig's server, credentials and namespace.
 */

let t: TestGateway;
let registry: TestRegistry;
let api: FakeKubernetesApi;
let home: string;
const SECRET_VALUE = 'pa55-from-kiln';

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kiln-home-'));
  registry = await startRegistry();
  api = await startFakeKubernetesApi();
  t = await startTestGateway();
  const secret = await fetch(`${t.url}/secrets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'db', value: SECRET_VALUE }),
  });
  expect(secret.status).toBe(201);
  const volume = await fetch(`${t.url}/volumes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'shared' }),
  });
  expect(volume.status).toBe(201);
  const deployed = await deployDir(t.url, path.join(EXAMPLES, 'hello-python'), {
    secrets: 'db',
    volumes: 'shared:/data',
    memoryMb: '96',
  });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  const pushed = await kiln(['push', 'hello-python', `${registry.host}/fns/hello:v1`]);
  expect(pushed.code, pushed.stderr).toBe(0);
});

afterAll(async () => {
  await t?.close();
  await registry?.stop();
  await api?.close();
  await rm(home, { recursive: true, force: true });
});

beforeEach(() => {
  api.requests.length = 0;
  api.acceptAll();
});

function kiln(args: string[], env: Record<string, string> = {}) {
  return runKiln(t.url, args, { env: { KILN_DATA: t.dataDir, HOME: home, ...env } });
}

/** A kubeconfig for the fake: a bearer token, and the context's namespace. */
async function kubeconfig(file: string, namespace: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: fake
    # client-node refuses a plain-HTTP server unless told to skip TLS checks (config.js).
    cluster: { server: "${api.url}", insecure-skip-tls-verify: true }
users:
  - name: me
    user: { token: test-token }
contexts:
  - name: fake
    context: { cluster: fake, user: me, namespace: ${namespace} }
  - name: other
    context: { cluster: fake, user: me, namespace: other-team }
current-context: fake
`,
  );
  return file;
}

/** The writes (not the discovery GETs) the fake got. */
function writes(): RecordedRequest[] {
  return api.requests.filter((r) => r.method !== 'GET');
}

function exported(stdout: string): Record<string, unknown>[] {
  return parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown>);
}

describe('kiln export k8s --apply', () => {
  it("server-side applies the Secret, volume claim, Deployment, Service and HPA with the kubeconfig's server, token and namespace", {
    timeout: 300_000,
  }, async () => {
    const file = await kubeconfig(path.join(home, 'kubeconfig'), 'team');
    const applied = await kiln(['export', 'k8s', 'hello-python', '--apply', '--kubeconfig', file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim().split('\n')).toEqual([
      'applied Secret team/kiln-secret-db',
      'applied PersistentVolumeClaim team/kiln-volume-shared',
      'applied Deployment team/hello-python',
      'applied Service team/hello-python',
      'applied HorizontalPodAutoscaler team/hello-python',
    ]);
    const sent = writes();
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PATCH /api/v1/namespaces/team/secrets/kiln-secret-db',
      'PATCH /api/v1/namespaces/team/persistentvolumeclaims/kiln-volume-shared',
      'PATCH /apis/apps/v1/namespaces/team/deployments/hello-python',
      'PATCH /api/v1/namespaces/team/services/hello-python',
      'PATCH /apis/autoscaling/v2/namespaces/team/horizontalpodautoscalers/hello-python',
    ]);
    for (const r of sent) {
      expect(r.contentType).toBe('application/apply-patch+yaml');
      expect(Object.fromEntries(r.query)).toEqual({ fieldManager: 'kiln' });
      expect(r.authorization).toBe('Bearer test-token');
    }
    // Each body is the object `kiln export k8s` writes, in the context's namespace.
    const bodies = sent.map((r) => parse(r.body) as Record<string, unknown>);
    const manifests = exported((await kiln(['export', 'k8s', 'hello-python', '-n', 'team'])).stdout);
    expect(bodies.slice(1)).toEqual(manifests);
    const [secret] = bodies;
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'kiln-secret-db',
        namespace: 'team',
        labels: { 'dev.kiln.secret': 'db', 'app.kubernetes.io/managed-by': 'kiln' },
      },
      type: 'Opaque',
      data: { value: Buffer.from(SECRET_VALUE).toString('base64') },
    });
    for (const body of bodies) validateKubernetesObject(body);
  });

  it('--knative from KUBECONFIG, -n and --force-conflicts: a Knative Service, forced', {
    timeout: 300_000,
  }, async () => {
    const file = await kubeconfig(path.join(home, 'from-env'), 'team');
    const applied = await kiln(
      ['export', 'k8s', 'hello-python', '--knative', '--apply', '-n', 'fns', '--force-conflicts'],
      { KUBECONFIG: file },
    );
    expect(applied.code, applied.stderr).toBe(0);
    const sent = writes();
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PATCH /api/v1/namespaces/fns/secrets/kiln-secret-db',
      'PATCH /api/v1/namespaces/fns/persistentvolumeclaims/kiln-volume-shared',
      'PATCH /apis/serving.knative.dev/v1/namespaces/fns/services/hello-python',
    ]);
    for (const r of sent) {
      expect(r.contentType).toBe('application/apply-patch+yaml');
      expect(Object.fromEntries(r.query)).toEqual({ fieldManager: 'kiln', force: 'true' });
    }
    const manifests = exported(
      (await kiln(['export', 'k8s', 'hello-python', '-n', 'fns', '--knative'])).stdout,
    );
    const bodies = sent.slice(1).map((r) => parse(r.body) as Record<string, unknown>);
    expect(bodies).toEqual(manifests);
    for (const body of bodies) validateKubernetesObject(body);
  });

  it('~/.kube/config and --context: the context named', { timeout: 300_000 }, async () => {
    await kubeconfig(path.join(home, '.kube', 'config'), 'team');
    const applied = await kiln(['export', 'k8s', '--all', '--apply', '--context', 'other']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(writes().map((r) => r.path)).toContain(
      '/apis/apps/v1/namespaces/other-team/deployments/hello-python',
    );
    const unknown = await kiln(['export', 'k8s', '--all', '--apply', '--context', 'nope']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toBe('kiln: the kubeconfig has no context "nope" [invalid_kubeconfig]\n');
    await rm(path.join(home, '.kube'), { recursive: true });
  });

  it("an API server's refusal is one line and a non-zero exit, and nothing after it is applied", {
    timeout: 300_000,
  }, async () => {
    const file = await kubeconfig(path.join(home, 'kubeconfig'), 'team');
    const forbidden =
      'deployments.apps "hello-python" is forbidden: User "me" cannot patch resource "deployments" in API group "apps" in the namespace "team"';
    api.refuse('/apis/apps/v1/namespaces/team/deployments/hello-python', 403, 'Forbidden', forbidden);
    const refused = await kiln(['export', 'k8s', 'hello-python', '--apply', '--kubeconfig', file]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toBe(
      `kiln: applying Deployment team/hello-python: 403 ${forbidden} [kubernetes_apply_failed]\n`,
    );
    expect(writes().map((r) => r.path)).toEqual([
      '/api/v1/namespaces/team/secrets/kiln-secret-db',
      '/api/v1/namespaces/team/persistentvolumeclaims/kiln-volume-shared',
      '/apis/apps/v1/namespaces/team/deployments/hello-python',
    ]);

    api.requests.length = 0;
    const invalid =
      'Service "hello-python" is invalid: spec.ports[0].port: Invalid value: 80: provided port is already allocated';
    api.acceptAll();
    api.refuse('/api/v1/namespaces/team/services/hello-python', 422, 'Invalid', invalid);
    const unprocessable = await kiln(['export', 'k8s', 'hello-python', '--apply', '--kubeconfig', file]);
    expect(unprocessable.code).not.toBe(0);
    expect(unprocessable.stderr).toBe(
      `kiln: applying Service team/hello-python: 422 ${invalid} [kubernetes_apply_failed]\n`,
    );
  });

  it('refuses without a kubeconfig rather than fall back to localhost:8080, and -o with --apply', {
    timeout: 300_000,
  }, async () => {
    const none = await kiln(['export', 'k8s', 'hello-python', '--apply']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toBe(
      'kiln: no kubeconfig: set KUBECONFIG, make ~/.kube/config, or pass --kubeconfig FILE [no_kubeconfig]\n',
    );
    const missing = await kiln([
      'export',
      'k8s',
      'hello-python',
      '--apply',
      '--kubeconfig',
      path.join(home, 'nope'),
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^kiln: the kubeconfig cannot be read: .*\[invalid_kubeconfig\]\n$/);
    const both = await kiln(['export', 'k8s', 'hello-python', '--apply', '-o', home]);
    expect(both.stderr).toMatch(/\[invalid_arguments\]/);
    expect(api.requests).toEqual([]);
  });
});
