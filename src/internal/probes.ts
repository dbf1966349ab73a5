/**
 * Diagnostics without a `node:` import: the core publishes its events to
 * probes that `weftjs/node` installs (one `diagnostics_channel` channel
 * each), through the registry that every copy of weft in the process
 * shares. Until they are installed, a hook costs one property read; once
 * installed, a hook publishes only while its channel has subscribers
 * (`hasSubscribers`), so a message is built only for someone who listens.
 */
import { systemClock } from '../clock.js';
import { type Probes, registry } from './registry.js';

export type { Probe, Probes } from './registry.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

/** The installed probes, or null (nobody installed them: publish nothing). */
export function probes(): Probes | null {
  return reg.probes ?? null;
}

/** Installs `p` for every copy of weft in the process (the first installed stays). */
export function installProbes(p: Probes): Probes {
  reg.probes ??= p;
  return reg.probes;
}

// What the pool hooks below need of a pool.
interface PoolView {
  /** The public object the pool is (a `WorkerPool`), as subscribers see it. */
  readonly owner: object;
  /** Jobs waiting for a slot (maps asking for one more are not jobs). */
  readonly queued: number;
  readonly running: number;
}

/**
 * A pool job starts (a submitted job or an item of a map): publishes
 * `poolJobStart` if someone listens, and returns the time it started, for
 * `jobEnded`'s duration (or -1 when nobody listens to the end either).
 */
export function jobStarted(p: Probes, pool: PoolView, job: unknown, worker: number): number {
  if (p.poolJobStart.hasSubscribers) {
    p.poolJobStart.publish({ pool: pool.owner, job, worker, queued: pool.queued, running: pool.running });
  }
  return p.poolJobFinish.hasSubscribers || p.poolJobFail.hasSubscribers ? now() : -1;
}

/** A pool job ended: publishes `poolJobFinish` or `poolJobFail` if someone listens. */
export function jobEnded(
  p: Probes,
  pool: PoolView,
  job: unknown,
  worker: number,
  started: number,
  ok: boolean,
  result: unknown,
): void {
  const probe = ok ? p.poolJobFinish : p.poolJobFail;
  if (!probe.hasSubscribers) return;
  const durationMs = started < 0 ? Number.NaN : now() - started;
  const base = { pool: pool.owner, job, worker, durationMs, queued: pool.queued };
  probe.publish(ok ? base : { ...base, error: result });
}

function now(): number {
  return systemClock.now();
}
