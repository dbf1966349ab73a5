// WaitGroup: the intent of Go's sync waitgroup_test.go (waits for all,
// reusable, negative counter panics), plus go(), count and abort.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WaitGroup } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../test/support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('WaitGroup', () => {
  it('TestWaitGroup: wait resolves only after every added task is done, and the group is reusable', async () => {
    const wg = new WaitGroup();
    for (let round = 0; round < 3; round++) {
      let done = 0;
      wg.add(4);
      let waited = false;
      const waits = [wg.wait(), wg.wait()].map((p) => p.then(() => (waited = true)));
      for (let i = 0; i < 4; i++) {
        await flush();
        expect(waited).toBe(false);
        done++;
        wg.done();
      }
      await Promise.all(waits);
      expect(done).toBe(4);
      expect(wg.count).toBe(0);
    }
  });

  it('TestWaitGroupMisuse: a negative counter throws RangeError and leaves the count as it was', () => {
    const wg = new WaitGroup();
    wg.add(1);
    expect(() => wg.add(-2)).toThrow(RangeError);
    expect(wg.count).toBe(1);
    wg.done();
    expect(() => wg.done()).toThrow('WaitGroup.done: more done() calls than tasks added (the counter is 0)');
    expect(() => wg.add(1.5)).toThrow(RangeError);
  });

  it('wait resolves at once when the counter is zero', async () => {
    const wg = new WaitGroup();
    let resolved = false;
    void wg.wait().then(() => (resolved = true));
    await null;
    expect(resolved).toBe(true);
  });

  it('go counts a task until its result settles, synchronous or not', async () => {
    const wg = new WaitGroup();
    let release!: () => void;
    wg.go(() => new Promise<void>((r) => (release = r)));
    wg.go(() => 'sync');
    expect(wg.count).toBe(1);
    release();
    await wg.wait();
    expect(wg.count).toBe(0);
  });

  it('go leaves a task’s rejection and a synchronous throw unhandled, as a panic, and marks the task done', () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const program = `
      import { WaitGroup } from 'weftjs';
      const seen = [];
      process.on('unhandledRejection', (err) => seen.push(err.message));
      const wg = new WaitGroup();
      wg.go(() => Promise.reject(new Error('async boom')));
      wg.go(() => { throw new Error('sync boom'); });
      await wg.wait();
      setTimeout(() => console.log(JSON.stringify({ seen: seen.sort(), count: wg.count })), 10);
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
      cwd: `${here}..`,
      encoding: 'utf8',
    });
    expect(res.stderr).not.toMatch(/Error \[/);
    expect(JSON.parse(res.stdout.trim())).toEqual({ seen: ['async boom', 'sync boom'], count: 0 });
  });

  it('an aborted wait rejects with the reason, leaves nothing behind and does not touch the counter', async () => {
    using leaks = trackLeaks();
    const wg = new WaitGroup();
    wg.add(1);
    const ac = new AbortController();
    const w = wg.wait({ signal: ac.signal });
    const other = wg.wait();
    ac.abort('bored');
    await expect(w).rejects.toBe('bored');
    await expect(wg.wait({ signal: ac.signal })).rejects.toBe('bored');
    expect(wg.count).toBe(1);
    wg.done();
    await other;
    expect(leaks.check()).toEqual(none);
  });

  it('1000 tasks and 1000 waiters with signals complete and leave nothing behind', async () => {
    using leaks = trackLeaks();
    const wg = new WaitGroup();
    for (let i = 0; i < 1000; i++) wg.go(() => flush());
    const waits = Array.from({ length: 1000 }, () => wg.wait({ signal: new AbortController().signal }));
    expect(leaks.check().waiters).toBe(1000);
    await Promise.all(waits);
    expect(leaks.check()).toEqual(none);
  });
});
