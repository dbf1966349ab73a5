/**
 * `npm run demo` as CI runs it: real processes (the demo and its flaky
 * downstream), real HTTP over loopback, plain output. The first run goes to
 * the end and its summary is checked: every item accounted for, the breaker
 * opened during the outage and closed after it, a clean shutdown. The
 * second gets SIGINT in the middle of the outage, with every worker waiting
 * on a backoff or the breaker, and must be gone within a second with a
 * clean report.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line that matches. */
  waitFor(re: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function demo(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--plain', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  let rest = '';
  const take = (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.re.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  return {
    child,
    lines,
    waitFor: (re) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
    exited,
  };
}

/** `1,234` as 1234. */
const num = (s: string | undefined) => Number((s ?? 'NaN').replaceAll(',', ''));

/** The value column of the summary row `label`. */
function row(lines: string[], label: string): string {
  const line = lines.find((l) => l.startsWith(`  ${label} `));
  expect(line, `summary row ${label} in:\n${lines.join('\n')}`).toBeDefined();
  return (line as string).slice(label.length + 2).trim();
}

function items(lines: string[]) {
  const m = /^([\d,]+): ([\d,]+) done, ([\d,]+) failed, ([\d,]+) not processed/.exec(row(lines, 'items'));
  expect(m, row(lines, 'items')).not.toBeNull();
  const [, total, done, failed, left] = m as RegExpExecArray;
  return { total: num(total), done: num(done), failed: num(failed), left: num(left) };
}

/** Every Shutdown hook ended ok, and the summary line says so. */
function expectCleanReport(lines: string[], reason: string) {
  expect(lines).toContain(`shutdown start reason=${reason} hooks=5 timeoutMs=3000`);
  const hooks = lines.filter((l) => l.startsWith('shutdown hook '));
  expect(hooks.map((l) => /name=("[^"]+"|\S+)/.exec(l)?.[1]).sort()).toEqual(
    ['"thread pool"', 'bus', 'downstream', 'job', 'progress'].sort(),
  );
  for (const hook of hooks) expect(hook).toContain('outcome=ok');
  expect(lines.find((l) => l.startsWith('shutdown finish '))).toMatch(
    /^shutdown finish ok=true hooks=5 errors=0 timeouts=0 /,
  );
}

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function downstreamPid(lines: string[]): number {
  return num(/pid (\d+)/.exec(row(lines, 'downstream'))?.[1]);
}

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
    const byKind = failures === 'none' ? [] : failures.split(', ').map((k) => num(/([\d,]+)$/.exec(k)?.[1]));
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
    const opened = transitions.find((t) => t.to === 'open');
    expect(opened?.from).toBe('closed');
    // Times are printed to a tenth of a second, on two processes' clocks.
    expect(opened?.t).toBeGreaterThanOrEqual(downAt - 0.15);
    expect(opened?.t).toBeLessThanOrEqual(upAt);
    const closed = transitions.filter((t) => t.to === 'closed');
    expect(closed.length, row(lines, 'CircuitBreaker')).toBeGreaterThanOrEqual(1);
    expect(closed.every((t) => t.from === 'half-open' && t.t >= upAt - 0.15)).toBe(true);
    expect(transitions.at(-1)?.to).toBe('closed');
    // Trial calls while it was still down sent it back to open, each time for longer (the breaker's backoff).
    expect(transitions.some((t) => t.from === 'half-open' && t.to === 'open')).toBe(true);

    // The other patterns did their part.
    expect(num(/([\d,]+) retries/.exec(row(lines, 'retry'))?.[1])).toBeGreaterThan(0);
    expect(num(/([\d,]+) calls turned away/.exec(row(lines, 'CircuitBreaker'))?.[1])).toBeGreaterThan(0);
    const sf = /([\d,]+) token lookups missed the cache, ([\d,]+) fetches ran/.exec(row(lines, 'Singleflight'));
    expect(num(sf?.[2])).toBeLessThan(num(sf?.[1]));
    expect(row(lines, 'ThreadPool')).toMatch(/^400 batches sealed/);
    expect(num(/at most ([\d,]+) items held at once/.exec(row(lines, 'flow'))?.[1])).toBeLessThanOrEqual(100 * 50 + 50);

    expectCleanReport(lines, 'done');
    expect(alive(downstreamPid(lines))).toBe(false);
  });

  it('stops cleanly on SIGINT in the middle of the outage: exit code 0, a clean report, gone within a second', {
    timeout: 40_000,
  }, async () => {
    const run = demo(['--items', '100000']);
    await run.waitFor(/breaker closed -> open$/);
    const sent = performance.now();
    run.child.kill('SIGINT');
    const { code, at } = await run.exited;
    const { lines } = run;
    const out = lines.join('\n');
    expect(code, out).toBe(0);
    expect(at - sent, out).toBeLessThan(1_000);

    expectCleanReport(lines, 'SIGINT');
    const it = items(lines);
    expect(it.total).toBe(100_000);
    expect(it.left).toBeGreaterThan(0);
    expect(it.done + it.failed + it.left).toBe(100_000);
    expect(row(lines, 'items')).toContain('(stopped by the shutdown)');
    expect(row(lines, 'Shutdown')).toMatch(/^5 hooks, ok in \d+ ms \(reason SIGINT\)$/);
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
