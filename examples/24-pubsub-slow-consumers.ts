/**
 * Pub/sub with slow consumers: one publisher sends 8 price ticks for three
 * symbols as fast as it can, and four subscribers each pick what falling
 * behind costs them.
 *
 * - `audit` must see every tick: `'block'`, read with `forEach` and an
 *   async handler, whose promise holds the publisher back (backpressure).
 * - `screen` only needs the latest price per symbol: `'latest'`, keyed by
 *   symbol, read after the burst; older ticks of a symbol are replaced.
 * - `chart` keeps the two newest ticks: `'drop-oldest'`, buffer 2.
 * - `stuck` never reads: `'block'` with `blockMs: 5`, so the publisher waits
 *   at most 5 ms for it, then drops the tick for it alone.
 *
 * Every overflow reaches the hub's `onOverflow` hook (and the
 * `weft:pubsub:overflow` diagnostics channel, for whoever listens); `lag`
 * tells how far each reader is behind.
 *
 * Run: npx tsx examples/24-pubsub-slow-consumers.ts
 */
import { type OverflowOutcome, PubSub, sleep } from 'weftjs';

type Tick = { symbol: string; price: number };

const outcomes = new Map<string, number>();
const hub = new PubSub<Tick>({
  onOverflow: (e) => {
    const name = names.get(e.subscription) ?? '?';
    const key = `${name} ${e.outcome satisfies OverflowOutcome}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  },
});

const audit = hub.subscribe('ticks.>', { buffer: 2, overflow: 'block' });
const screen = hub.subscribe('ticks.>', { overflow: 'latest', key: (m) => m.payload.symbol });
const chart = hub.subscribe('ticks.>', { buffer: 2, overflow: 'drop-oldest' });
const stuck = hub.subscribe('ticks.>', { buffer: 1, overflow: 'block', blockMs: 5 });
const names = new Map<unknown, string>([
  [audit, 'audit'],
  [screen, 'screen'],
  [chart, 'chart'],
  [stuck, 'stuck'],
]);

const audited: string[] = [];
const auditing = audit.forEach(async ({ payload }) => {
  await sleep(1); // a write to an audit log
  audited.push(`${payload.symbol}@${payload.price}`);
});

const symbols = ['EUR', 'GBP', 'JPY'];
for (let i = 0; i < 8; i++) {
  const symbol = symbols[i % 3]!;
  const { delivered, dropped } = await hub.publish(`ticks.${symbol}`, { symbol, price: 100 + i });
  console.log(
    `tick ${i} ${symbol}: delivered ${delivered}, dropped ${dropped}; lag audit ${audit.lag}, screen ${screen.lag}, chart ${chart.lag}, stuck ${stuck.lag}`,
  );
}

hub.close();
const latest: string[] = [];
for await (const { payload } of screen) latest.push(`${payload.symbol}@${payload.price}`);
const charted: string[] = [];
for await (const { payload } of chart) charted.push(`${payload.symbol}@${payload.price}`);
await auditing;
console.log(`audit saw all ${audited.length}: ${audited.join(' ')}`);
console.log(`screen, latest per symbol: ${latest.join(' ')} (dropped ${screen.dropped})`);
console.log(`chart, newest two: ${charted.join(' ')} (dropped ${chart.dropped})`);
console.log(`stuck dropped ${stuck.dropped}`);
console.log(`overflows: ${[...outcomes].map(([k, n]) => `${k} x${n}`).join(', ')}`);
