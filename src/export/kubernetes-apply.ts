import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { KilnError } from '../errors.js';
import type { KubernetesObject } from './kubernetes-manifests.js';

export interface ApplyOptions {
  /** A kubeconfig file; else `KUBECONFIG`, else `~/.kube/config`, else the pod's service account. */
  kubeconfig?: string;
  /** A context of the kubeconfig other than its current one. */
  context?: string;
  /** Take fields another manager owns (`kubectl apply --server-side --force-conflicts`). */
  forceConflicts?: boolean;
}

/** Who Kiln is to the API server: server-side apply records it as the owner of every field it sets. */
export const FIELD_MANAGER = 'kiln';

/** Where client-node looks for a service account's token inside a pod (config.js, SERVICEACCOUNT_TOKEN_PATH). */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Apply objects to the cluster of the user's kubeconfig by server-side apply: for each, a
 * PATCH of the whole object as `application/apply-patch+yaml` with `fieldManager=kiln`
 * (kubernetes.io, "Server-Side Apply"), so the API server merges it with what others manage
 * and a field another manager owns is a conflict unless `forceConflicts`. In the given
 * order (Secrets before the Deployment that mounts them); the first failure stops it. An
 * object without a namespace goes to the context's (else `default`), as kubectl does.
 *
 * @kubernetes/client-node is loaded here, not at the CLI's start: it costs about a second.
 */
export async function applyToCluster(
  objects: KubernetesObject[],
  options: ApplyOptions,
  onApplied: (object: KubernetesObject) => void,
): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  loadKubeconfig(config, options);
  const namespace = config.getContextObject(config.getCurrentContext())?.namespace || 'default';
  const objectsApi = k8s.KubernetesObjectApi.makeApiClient(config);
  const customApi = config.makeApiClient(k8s.CustomObjectsApi);
  const force = options.forceConflicts ? true : undefined;
  for (const object of objects) {
    const sent = structuredClone(object);
    sent.metadata.namespace ??= namespace;
    try {
      const [group, version] = sent.apiVersion.includes('/')
        ? sent.apiVersion.split('/')
        : ['', sent.apiVersion];
      if (isBuiltIn(group!)) {
        await objectsApi.patch(
          sent,
          undefined,
          undefined,
          FIELD_MANAGER,
          force,
          k8s.PatchStrategy.ServerSideApply,
        );
      } else {
        // client-node types a body by `<Version><Kind>` alone (util.js getSerializationType), so
        // a Knative Service went out as a core v1 Service, its template dropped: a custom
        // resource goes through CustomObjectsApi, whose body is sent as it is.
        const resources = await customApi.getAPIResources({ group: group!, version: version! });
        const plural = resources.resources.find((r) => r.kind === sent.kind)?.name;
        if (!plural) throw new Error(`the API server has no ${sent.kind} in ${sent.apiVersion}`);
        await customApi.patchNamespacedCustomObject(
          {
            group: group!,
            version: version!,
            namespace: sent.metadata.namespace,
            plural,
            name: sent.metadata.name,
            body: sent,
            fieldManager: FIELD_MANAGER,
            force,
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
        );
      }
    } catch (err) {
      throw applyError(sent, err);
    }
    onApplied(sent);
  }
}

/** The API groups built into Kubernetes (core, `apps`, `*.k8s.io`): client-node has models of their kinds. */
function isBuiltIn(group: string): boolean {
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io');
}

/** client-node's own order (KubeConfig.loadFromDefault), with a file given first. */
function loadKubeconfig(config: KubeConfig, options: ApplyOptions): void {
  // With none of them client-node would talk to http://localhost:8080, where `kiln serve` listens.
  const none =
    !options.kubeconfig &&
    !process.env.KUBECONFIG &&
    !existsSync(path.join(os.homedir(), '.kube', 'config')) &&
    !existsSync(SERVICE_ACCOUNT_TOKEN);
  if (none) {
    throw new KilnError(
      'no_kubeconfig',
      'no kubeconfig: set KUBECONFIG, make ~/.kube/config, or pass --kubeconfig FILE',
    );
  }
  try {
    if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
    else config.loadFromDefault();
  } catch (err) {
    throw new KilnError('invalid_kubeconfig', `the kubeconfig cannot be read: ${oneLine(err)}`);
  }
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      throw new KilnError('invalid_kubeconfig', `the kubeconfig has no context "${options.context}"`);
    }
    config.setCurrentContext(options.context);
  }
  if (!config.getCurrentCluster()) {
    throw new KilnError(
      'invalid_kubeconfig',
      'the kubeconfig names no current cluster (kubectl config use-context NAME)',
    );
  }
}

/**
 * The API server's refusal as one line: its Status `message` (`deployments.apps "x" is
 * forbidden: …`), with the HTTP status; a connection failure as client-node words it.
 */
function applyError(object: KubernetesObject, err: unknown): KilnError {
  const what = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
  const e = err as { code?: unknown; body?: unknown };
  if (typeof e.code === 'number') {
    const status = statusOf(e.body);
    const why = status?.message ?? status?.reason ?? `HTTP ${e.code}`;
    return new KilnError('kubernetes_apply_failed', `applying ${what}: ${e.code} ${oneLine(why)}`, 502);
  }
  return new KilnError('kubernetes_apply_failed', `applying ${what}: ${oneLine(err)}`, 502);
}

function statusOf(body: unknown): { message?: string; reason?: string } | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() ? { message: body } : undefined;
    }
  }
  if (parsed && typeof parsed === 'object') {
    const { message, reason } = parsed as { message?: unknown; reason?: unknown };
    return {
      message: typeof message === 'string' ? message : undefined,
      reason: typeof reason === 'string' ? reason : undefined,
    };
  }
  return undefined;
}

function oneLine(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
