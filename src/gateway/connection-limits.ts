import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { isIPv6, type Socket } from 'node:net';

/**
 * How many connections the gateway holds, and for how long (issue 8: ~20 000 idle
 * connections from one client used every file descriptor and took the gateway down for 72 s).
 */
export interface ConnectionLimits {
  /** Open client connections in all; past it a new one is closed as it is accepted. */
  maxConnections: number;
  /** Open connections from one client address; past it a new one from there is closed. */
  maxConnectionsPerClient: number;
  /** A request head must be whole this long after its connection opened or went idle. */
  headersTimeoutMs: number;
  /** A request, body included, must have arrived this long after its head began. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (above the 60 s of common load balancers). */
  keepAliveTimeoutMs: number;
}

/**
 * The limits for a process allowed `fdLimit` open files: client connections may take at
 * most half of them, so containers' pipes, shim sockets, the log store and deploys always
 * find descriptors. Pure.
 */
export function connectionLimits(fdLimit: number, wanted: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const fdBound = Math.max(64, Math.floor(fdLimit / 2));
  const maxConnections = Math.min(wanted.maxConnections ?? 16_384, fdBound);
  return {
    maxConnections,
    maxConnectionsPerClient: Math.min(wanted.maxConnectionsPerClient ?? 1024, maxConnections),
    headersTimeoutMs: wanted.headersTimeoutMs ?? 20_000,
    requestTimeoutMs: wanted.requestTimeoutMs ?? 120_000,
    keepAliveTimeoutMs: wanted.keepAliveTimeoutMs ?? 65_000,
  };
}

/**
 * Who a connection counts against: an IPv4 address (also when it arrives IPv4-mapped on a
 * dual-stack socket), or an IPv6 address's /64 — the smallest block a host or a home line is
 * given (RFC 6177), so one client cannot multiply its cap by taking more addresses of its own
 * block. Pure.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** Open connections per client (`clientKey`), within a per-client cap. */
export class ClientConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly perClient: number) {}

  /** Count a new connection from `address`, or say no when that client is at its cap. */
  admit(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.perClient) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.open.get(address) ?? 0;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}

/** Apply `limits` to a node:http server. */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const clients = new ClientConnections(limits.maxConnectionsPerClient);
  // Before http's own listener, so a refused connection never gets a parser.
  server.prependListener('connection', (socket: Socket) => {
    const address = clientKey(socket.remoteAddress ?? '');
    if (!clients.admit(address)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => clients.release(address));
  });
}

/** This process's RLIMIT_NOFILE `{soft, hard}`, from /proc/self/limits (Linux). */
export function fileLimit(): { soft: number; hard: number } {
  const text = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  const read = (v: string | undefined) =>
    v === undefined || v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v);
  return { soft: read(m?.[1]), hard: read(m?.[2]) };
}

/**
 * Raise this process's open-file soft limit to its hard limit (allowed without privilege),
 * so connection caps, not EMFILE, decide who is served. Node has no setrlimit, and
 * `ulimit` only changes a shell's children; util-linux's `prlimit --pid` calls prlimit(2)
 * on a running process, this one, with no native addon. Returns the limit now in force.
 */
export function raiseFileLimit(log: (line: string) => void = () => undefined): number {
  const { soft, hard } = fileLimit();
  if (soft >= hard) return soft;
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`], { stdio: 'ignore' });
  } catch (err) {
    log(`kiln: could not raise the open-file limit from ${soft} to ${hard} (${(err as Error).message})`);
  }
  return fileLimit().soft;
}
