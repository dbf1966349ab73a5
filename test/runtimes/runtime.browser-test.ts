/**
 * Run by test/runtimes/vitest.browser.config.ts only: the suite runs in Chromium itself, with no Node globals,
 * and the core loads there from its sources.
 */

import { expect, it } from 'vitest';
import { Channel, flow } from 'weftjs';

it('runs in headless Chromium, without Node globals', () => {
  expect(navigator.userAgent).toMatch(/Chrome\//);
  expect(typeof document.createElement).toBe('function');
  expect(typeof (globalThis as { require?: unknown }).require).toBe('undefined');
  expect(typeof (globalThis as { Buffer?: unknown }).Buffer).toBe('undefined');
});

it('loads the core and runs a channel and a flow there', async () => {
  const ch = new Channel<number>(1);
  await ch.send(7);
  expect(await ch.recv()).toEqual({ value: 7, done: false });
  expect(
    await flow([1, 2, 3])
      .map((n) => n * 2)
      .toArray(),
  ).toEqual([2, 4, 6]);
});
