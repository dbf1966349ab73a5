/**
 * The million-item worker pool as a real queue, on Redis: one producer
 * (this process) adds the jobs, three consumer processes
 * (examples/redis/queue-worker.ts) run them, 100 at a time in all, while a
 * progress line counts what is done. Halfway, one consumer is killed
 * (SIGKILL) with jobs in hand: nothing acknowledged them, so after
 * `visibilityMs` the other two take them over, and the final count shows
 * every job done. Results are recorded idempotently (SADD), so a job that
 * ran twice, once in the killed process, counts once.
 *
 * It runs 20,000 jobs; give a count to run more:
 * `node --import tsx examples/81-redis-queue.ts 1000000`. The program
 * starts its own redis-server on a free loopback port and stops it at the
 * end.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { RedisQueue } from 'weftjs/redis';

const JOBS = Number(process.argv[2] ?? 20_000);
const worker = fileURLToPath(new URL('./redis/queue-worker.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    await sleep(50);
  }
  const redis = await createClient({ url })
    .on('error', (err) => console.error(err))
    .connect();
  console.log('redis-server started');
  const queue = new RedisQueue<{ n: number }>({ redis, name: 'demo:jobs', visibilityMs: 2000 });

  // Three consumers, 100 jobs at a time in all.
  const consumers = [
    [1, 34],
    [2, 33],
    [3, 33],
  ].map(([id, concurrency]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, url, String(id), String(concurrency)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    procs.push(child);
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve) => lines.on('line', (l) => l === 'ready' && resolve()));
    const report = new Promise<string>((resolve) => lines.on('line', (l) => l.startsWith('{') && resolve(l)));
    return { id, child, ready, report, exited: new Promise((resolve) => child.on('exit', resolve)) };
  });
  await Promise.all(consumers.map((c) => c.ready));
  console.log('3 consumers running, 100 jobs at a time in all');

  // The producer: addMany sends them in pipelined batches.
  for (let at = 0; at < JOBS; at += 10_000) {
    await queue.addMany(Array.from({ length: Math.min(10_000, JOBS - at) }, (_, i) => ({ n: at + i })));
  }
  console.log(`${JOBS} jobs added`);

  // The progress line (on stderr, rewritten in place), and the kill halfway.
  const victim = consumers[1]!;
  let killed = false;
  for (;;) {
    const done = Number(await redis.sCard('demo:done'));
    const { waiting, inFlight } = await queue.stats();
    process.stderr.write(`\rprogress: ${done}/${JOBS} done, ${inFlight} in flight, ${waiting} waiting   `);
    if (!killed && done >= JOBS / 2) {
      killed = true;
      victim.child.kill('SIGKILL');
      await victim.exited;
      const held = (await queue.stats()).consumers.find((c) => c.name === 'consumer-2')?.inFlight ?? 0;
      process.stderr.write('\n');
      console.log(`halfway: consumer 2 killed (SIGKILL), ${held > 0 ? 'with jobs in hand' : 'holding nothing'}`);
    }
    if (done === JOBS && waiting === 0 && inFlight === 0) break;
    await sleep(100);
  }
  process.stderr.write('\n');

  // The survivors shut down gracefully and say what they did.
  const survivors = [consumers[0]!, consumers[2]!];
  for (const c of survivors) c.child.kill('SIGTERM');
  const reports = (await Promise.all(survivors.map((c) => c.report))).map((l) => JSON.parse(l));
  await Promise.all(survivors.map((c) => c.exited));
  for (const r of reports) console.log(`consumer ${r.id}: ${r.completed} jobs completed, ${r.lost} claims lost`);

  const done = Number(await redis.sCard('demo:done'));
  const completions = Number(await redis.get('demo:completions'));
  console.log(
    `done: ${done} of ${JOBS} jobs, every one (${completions - done} ran twice: the killed consumer's unacknowledged ones)`,
  );
  const stats = await queue.stats();
  console.log(`queue: ${stats.waiting} waiting, ${stats.inFlight} in flight, ${stats.deadLettered} dead-lettered`);
  await redis.close();
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  server.kill('SIGKILL');
  await new Promise((resolve) => server.once('exit', resolve));
  console.log('redis-server stopped');
}
