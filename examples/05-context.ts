/**
 * Context: deadlines and cancel trees on AbortSignal.
 *
 * A request handler bounds its work with a deadline (`withTimeout`), the way
 * a Go handler does with `context.WithTimeout`; a server-wide scope is the
 * root of a cancel tree, so shutting the server down cancels every request
 * and every query under it, each with the server's reason.
 *
 * Run: npx tsx examples/05-context.ts
 */
import { afterFunc, sleep, withCancel, withTimeout } from 'weftjs';

// A "database query" that honours cancellation: it takes `ms`, unless its signal aborts first.
async function query(sql: string, ms: number, signal: AbortSignal): Promise<string> {
  await sleep(ms, { signal });
  return `3 rows for "${sql}"`;
}

// Handles one request within a 200 ms deadline; `using` cancels the scope on the way out.
async function handle(name: string, queryMs: number): Promise<void> {
  const started = performance.now();
  using scope = withTimeout(undefined, 200);
  try {
    console.log(`${name}: ${await query('SELECT * FROM users', queryMs, scope.signal)}`);
  } catch (err) {
    const e = err as { name: string; code: string };
    const ms = Math.round(performance.now() - started);
    console.log(`${name}: ${e.name} (${e.code}) after ${ms} ms`);
  }
}

console.log('1. Requests with a 200 ms deadline');
await handle('fast request', 1);
await handle('slow request', 60_000);

console.log('\n2. A cancel tree: server -> request -> queries');
const server = withCancel();
const request = withCancel(server.signal);
const users = withTimeout(request.signal, 60_000);
const orders = withTimeout(request.signal, 60_000);
afterFunc(request.signal, () => console.log(`request cleanup ran: ${request.signal.reason.message}`));

const results = Promise.allSettled([
  query('SELECT * FROM users', 60_000, users.signal),
  query('SELECT * FROM orders', 60_000, orders.signal),
]);
// Cancelling one query leaves its siblings and parents running.
users.cancel();
console.log(`users query cancelled: ${users.signal.reason.code}; orders aborted: ${orders.signal.aborted}`);

await sleep(10);
server.cancel(new Error('server shutting down'));
for (const r of await results) {
  console.log(r.status === 'rejected' ? `query rejected: ${(r.reason as Error).message}` : r.value);
}
console.log(`request reason is the server's: ${request.signal.reason === server.signal.reason}`);
