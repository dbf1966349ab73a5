/**
 * The table the demo ends with: the items and their fate, the time, the
 * memory, and one row for what each pattern did.
 */
import type { DemoResult } from './service.js';

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (part: number, whole: number) => `${whole === 0 ? 0 : Math.round((part / whole) * 100)}%`;
const plural = (k: number, one: string, many = `${one}s`) => `${n(k)} ${k === 1 ? one : many}`;

/** `{ a: 3, b: 1 }` as `a 3, b 1`, largest first; `none` when empty. */
function byKind(counts: Record<string, number>): string {
  const rows = Object.entries(counts).sort((x, y) => y[1] - x[1]);
  return rows.length === 0 ? 'none' : rows.map(([k, v]) => `${k} ${n(v)}`).join(', ');
}

/** The summary, as lines of a two-column table. */
export function summary(r: DemoResult): string[] {
  const o = r.options;
  const c = r.counters;
  const left = o.items - c.done - c.failed;
  const d = r.downstream;
  const transitions = r.transitions.map((t) => `${t.from}->${t.to} ${secs(t.t)}`).join(', ');
  const outage =
    r.downAt === undefined
      ? 'no outage yet'
      : `down ${r.upAt === undefined ? `from ${secs(r.downAt)}` : `${secs(r.upAt - r.downAt)} (${secs(r.downAt)} to ${secs(r.upAt)})`}`;
  const hooks = r.report.hooks;
  const rows: [string, string][] = [
    [
      'items',
      `${n(o.items)}: ${n(c.done)} done, ${n(c.failed)} failed, ${n(left)} not processed` +
        (left === 0 ? ' (every item accounted for)' : ` (${r.interrupted ? 'stopped by the shutdown' : 'missing'})`),
    ],
    ['failures', c.failed === 0 ? 'none: every call that failed succeeded on a retry' : byKind(c.failedByKind)],
    ['time', `${secs(r.elapsedMs)}, ${n((c.done + c.failed) / Math.max(0.001, r.elapsedMs / 1000))} items/s`],
    ['peak RSS', `${(r.peakRss / 2 ** 20).toFixed(1)} MB`],
    ['', ''],
    ['pattern', 'what it did'],
    [
      'flow',
      `${plural(r.batches, 'batch', 'batches')} of ${o.batch} items on ${r.spread}; ` +
        `at most ${n(r.peakHeld)} items held at once`,
    ],
    [r.limiterName, `${n(o.rate)} calls/s: ${plural(c.calls, 'call')}, ${n(c.limiterWaits)} waited for a token`],
    [
      'CircuitBreaker',
      `${transitions || 'stayed closed'}; ${plural(c.rejectedByBreaker, 'call')} turned away while open or half-open`,
    ],
    [
      'retry',
      `${plural(c.retries, 'retry', 'retries')} (${byKind(c.retriesByKind)}); ` +
        `${plural(c.batchesFailed, 'batch', 'batches')} gave up`,
    ],
    [
      'Singleflight',
      `${n(c.tokenAsks)} token lookups missed the cache, ${n(c.tokenFetches)} fetches ran ` +
        `(${pct(c.tokenAsks - c.tokenFetches, c.tokenAsks)} shared)`,
    ],
    [
      'ThreadPool',
      `${plural(c.sealed, 'batch', 'batches')} sealed on ${plural(o.threads, 'thread')}${r.spread.includes('process') ? ' in each process' : ''}, ${o.rounds} SHA-256 rounds each`,
    ],
    ['PubSub', `${n(r.published)} events published (progress, breaker, downstream)`],
    [
      'Shutdown',
      `${plural(hooks.length, 'hook')}, ${r.report.ok ? 'ok' : 'NOT ok'} in ${Math.round(r.report.durationMs)} ms ` +
        `(reason ${String(r.reason)})`,
    ],
    [
      'downstream',
      d === undefined
        ? `pid ${r.downstreamPid}; ${outage}`
        : `pid ${r.downstreamPid}; ${plural(d.requests, 'request')}: ${n(d.failed)} answered 503, ${n(d.slow)} slow, ` +
          `${n(d.abandoned)} abandoned; ${outage}; ${n(d.accepted)} items accepted, ${plural(d.duplicates, 'duplicate')}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return ['', 'summary', ...rows.map(([k, v]) => (k === '' ? '' : `  ${k.padEnd(width)}${v}`))];
}
