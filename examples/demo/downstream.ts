/**
 * The demo's flaky downstream: a `node:http` service on loopback, run as a
 * child process of the demo (`startDownstream` in `client.ts` forks it), so
 * that it has its own event loop, as a real dependency would.
 *
 * - `GET /token/:tenant` returns an access token for a tenant (a few ms).
 * - `POST /ingest` takes one sealed batch of items: it checks the body's
 *   digest, accepts each batch once (a batch sent again is acknowledged but
 *   not counted twice: the service may retry a call whose answer was lost),
 *   and answers `{ accepted }`.
 * - A share of calls is answered 503, a share is slow, and once it has
 *   accepted `outageAfterItems` items it goes down for `outageMs`: the port
 *   closes and every open connection is dropped, then it comes back on the
 *   same port.
 *
 * It ignores SIGINT (a Ctrl-C in the terminal reaches the whole process
 * group: the demo decides when its downstream stops), and exits on a `stop`
 * message, on SIGTERM, or when its parent goes away.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DownstreamConfig, DownstreamMessage, DownstreamStats, ServiceMessage } from './protocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as DownstreamConfig;
const stats: DownstreamStats = {
  requests: 0,
  failed: 0,
  slow: 0,
  abandoned: 0,
  tokens: 0,
  accepted: 0,
  duplicates: 0,
};
const seen = new Set<number>();
let port = 0;

function tell(message: DownstreamMessage): void {
  if (process.connected) process.send?.(message);
}

/** Answers after `ms`, unless the caller has gone by then (it timed out and will retry). */
function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ms: number,
  status: number,
  body: string,
  onSent?: () => void,
) {
  setTimeout(() => {
    if (res.destroyed || req.socket.destroyed) {
      stats.abandoned++;
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    onSent?.();
  }, ms);
}

/** A few milliseconds, or `slowMs` for a share of the calls. */
function latency(): number {
  if (Math.random() < config.slowRate) {
    stats.slow++;
    return config.slowMs;
  }
  return 1 + Math.random() * 3;
}

function ingest(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const ms = latency();
  if (Math.random() < config.failRate) {
    stats.failed++;
    answer(req, res, ms, 503, '{"error":"unavailable"}');
    return;
  }
  const rounds = Number(req.headers['x-rounds'] ?? 1);
  let digest = createHash('sha256').update(body).digest();
  for (let r = 1; r < rounds; r++) digest = createHash('sha256').update(digest).update(body).digest();
  if (digest.toString('hex') !== req.headers['x-digest']) {
    answer(req, res, ms, 400, '{"error":"bad digest"}');
    return;
  }
  const { batch, items } = JSON.parse(body) as { batch: number; items: unknown[] };
  answer(req, res, ms, 200, `{"accepted":${items.length}}`, () => {
    // Counted once the answer is out: a call abandoned by its caller is retried, and counted then.
    if (seen.has(batch)) {
      stats.duplicates++;
      return;
    }
    seen.add(batch);
    stats.accepted += items.length;
    if (stats.accepted >= config.outageAfterItems && stats.downAt === undefined) goDown();
  });
}

const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  stats.requests++;
  if (req.method === 'GET' && req.url?.startsWith('/token/')) {
    stats.tokens++;
    req.resume();
    answer(req, res, 2 + Math.random() * 3, 200, JSON.stringify({ token: randomBytes(8).toString('hex'), ttlMs: 250 }));
    return;
  }
  if (req.method === 'POST' && req.url === '/ingest') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ingest(req, res, Buffer.concat(chunks).toString()));
    return;
  }
  req.resume();
  answer(req, res, 0, 404, '{"error":"not found"}');
});

/** The outage: stop listening, drop every connection, and come back `outageMs` later on the same port. */
function goDown(): void {
  stats.downAt = Date.now();
  server.close();
  server.closeAllConnections();
  tell({ type: 'down', at: stats.downAt });
  setTimeout(() => {
    server.listen(port, '127.0.0.1', () => {
      stats.upAt = Date.now();
      tell({ type: 'up', at: stats.upAt });
    });
  }, config.outageMs);
}

/** Stops: the final counters go to the demo, then the process exits. */
function stop(): void {
  server.closeAllConnections();
  server.close();
  if (process.connected) process.send?.({ type: 'stats', stats } satisfies DownstreamMessage, () => process.exit(0));
  else process.exit(0);
}

process.on('SIGINT', () => {}); // the demo stops its downstream itself, after its own work
process.on('SIGTERM', stop);
process.on('disconnect', () => process.exit(0)); // the demo went away
process.on('message', (message: ServiceMessage) => {
  if (message.type === 'stop') stop();
});
// Counters for the live view, a few times a second.
setInterval(() => tell({ type: 'stats', stats }), 250).unref();

server.listen(0, '127.0.0.1', () => {
  port = (server.address() as AddressInfo).port;
  tell({ type: 'ready', port });
});
