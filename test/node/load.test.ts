/**
 * A bounded burst against a real server process
 * (test/node/fixtures/load-server.ts), with SIGTERM in the middle of it:
 * every request the server received gets its full response, and every
 * request that failed is one the server never received (refused or reset
 * before it was read). Half the requests go over keep-alive sockets, half
 * open a connection each, so both the idle-socket and the new-connection
 * paths are taken. The burst is a fixed number of requests: it stops by
 * itself.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Child, fixture, get } from './support.js';

const TOTAL = 3_000;
const CONCURRENCY = 64;
const SIGTERM_AFTER = 1_000;
const pad = 'x'.repeat(1024);

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.stop();
});

describe('Shutdown under load', () => {
  it('SIGTERM in the middle of a burst: every request the server received is answered in full', {
    timeout: 60_000,
  }, async () => {
    const child = fixture('load-server.ts');
    children.push(child);
    const port = Number((await child.line(/^ready \d+$/)).split(' ')[1]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY / 2 });
    const answered = new Set<number>();
    const failures = new Map<number, string>();
    let next = 0;
    let signalled = false;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const id = next++;
        const outcome = await get(port, `/?id=${id}`, id % 2 === 0 ? agent : false);
        if (outcome.ok && outcome.status === 200 && outcome.body === `${id}:${pad}`) answered.add(id);
        else failures.set(id, outcome.ok ? `status ${outcome.status}, ${outcome.body.length} bytes` : outcome.code);
        if (!signalled && answered.size >= SIGTERM_AFTER) {
          signalled = true;
          child.proc.kill('SIGTERM');
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      agent.destroy();
    }
    expect(await child.exited).toBe(0);
    const handled: number[] = JSON.parse((await child.line(/^handled /)).slice('handled '.length));
    const inflight = Number((await child.line(/^inflight \d+$/)).split(' ')[1]);

    expect(signalled).toBe(true);
    // Every request the server received was answered in full, and nothing else was.
    expect([...answered].sort((a, b) => a - b)).toEqual([...handled].sort((a, b) => a - b));
    // The rest never reached the server: refused after it stopped listening, or reset unread.
    const codes = new Set(failures.values());
    for (const code of codes) expect(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']).toContain(code);
    expect(answered.size + failures.size).toBe(TOTAL);
    expect(answered.size).toBeGreaterThanOrEqual(SIGTERM_AFTER);
    // The shutdown did happen in the middle: requests were in flight, and later ones were refused.
    expect(inflight).toBeGreaterThan(0);
    expect(failures.size).toBeGreaterThan(0);
    expect(child.lines.at(-1)).toMatch(/^shutdown finish ok=true hooks=2 errors=0 timeouts=0 durationMs=\d+$/);
  });
});
