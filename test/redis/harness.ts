/**
 * The Redis test harness (not part of weft): real `redis-server` processes
 * on free loopback ports, a single server or a three-master Cluster, both
 * clients connected to them, and child processes of the fixtures under
 * `fixtures/`. Everything started here is stopped by `stopAll()` (call it
 * in `afterAll`), and killed by pid when the test process exits whatever
 * happened; a stopped (SIGSTOP) child is sent SIGCONT before it is killed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Cluster as IOCluster, Redis as IORedis } from 'ioredis';
import { createClient, createCluster } from 'redis';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

const processes = new Set<ChildProcess>();
const dirs = new Set<string>();
const clients = new Set<{ close(): unknown }>();

function killNow(p: ChildProcess): void {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  try {
    process.kill(p.pid, 'SIGCONT');
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

process.on('exit', () => {
  for (const p of processes) killNow(p);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A port on 127.0.0.1 that was free a moment ago (and, with `bus`, port + 10000 too: a Cluster's bus). */
export async function freePort(bus = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (!bus) return port;
    if (port + 10000 > 65535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

/** Sends one inline command to 127.0.0.1:port and resolves with the raw reply (rejects on no answer). */
function raw(port: number, line: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(data);
    };
    const timer = setTimeout(() => done(new Error('no answer')), timeoutMs);
    sock.on('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (d) => {
      data += d;
      if (data.endsWith('\r\n')) done();
    });
    sock.on('error', (err) => done(err));
  });
}

/** One redis-server process. */
export class Server {
  readonly port: number;
  readonly dir: string;
  readonly extra: string[];
  proc: ChildProcess | null = null;

  constructor(port: number, extra: string[]) {
    this.port = port;
    this.extra = extra;
    this.dir = mkdtempSync(join(tmpdir(), 'weft-redis-'));
    dirs.add(this.dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  /** Starts the server (again, on the same port, empty) and resolves once it answers PING. */
  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--daemonize', 'no', '--protected-mode', 'no', '--dir', this.dir, '--loglevel', 'warning');
    const proc = spawn('redis-server', [...args, ...this.extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    processes.add(proc);
    proc.on('exit', () => processes.delete(proc));
    this.proc = proc;
    const until = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${proc.exitCode}`);
      try {
        if ((await raw(this.port, 'PING', 200)).startsWith('+PONG')) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > until) throw new Error(`redis-server on ${this.port} did not start`);
      await sleep(20);
    }
  }

  /** Kills the server (SIGKILL by default) and resolves once it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid!, 'SIGCONT');
    process.kill(proc.pid!, signal);
    await exited;
  }

  /** Stops the server and starts a new one, empty, on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Runs a command with redis-cli and resolves with its output, trimmed. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args]);
    return stdout.trim();
  }
}

/** Starts one redis-server on a free loopback port. */
export async function startServer(extra: string[] = []): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    const server = new Server(await freePort(), extra);
    try {
      await server.start();
      return server;
    } catch (err) {
      await server.stop();
      if (attempt >= 3) throw err;
    }
  }
}

/** A Redis Cluster of three masters on loopback. */
export interface ClusterHandle {
  readonly nodes: Server[];
  readonly urls: string[];
  stop(): Promise<void>;
}

/** Starts three `--cluster-enabled` servers and joins them with `redis-cli --cluster create`. */
export async function startCluster(): Promise<ClusterHandle> {
  const nodes: Server[] = [];
  for (let i = 0; i < 3; i++) {
    const flags = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'];
    const node = new Server(await freePort(true), flags);
    nodes.push(node);
    await node.start();
  }
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  await exec('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes']);
  const until = Date.now() + 20_000;
  for (const node of nodes) {
    while (!(await node.cli('cluster', 'info')).includes('cluster_state:ok')) {
      if (Date.now() > until) throw new Error('the cluster did not become ready');
      await sleep(50);
    }
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    stop: async () => {
      for (const n of nodes) await n.stop();
    },
  };
}

/** The two client libraries. */
export type ClientKind = 'node-redis' | 'ioredis';
export const CLIENT_KINDS: ClientKind[] = ['node-redis', 'ioredis'];

/** A connected client of `kind` to `url` (node-redis: connected; ioredis: ready), closed by `stopAll`. */
export async function connect(kind: ClientKind, url: string): Promise<any> {
  if (kind === 'node-redis') {
    const c = createClient({ url, socket: { reconnectStrategy: () => 50 } });
    c.on('error', () => {});
    clients.add({ close: () => c.destroy() });
    return await c.connect();
  }
  const c = new IORedis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  c.on('error', () => {});
  clients.add({ close: () => c.disconnect() });
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('end', () => reject(new Error('ioredis: connection ended')));
  });
  return c;
}

/** A connected cluster client of `kind`, closed by `stopAll`. */
export async function connectCluster(kind: ClientKind, cluster: ClusterHandle): Promise<any> {
  if (kind === 'node-redis') {
    const c = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    c.on('error', () => {});
    clients.add({ close: () => c.destroy() });
    return await c.connect();
  }
  const c = new IOCluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  c.on('error', () => {});
  clients.add({ close: () => c.disconnect() });
  await new Promise<void>((resolve) => c.once('ready', () => resolve()));
  return c;
}

/** A child process of a fixture, with its output as lines. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  /** Resolves with the first line matching `re`, now or later (rejects if the child exits first, or after `ms`). */
  line(re: RegExp, ms?: number): Promise<string>;
  readonly exited: Promise<number | string>;
  /** Kills it (SIGCONT, then SIGKILL) if still running. */
  kill(): void;
}

/** Starts `node --import tsx test/redis/fixtures/<name>` with `args`. */
export function fixture(name: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(fixtures, name), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(proc);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    buf += d;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.re.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
      i = buf.indexOf('\n');
    }
  });
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, sig) => {
      processes.delete(proc);
      resolve(code ?? sig ?? 'unknown');
    });
  });
  return {
    proc,
    pid: proc.pid!,
    lines,
    exited,
    line(re, ms = 20_000) {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line ${re} in ${ms} ms: ${lines.join(' | ')} ${stderr}`)),
          ms,
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before ${re}: ${lines.join(' | ')}\n${stderr}`));
        });
      });
    },
    kill: () => killNow(proc),
  };
}

/** Stops every client, child and server this file started. */
export async function stopAll(): Promise<void> {
  for (const c of clients) {
    try {
      c.close();
    } catch {
      // Already closed.
    }
  }
  clients.clear();
  const waits: Promise<unknown>[] = [];
  for (const p of processes) {
    waits.push(new Promise((resolve) => p.once('exit', resolve)));
    killNow(p);
  }
  await Promise.all(waits);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Polls `cond` every `everyMs` until it holds; fails the test after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${cond}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
