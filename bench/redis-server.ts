/**
 * The redis-server of a Redis bench file: its `setup()` starts one on a free
 * loopback port for all the file's processes (unless REDIS_URL is set) and
 * hands them its URL; `redisUrl()` reads it in a contender's process.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Setup } from './lib.js';

/** A bench file's `setup`: a redis-server of its own, stopped by its teardown. */
export function redisServer(file: string): Setup {
  return async () => {
    if (process.env.REDIS_URL) return {};
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const server = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.destroy();
          resolve(true);
        });
        sock.on('error', () => resolve(false));
      });
      if (up) break;
      if (i > 200) throw new Error(`${file}: redis-server did not start`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return {
      env: { REDIS_URL: `redis://127.0.0.1:${port}` },
      teardown: () => {
        server.kill('SIGKILL');
      },
    };
  };
}

/** The URL the file's setup handed this process. */
export function redisUrl(file: string): string {
  const u = process.env.REDIS_URL;
  if (u === undefined) throw new Error(`${file}: REDIS_URL is not set (the setup sets it)`);
  return u;
}
