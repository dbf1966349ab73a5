/**
 * Package singleflight suppresses duplicate work, after
 * golang.org/x/sync/singleflight: concurrent calls with one key share one
 * run of the function and its outcome (a cache stampede becomes one query).
 */
import { signalOf } from './internal/abort.js';
import { settle } from './internal/promise.js';
import { guardSignal } from './internal/shapes.js';
import { checkFn, checkString } from './internal/validate.js';
import { type Linked, Waiter, WaitQueue } from './internal/waiter.js';

/** Options of `Singleflight.do` and `Singleflight.doShared`. */
export interface SingleflightOptions {
  /** Stops this caller's wait; the run goes on while other callers wait for it. */
  signal?: AbortSignal;
}

/** What `Singleflight.doShared` resolves with. */
export interface SharedResult<T> {
  /** The value of the run. */
  value: T;
  /** True when the run served more than one caller (every one of them sees true, the first included). */
  shared: boolean;
}

/** A caller that may leave before the run ends (it has a signal) or wants `shared`. */
class Caller extends Waiter<unknown> {
  readonly wantShared: boolean;

  constructor(op: string, signal: AbortSignal | undefined, wantShared: boolean) {
    super(op, signal);
    this.wantShared = wantShared;
  }
}

/** One run of `fn` for a key, and the callers waiting on it. */
class Call {
  readonly key: string;
  /** Aborts `fn`'s signal; none for a `fn` that takes no parameter. */
  controller: AbortController | undefined = undefined;
  /** Callers of the run, past and present: `shared` is `callers > 1`. */
  callers = 1;
  /** Callers without a signal that want the plain value: they share one promise and never leave. */
  plain = 0;
  done = false;
  promise: Promise<unknown> | undefined = undefined;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;
  readonly waiters = new WaitQueue<Caller>();
  /** The map of runs in flight this run belongs to (while it is not forgotten). */
  readonly calls: Map<string, Call>;
  readonly onValue = (value: unknown): void => finish(this, true, value);
  readonly onError = (err: unknown): void => finish(this, false, err);

  constructor(calls: Map<string, Call>, key: string) {
    this.calls = calls;
    this.key = key;
    // The last caller with a signal left and nobody else waits: abort `fn`.
    this.waiters.onAbort = (w: Linked) => {
      if (this.done || this.plain !== 0 || this.waiters.length !== 0) return;
      release(this);
      this.controller?.abort((w as Caller).signal!.reason);
    };
  }

  /** The promise shared by callers without a signal. */
  plainPromise(): Promise<unknown> {
    this.plain++;
    return (this.promise ??= new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    }));
  }
}

// Frees the key, unless the run was forgotten: a forgotten run must not
// remove the run that replaced it.
function release(call: Call): void {
  if (call.calls.get(call.key) === call) call.calls.delete(call.key);
}

function finish(call: Call, ok: boolean, result: unknown): void {
  if (call.done) return;
  call.done = true;
  release(call);
  const shared = call.callers > 1;
  for (let w = call.waiters.shift(); w !== null; w = call.waiters.shift()) {
    if (!ok) w.fail(result);
    else w.settle(w.wantShared ? { value: result, shared } : result);
  }
  if (ok) call.resolve?.(result);
  else call.reject?.(result);
}

/**
 * Runs a function once per key at a time, as Go's `singleflight.Group`:
 * calls made with a key while a run for that key is in flight wait for that
 * run and get its value or its error, rather than starting another. Once
 * the run settles, the key is free and the next call starts a new run.
 *
 * `fn` receives a signal of the run's own, which aborts only when every
 * caller waiting on the run has gone (each one's signal aborted), with the
 * reason of the last one to leave; the key is then free at once, so that a
 * new call does not join a run that is being given up. A caller without a
 * signal never leaves. A `fn` that declares no parameter (`fn.length ===
 * 0`) is given a shared signal that never aborts instead, which saves
 * creating one per run.
 *
 * @example 100 concurrent requests, 1 query
 * ```ts
 * import { Singleflight } from 'weftjs';
 * const sf = new Singleflight();
 * let queries = 0;
 * const query = async () => {
 *   queries++;
 *   await new Promise((r) => setTimeout(r, 1));
 *   return { id: 7, name: 'Ada' };
 * };
 * const users = await Promise.all(Array.from({ length: 100 }, () => sf.do('user:7', query)));
 * queries; // => 1
 * users[99]; // => { id: 7, name: 'Ada' }
 * sf.inFlight; // => 0
 * ```
 * @see onceValue
 * @see SyncMap.loadOrCompute
 */
export class Singleflight {
  readonly #calls = new Map<string, Call>();
  #never: AbortSignal | undefined = undefined;

  /** Keys with a run in flight. */
  get inFlight(): number {
    return this.#calls.size;
  }

  /**
   * Runs `fn(signal)` for `key` unless a run for `key` is in flight, in which
   * case it waits for that run; resolves with the run's value or rejects
   * with its error. A `fn` that throws synchronously rejects every caller of
   * its run with that error.
   *
   * **Cancellation**: when `opts.signal` aborts, this call rejects with
   * `signal.reason` and leaves the run; the run goes on for the callers
   * still waiting, and `fn`'s signal aborts only once no caller is left. An
   * already-aborted signal rejects at once and starts nothing.
   *
   * Rejects with `fn`'s error as it is, or with `signal.reason`.
   * @throws TypeError at once if `key` is not a string, `fn` not a function, or `opts.signal` not an AbortSignal.
   * @example Callers share one run's error too
   * ```ts
   * import { Singleflight } from 'weftjs';
   * const sf = new Singleflight();
   * const fail = () => Promise.reject(new Error('db down'));
   * const [a, b] = await Promise.allSettled([sf.do('k', fail), sf.do('k', fail)]);
   * (a as PromiseRejectedResult).reason === (b as PromiseRejectedResult).reason; // => true
   * ```
   * @example A caller that gives up leaves the run to the others
   * ```ts
   * import { Singleflight } from 'weftjs';
   * const sf = new Singleflight();
   * const ac = new AbortController();
   * let fnSignal!: AbortSignal;
   * let finish!: (v: string) => void;
   * const fn = (signal: AbortSignal) => {
   *   fnSignal = signal;
   *   return new Promise<string>((r) => (finish = r));
   * };
   * const impatient = sf.do('k', fn, { signal: ac.signal });
   * const patient = sf.do('k', fn);
   * ac.abort(new Error('timeout'));
   * await impatient.catch((e) => e.message); // => 'timeout'
   * fnSignal.aborted; // => false
   * finish('ok');
   * await patient; // => 'ok'
   * ```
   * @see doShared
   * @see forget
   */
  do<T>(key: string, fn: (signal: AbortSignal) => T | Promise<T>, opts?: SingleflightOptions): Promise<T> {
    return this.#do(key, fn, opts, false, 'Singleflight.do') as Promise<T>;
  }

  /**
   * Like `do`, and tells whether the value was shared: `shared` is true for
   * every caller of a run that served more than one caller, the first one
   * included (Go's third result).
   *
   * **Cancellation**: as `do`.
   *
   * Rejects with `fn`'s error as it is, or with `signal.reason`.
   * @throws TypeError at once if an argument is invalid.
   * @example
   * ```ts
   * import { Singleflight } from 'weftjs';
   * const sf = new Singleflight();
   * const fn = async () => 42;
   * const both = await Promise.all([sf.doShared('k', fn), sf.doShared('k', fn)]);
   * both; // => [{ value: 42, shared: true }, { value: 42, shared: true }]
   * await sf.doShared('k', fn); // => { value: 42, shared: false }
   * ```
   * @see do
   */
  doShared<T>(
    key: string,
    fn: (signal: AbortSignal) => T | Promise<T>,
    opts?: SingleflightOptions,
  ): Promise<SharedResult<T>> {
    return this.#do(key, fn, opts, true, 'Singleflight.doShared') as Promise<SharedResult<T>>;
  }

  /**
   * Forgets the run in flight for `key`, if any: the next call with `key`
   * starts a new run instead of waiting for it. Callers already waiting on
   * the forgotten run still get its outcome, and its completion leaves the
   * new run in place (golang/go#31420).
   *
   * @throws TypeError at once if `key` is not a string.
   * @example
   * ```ts
   * import { Singleflight } from 'weftjs';
   * const sf = new Singleflight();
   * let finishOld!: (v: string) => void;
   * const old = sf.do('k', () => new Promise<string>((r) => (finishOld = r)));
   * sf.forget('k');
   * const fresh = sf.do('k', async () => 'new');
   * finishOld('old');
   * [await old, await fresh]; // => ['old', 'new']
   * ```
   */
  forget(key: string): void {
    checkString(key, 'Singleflight.forget', 'key');
    this.#calls.delete(key);
  }

  #do(
    key: string,
    fn: (signal: AbortSignal) => unknown,
    opts: SingleflightOptions | undefined,
    wantShared: boolean,
    op: string,
  ): Promise<unknown> {
    checkString(key, op, 'key');
    checkFn(fn, op, 'fn');
    const signal = signalOf(opts, op);
    if (signal?.aborted) return Promise.reject(signal.reason);
    let call = this.#calls.get(key);
    if (call !== undefined) {
      call.callers++;
      return join(call, signal, wantShared, op);
    }
    call = new Call(this.#calls, key);
    this.#calls.set(key, call);
    const promise = join(call, signal, wantShared, op);
    // An AbortController is costly to create and to collect (it dominated
    // the benchmark); a `fn` that declares no parameter cannot use one, and
    // gets a signal that never aborts, shared by this group's runs.
    let signalOfRun: AbortSignal;
    if (fn.length === 0) signalOfRun = this.#never ??= new AbortController().signal;
    else
      signalOfRun = guardSignal((call.controller = new AbortController()).signal, 'Singleflight.do', '(signal) => …');
    settle(fn, signalOfRun, undefined, call);
    return promise;
  }
}

function join(call: Call, signal: AbortSignal | undefined, wantShared: boolean, op: string): Promise<unknown> {
  if (signal === undefined && !wantShared) return call.plainPromise();
  const caller = new Caller(op, signal, wantShared);
  call.waiters.push(caller);
  return caller.promise;
}
