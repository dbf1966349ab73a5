/**
 * Go's graceful shutdown (`signal.NotifyContext`, then `http.Server.Shutdown`
 * and a close of each resource under a deadline), as weft does it with
 * `Shutdown`: a real `node:http` server with a slow endpoint, background work
 * on a `WorkerPool` fed by a `Ticker` until `shutdown.signal` aborts, and
 * three requests in flight when the program sends itself SIGTERM. The
 * requests complete, each answered with `Connection: close`; the phases run
 * in order (server, then background work, then the demo's own clients); the
 * log prints one line per hook and a summary; the process exits 0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep, Ticker, WorkerPool } from 'weftjs';
import { Shutdown } from 'weftjs/node';

// exit: true (the default): process.exit(0) once every hook has ended well.
const shutdown = new Shutdown({ timeoutMs: 10_000, log: (line) => console.log(line) });

// Background work: a job of 100 ms submitted every 10 ms, until the shutdown
// starts; the queue grows, and closing the pool runs what is queued.
let done = 0;
const pool = new WorkerPool(
  async (n: number) => {
    await sleep(100);
    done++;
    return n;
  },
  { concurrency: 1 },
);
const ticker = new Ticker(10);
let submitted = 0;
const feeder = (async () => {
  try {
    for (;;) {
      await ticker.channel.recv({ signal: shutdown.signal });
      submitted++;
      pool.submit(submitted).catch(() => {});
    }
  } catch (reason) {
    console.log(`feeder stopped: ${reason}`);
  }
})();

// The service: /slow?ms=N answers after N ms.
let inFlight = 0;
const server = http.createServer((req, res) => {
  const ms = Number(new URL(req.url!, 'http://localhost').searchParams.get('ms'));
  if (++inFlight === 3) {
    console.log('3 requests in flight: sending SIGTERM to myself');
    process.kill(process.pid, 'SIGTERM');
  }
  setTimeout(() => {
    console.log(`served ${req.url}`);
    res.end(`done ${req.url}`);
  }, ms);
});

// Phase 0: stop taking requests and finish those in flight. Phase 1: stop the
// background work; the pool runs what was submitted, then closes.
shutdown.addServer(server, { name: 'http' });
shutdown.add('ticker', ticker, { phase: 1 });
shutdown.add('jobs', pool, { phase: 1 });

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as AddressInfo;
  console.log('listening');
  await sleep(100);
  const clients = [100, 200, 300].map(async (ms) => {
    const res = await fetch(`http://127.0.0.1:${port}/slow?ms=${ms}`);
    return `client got ${res.status} "${await res.text()}" (connection: ${res.headers.get('connection')})`;
  });
  // Phase 2: this demo's clients live in the same process; wait for them to
  // read their responses before the process exits. A real service has none.
  shutdown.add(
    'demo clients',
    async () => {
      for (const line of await Promise.all(clients)) console.log(line);
      await feeder;
      console.log(`background jobs: ${done} of ${submitted} done`);
    },
    { phase: 2 },
  );
});
