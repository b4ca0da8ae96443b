import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { deployDir, EXAMPLES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import { startRegistry, type TestRegistry } from '../registry-server.js';

let t: TestGateway;
let registry: TestRegistry;
let home: string;

function kiln(args: string[]) {
  return runKiln(t.url, args, { env: { KILN_DATA: t.dataDir, HOME: home } });
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kiln-home-'));
  registry = await startRegistry();
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(EXAMPLES, 'hello-python'), { memoryMb: '96' });
  expect(deployed.status).toBe(201);
});

afterAll(async () => {
  await t?.close();
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('kiln export k8s', () => {
  it('pins the digest the registry has, with the function limits, and the manifests validate', {
    timeout: 300_000,
  }, async () => {
    const ref = `${registry.host}/fns/hello:v1`;
    const pushed = await kiln(['push', 'hello-python', ref]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const res = await fetch(`http://${registry.host}/v2/fns/hello/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const digest = res.headers.get('docker-content-digest');
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);

    const out = path.join(home, 'k8s');
    const exported = await kiln(['export', 'k8s', 'hello-python', '--image', ref, '-n', 'fns', '-o', out]);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    const docs = parseAllDocuments(await readFile(path.join(out, 'hello-python.yaml'), 'utf8')).map(
      (d) => d.toJS() as Record<string, unknown> & { kind: string },
    );
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler']);
    new Deployment(docs[0] as never).validate();
    new Service(docs[1] as never).validate();
    new HorizontalPodAutoscaler(docs[2] as never).validate();
    const container = (
      docs[0]!.spec as { template: { spec: { containers: { image: string; resources: unknown }[] } } }
    ).template.spec.containers[0]!;
    expect(container.image).toBe(`${registry.host}/fns/hello@${digest}`);
    expect(container.resources).toEqual({
      requests: { memory: '96Mi', cpu: '1000m' },
      limits: { memory: '96Mi', cpu: '1000m' },
    });

    const knative = await kiln(['export', 'k8s', 'hello-python', '--image', ref, '--knative']);
    expect(knative.code).toBe(0);
    const [ksvc] = parseAllDocuments(knative.stdout).map((d) => d.toJS());
    new KnativeService(ksvc as never).validate();
  });

  it('refuses an image that is not the function active version, and one never pushed', {
    timeout: 300_000,
  }, async () => {
    const other = await deployDir(t.url, path.join(EXAMPLES, 'hello-node'));
    expect(other.status).toBe(201);
    const ref = `${registry.host}/fns/node:v1`;
    expect((await kiln(['push', 'hello-node', ref])).code).toBe(0);
    const wrong = await kiln(['export', 'k8s', 'hello-python', '--image', ref]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/image_mismatch|not hello-python's active version/);
    const never = await kiln(['export', 'k8s', 'hello-python', '--image', `${registry.host}/fns/none:v1`]);
    expect(never.code).not.toBe(0);
    expect(never.stderr).toMatch(/kiln push hello-python/);
  });
});
