/**
 * `npm run demo` as CI runs it: real processes (the demo and its flaky
 * downstream), real HTTP over loopback, plain output. The first run goes to
 * the end and its summary is checked: every item accounted for, the breaker
 * opened during the outage and closed after it, a clean shutdown. The
 * second gets SIGINT in the middle of the outage, with every worker waiting
 * on a backoff or the breaker, and must be gone within a second with a
 * clean report.
 */
import { describe, expect, it } from 'vitest';
import { alive, demo, downstreamPid, expectCleanReport, items, num, row } from './support.js';

const localHooks = ['job', 'thread pool', 'connections', 'downstream', 'progress', 'bus'];

describe('npm run demo', () => {
  it('runs the job to the end: every item accounted for, the breaker open during the outage and closed after it, a clean shutdown', {
    timeout: 40_000,
  }, async () => {
    const run = demo(['--items', '20000', '--outage-ms', '2000']);
    const { code } = await run.exited;
    const { lines } = run;
    const out = lines.join('\n');
    expect(code, out).toBe(0);

    // Every item is done or failed (after its retries), and the failures by kind add up.
    const it = items(lines);
    expect(it.total).toBe(20_000);
    expect(it.left, out).toBe(0);
    expect(it.done + it.failed).toBe(20_000);
    expect(row(lines, 'items')).toContain('(every item accounted for)');
    const failures = row(lines, 'failures');
    const byKind = failures.startsWith('none') ? [] : failures.split(', ').map((k) => num(/([\d,]+)$/.exec(k)?.[1]));
    expect(byKind.reduce((a, b) => a + b, 0)).toBe(it.failed);

    // The downstream took each item it acknowledged once: at least the items done, at most all of them.
    const ds = row(lines, 'downstream');
    const accepted = num(/([\d,]+) items accepted/.exec(ds)?.[1]);
    expect(accepted).toBeGreaterThanOrEqual(it.done);
    expect(accepted).toBeLessThanOrEqual(it.total);

    // The outage happened in the middle, for the time asked; the breaker opened during it and closed after it.
    const outage = /down ([\d.]+) s \(([\d.]+) s to ([\d.]+) s\)/.exec(ds);
    expect(outage, ds).not.toBeNull();
    const [, length, downAt, upAt] = (outage as RegExpExecArray).map(Number) as [number, number, number, number];
    expect(length).toBeGreaterThanOrEqual(1.9);
    expect(lines).toContain(`[${downAt.toFixed(1).padStart(5)}s] downstream down`);
    const transitions = [
      ...row(lines, 'CircuitBreaker').matchAll(/(closed|open|half-open)->(closed|open|half-open) ([\d.]+) s/g),
    ].map(([, from, to, t]) => ({ from, to, t: Number(t) }));
    // Times are printed to a tenth of a second, on two processes' clocks. (On a loaded machine, slow
    // answers may trip the breaker before the outage too: what counts is that it opened once it began.)
    const during = transitions.filter((t) => t.to === 'open' && t.t >= downAt - 0.15 && t.t <= upAt);
    expect(during.length, row(lines, 'CircuitBreaker')).toBeGreaterThanOrEqual(1);
    const closed = transitions.filter((t) => t.to === 'closed');
    expect(closed.length, row(lines, 'CircuitBreaker')).toBeGreaterThanOrEqual(1);
    // It closed after the downstream came back (from half-open, on trial calls), never while it was down.
    expect(closed.some((t) => t.from === 'half-open' && t.t >= upAt - 0.15)).toBe(true);
    expect(closed.filter((t) => t.t > downAt + 0.15 && t.t < upAt - 0.15)).toEqual([]);
    expect(transitions.at(-1)?.to).toBe('closed');
    // Trial calls while it was still down sent it back to open.
    expect(transitions.some((t) => t.from === 'half-open' && t.to === 'open')).toBe(true);

    // The other patterns did their part.
    expect(num(/([\d,]+) retries/.exec(row(lines, 'retry'))?.[1])).toBeGreaterThan(0);
    expect(num(/([\d,]+) calls turned away/.exec(row(lines, 'CircuitBreaker'))?.[1])).toBeGreaterThan(0);
    const sf = /([\d,]+) token lookups missed the cache, ([\d,]+) fetches ran/.exec(row(lines, 'Singleflight'));
    expect(num(sf?.[2])).toBeLessThan(num(sf?.[1]));
    // Each batch sealed once on the ThreadPool, and memory bounded by the workers: the source is pulled
    // only as they free up, so at most one batch per worker (and the one being filled) is held.
    const flowRow = /^([\d,]+) batches of (\d+) items on 100 workers; at most ([\d,]+) items held at once$/.exec(
      row(lines, 'flow'),
    );
    expect(flowRow, row(lines, 'flow')).not.toBeNull();
    const [, batches, size, held] = (flowRow as RegExpExecArray).map(num) as [number, number, number, number];
    expect(batches).toBe(Math.ceil(20_000 / size));
    expect(row(lines, 'ThreadPool')).toMatch(new RegExp(`^${batches} batches sealed`));
    expect(held).toBeLessThanOrEqual(100 * size + size);

    expectCleanReport(lines, 'done', localHooks);
    expect(alive(downstreamPid(lines))).toBe(false);
  });

  it('stops cleanly on SIGINT in the middle of the outage: exit code 0, a clean report, gone within a second', {
    timeout: 40_000,
  }, async () => {
    const run = demo(['--items', '50000']);
    await run.waitFor(/breaker closed -> open$/);
    const sent = performance.now();
    run.child.kill('SIGINT');
    const { code, at } = await run.exited;
    const { lines } = run;
    const out = lines.join('\n');
    expect(code, out).toBe(0);
    expect(at - sent, out).toBeLessThan(1_000);

    expectCleanReport(lines, 'SIGINT', localHooks);
    const it = items(lines);
    expect(it.total).toBe(50_000);
    expect(it.left).toBeGreaterThan(0);
    expect(it.done + it.failed + it.left).toBe(50_000);
    expect(row(lines, 'items')).toContain('(stopped by the shutdown)');
    expect(row(lines, 'Shutdown')).toMatch(/^6 hooks, ok in \d+ ms \(reason SIGINT\)$/);
    expect(alive(downstreamPid(lines))).toBe(false);
  });

  it('refuses a bad flag with the usage and exit code 2', { timeout: 20_000 }, async () => {
    const run = demo(['--items', '0']);
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(run.lines[0]).toBe('--items must be an integer >= 1, got 0');
    expect(run.lines).toContain('usage: npm run demo -- [options]');
  });
});
