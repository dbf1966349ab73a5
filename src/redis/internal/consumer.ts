/**
 * The machinery of one `RedisQueue` consumer (`queue.consume`): it feeds a
 * weft `WorkerPool` from the queue's stream and settles each job's claim
 * in Redis as the job ends. The pool's `mapSettled` pulls from an async
 * iterator whose `next()` hands over a fetched job, or fetches: so jobs
 * are read from Redis only as workers free up (at most `concurrency` minus
 * those running per read), and concurrency, the callback shape and the
 * async context of the work are the pool's.
 *
 * Jobs come from one script (reclaimed jobs first, then new ones) and,
 * when it finds none, from a blocking read on a connection of its own. A
 * timer renews every claim held every `renewMs` in one script; a claim
 * that the renewal finds in another consumer's hands, or that no renewal
 * covered for `visibilityMs`, is lost: its job's signal aborts and its
 * outcome is dropped. Acknowledgements go out one script at a time, each
 * taking every job that succeeded while the last was in flight; releases
 * likewise. A call that fails is tried again while the claim lasts.
 *
 * The lifecycle, in `#state`:
 *
 *     OPEN ──close(grace)──▶ CLOSING ──grace over──▶ STOPPING ──settled──▶ CLOSED
 *       └──────────── signal / close(0) ─────────────────▲
 *
 * - OPEN: fetching and running.
 * - CLOSING: no more fetches; fetched jobs not started are released; the
 *   running ones may finish for the grace period.
 * - STOPPING: the running jobs' signals have aborted; each is released
 *   when it ends, unless it succeeded.
 * - CLOSED: no claim is held any more, the consumer is deleted in Redis.
 */
import { systemClock } from '../../clock.js';
import { listen, signalOf, unlisten } from '../../internal/abort.js';
import { DONE_PROMISE, noop } from '../../internal/promise.js';
import { Ring } from '../../internal/ring.js';
import { JobContextBase } from '../../internal/shapes.js';
import { refTimer, startTimer, stopTimer } from '../../internal/timer.js';
import { checkInt, checkMs, checkOpts } from '../../internal/validate.js';
import { WorkerPool } from '../../workerpool.js';
import { BlockingReader } from './blocking.js';
import { type Calls, errorText, list } from './calls.js';
import type { Conn } from './client.js';
import { ACK, ADOPT, FAIL, FETCH, GROUP, MINE, RELEASE, RENEW, SWEEP } from './queuelua.js';

/** What a queue hands its consumers. */
export interface QueueCore {
  readonly calls: Calls;
  /** jobs, dead, errors */
  readonly keys: readonly [string, string, string];
  readonly visibilityMs: number;
  readonly renewMs: number;
  readonly timeoutMs: number;
  readonly maxDeliveries: number;
  readonly retryDelayMs: number;
  readonly decode: (body: string) => unknown;
  /** The reason a lost claim's job aborts with (a `ClaimLostError`). */
  readonly lost: (message: string) => Error;
  /** The reason running jobs abort with when a close's grace ends (a `ConsumerClosedError`). */
  readonly closed: (message: string) => Error;
}

/** A limiter's `wait`, per queue and per group key. */
export interface Limiter {
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}
export interface KeyedLimiter {
  wait(key: string, n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** A consumer's checked options. */
export interface ConsumerSettings {
  readonly work: (job: any, ctx: Delivery) => unknown;
  readonly concurrency: number;
  readonly name: string;
  /** Whether `name` was given (a predecessor under it may have left jobs behind). */
  readonly named: boolean;
  readonly signal: AbortSignal | undefined;
  readonly limiter: Limiter | undefined;
  readonly group: { limiter: KeyedLimiter; key: (job: any) => string } | undefined;
  readonly onError: (err: unknown) => void;
}

/**
 * The method weft/node's `Shutdown` prefers on an object it closes: called
 * with the hook's signal, which aborts when the hook's time is up.
 */
export const CLOSE_WITH_SIGNAL: unique symbol = Symbol.for('weftjs.closeWithSignal') as never;

/** The most jobs one consumer runs at once. */
export const MAX_CONCURRENCY = 10_000;

const BUFFERED = 0;
const RUNNING = 1;
const SETTLING = 2; // its outcome is known, its claim not settled in Redis yet
const GONE = 3;

/** One delivery of one job: also the context its work receives (`RedisJobContext`). */
/** A snapshot of one consumer's counters. */
export interface RedisQueueConsumerStats {
  /** Jobs it runs at once at most. */
  concurrency: number;
  /** Jobs running now. */
  running: number;
  /** Claims it holds now: jobs fetched and not started, running, or finished and not yet settled in Redis. */
  held: number;
  /** Jobs whose work succeeded. */
  completed: number;
  /** Jobs whose work threw or rejected (each then retried or dead-lettered). */
  failed: number;
  /** Jobs handed back to the queue without counting the delivery (the consumer closed, the job was aborted). */
  released: number;
  /** Claims lost to another consumer. */
  lost: number;
  /** Jobs it moved to the dead-letter stream. */
  deadLettered: number;
}

export class Delivery extends JobContextBase {
  readonly id: string;
  readonly deliveries: number;
  readonly job: unknown;
  worker = -1;
  state = BUFFERED;
  /** When the read or renewal that last covered the claim was sent (local clock). */
  renewedAt: number;
  #ctl: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;

  constructor(id: string, deliveries: number, job: unknown, at: number) {
    super();
    this.id = id;
    this.deliveries = deliveries;
    this.job = job;
    this.renewedAt = at;
  }

  // Made on first read: most jobs never look at their signal.
  get signal(): AbortSignal {
    if (this.#ctl === null) {
      this.#ctl = new AbortController();
      if (this.#aborted) this.#ctl.abort(this.#reason);
    }
    return this.#ctl.signal;
  }

  get canceled(): boolean {
    return this.#aborted;
  }

  cancel(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctl?.abort(reason);
  }
}

const OPEN = 0;
const CLOSING = 1;
const STOPPING = 2;
const CLOSED = 3;

export class Consumer {
  readonly name: string;
  readonly done: Promise<void>;
  #finish: () => void = noop;
  #state = OPEN;
  readonly #core: QueueCore;
  readonly #s: ConsumerSettings;
  readonly #held = new Map<string, Delivery>();
  readonly #buffer = new Ring<Delivery>();
  readonly #pool: WorkerPool<Delivery, unknown>;
  readonly #reader: BlockingReader;
  #concurrency: number;
  #running = 0;
  #waiting: ((r: IteratorResult<Delivery>) => void) | null = null;
  #pumping = false;
  #touched = false;
  #drained = false;
  #cursor = '0-0';
  /** Redis may hold jobs for this consumer that it does not know: at the start under a given name, after a failed read. */
  #orphans = false;
  #acks: Delivery[] = [];
  #releases: Delivery[] = [];
  /** Failed deliveries to settle: the error, and whether to bury the job at once. */
  #fails: [Delivery, string, boolean][] = [];
  #inFlight = 0;
  #acking = false;
  #releasing = false;
  #renewing = false;
  #ticks = 0;
  #timer: unknown = undefined;
  #retry: unknown = undefined;
  #grace: unknown = undefined;
  #graceEnds = Number.POSITIVE_INFINITY;
  /** When the earliest retry of a job this consumer failed falls due (0: none). */
  #retryAt = 0;
  #nap: { timer: unknown; wake: () => void } | null = null;
  readonly #onAbort: EventListenerObject = { handleEvent: () => this.shut(0, this.#s.signal!.reason) };
  completed = 0;
  failed = 0;
  released = 0;
  lost = 0;
  deadLettered = 0;

  constructor(core: QueueCore, settings: ConsumerSettings) {
    this.#core = core;
    this.#s = settings;
    this.name = settings.name;
    this.#concurrency = settings.concurrency;
    this.#orphans = settings.named;
    this.#reader = new BlockingReader(core.calls.conn as Conn, 'RedisQueue.process');
    this.done = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    this.#pool = new WorkerPool<Delivery, unknown>((d, ctx) => this.#run(d, ctx.worker), {
      concurrency: settings.concurrency,
    });
    const source: AsyncIterable<Delivery> = {
      [Symbol.asyncIterator]: () => ({ next: () => this.#next(), return: () => DONE_PROMISE }),
    };
    // Iterated here, in the caller's call: the work runs in its async context.
    this.#pool
      .mapSettled(source, { ordered: false })
      .drain()
      .catch((err) => this.#s.onError(err))
      .finally(() => {
        this.#drained = true;
        this.#check();
      });
    this.#timer = startTimer(systemClock, () => this.#tick(), core.renewMs, 'RedisQueue.process');
    refTimer(this.#timer, false);
    const signal = settings.signal;
    if (signal?.aborted) this.shut(0, signal.reason);
    else if (signal !== undefined) listen(signal, this.#onAbort, 'RedisQueue.process');
  }

  get state(): 'running' | 'closing' | 'closed' {
    return this.#state === OPEN ? 'running' : this.#state === CLOSED ? 'closed' : 'closing';
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  get running(): number {
    return this.#running;
  }

  get held(): number {
    return this.#held.size;
  }

  get stats(): RedisQueueConsumerStats {
    return {
      concurrency: this.#concurrency,
      running: this.#running,
      held: this.#held.size,
      completed: this.completed,
      failed: this.failed,
      released: this.released,
      lost: this.lost,
      deadLettered: this.deadLettered,
    };
  }

  resize(concurrency: number): void {
    this.#concurrency = checkInt(concurrency, 'RedisQueueConsumer.resize', 'concurrency', 1, MAX_CONCURRENCY);
    this.#pool.resize(concurrency);
  }

  close(opts?: { graceMs?: number; signal?: AbortSignal }): Promise<void> {
    const op = 'RedisQueueConsumer.close';
    checkOpts(opts, op);
    const signal = signalOf(opts, op);
    const grace =
      opts?.graceMs === undefined
        ? signal === undefined
          ? 10_000
          : Infinity
        : checkMs(opts.graceMs, op, 'graceMs', true);
    if (signal?.aborted) return this.shut(0);
    if (signal !== undefined && this.#state !== CLOSED) {
      // The grace ends when the signal aborts (a Shutdown hook's time is up).
      const end: EventListenerObject = { handleEvent: () => this.shut(0) };
      listen(signal, end, op);
      void this.done.then(() => unlisten(signal, end));
    }
    return this.shut(grace);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** What weft/node's `Shutdown` calls: the grace lasts until the hook's signal aborts (its timeout). */
  [CLOSE_WITH_SIGNAL](signal: AbortSignal): Promise<void> {
    return this.close({ signal });
  }

  // ── Fetching ────────────────────────────────────────────────────────

  #next(): Promise<IteratorResult<Delivery>> {
    for (let d = this.#buffer.shift(); d !== undefined; d = this.#buffer.shift()) {
      if (d.state !== BUFFERED) continue; // lost while it waited
      return Promise.resolve(this.#start(d));
    }
    if (this.#state !== OPEN) return DONE_PROMISE;
    return new Promise((resolve) => {
      this.#waiting = resolve;
      void this.#pump();
    });
  }

  #start(d: Delivery): IteratorResult<Delivery> {
    d.state = RUNNING;
    this.#running++;
    return { value: d, done: false };
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    let failures = 0;
    try {
      while (this.#waiting !== null && this.#state === OPEN) {
        const n = Math.max(1, this.#concurrency - this.#running - this.#buffer.length);
        // Counted in flight: a closing consumer waits for what this read delivers, to hand it back.
        this.#inFlight++;
        try {
          if (this.#orphans) await this.#adopt();
          let got = await this.#fetch(n);
          if (got.length === 0 && this.#state === OPEN) got = await this.#read(n);
          failures = 0;
          this.#accept(got);
        } catch (err) {
          // A read that failed may have been served all the same: its jobs are ours in Redis only.
          this.#orphans = true;
          if (this.#state !== OPEN) break;
          this.#s.onError(err);
          await this.#sleep(Math.min(50 * 2 ** failures++, 1000));
        } finally {
          this.#inFlight--;
        }
      }
    } finally {
      this.#pumping = false;
      this.#check();
    }
  }

  #fetch(n: number): Promise<Delivery[]> {
    const c = this.#core;
    this.#touched = true;
    const at = systemClock.now();
    const args = [GROUP, this.name, String(n), String(c.visibilityMs), String(c.maxDeliveries), this.#cursor];
    return c.calls.script(FETCH, c.keys, args, (reply) => {
      const r = list(reply);
      this.#cursor = String(r[0] ?? '0-0');
      this.deadLettered += Number(r[1] ?? 0);
      const out: Delivery[] = [];
      for (let i = 2; i + 2 < r.length; i += 3) out.push(this.#delivery(String(r[i]), Number(r[i + 1]), r[i + 2], at));
      return out;
    });
  }

  /**
   * Hands back, delivery counted, the jobs Redis says this consumer holds
   * and it does not: so they run again at once, not `visibilityMs` later.
   * Only the pump fetches, and it is here, so no read in flight can have
   * delivered one of them.
   */
  async #adopt(): Promise<void> {
    const c = this.#core;
    const jobs = c.keys[0];
    const pending = await c.calls.script(MINE, [jobs], [GROUP, this.name], list);
    const ids: string[] = [];
    for (const p of pending) {
      const id = String(p);
      if (!this.#held.has(id)) ids.push(id);
    }
    if (ids.length > 0) await c.calls.script(ADOPT, [jobs], [GROUP, this.name, ...ids]);
    this.#orphans = false;
  }

  #read(n: number): Promise<Delivery[]> {
    const c = this.#core;
    // Jobs handed back or due for a retry are only seen by the next fetch, so
    // the block is short, and ends when a retry of this consumer falls due.
    const now = systemClock.now();
    let block = Math.max(10, Math.min(500, Math.floor(c.visibilityMs / 3)));
    if (this.#retryAt > now) block = Math.max(10, Math.min(block, Math.ceil(this.#retryAt - now)));
    this.#retryAt = 0;
    const jobs = c.keys[0];
    const argv = ['XREADGROUP', 'GROUP', GROUP, this.name, 'COUNT', String(n), 'BLOCK', String(block)];
    argv.push('STREAMS', jobs, '>');
    const at = now;
    return this.#reader.read(jobs, argv, block + c.timeoutMs).then((reply) => {
      // RESP2: [[stream, entries]] (ioredis's Cluster: [stream, entries]); RESP3: { stream: entries } (or a Map).
      let entries: unknown = null;
      if (Array.isArray(reply)) entries = Array.isArray(reply[0]) ? list(reply[0])[1] : reply[1];
      else if (reply instanceof Map) entries = reply.get(jobs);
      else if (reply !== null && typeof reply === 'object') entries = (reply as Record<string, unknown>)[jobs];
      return list(entries).map((e) => {
        const [id, fields] = list(e);
        const f = list(fields);
        const k = f.indexOf('j');
        const has = k >= 0 && k % 2 === 0;
        return this.#delivery(String(id), has ? 1 : 0, has ? f[k + 1] : '', at);
      });
    });
  }

  /** A delivery from a reply; one whose job has no body, or cannot be decoded, is buried at once. */
  #delivery(id: string, deliveries: number, body: unknown, at: number): Delivery {
    let job: unknown;
    let bad: string | null = deliveries === 0 ? 'the stream entry has no job (field `j`)' : null;
    if (bad === null) {
      try {
        job = this.#core.decode(String(body));
      } catch (err) {
        bad = `the job could not be decoded: ${errorText(err)}`;
      }
    }
    const d = new Delivery(id, Math.max(deliveries, 1), job, at);
    this.#held.set(id, d);
    if (bad !== null) {
      d.state = SETTLING;
      this.#fails.push([d, bad, true]);
      this.#flushFails();
    }
    return d;
  }

  #accept(got: Delivery[]): void {
    for (const d of got) {
      if (d.state !== BUFFERED) continue;
      if (this.#state !== OPEN) this.#release(d);
      else this.#buffer.push(d);
    }
    const waiting = this.#waiting;
    if (waiting === null) return;
    for (let d = this.#buffer.shift(); d !== undefined; d = this.#buffer.shift()) {
      if (d.state !== BUFFERED) continue;
      this.#waiting = null;
      waiting(this.#start(d));
      return;
    }
  }

  /** Waits `ms`, or until the consumer closes. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        stopTimer(systemClock, nap.timer);
        this.#nap = null;
        resolve();
      };
      const nap = { timer: startTimer(systemClock, () => wake(), ms, 'RedisQueue.process'), wake };
      this.#nap = nap;
    });
  }

  // ── Running ─────────────────────────────────────────────────────────

  /** The pool's work: waits for the limiters, runs the user's work, settles the claim. */
  async #run(d: Delivery, worker: number): Promise<unknown> {
    d.worker = worker;
    if (d.canceled) {
      // Stopped or lost between the hand-off and the worker's start: not run.
      this.#running--;
      if (d.state === RUNNING) this.#release(d);
      this.#check();
      return undefined;
    }
    const { limiter, group } = this.#s;
    if (limiter !== undefined || group !== undefined) {
      let key = '';
      try {
        if (group !== undefined) key = group.key(d.job);
      } catch (err) {
        this.#settled(d, false, err);
        throw err;
      }
      try {
        await limiter?.wait(1, { signal: d.signal });
        await group?.limiter.wait(key, 1, { signal: d.signal });
      } catch (err) {
        // Not tried: handed back, not counted as a delivery.
        if (!d.canceled) this.#s.onError(err);
        this.#running--;
        if (d.state === RUNNING) this.#release(d);
        this.#check();
        throw err;
      }
    }
    let value: unknown;
    try {
      value = await this.#s.work(d.job, d);
    } catch (err) {
      this.#settled(d, false, err);
      throw err;
    }
    this.#settled(d, true, undefined);
    return value;
  }

  #settled(d: Delivery, ok: boolean, err: unknown): void {
    this.#running--;
    if (d.state === RUNNING) {
      if (ok) {
        this.completed++;
        d.state = SETTLING;
        this.#acks.push(d);
        this.#flushAcks();
      } else if (d.canceled) {
        this.#release(d);
      } else {
        this.failed++;
        d.state = SETTLING;
        this.#fails.push([d, errorText(err), false]);
        this.#flushFails();
      }
    }
    this.#check();
  }

  #lose(d: Delivery, why: string): void {
    if (!this.#held.delete(d.id)) return;
    this.lost++;
    if (d.state === RUNNING) d.cancel(this.#core.lost(`RedisQueue: the claim on job ${d.id} was lost: ${why}`));
    d.state = GONE;
  }

  #gone(d: Delivery): void {
    this.#held.delete(d.id);
    d.state = GONE;
  }

  // ── Settling claims ─────────────────────────────────────────────────

  #release(d: Delivery): void {
    d.state = SETTLING;
    this.#releases.push(d);
    this.#flushReleases();
  }

  #flushAcks(): void {
    if (this.#acking || this.#acks.length === 0) return;
    const batch = this.#acks.filter((d) => d.state === SETTLING);
    this.#acks = [];
    if (batch.length === 0) return;
    this.#acking = true;
    this.#settle(ACK, [this.#core.keys[0], this.#core.keys[2]], batch, () => (this.#acking = false));
  }

  #flushReleases(): void {
    if (this.#releasing || this.#releases.length === 0) return;
    const batch = this.#releases.filter((d) => d.state === SETTLING);
    this.#releases = [];
    if (batch.length === 0) return;
    this.#releasing = true;
    this.released += batch.length;
    const after = (): void => {
      this.#releasing = false;
    };
    this.#settle(RELEASE, [this.#core.keys[0]], batch, after, '0');
  }

  /** Runs `script` on `batch` (ACK: lost ids back; RELEASE: a count); a failed call puts the batch back. */
  #settle(script: typeof ACK, keys: string[], batch: Delivery[], after: () => void, ...head: string[]): void {
    this.#inFlight++;
    const args = [GROUP, this.name, ...head, ...batch.map((d) => d.id)];
    this.#core.calls.script(script, keys, args).then(
      (reply) => {
        const lost = new Set(script === ACK ? list(reply).map(String) : []);
        for (const d of batch) {
          if (d.state !== SETTLING) continue;
          if (lost.has(d.id)) this.#lose(d, 'another consumer took it');
          else this.#gone(d);
        }
        this.#done(after);
      },
      (err) => {
        this.#s.onError(err);
        if (script !== ACK) this.released -= batch.length;
        for (const d of batch) if (d.state === SETTLING) (script === ACK ? this.#acks : this.#releases).push(d);
        // Tried again in a moment, not at once: an error reply would otherwise spin.
        this.#later();
        this.#done(after, false);
      },
    );
  }

  #flushFails(): void {
    const c = this.#core;
    for (const [d, err, bury] of this.#fails.splice(0)) {
      if (d.state !== SETTLING) continue;
      this.#inFlight++;
      const max = bury ? '0' : String(c.maxDeliveries);
      const idle = String(Math.max(0, c.visibilityMs - c.retryDelayMs));
      const args = [GROUP, this.name, d.id, err.slice(0, 2000), max, idle];
      c.calls.script(FAIL, c.keys, args).then(
        (reply) => {
          if (reply === 2) this.deadLettered++;
          if (reply === 1) {
            const due = systemClock.now() + c.retryDelayMs;
            if (this.#retryAt === 0 || due < this.#retryAt) this.#retryAt = due;
          }
          if (d.state === SETTLING) {
            if (reply === 0) this.#lose(d, 'another consumer took it');
            else this.#gone(d);
          }
          this.#done(noop);
        },
        (e) => {
          this.#s.onError(e);
          if (d.state === SETTLING) this.#fails.push([d, err, bury]);
          this.#later();
          this.#done(noop, false);
        },
      );
    }
  }

  #done(after: () => void, flush = true): void {
    this.#inFlight--;
    after();
    if (flush) {
      this.#flushAcks();
      this.#flushReleases();
    }
    this.#check();
  }

  /** Tries the calls that failed again in a moment. */
  #later(): void {
    if (this.#retry !== undefined) return;
    this.#retry = startTimer(
      systemClock,
      () => {
        this.#retry = undefined;
        this.#flushAcks();
        this.#flushReleases();
        this.#flushFails();
      },
      Math.min(200, this.#core.renewMs),
      'RedisQueue.process',
    );
  }

  // ── Renewing ────────────────────────────────────────────────────────

  #tick(): void {
    const c = this.#core;
    this.#timer = startTimer(systemClock, () => this.#tick(), c.renewMs, 'RedisQueue.process');
    refTimer(this.#timer, false);
    if (this.#renewing) return;
    const now = systemClock.now();
    const ids: string[] = [];
    for (const d of [...this.#held.values()]) {
      if (now - d.renewedAt >= c.visibilityMs) this.#lose(d, `no renewal got through for ${c.visibilityMs} ms`);
      else ids.push(d.id);
    }
    if (++this.#ticks % 3 === 0 && this.#state === OPEN) {
      const idle = String(Math.max(c.visibilityMs, 10_000));
      c.calls.script(SWEEP, [c.keys[0]], [GROUP, idle]).catch(noop);
    }
    this.#check();
    if (ids.length === 0) return;
    this.#renewing = true;
    c.calls.script(RENEW, [c.keys[0]], [GROUP, this.name, ...ids]).then(
      (reply) => {
        this.#renewing = false;
        const lost = new Set(list(reply).map(String));
        for (const id of ids) {
          const d = this.#held.get(id);
          if (d === undefined) continue;
          if (lost.has(id)) this.#lose(d, 'another consumer took it');
          else if (d.renewedAt < now) d.renewedAt = now;
        }
        this.#check();
      },
      (err) => {
        this.#renewing = false;
        this.#s.onError(err);
      },
    );
  }

  // ── Closing ─────────────────────────────────────────────────────────

  /** Starts or hastens the close: running jobs may finish for `graceMs`, then abort with `reason`. */
  shut(graceMs: number, reason?: unknown): Promise<void> {
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      if (this.#s.signal !== undefined) unlisten(this.#s.signal, this.#onAbort);
      const waiting = this.#waiting;
      this.#waiting = null;
      waiting?.({ value: undefined, done: true });
      this.#reader.close();
      this.#nap?.wake();
      for (let d = this.#buffer.shift(); d !== undefined; d = this.#buffer.shift()) {
        if (d.state === BUFFERED) this.#release(d);
      }
    }
    if (this.#state === CLOSING) {
      const ends = systemClock.now() + graceMs;
      const why = `RedisQueue: the consumer closed and its grace of ${graceMs} ms ran out`;
      if (graceMs === 0) this.#stop(reason ?? this.#core.closed(why));
      else if (ends < this.#graceEnds && Number.isFinite(graceMs)) {
        this.#graceEnds = ends;
        if (this.#grace !== undefined) stopTimer(systemClock, this.#grace);
        this.#grace = startTimer(systemClock, () => this.#stop(this.#core.closed(why)), graceMs, 'RedisQueue.close');
      }
    }
    this.#check();
    return this.done;
  }

  /** CLOSING -> STOPPING: the running jobs' signals abort with `reason`. */
  #stop(reason: unknown): void {
    if (this.#state !== CLOSING) return;
    this.#state = STOPPING;
    if (this.#grace !== undefined) stopTimer(systemClock, this.#grace);
    this.#grace = undefined;
    for (const d of this.#held.values()) if (d.state === RUNNING) d.cancel(reason);
  }

  /** Ends the consumer once it is closing and holds nothing. */
  #check(): void {
    if (this.#state === OPEN || this.#state === CLOSED) return;
    if (!this.#drained || this.#running !== 0 || this.#held.size !== 0 || this.#inFlight !== 0) return;
    this.#state = CLOSED;
    for (const t of [this.#timer, this.#grace, this.#retry]) if (t !== undefined) stopTimer(systemClock, t);
    this.#timer = this.#grace = this.#retry = undefined;
    void this.#pool.close();
    const c = this.#core;
    // Hands back what a read whose answer never came delivered, and leaves the group.
    const retire = this.#touched ? c.calls.script(RELEASE, [c.keys[0]], [GROUP, this.name, '1']) : Promise.resolve();
    retire.then(noop, (err) => this.#s.onError(err)).then(this.#finish);
  }
}
