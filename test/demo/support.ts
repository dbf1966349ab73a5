/**
 * Helpers of the demo's tests: run `examples/demo.ts` as a real process,
 * its stdout a pipe as in CI (so the view prints plain lines, without
 * being told), and read its summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line that matches. */
  waitFor(re: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export function demo(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], {
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
export const num = (s: string | undefined) => Number((s ?? 'NaN').replaceAll(',', ''));

/** The value column of the summary row `label`. */
export function row(lines: string[], label: string): string {
  const line = lines.find((l) => l.startsWith(`  ${label} `));
  expect(line, `summary row ${label} in:\n${lines.join('\n')}`).toBeDefined();
  return (line as string).slice(label.length + 2).trim();
}

export function items(lines: string[]) {
  const m = /^([\d,]+): ([\d,]+) done, ([\d,]+) failed, ([\d,]+) not processed/.exec(row(lines, 'items'));
  expect(m, row(lines, 'items')).not.toBeNull();
  const [, total, done, failed, left] = m as RegExpExecArray;
  return { total: num(total), done: num(done), failed: num(failed), left: num(left) };
}

/** Every Shutdown hook ended ok, and the summary line says so. */
export function expectCleanReport(lines: string[], reason: string, names: string[]) {
  expect(lines).toContain(`shutdown start reason=${reason} hooks=${names.length} timeoutMs=3000`);
  const hooks = lines.filter((l) => l.startsWith('shutdown hook '));
  expect(hooks.map((l) => /name=("[^"]+"|\S+)/.exec(l)?.[1]?.replaceAll('"', '')).sort()).toEqual([...names].sort());
  for (const hook of hooks) expect(hook).toContain('outcome=ok');
  expect(lines.find((l) => l.startsWith('shutdown finish '))).toMatch(
    new RegExp(`^shutdown finish ok=true hooks=${names.length} errors=0 timeouts=0 `),
  );
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function downstreamPid(lines: string[]): number {
  return num(/pid (\d+)/.exec(row(lines, 'downstream'))?.[1]);
}
