import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep, withCancel } from 'weftjs';
import { detectDeadlocks, trackLeaks } from 'weftjs/testing';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

async function runFixture(name: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', `test/fixtures/${name}`, ...args], {
      cwd: root,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('detectDeadlocks in a child process', () => {
  it('reports each blocked operation with where it started and exits 2 when the loop runs dry', async () => {
    const res = await runFixture('deadlock-blocked.ts');
    expect(res.stdout).toBe('main: waiting\n');
    expect(res.code).toBe(2);
    const lines = res.stderr.split('\n');
    expect(lines[0]).toBe('fatal error: all goroutines are asleep - deadlock!');
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe('weft operation 1 [sleep]:');
    expect(lines[3]).toMatch(/^\tat waitForShutdown \(.*test[/\\]fixtures[/\\]deadlock-blocked\.ts:\d+:\d+\)$/);
    expect(res.stderr).not.toMatch(/weft operation 2/);
  });

  it('reports a receive on a channel that nobody will close, at the line of the recv', async () => {
    const res = await runFixture('deadlock-channel.ts');
    expect(res.stdout).toBe('job 1\njob 2\n');
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(
      /^fatal error: all goroutines are asleep - deadlock!\n\nweft operation 1 \[Channel\.recv\]:\n\tat consume \(.*deadlock-channel\.ts:12:\d+\)\n$/,
    );
  });

  it('exits with the exit code it was given', async () => {
    const res = await runFixture('deadlock-blocked.ts', '7');
    expect(res.code).toBe(7);
    expect(res.stderr).toMatch(/^fatal error: all goroutines are asleep - deadlock!/);
  });

  it('says nothing and exits 0 for a program whose waits all end', async () => {
    const res = await runFixture('deadlock-clean.ts');
    expect(res).toEqual({ code: 0, stdout: 'main: ERR_CANCELED\n', stderr: '' });
  });
});

describe('detectDeadlocks in this process', () => {
  const savedExitCode = process.exitCode;
  afterEach(() => {
    process.exitCode = savedExitCode;
    vi.restoreAllMocks();
  });

  it('adds one beforeExit listener and removes it on stop, once', () => {
    const before = process.listenerCount('beforeExit');
    const stop = detectDeadlocks();
    expect(process.listenerCount('beforeExit')).toBe(before + 1);
    stop();
    stop();
    expect(process.listenerCount('beforeExit')).toBe(before);
  });

  it('reports operations blocked when beforeExit comes, and sets the exit code', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stop = detectDeadlocks({ exitCode: 9 });
    const scope = withCancel();
    const blocked = sleep(Number.POSITIVE_INFINITY, { signal: scope.signal }).catch(() => 'aborted');
    process.emit('beforeExit', 0);
    stop();
    expect(process.exitCode).toBe(9);
    expect(write).toHaveBeenCalledTimes(1);
    const text = String(write.mock.calls[0]![0]);
    expect(text).toMatch(/^fatal error: all goroutines are asleep - deadlock!\n\nweft operation 1 \[sleep\]:\n\tat /);
    expect(text).toContain('deadlock.test.ts');
    scope.cancel();
    expect(await blocked).toBe('aborted');
  });

  it('stays quiet and keeps watching while nothing is blocked', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const before = process.listenerCount('beforeExit');
    const stop = detectDeadlocks();
    await sleep(0);
    process.emit('beforeExit', 0);
    expect(write).not.toHaveBeenCalled();
    expect(process.exitCode).toBe(savedExitCode);
    expect(process.listenerCount('beforeExit')).toBe(before + 1);
    stop();
  });

  it('does not see operations once stopped, and leaves the registry to other observers', () => {
    using leaks = trackLeaks();
    const stop = detectDeadlocks();
    stop();
    const scope = withCancel();
    const blocked = sleep(Number.POSITIVE_INFINITY, { signal: scope.signal }).catch(() => {});
    expect(leaks.check().waiters).toBe(1);
    scope.cancel();
    return blocked;
  });

  it('rejects a bad exit code or options', () => {
    expect(() => detectDeadlocks({ exitCode: 256 })).toThrow(RangeError);
    expect(() => detectDeadlocks({ exitCode: 1.5 })).toThrow(/detectDeadlocks: `exitCode`/);
    expect(() => detectDeadlocks({ exitCode: '2' as unknown as number })).toThrow(TypeError);
    expect(() => detectDeadlocks(5 as never)).toThrow(/`opts`/);
  });
});
