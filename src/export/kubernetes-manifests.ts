import { createHash } from 'node:crypto';
import type { FunctionSpec } from '../functions/spec.js';

/**
 * Kubernetes objects for a Kiln function, as plain data (`kiln export k8s`): the same image
 * Kiln runs (pinned by digest), its shim serving on :8080 as it does outside Kiln, and the
 * limits and isolation Kiln gives an instance expressed the way a cluster says them.
 */
export interface KubernetesExportInput {
  spec: FunctionSpec;
  /** `REGISTRY/REPO@sha256:…`: what the cluster pulls. */
  image: string;
  namespace?: string;
}

export type KubernetesObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

/** The port every shim listens on outside Kiln (`$PORT`, default 8080: runtimes/node/main.mjs). */
export const SHIM_PORT = 8080;

/**
 * The uid and gid the container runs as. Kiln gives each instance a uid of its own from
 * `KILN_UID_RANGE`; in a cluster one fixed non-root uid does (pods are isolated from each
 * other by the node's runtime, not by uid). 65532 is the distroless "nonroot" uid.
 */
export const RUN_AS = 65532;

/** Kiln mounts a function's secrets at /run/secrets/NAME (docs: README, Secrets). */
const SECRETS_DIR = '/run/secrets';

/** A Kubernetes Secret per Kiln secret, with the value under this key (`kubectl create secret generic … --from-file=value=FILE`). */
export function secretObjectName(secret: string): string {
  return `kiln-secret-${secret}`;
}

const LABEL = 'dev.kiln.function';

/**
 * The PersistentVolumeClaim standing for Kiln volume `volume`: `kiln-volume-NAME`, NAME made a
 * DNS-1123 name (lowercase, `_` and `.` as `-`); a name that had to change gets 6 hex of its
 * sha256, so `Data` and `data` stay two claims.
 */
export function volumeClaimName(volume: string): string {
  const dns = volume.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const suffix = dns === volume ? '' : `-${createHash('sha256').update(volume).digest('hex').slice(0, 6)}`;
  return `kiln-volume-${dns}${suffix}`;
}

/**
 * A claim per volume the function mounts. ReadWriteMany: Kiln's instances (here, replicas) and
 * other functions mount one volume at once; a storage class must offer it (NFS, CephFS, EFS…).
 * Kiln volumes have no size, so the request is a placeholder to set (docs/KUBERNETES.md).
 */
export function volumeClaims(input: KubernetesExportInput): KubernetesObject[] {
  return (input.spec.volumes ?? []).map((v) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: volumeClaimName(v.name),
      ...(input.namespace ? { namespace: input.namespace } : {}),
      labels: {
        'dev.kiln.volume': volumeClaimName(v.name).slice('kiln-volume-'.length),
        'app.kubernetes.io/managed-by': 'kiln',
      },
    },
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
  }));
}

/**
 * A Kiln secret as the Kubernetes Secret the manifests mount (`secretObjectName`), its value
 * under the key `value`. Only `kiln export k8s --apply` makes these, sending them to the API
 * server: a value is never written to stdout or a file.
 */
export function secretObject(name: string, value: Uint8Array, namespace?: string): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretObjectName(name),
      ...(namespace ? { namespace } : {}),
      labels: { 'dev.kiln.secret': name, 'app.kubernetes.io/managed-by': 'kiln' },
    },
    type: 'Opaque',
    data: { value: Buffer.from(value).toString('base64') },
  };
}

/** Deployment, Service and HorizontalPodAutoscaler for one function. */
export function kubernetesManifests(input: KubernetesExportInput): KubernetesObject[] {
  const { spec } = input;
  const metadata = objectMeta(input);
  const selector = { [LABEL]: spec.name };
  const deployment: KubernetesObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      // No `replicas`: the HPA owns the count (min/maxInstances). Set here, every apply would
      // reset what the HPA scaled to, and under server-side apply conflict with its field
      // manager (kubernetes.io, "Horizontal Pod Autoscaling": migrating Deployments to
      // autoscaling, remove spec.replicas from the manifests). A new Deployment starts with 1.
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector } },
        spec: { ...podSpec(input), terminationGracePeriodSeconds: graceSeconds(spec) },
      },
    },
  };
  const service: KubernetesObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      selector,
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const hpa: KubernetesObject = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
      // An HPA cannot scale to zero (minReplicas ≥ 1 unless the HPAScaleToZero gate is on): Knative can.
      minReplicas: Math.max(1, spec.minInstances),
      maxReplicas: Math.max(1, spec.minInstances, spec.maxInstances),
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ],
    },
  };
  return [deployment, service, hpa];
}

/**
 * A Knative Service: scale to zero like Kiln's idle reaping, at most `concurrency`
 * requests per instance like Kiln's queue, min/max scale from min/maxInstances.
 */
export function knativeService(input: KubernetesExportInput): KubernetesObject {
  const { spec } = input;
  const pod = podSpec(input);
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: objectMeta(input),
    spec: {
      template: {
        metadata: {
          labels: { [LABEL]: spec.name },
          annotations: {
            'autoscaling.knative.dev/min-scale': String(spec.minInstances),
            'autoscaling.knative.dev/max-scale': String(spec.maxInstances),
          },
        },
        spec: {
          ...pod,
          // Knative names its one port by protocol: http1 or h2c.
          containers: (pod.containers as Record<string, unknown>[]).map((c) => ({
            ...c,
            ports: [{ name: 'http1', containerPort: SHIM_PORT, protocol: 'TCP' }],
          })),
          containerConcurrency: spec.concurrency,
          timeoutSeconds: Math.max(1, Math.ceil(spec.timeoutMs / 1000)),
        },
      },
    },
  };
}

function objectMeta(input: KubernetesExportInput): KubernetesObject['metadata'] {
  return {
    name: input.spec.name,
    ...(input.namespace ? { namespace: input.namespace } : {}),
    labels: { [LABEL]: input.spec.name, 'app.kubernetes.io/managed-by': 'kiln' },
  };
}

/** Time for requests in flight to finish: the function's timeout, at least Kubernetes' default 30 s. */
function graceSeconds(spec: FunctionSpec): number {
  return Math.max(30, Math.ceil(spec.timeoutMs / 1000));
}

function podSpec({ spec, image }: KubernetesExportInput): Record<string, unknown> {
  const memory = `${spec.memoryMb}Mi`;
  const cpu = `${Math.round((spec.cpus ?? 1) * 1000)}m`;
  // The shims answer a request carrying x-kiln-health: 1 without calling the handler
  // (runtimes/node/shim.mjs, runtimes/python/kiln_shim.py, runtimes/java/…/Shim.java).
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: '/', port: SHIM_PORT, httpHeaders: [{ name: 'x-kiln-health', value: '1' }] },
    periodSeconds,
    failureThreshold,
  });
  const secrets = spec.secrets ?? [];
  const volumes: Record<string, unknown>[] = [
    // Kiln gives every instance a 64 MiB tmpfs /tmp over a read-only root (src/runtime/oci-spec.ts).
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
  ];
  const mounts: Record<string, unknown>[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (secrets.length > 0) {
    volumes.push({
      name: 'secrets',
      projected: {
        // Read by the container's group only (fsGroup below), as Kiln's 0400 files of the instance's uid.
        defaultMode: 0o440,
        sources: secrets.map((s) => ({
          secret: { name: secretObjectName(s), items: [{ key: 'value', path: s }] },
        })),
      },
    });
    mounts.push({ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true });
  }
  // Kiln's volumes: each instance sees the files as its own uid's (an idmapped mount); here
  // every pod runs as RUN_AS with fsGroup, so each pod writes what the others wrote.
  (spec.volumes ?? []).forEach((v, i) => {
    volumes.push({
      name: `volume-${i}`,
      persistentVolumeClaim: {
        claimName: volumeClaimName(v.name),
        ...(v.readOnly ? { readOnly: true } : {}),
      },
    });
    mounts.push({ name: `volume-${i}`, mountPath: v.path, ...(v.readOnly ? { readOnly: true } : {}) });
  });
  return {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      fsGroup: RUN_AS,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: 'function',
        image,
        ports: [{ name: 'http', containerPort: SHIM_PORT, protocol: 'TCP' }],
        env: [
          { name: 'PORT', value: String(SHIM_PORT) },
          ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
        ],
        resources: { requests: { memory, cpu }, limits: { memory, cpu } },
        readinessProbe: probe(5, 3),
        livenessProbe: probe(10, 3),
        securityContext: {
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        },
        volumeMounts: mounts,
      },
    ],
    volumes,
  };
}
