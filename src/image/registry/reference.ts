import { KilnError } from '../../errors.js';

/** A parsed image reference: `REGISTRY/REPO[:TAG][@sha256:…]`. */
export interface ImageReference {
  /** Host and port as written (`127.0.0.1:5000`, `ghcr.io`); Docker Hub is `docker.io`. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

// distribution/reference's grammar (reference/regexp.go), as far as Kiln needs it.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^[a-zA-Z0-9.-]+(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

function invalid(ref: string, why: string): KilnError {
  return new KilnError(
    'invalid_reference',
    `"${ref}" is not an image reference (REGISTRY/REPO[:TAG]): ${why}`,
  );
}

/**
 * Docker's rules: the first component is a registry when it has a `.` or a `:` or is
 * `localhost`; otherwise the registry is Docker Hub and a one-component name is under
 * `library/`.
 */
export function parseReference(ref: string): ImageReference {
  if (ref.length === 0 || ref.length > 512) throw invalid(ref, 'empty or longer than 512 characters');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `digest "${digest}" is not sha256:<64 hex>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `tag "${tag}" must be 1-128 of A-Z a-z 0-9 _ . -`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) throw invalid(ref, `registry "${registry}" is not a host[:port]`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw invalid(ref, 'the repository must be lowercase path components of a-z 0-9 . _ -');
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: parts.join('/'), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The reference as one string, tag and digest included (the ref a pulled image is stored under). */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Docker Hub's API lives on another host than its name. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** Loopback registries may be plain http (as Docker allows); anything else needs https or `--insecure`. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
