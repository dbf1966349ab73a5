/**
 * `npm run demo -- --redis`: the same job, with its rate limit held in
 * Redis by a `RedisRateLimiter` (`weftjs/redis`), the limit every copy of
 * the service would share. The demo starts a `redis-server` of its own on a
 * free loopback port (no persistence) and stops it, by its pid, as the
 * Shutdown's last hook.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { createClient } from 'redis';
import { RedisRateLimiter } from 'weftjs/redis';
import { type DemoOptions, runDemo } from './service.js';
import { summary } from './summary.js';
import { View } from './view.js';

/** A free port on loopback (the OS picks it, then it is released for redis-server to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** Whether Redis answers PING on `port`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    sock.setTimeout(500, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
  });
}

/** A redis-server of the demo's own, and how to stop it. */
export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server on a free loopback port and waits until it answers. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    // A group of its own: a Ctrl-C in the terminal reaches the whole foreground group, and redis-server
    // would quit before the demo is done with it. The demo stops it, by its pid, last.
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill); // also on a forced exit (a second Ctrl-C)
  for (let i = 0; !(await ping(port)); i++) {
    if (i === 100 || child.exitCode !== null) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the demo with its limiter on Redis, then prints the summary. */
export async function runRedisDemo(options: DemoOptions, tty: boolean): Promise<void> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    console.error('--redis needs redis-server on the PATH (apt-get install redis-server, brew install redis)');
    process.exit(2);
  }
  const server = await startRedis();
  const redis = await createClient({ url: server.url })
    .on('error', () => {})
    .connect();
  console.log(`redis-server pid ${server.pid} on ${server.url}`);
  const limiter = new RedisRateLimiter({
    redis,
    key: 'demo:downstream',
    rate: options.rate,
    burst: Math.max(1, Math.min(options.workers, options.rate)),
  });
  const view = new View(options, tty);
  const result = await runDemo(options, view, {
    limiter,
    limiterName: 'RedisRateLimiter',
    hooks: (shutdown) => {
      shutdown.add('redis client', () => redis.close(), { phase: 2 });
      shutdown.add('redis-server', () => server.stop(), { phase: 3 });
    },
  });
  for (const line of summary(result)) console.log(line);
}
