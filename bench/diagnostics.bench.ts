/**
 * The diagnostics bridge's cost on the hot paths (issue 10): a closed
 * CircuitBreaker's execute and WorkerPool jobs, each in three processes of
 * its own: the bridge never enabled, enabled with nobody subscribed (what a
 * service that made a `Shutdown` runs), and enabled with a subscriber on
 * every job event (what a metrics exporter costs).
 */
import diagnostics from 'node:diagnostics_channel';
import { CircuitBreaker, WorkerPool } from 'weftjs';
import { diagnosticsChannels, enableDiagnostics } from 'weftjs/node';
import { compare, smoke } from './lib.js';

const CALLS = 1000;
const JOBS = smoke ? 20_000 : 100_000;
const work = async () => 1;

type Mode = 'off' | 'enabled' | 'subscribed';

function prepare(mode: Mode): void {
  if (mode === 'off') return;
  enableDiagnostics();
  if (mode === 'subscribed') {
    const seen = { messages: 0 };
    const count = () => {
      seen.messages++;
    };
    for (const name of Object.values(diagnosticsChannels)) diagnostics.subscribe(name, count);
  }
}

function breakerCase(mode: Mode) {
  return {
    setup: () => {
      prepare(mode);
      return new CircuitBreaker();
    },
    run: async (breaker: CircuitBreaker) => {
      let n = 0;
      for (let i = 0; i < CALLS; i++) n += await breaker.execute(work);
      return n;
    },
  };
}

function poolCase(mode: Mode) {
  return {
    setup: () => {
      prepare(mode);
      return new WorkerPool(work, { concurrency: 100 });
    },
    run: async (pool: WorkerPool<number, number>) => {
      const jobs: Promise<number>[] = [];
      for (let i = 0; i < JOBS; i++) jobs.push(pool.submit(i));
      await Promise.all(jobs);
    },
  };
}

export default async function (): Promise<void> {
  await compare(`CircuitBreaker.execute with diagnostics (${CALLS.toLocaleString('en-US')} calls per run)`, {
    ops: CALLS,
    unit: 'calls',
    weft: 'bridge off',
    cases: {
      'bridge off': breakerCase('off'),
      'bridge on, no subscriber': breakerCase('enabled'),
      'bridge on, every channel subscribed': breakerCase('subscribed'),
    },
    targets: [
      { contender: 'bridge on, no subscriber', vs: 'bridge off', atMost: 1.1, note: 'within noise' },
      { contender: 'bridge on, every channel subscribed', vs: 'bridge off' },
    ],
  });
  await compare(`WorkerPool.submit with diagnostics: ${JOBS.toLocaleString('en-US')} jobs at concurrency 100`, {
    ops: JOBS,
    unit: 'jobs',
    heavy: true,
    weft: 'bridge off',
    cases: {
      'bridge off': poolCase('off'),
      'bridge on, no subscriber': poolCase('enabled'),
      'bridge on, every channel subscribed': poolCase('subscribed'),
    },
    targets: [
      { contender: 'bridge on, no subscriber', vs: 'bridge off', atMost: 1.1, note: 'within noise' },
      { contender: 'bridge on, every channel subscribed', vs: 'bridge off' },
    ],
  });
}
