import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateKubernetesObject as validate } from '../../test/kubernetes-schemas.js';
import { readKilnJson } from '../deploy/deployer.js';
import { parseSpec } from '../functions/spec.js';
import { loadStack } from '../stack/stack-loader.js';
import {
  knativeService,
  kubernetesManifests,
  RUN_AS,
  volumeClaimName,
  volumeClaims,
} from './kubernetes-manifests.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');
const IMAGE = `127.0.0.1:5000/fns/hello@sha256:${'a'.repeat(64)}`;

/** Every example with a kiln.json, and the example stack's functions: those a user starts from. */
async function exampleSpecs() {
  const specs = [];
  for (const dir of await readdir(EXAMPLES)) {
    const kiln = await readKilnJson(path.join(EXAMPLES, dir)).catch(() => undefined);
    if (kiln?.name) specs.push(parseSpec(kiln));
  }
  for (const fn of await loadStack(path.join(EXAMPLES, 'stack/kiln.yaml'))) specs.push(fn.spec);
  return specs;
}

describe('kubernetes manifests of a function', () => {
  it('validate against the Kubernetes schemas for every example function', async () => {
    const specs = await exampleSpecs();
    expect(specs.length).toBeGreaterThanOrEqual(10);
    for (const spec of specs) {
      const objects = kubernetesManifests({ spec, image: IMAGE, namespace: 'fns' });
      expect(objects.map((o) => o.kind)).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler']);
      for (const o of objects) expect(() => validate(o), `${spec.name} ${o.kind}`).not.toThrow();
      const knative = knativeService({ spec, image: IMAGE });
      expect(() => validate(knative), spec.name).not.toThrow();
    }
  });

  it("carry the function's limits, env, secrets and Kiln's isolation", () => {
    const spec = parseSpec({
      name: 'api',
      runtime: 'node',
      memoryMb: 256,
      cpus: 0.5,
      minInstances: 2,
      maxInstances: 7,
      concurrency: 4,
      timeoutMs: 45_000,
      env: { MODE: 'fast' },
      secrets: ['db', 'stripe'],
    });
    const [deployment, , hpa] = kubernetesManifests({ spec, image: IMAGE });
    const pod = (deployment!.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      securityContext: Record<string, unknown>;
      containers: Record<string, unknown>[];
      volumes: Record<string, unknown>[];
      terminationGracePeriodSeconds: number;
    };
    const c = pod.containers[0]!;
    expect(c.image).toBe(IMAGE);
    expect(c.resources).toEqual({
      requests: { memory: '256Mi', cpu: '500m' },
      limits: { memory: '256Mi', cpu: '500m' },
    });
    expect(c.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'MODE', value: 'fast' },
    ]);
    expect(c.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.volumeMounts).toContainEqual({ name: 'secrets', mountPath: '/run/secrets', readOnly: true });
    expect(JSON.stringify(pod.volumes)).toContain(
      '"name":"kiln-secret-stripe","items":[{"key":"value","path":"stripe"}]',
    );
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    expect(hpa!.spec).toMatchObject({ minReplicas: 2, maxReplicas: 7 });
    // The HPA owns the replica count: an apply of the Deployment must not reset it.
    expect(deployment!.spec).not.toHaveProperty('replicas');
    const knative = knativeService({ spec, image: IMAGE }).spec as {
      template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
    };
    expect(knative.template.metadata.annotations).toEqual({
      'autoscaling.knative.dev/min-scale': '2',
      'autoscaling.knative.dev/max-scale': '7',
    });
    expect(knative.template.spec).toMatchObject({ containerConcurrency: 4, timeoutSeconds: 45 });
  });

  it('a function that scales to zero keeps one replica under an HPA, and zero under Knative', () => {
    const spec = parseSpec({ name: 'idle', runtime: 'python', minInstances: 0 });
    const hpa = kubernetesManifests({ spec, image: IMAGE })[2]!;
    expect((hpa.spec as { minReplicas: number }).minReplicas).toBe(1);
    const knative = knativeService({ spec, image: IMAGE }).spec as {
      template: { metadata: { annotations: Record<string, string> } };
    };
    expect(knative.template.metadata.annotations['autoscaling.knative.dev/min-scale']).toBe('0');
  });

  it('claim each volume (ReadWriteMany) and mount it at its path, read-only when it is', () => {
    const spec = parseSpec({
      name: 'files',
      runtime: 'node',
      volumes: [
        { name: 'uploads', path: '/data' },
        { name: 'Shared_conf', path: '/srv/conf', readOnly: true },
      ],
    });
    const claims = volumeClaims({ spec, image: IMAGE, namespace: 'fns' });
    expect(claims.map((c) => c.metadata.name)).toEqual([
      'kiln-volume-uploads',
      expect.stringMatching(/^kiln-volume-shared-conf-[0-9a-f]{6}$/),
    ]);
    expect(volumeClaimName('Shared_conf')).not.toBe(volumeClaimName('shared-conf'));
    for (const c of claims) {
      expect(() => validate(c), c.metadata.name).not.toThrow();
      expect(c.spec).toMatchObject({ accessModes: ['ReadWriteMany'] });
    }
    const [deployment] = kubernetesManifests({ spec, image: IMAGE });
    expect(() => validate(deployment!)).not.toThrow();
    expect(() => validate(knativeService({ spec, image: IMAGE }))).not.toThrow();
    const pod = (deployment!.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      containers: { volumeMounts: unknown[] }[];
      volumes: unknown[];
    };
    expect(pod.volumes).toContainEqual({
      name: 'volume-1',
      persistentVolumeClaim: { claimName: claims[1]!.metadata.name, readOnly: true },
    });
    expect(pod.containers[0]!.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'volume-0', mountPath: '/data' },
        { name: 'volume-1', mountPath: '/srv/conf', readOnly: true },
      ]),
    );
  });

  it('a schema check fails on a wrong field (the validation can fail)', () => {
    const spec = parseSpec({ name: 'x', runtime: 'node' });
    const [deployment] = kubernetesManifests({ spec, image: IMAGE });
    const broken = { ...deployment!, spec: { ...(deployment!.spec as object), replicas: 'two' } };
    expect(() => validate(broken)).toThrow();
  });
});
