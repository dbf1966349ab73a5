/**
 * Limits that hold across processes, on Redis: three processes
 * (examples/redis/worker.ts) share one rate limit, 20 calls a second to a
 * provider with bursts of 5, and one semaphore, at most 2 exports at a
 * time. Each prints what it was admitted; the total stays within the
 * bound a token bucket promises over the run, burst + rate * t, with the
 * time taken from Redis, and the exports never overlap more than 2 deep.
 * The program starts its own redis-server on a free loopback port and
 * stops it at the end.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';

const worker = fileURLToPath(new URL('./redis/worker.ts', import.meta.url));

// A free loopback port, and a redis-server on it, without persistence.
const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as net.AddressInfo;
    s.close(() => resolve(port));
  });
});
const server = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  {
    stdio: 'ignore',
  },
);
const url = `redis://127.0.0.1:${port}`;
const procs: ReturnType<typeof spawn>[] = [];
try {
  // Wait until it answers PING.
  for (;;) {
    const pong = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        sock.destroy();
        resolve(String(d).startsWith('+PONG'));
      });
      sock.on('error', () => resolve(false));
    });
    if (pong) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const redis = await createClient({ url })
    .on('error', (err) => console.error(err))
    .connect();
  console.log('redis-server started');

  const children = [1, 2, 3].map((id) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, url, String(id)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    procs.push(child);
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve) => lines.on('line', (l) => l === 'ready' && resolve()));
    const result = new Promise<string>((resolve) => lines.on('line', (l) => l.startsWith('{') && resolve(l)));
    return { ready, result, exited: new Promise((resolve) => child.on('exit', resolve)) };
  });
  await Promise.all(children.map((c) => c.ready));
  // Redis's clock, the one the limit runs on, in milliseconds.
  const time = async () => {
    const [sec, usec] = (await redis.sendCommand(['TIME'])) as [string, string];
    return Number(sec) * 1000 + Number(usec) / 1000;
  };
  const t0 = await time();
  await redis.rPush('demo:start', ['go', 'go', 'go']);
  const results = (await Promise.all(children.map((c) => c.result))).map((l) => JSON.parse(l));
  await Promise.all(children.map((c) => c.exited));
  const t1 = await time();

  for (const r of results) console.log(`process ${r.id}: ${r.admitted} calls admitted, ${r.exported} exports run`);
  const admitted = Number(await redis.get('demo:admitted'));
  const bound = Math.floor(5 + (20 * (t1 - t0)) / 1000);
  const sum = results.reduce((n, r) => n + r.admitted, 0);
  console.log(
    `calls: ${admitted} admitted in all (${sum} counted by the processes), bound burst + rate * t = ${bound}: ${admitted <= bound ? 'within the bound' : 'OVER THE BOUND'}`,
  );
  const tooMany = Number((await redis.get('demo:too-many')) ?? 0);
  const increasing = results.every((r) => r.increasing);
  console.log(
    `exports: ${tooMany === 0 ? 'never more than 2 at once' : `${tooMany} times more than 2`}, fencing tokens ${increasing ? 'increasing' : 'NOT increasing'} in each process`,
  );
  await redis.close();
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  server.kill('SIGKILL');
  await new Promise((resolve) => server.once('exit', resolve));
  console.log('redis-server stopped');
}
