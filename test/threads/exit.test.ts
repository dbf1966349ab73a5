/**
 * A program that used a ThreadPool exits by itself: after `close()` (also
 * with a task that never returns, cut off after `abortGraceMs`), and even
 * without it, as idle threads do not keep the process alive. Each case is
 * a real child process, stopped by the test if it does not end in time.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runScript(mode: string): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'test/threads/fixtures/exit-script.ts', mode],
      { cwd: root, timeout: 30_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({
          code: child.exitCode,
          stdout,
          stderr,
          killed: (err as { killed?: boolean } | null)?.killed === true,
        });
      },
    );
  });
}

describe('a process that used a ThreadPool', () => {
  const cases: [string, string][] = [
    ['close', 'close [2,25,3] threads=0'],
    ['idle', 'idle [2,25,3] threads=2'],
    ['hung', 'hung [2,25,3,"ERR_POOL_CLOSED"] threads=0'],
    ['aborted', 'aborted [2,25,3,"stop"] threads=0'],
  ];
  for (const [mode, line] of cases) {
    it(`exits by itself (${mode})`, { timeout: 40_000 }, async () => {
      const r = await runScript(mode);
      expect(r.killed, r.stderr).toBe(false);
      expect(r.stdout.trim()).toBe(line);
      expect(r.code).toBe(0);
    });
  }
});

describe('a ThreadPool as a Shutdown hook', () => {
  it('is closed, drained, by weft/node Shutdown', async () => {
    const { Shutdown } = await import('weftjs/node');
    const { ThreadPool } = await import('weftjs/threads');
    const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 2 });
    const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
    shutdown.add('threads', pool);
    const calls = [pool.run('later', 1), pool.run('later', 2), pool.run('inc', 3)];
    const report = await shutdown.shutdown('deploy');
    expect(report.ok).toBe(true);
    expect(report.hooks.map((h) => `${h.name}: ${h.outcome}`)).toEqual(['threads: ok']);
    expect(await Promise.all(calls)).toEqual([1, 2, 4]);
    expect(pool.stats.threads).toBe(0);
  });
});
