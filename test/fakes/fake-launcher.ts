import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../../src/errors.js';
import type { FunctionVersion } from '../../src/functions/function-store.js';
import { parseSpec } from '../../src/functions/spec.js';
import type { LanguageName } from '../../src/languages/registry.js';
import type { ContainerLauncher, StemCellStart } from '../../src/pool/container-launcher.js';
import type { FunctionDirectory } from '../../src/pool/warm-pool.js';
import type { Cgroup } from '../../src/runtime/cgroup/cgroup.js';
import { CgroupV1Tree } from '../../src/runtime/cgroup/v1.js';
import type { Container, StartTimings } from '../../src/runtime/container.js';
import { ContainerOutput } from '../../src/runtime/container-output.js';
import type { CreatedContainer } from '../../src/runtime/container-runtime.js';
import type { ContainerExit, ExecResult, ExitCause } from '../../src/runtime/oci/driver.js';

/**
 * Test doubles for the pool's consumer-declared interfaces (`ContainerLauncher`,
 * `FunctionDirectory`), so the pool's decisions run in milliseconds without containers.
 * A "container" here is a real HTTP/1.1 server on a real unix socket that speaks the shim
 * protocol (docs/DESIGN.md §5): `POST /init` loads a "handler", every other request is
 * answered `v<version>` after `?ms=` milliseconds, or, for `/hold`, once the test calls
 * `release()`. Handler `fail-init` refuses to load.
 */
export class FakeContainer implements Container {
  readonly id = `f${randomBytes(4).toString('hex')}`;
  readonly startedAt = Date.now();
  readonly timings: StartTimings = { mountMs: 1, runtimeMs: 1, readyMs: 1 };
  readonly uid = 100_000;
  readonly output = new ContainerOutput();
  readonly cgroup: Cgroup;
  readonly exited: Promise<ContainerExit>;
  /** The version whose handler it loaded (a stem cell: none until `/init`). */
  version: number | undefined;
  /** Requests to `/hold` waiting for `release()` now. */
  holding = 0;
  private stopping = false;
  /** `stop()` came while its freezer said FROZEN (a real frozen process would not have died). */
  stoppedFrozen = false;
  private exit!: (exit: ContainerExit) => void;
  private held = gate();

  private constructor(
    readonly socketPath: string,
    readonly fnDir: string | undefined,
    private readonly cgroupRoot: string,
    private readonly server: Server,
  ) {
    // A cgroup on an empty fake tree: stats read zeros, as for a cgroup that is gone.
    this.cgroup = new CgroupV1Tree(cgroupRoot).open(`kiln/${this.id}`);
    this.exited = new Promise((resolve) => {
      this.exit = resolve;
    });
  }

  static async start(dir: string, options: { version?: number; stem?: boolean }): Promise<FakeContainer> {
    const socketPath = path.join(dir, `${randomBytes(4).toString('hex')}.sock`);
    let container: FakeContainer | undefined;
    const server = createServer((req, res) => void container?.answer(req, res));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const fnDir = options.stem ? path.join(dir, `fn-${randomBytes(4).toString('hex')}`) : undefined;
    if (fnDir) await mkdir(fnDir);
    container = new FakeContainer(socketPath, fnDir, path.join(dir, 'cgroupfs'), server);
    container.version = options.version;
    // Its freezer: a v1 `freezer.state` file the pool writes as the kernel's; `answer`
    // refuses to serve while it says FROZEN, as a frozen process cannot.
    await mkdir(path.dirname(container.freezerState), { recursive: true });
    await writeFile(container.freezerState, 'THAWED');
    return container;
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  get freezerState(): string {
    return path.join(this.cgroupRoot, 'freezer', 'kiln', this.id, 'freezer.state');
  }

  /** Its freezer says FROZEN now. */
  get frozen(): boolean {
    return readFileSync(this.freezerState, 'utf8') === 'FROZEN';
  }

  async stop(): Promise<ContainerExit> {
    this.stopping = true;
    // A frozen process would not die: stopping one is a bug in the pool.
    if (this.frozen) this.stoppedFrozen = true;
    this.die({ code: 137, signal: null });
    return this.exited;
  }

  /** The process dies on its own (a crash): connections break, `exited` resolves. */
  crash(code = 1): void {
    this.die({ code, signal: null });
  }

  async exec(): Promise<ExecResult> {
    throw new KilnError('container_not_running', 'a fake container runs no commands', 409);
  }

  exitCause(exit: ContainerExit): ExitCause {
    if (this.stopping) return 'stopped';
    return exit.code === 137 ? 'out_of_memory' : 'crashed';
  }

  async logTail(): Promise<string> {
    return '';
  }

  /** Answer every request to `/hold` made so far. */
  release(): void {
    this.held.open();
    this.held = gate();
  }

  private die(exit: ContainerExit): void {
    this.server.close();
    this.server.closeAllConnections();
    this.exit(exit);
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://shim');
    if (this.frozen) {
      res.writeHead(500);
      res.end('frozen');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/init') {
      const init = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        handler: string;
        function: { version: number };
      };
      if (init.handler === 'fail-init') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'handler_load_failed', message: 'the module threw' } }));
        return;
      }
      this.version = init.function.version;
      res.end('{"ok":true}');
      return;
    }
    if (url.pathname === '/hold') {
      this.holding++;
      await this.held.wait;
      this.holding--;
    } else await sleep(Number(url.searchParams.get('ms') ?? 0));
    res.end(`v${this.version}`);
  }
}

/** A promise the test resolves when it wants: holds a start in flight. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

export class FakeLauncher implements ContainerLauncher {
  readonly started: FakeContainer[] = [];
  readonly events: string[] = [];
  /** While set, cold starts (or stem cells) wait for it before their container exists. */
  coldGate: Promise<void> | undefined;
  stemGate: Promise<void> | undefined;
  failSpecialize = false;
  /** This many of the next cold starts fail (after `coldGate`), as a runtime that cannot start a container. */
  failColdStarts = 0;
  /** Cold starts in flight now, and the most ever at once. */
  coldStarting = 0;
  mostColdStarting = 0;

  private constructor(readonly dir: string) {}

  static async create(): Promise<FakeLauncher> {
    return new FakeLauncher(await mkdtemp(path.join(tmpdir(), 'kiln-fake-')));
  }

  async startFunction(fn: FunctionVersion): Promise<Container> {
    this.events.push(`cold ${fn.spec.name}@${fn.version}`);
    this.coldStarting++;
    this.mostColdStarting = Math.max(this.mostColdStarting, this.coldStarting);
    try {
      await this.coldGate;
      if (this.failColdStarts > 0) {
        this.failColdStarts--;
        throw new KilnError('instance_start_failed', 'the fake runtime refused to start a container', 502);
      }
      return this.track(await FakeContainer.start(this.dir, { version: fn.version }));
    } finally {
      this.coldStarting--;
    }
  }

  /** The fake runtime has no create/start split: the pool's tests keep creating ahead off. */
  async createFunction(): Promise<CreatedContainer> {
    throw new KilnError('container_create_failed', 'the fake runtime cannot create a container ahead', 500);
  }

  async startStemCell(_language: LanguageName): Promise<StemCellStart> {
    await this.stemGate;
    return {
      container: this.track(await FakeContainer.start(this.dir, { stem: true })),
      baseLayers: ['base'],
    };
  }

  async baseLayersOf(): Promise<string[]> {
    return ['base'];
  }

  async specialize(container: Container, fn: FunctionVersion): Promise<void> {
    this.events.push(`specialize ${container.id} for ${fn.spec.name}@${fn.version}`);
    if (this.failSpecialize) throw new KilnError('cgroup_write_failed', 'the cgroup refused the limits', 500);
  }

  async close(): Promise<void> {
    await Promise.all(this.started.map((c) => c.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private track(container: FakeContainer): FakeContainer {
    this.started.push(container);
    return container;
  }
}

/** The function store as the pool sees it: which version of each function is active. */
export class FakeDirectory implements FunctionDirectory {
  private readonly activeVersions = new Map<string, FunctionVersion>();

  activate(fn: FunctionVersion): void {
    this.activeVersions.set(fn.spec.name, fn);
    this.add(fn);
  }

  remove(name: string): void {
    this.activeVersions.delete(name);
  }

  active(name: string): FunctionVersion {
    const fn = this.activeVersions.get(name);
    if (!fn) throw new KilnError('function_not_found', `no function named "${name}"`, 404);
    return fn;
  }

  allActive(): FunctionVersion[] {
    return [...this.activeVersions.values()];
  }

  /** Every version the pool was handed, for invokes pinned by number. */
  private readonly known = new Map<string, FunctionVersion>();
  readonly aliases = new Map<string, number>();

  add(fn: FunctionVersion): void {
    this.known.set(`${fn.spec.name}@${fn.version}`, fn);
  }

  resolve(ref: string): FunctionVersion {
    const [name, qualifier] = ref.split('@') as [string, string | undefined];
    if (qualifier === undefined) return this.active(name);
    const version = /^\d+$/.test(qualifier) ? Number(qualifier) : this.aliases.get(`${name}@${qualifier}`);
    const fn = this.known.get(`${name}@${version}`);
    if (!fn) throw new KilnError('version_not_found', `no version ${ref}`, 404);
    return fn;
  }

  aliasedVersions(name: string): number[] {
    return [...this.aliases].filter(([k]) => k.startsWith(`${name}@`)).map(([, v]) => v);
  }
}

/** A function version as the deployer records it, with the spec's defaults unless overridden. */
export function fnVersion(
  name: string,
  version: number,
  spec: Record<string, unknown> = {},
  handler = 'index.handler',
): FunctionVersion {
  return {
    version,
    image: `sha256:${'0'.repeat(64)}`,
    layer: `sha256:${'1'.repeat(64)}`,
    handler,
    source: 'index.mjs',
    spec: parseSpec({ name, runtime: 'node', ...spec }),
    createdAt: new Date().toISOString(),
  };
}
