import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { deployDir, EXAMPLES, ROOT, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import { validateKubernetesObject } from '../kubernetes-schemas.js';
import { startRegistry, type TestRegistry } from '../registry-server.js';

let t: TestGateway;
let registry: TestRegistry;
let home: string;

function kiln(args: string[]) {
  return runKiln(t.url, args, { env: { KILN_DATA: t.dataDir, HOME: home }, cwd: ROOT });
}

type KubernetesDoc = Record<string, unknown> & {
  kind: string;
  metadata: { name: string };
  spec: { template?: { spec: { containers: { image: string }[] } } };
};

function documents(text: string): KubernetesDoc[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubernetesDoc);
}

/** The digest the registry serves for a tag. */
async function registryDigest(repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  return res.headers.get('docker-content-digest');
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
    for (const doc of docs) validateKubernetesObject(doc);
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
    validateKubernetesObject(ksvc as Record<string, unknown>);
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

  it('--all and -f: every example function, each pinned to what its push sent, and every object validates', {
    timeout: 600_000,
  }, async () => {
    // The example stack, applied as a user would, and every example dir with a kiln.json.
    const applied = await kiln(['apply', '-f', 'examples/stack/kiln.yaml']);
    expect(applied.code, applied.stderr).toBe(0);
    for (const dir of await readdir(EXAMPLES)) {
      if (['hello-python', 'hello-node', 'stack'].includes(dir)) continue;
      const deployed = await deployDir(t.url, path.join(EXAMPLES, dir));
      expect(deployed.status, `${dir}: ${JSON.stringify(deployed.body)}`).toBe(201);
    }
    const { functions } = (await (await fetch(`${t.url}/functions`)).json()) as {
      functions: { name: string }[];
    };
    const names = functions.map((f) => f.name).sort();
    expect(names).toEqual(
      expect.arrayContaining(['api', 'quote', 'receipts', 'hello-java', 'lambda-python']),
    );

    const unpushed = await kiln(['export', 'k8s', '--all']);
    expect(unpushed.code).not.toBe(0);
    expect(unpushed.stderr.trim().split('\n')).toHaveLength(1);
    expect(unpushed.stderr).toMatch(
      /was never pushed: kiln push \S+ REGISTRY\/REPO:TAG first \[image_not_found\]/,
    );

    // hello-python and hello-node were pushed by the tests above, as fns/hello and fns/node.
    const repositories = new Map([
      ['hello-python', 'fns/hello'],
      ['hello-node', 'fns/node'],
    ]);
    for (const name of names) {
      if (repositories.has(name)) continue;
      repositories.set(name, `fns/${name}`);
      const pushed = await kiln(['push', name, `${registry.host}/fns/${name}:v1`]);
      expect(pushed.code, pushed.stderr).toBe(0);
    }

    const out = path.join(home, 'all');
    const all = await kiln(['export', 'k8s', '--all', '-n', 'fns', '-o', out]);
    expect(all.code, all.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(names.map((n) => `${n}.yaml`));
    for (const name of names) {
      const docs = documents(await readFile(path.join(out, `${name}.yaml`), 'utf8'));
      expect(docs.map((d) => `${d.kind} ${d.metadata.name}`)).toEqual([
        `Deployment ${name}`,
        `Service ${name}`,
        `HorizontalPodAutoscaler ${name}`,
      ]);
      for (const doc of docs)
        expect(() => validateKubernetesObject(doc), `${name} ${doc.kind}`).not.toThrow();
      const repository = repositories.get(name)!;
      expect(docs[0]!.spec.template!.spec.containers[0]!.image).toBe(
        `${registry.host}/${repository}@${await registryDigest(repository, 'v1')}`,
      );
    }

    const knative = await kiln(['export', 'k8s', '--all', '--knative']);
    expect(knative.code, knative.stderr).toBe(0);
    const services = documents(knative.stdout);
    expect(services.map((d) => d.metadata.name)).toEqual(names);
    for (const doc of services) expect(() => validateKubernetesObject(doc), doc.metadata.name).not.toThrow();

    // -f: the stack's functions in the file's order, to stdout as one multi-document YAML.
    const stack = await kiln(['export', 'k8s', '-f', 'examples/stack/kiln.yaml']);
    expect(stack.code, stack.stderr).toBe(0);
    const stackDocs = documents(stack.stdout);
    expect(stackDocs.filter((d) => d.kind === 'Deployment').map((d) => d.metadata.name)).toEqual([
      'api',
      'quote',
      'receipts',
    ]);
    expect(stackDocs).toHaveLength(9);
    for (const doc of stackDocs) expect(() => validateKubernetesObject(doc)).not.toThrow();

    // A stack file that says what is not deployed: apply first, in one line.
    const changed = path.join(home, 'kiln.yaml');
    await writeFile(
      changed,
      `functions:\n  quote:\n    dir: ${path.join(EXAMPLES, 'stack/quote')}\n    runtime: python\n    handler: quote.handler\n    memoryMb: 512\n`,
    );
    const behind = await kiln(['export', 'k8s', '-f', changed]);
    expect(behind.code).not.toBe(0);
    expect(behind.stderr.trim().split('\n')).toHaveLength(1);
    expect(behind.stderr).toMatch(
      /quote differs from its active version \(.*memoryMb 128 → 512.*\): kiln apply -f/,
    );

    // Pushed to two places: which one is for the user to say.
    expect((await kiln(['push', 'hello-python', `${registry.host}/mirror/hello:v1`])).code).toBe(0);
    const ambiguous = await kiln(['export', 'k8s', 'hello-python']);
    expect(ambiguous.stderr).toMatch(/\[ambiguous_image\]/);
    const chosen = await kiln(['export', 'k8s', 'hello-python', '--registry', `${registry.host}/mirror`]);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(documents(chosen.stdout)[0]!.spec.template!.spec.containers[0]!.image).toBe(
      `${registry.host}/mirror/hello@${await registryDigest('mirror/hello', 'v1')}`,
    );
    const nowhere = await kiln(['export', 'k8s', '--all', '--registry', `${registry.host}/elsewhere`]);
    expect(nowhere.stderr).toMatch(/never pushed to .*elsewhere/);
  });
});
