/**
 * Package shutdown turns SIGINT and SIGTERM into an orderly, bounded,
 * reported stop of everything a process owns: its servers, pools, buses,
 * tickers and connections. In Go this is `signal.NotifyContext`, then
 * `http.Server.Shutdown(ctx)` and a close of each resource under a deadline,
 * written by hand in every service; here it is one object, `Shutdown`, that
 * runs hooks phase by phase, each under its own timeout, and reports how
 * each one ended.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { constants } from 'node:os';
import { type Clock, systemClock } from '../clock.js';
import { CanceledError, DeadlineExceededError } from '../context.js';
import { WeftError } from '../internal/errors.js';
import { checkClock, startTimer, stopTimer } from '../internal/timer.js';
import {
  checkBool,
  checkMs,
  checkOptFn,
  checkOpts,
  checkString,
  rangeError,
  show,
  typeError,
} from '../internal/validate.js';
import { enableDiagnostics } from './diagnostics.js';
import { kindOf, ServerDrain } from './internal/drain.js';
import { hookFn, type ShutdownHook } from './internal/hook.js';
import { finishLine, hookLine, repeatLine, startLine } from './internal/lines.js';

export type { Closable, ShutdownHook } from './internal/hook.js';

/** Options of the `Shutdown` constructor. */
export interface ShutdownOptions {
  /** The signals that start the shutdown (default `['SIGINT', 'SIGTERM']`; `[]` for none). */
  signals?: readonly NodeJS.Signals[];
  /** The bound on the whole shutdown, in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Call `process.exit` once the shutdown ends, and on a second signal (default true). */
  exit?: boolean;
  /** Receives one line per hook and a start and a finish line (default: `console.error`). */
  log?: (line: string) => void;
  /** Source of time for the timeouts and durations (default `systemClock`). */
  clock?: Clock;
}

/** Options of `Shutdown.add`. */
export interface ShutdownHookOptions {
  /** The phase the hook runs in: any finite number, lower phases first (default 0). */
  phase?: number;
  /** The hook's own bound in milliseconds (default: what is left of the shutdown's `timeoutMs`). */
  timeoutMs?: number;
}

/** Options of `Shutdown.addServer`. */
export interface ShutdownServerOptions extends ShutdownHookOptions {
  /** The hook's name in the report (default `'http server'`, `'https server'`, `'http2 server'`, `'tls server'` or `'net server'`, numbered from the second on). */
  name?: string;
  /** How long a connection that has not sent a request yet is kept open once the drain starts, in case one is on its way (default 1,000; at most half the hook's time). */
  graceMs?: number;
}

/** How a hook ended: it settled (`'ok'`), threw or rejected (`'error'`), or ran out of time (`'timeout'`). */
export type ShutdownOutcome = 'ok' | 'error' | 'timeout';

/** One hook in a `ShutdownReport`. */
export interface ShutdownHookReport {
  name: string;
  phase: number;
  /** From the hook's start to its end or its timeout; 0 for a hook never started. */
  durationMs: number;
  outcome: ShutdownOutcome;
  /** What it threw or rejected with; for a timeout, the `DeadlineExceededError` its signal aborted with. */
  error?: unknown;
}

/** What `Shutdown.shutdown()` resolves with. */
export interface ShutdownReport {
  /** The reason given to `shutdown()`, or the name of the signal that started it. */
  reason: unknown;
  /** True when every hook ended `'ok'`. */
  ok: boolean;
  durationMs: number;
  /** Every hook, in the order they ran: by phase, then in the order they were added. */
  hooks: ShutdownHookReport[];
}

/**
 * Thrown by `Shutdown.add` and `Shutdown.addServer` once the shutdown has
 * started: what was not added when it started is not run.
 *
 * @example Adding too late
 * ```ts
 * import { Shutdown } from 'weftjs/node';
 * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
 * const done = shutdown.shutdown();
 * let code = '';
 * try {
 *   shutdown.add('late', () => {});
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * code; // => 'ERR_SHUTDOWN_STARTED'
 * (await done).hooks; // => []
 * ```
 */
export class ShutdownStartedError extends WeftError {
  readonly code = 'ERR_SHUTDOWN_STARTED' as const;
}

/** The state of a `Shutdown`: waiting for a signal, running its hooks, or finished. */
export type ShutdownState = 'idle' | 'running' | 'done';

/** A hook as added: its place, its bound, and how to run it. */
interface Entry {
  readonly name: string;
  readonly phase: number;
  readonly timeoutMs: number;
  /** Runs the hook in the async context of the `add` call, with `run` as the context's store. */
  readonly call: (run: Run, signal: AbortSignal, budgetMs: number) => unknown;
  /** Called when the shutdown ends, whether the hook ran or not. */
  readonly release?: () => void;
}

/** One hook's run; its fields become its line of the report. */
interface Run {
  readonly entry: Entry;
  readonly report: ShutdownHookReport;
  readonly controller: AbortController;
  /** When the hook was called; NaN if it never was. */
  started: number;
  timer: unknown;
  done: boolean;
  /** The hook called `shutdown()`: said in its timeout error, since awaiting it waits for the hook's own end. */
  calledShutdown: boolean;
}

const channels = {
  start: diagnostics.channel('weft:shutdown:start'),
  hookStart: diagnostics.channel('weft:shutdown:hookStart'),
  hookFinish: diagnostics.channel('weft:shutdown:hookFinish'),
  finish: diagnostics.channel('weft:shutdown:finish'),
};

// SIGKILL and SIGSTOP cannot be caught: process.on would throw for them.
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

function checkSignals(value: unknown, op: string): NodeJS.Signals[] {
  if (value === undefined) return ['SIGINT', 'SIGTERM'];
  if (!Array.isArray(value)) throw typeError(`${op}: \`signals\` must be an array of signal names, got ${show(value)}`);
  const out: NodeJS.Signals[] = [];
  for (const name of value) {
    if (typeof name !== 'string') throw typeError(`${op}: \`signals\` must hold signal names, got ${show(name)}`);
    if (!Object.hasOwn(constants.signals, name)) {
      throw typeError(`${op}: \`signals\` holds an unknown signal name, got ${show(name)}`, 'ERR_INVALID_ARG_VALUE');
    }
    if (UNCATCHABLE.has(name)) {
      throw typeError(`${op}: \`signals\` holds ${name}, which cannot be caught`, 'ERR_INVALID_ARG_VALUE');
    }
    if (!out.includes(name as NodeJS.Signals)) out.push(name as NodeJS.Signals);
  }
  return out;
}

function checkPhase(value: unknown, op: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number') throw typeError(`${op}: \`phase\` must be a number, got ${show(value)}`);
  if (!Number.isFinite(value)) throw rangeError(`${op}: \`phase\` must be a finite number, got ${show(value)}`);
  return value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function exitProcess(code: number): void {
  process.exit(code);
}

/**
 * An orderly, bounded, reported stop of a process, started by a signal or
 * by `shutdown()`.
 *
 * The constructor listens for `signals` (default SIGINT and SIGTERM) with
 * `process.on`. The first one starts the shutdown; `signal` aborts with the
 * signal's name as reason, so long-running work that took it (a `flow`, a
 * `WorkerPool`, a `Ticker` loop, a `RateLimiter.wait`) stops through the
 * cancellation it already has. The hooks then run phase by phase in
 * ascending order, those of one phase concurrently. Each hook is bounded by
 * its own `timeoutMs` and all of them by the constructor's `timeoutMs`
 * (default 30,000): a hook still running when its time is up is abandoned
 * and reported `'timeout'`, and hooks of phases that start after the total
 * time ran out are not started and reported `'timeout'`. A hook that throws
 * or rejects is reported `'error'`. Neither stops the other hooks or the
 * later phases.
 *
 * When the last phase ends, the signal listeners are removed (only this
 * Shutdown's; other listeners of the same signals stay), `log` gets a
 * summary line, and with `exit: true` (the default) the process exits with
 * code 0 if every hook ended `'ok'` and 1 otherwise, after the promise of
 * `shutdown()` has resolved and its callbacks have run. A second signal
 * while the hooks run forces `process.exit(130)` at once; with
 * `exit: false` it is only logged, and the process is left to its host.
 *
 * `log` (default `console.error`, i.e. stderr) gets one line at the start,
 * one per hook as it ends, and one at the finish, each `shutdown <event>`
 * followed by `key=value` fields (logfmt), stable enough to grep:
 * ```text
 * shutdown start reason=SIGTERM hooks=3 timeoutMs=30000
 * shutdown hook phase=0 name="http server" outcome=ok durationMs=212
 * shutdown hook phase=1 name=db outcome=error durationMs=4 error="Error: connection lost"
 * shutdown finish ok=false hooks=3 errors=1 timeouts=0 durationMs=220
 * ```
 * Pass `log: () => {}` to silence it. The same events are published on
 * `node:diagnostics_channel` as `weft:shutdown:start` (`{ reason }`),
 * `weft:shutdown:hookStart` (`{ name, phase }`), `weft:shutdown:hookFinish`
 * (the hook's line of the report) and `weft:shutdown:finish`
 * (`{ report }`), each only when the channel has subscribers.
 *
 * Hooks, `log` and closable objects run in the async context
 * (AsyncLocalStorage) of the call that handed them over.
 *
 * **Cancellation**: a shutdown cannot be called off once started; it is
 * bounded by `timeoutMs`. A hook's signal aborts, with a
 * `DeadlineExceededError` (code `'ERR_DEADLINE_EXCEEDED'`), when its time is
 * up, so a hook that takes it can stop cooperatively; an object's close is
 * simply abandoned. After the shutdown ends, nothing of it is left: no timer,
 * no listener on the process or on a server.
 *
 * @example Phases in order, and the report
 * ```ts
 * import { Shutdown } from 'weftjs/node';
 * const lines: string[] = [];
 * const shutdown = new Shutdown({ signals: [], exit: false, log: (line) => lines.push(line) });
 * const order: string[] = [];
 * shutdown.add('db', () => void order.push('db'), { phase: 1 });
 * shutdown.add('http', async () => void order.push('http'));
 * shutdown.add('cache', async () => void order.push('cache'));
 * const report = await shutdown.shutdown('deploy');
 * order; // => ['http', 'cache', 'db']
 * report.ok; // => true
 * report.hooks.map((h) => `${h.phase} ${h.name} ${h.outcome}`); // => ['0 http ok', '0 cache ok', '1 db ok']
 * lines[0]; // => 'shutdown start reason=deploy hooks=3 timeoutMs=30000'
 * lines.length; // => 5
 * ```
 * @example A hook that fails and one that runs out of time are reported; the others run
 * ```ts
 * import { Shutdown } from 'weftjs/node';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {}, clock });
 * shutdown.add('flush', () => {
 *   throw new Error('disk full');
 * });
 * shutdown.add('stuck', () => new Promise(() => {}), { timeoutMs: 5_000 });
 * shutdown.add('close db', async () => {}, { phase: 1 });
 * const done = shutdown.shutdown();
 * await clock.advance(5_000);
 * const report = await done;
 * report.hooks.map((h) => `${h.name}: ${h.outcome}`); // => ['flush: error', 'stuck: timeout', 'close db: ok']
 * report.ok; // => false
 * ```
 * @example Handing over weft's own resources
 * ```ts
 * import { PubSub, Ticker, WorkerPool, withCancel } from 'weftjs';
 * import { Shutdown } from 'weftjs/node';
 * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
 * const pool = new WorkerPool(async (n: number) => n * 2, { concurrency: 2 });
 * const results = [pool.submit(1), pool.submit(2)];
 * shutdown.add('pool', pool); // close(): runs what was submitted, then closes
 * shutdown.add('bus', new PubSub<string>());
 * shutdown.add('ticker', new Ticker(1_000));
 * shutdown.add('scope', withCancel(shutdown.signal));
 * (await shutdown.shutdown()).ok; // => true
 * await Promise.all(results); // => [2, 4]
 * ```
 * @see Shutdown.add
 * @see Shutdown.addServer
 */
export class Shutdown implements AsyncDisposable {
  readonly #controller = new AbortController();
  readonly #signals: NodeJS.Signals[];
  readonly #timeoutMs: number;
  readonly #exit: boolean;
  readonly #log: (line: string) => void;
  readonly #clock: Clock;
  readonly #entries: Entry[] = [];
  readonly #names = new Set<string>();
  readonly #servers = new Set<net.Server>();
  // Knows which hook is running, to tell a hook that awaits shutdown() why it timed out.
  readonly #inside = new AsyncLocalStorage<Run>();
  #state: ShutdownState = 'idle';
  #promise: Promise<ShutdownReport> | undefined = undefined;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#state === 'idle') void this.shutdown(signal);
    else if (this.#state === 'running') this.#repeat(signal);
  };

  /**
   * Creates a Shutdown and starts listening for its signals.
   *
   * @throws TypeError (code `'ERR_INVALID_ARG_TYPE'`) if an option has the wrong type, or
   * (code `'ERR_INVALID_ARG_VALUE'`) if `signals` names an unknown signal or SIGKILL/SIGSTOP.
   * @throws RangeError (code `'ERR_OUT_OF_RANGE'`) if `timeoutMs` is negative, NaN or not finite.
   */
  constructor(opts?: ShutdownOptions) {
    const op = 'Shutdown';
    checkOpts(opts, op);
    // A service with a Shutdown publishes the core's diagnostics too.
    enableDiagnostics();
    this.#signals = checkSignals(opts?.signals, op);
    this.#timeoutMs = opts?.timeoutMs === undefined ? 30_000 : checkMs(opts.timeoutMs, op, 'timeoutMs');
    this.#exit = checkBool(opts?.exit, op, 'exit', true);
    const log = checkOptFn(opts?.log, op, 'log');
    this.#log = log === undefined ? (line) => console.error(line) : AsyncResource.bind(log);
    this.#clock = checkClock(opts?.clock, op, systemClock);
    for (const signal of this.#signals) process.on(signal, this.#onSignal);
  }

  /**
   * Aborts when the shutdown starts, with its reason (the signal's name,
   * or what was given to `shutdown()`): hand it to long-running work.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** `'idle'` until the shutdown starts, `'running'` while its hooks run, `'done'` once it has ended. */
  get state(): ShutdownState {
    return this.#state;
  }

  /**
   * Adds a hook named `name` to run in phase `opts.phase` (default 0),
   * bounded by `opts.timeoutMs` (default: what is left of the shutdown's
   * time).
   *
   * `hook` is either a function, called with a signal that aborts when the
   * hook's time is up (with a `DeadlineExceededError`), or an object to
   * close: the first of `[Symbol.asyncDispose]()`, `close()`,
   * `[Symbol.dispose]()` and `stop()` it has is called with no argument.
   * So a `WorkerPool` (its `close()` runs the submitted jobs first), a
   * `PubSub`, a `Ticker` or a `Scope` is added as it is. An object with a
   * `[Symbol.for('weftjs.closeWithSignal')](signal)` method (a `RedisQueue`
   * consumer) is closed through it instead, with the hook's signal: its
   * running jobs may finish until the hook's time is up. The hook is done
   * when its result settles (a value that is not a promise counts as settled
   * at once); a phase is done when all of its hooks are. `phase` is any
   * finite number, so a hook can go between two others (0.5) or before the
   * default phase (-1). Names must be unique: they name the lines of the
   * report.
   *
   * **Cancellation**: the hook's signal is its only cancellation; once
   * abandoned at its timeout, what the hook still does is not waited for.
   *
   * @throws ShutdownStartedError (code `'ERR_SHUTDOWN_STARTED'`) once the shutdown has started.
   * @throws TypeError if `name` is not a non-empty string or is already used (code
   * `'ERR_INVALID_ARG_VALUE'`), or `hook` is neither a function nor a closable object.
   * @throws RangeError if `phase` is not finite, or `timeoutMs` is negative, NaN or not finite.
   * @example A hook that stops when its time is up
   * ```ts
   * import { sleep } from 'weftjs';
   * import { Shutdown } from 'weftjs/node';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {}, clock });
   * let stopped = '';
   * shutdown.add(
   *   'export',
   *   (signal) => sleep(60_000, { signal, clock }).catch((err) => void (stopped = err.code)),
   *   { timeoutMs: 100 },
   * );
   * const done = shutdown.shutdown();
   * await clock.advance(100);
   * (await done).hooks[0]?.outcome; // => 'timeout'
   * stopped; // => 'ERR_DEADLINE_EXCEEDED'
   * ```
   */
  add(name: string, hook: ShutdownHook, opts?: ShutdownHookOptions): void {
    const op = 'Shutdown.add';
    const fn = hookFn(hook, op);
    const entry = this.#check(op, name, opts);
    // Bound here, so that the hook runs in the context of this call, not of the signal handler.
    const call = AsyncResource.bind((run: Run, signal: AbortSignal) => this.#inside.run(run, fn, signal));
    this.#push({ ...entry, call });
  }

  /**
   * Adds a hook that drains `server`: a `node:http`, `node:https` or
   * `node:http2` server (plain or secure), or any `net.Server`. Its
   * connections are tracked from this call on.
   *
   * When its phase comes, the hook stops the server accepting, then:
   * - HTTP/1.1: closes idle keep-alive connections at once; sets
   *   `Connection: close` on every response not yet sent, so that the
   *   client does not reuse the connection; closes each connection once its
   *   last in-flight response is sent (one whose headers went out before
   *   the shutdown is closed after it). A connection that has not sent a
   *   request yet is given `graceMs` (default 1,000) for it to arrive, as
   *   Go's `Server.Shutdown` does for new connections, so a request already
   *   on its way is served, not reset.
   * - HTTP/2: sends GOAWAY on every session in two steps (RFC 9113: first
   *   "no new streams", then, one PING round trip later, the last stream
   *   served) and lets the open streams finish.
   * - any other `net.Server`: waits for its connections to end (close them
   *   in a hook of an earlier phase).
   *
   * The hook ends `'ok'` once every connection has closed. When its time
   * is up, it destroys what is still open and is reported `'timeout'`. No
   * in-flight request is dropped while time remains. A server that was
   * never listening, or was closed already, ends `'ok'` at once (or when
   * its last connection closes).
   *
   * Limits: a connection accepted before `addServer` is seen from its next
   * request on; if it is idle it is closed at the end of the grace period,
   * if busy with a request that began before `addServer` only when time is
   * up. HTTP/2 sessions and TLS handshakes that began before it are not
   * seen. Add the server before calling `listen()`. An upgraded connection
   * (a WebSocket) is the application's: it is waited for like a request in
   * flight, so close your WebSocket server in an earlier phase.
   *
   * **Cancellation**: as for `add`: when the hook's time is up, every
   * connection still open is destroyed.
   *
   * @throws ShutdownStartedError (code `'ERR_SHUTDOWN_STARTED'`) once the shutdown has started.
   * @throws TypeError if `server` is not a `net.Server` or was added already, or if `name` is
   * taken (code `'ERR_INVALID_ARG_VALUE'`).
   * @throws RangeError if `phase` is not finite, or `timeoutMs` or `graceMs` is negative, NaN or not finite.
   * @example In-flight requests finish; the client is told not to reuse the connection
   * ```ts
   * import http from 'node:http';
   * import { Shutdown } from 'weftjs/node';
   * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
   * const server = http.createServer((req, res) => setTimeout(() => res.end('done'), 50));
   * shutdown.addServer(server);
   * await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
   * const { port } = server.address() as { port: number };
   * const response = fetch(`http://127.0.0.1:${port}/`);
   * await new Promise((resolve) => server.once('request', resolve));
   * const report = await shutdown.shutdown();
   * const res = await response;
   * res.headers.get('connection'); // => 'close'
   * await res.text(); // => 'done'
   * report.hooks[0]?.name; // => 'http server'
   * report.hooks[0]?.outcome; // => 'ok'
   * server.listening; // => false
   * ```
   */
  addServer(server: net.Server, opts?: ShutdownServerOptions): void {
    const op = 'Shutdown.addServer';
    if (!(server instanceof net.Server)) {
      throw typeError(`${op}: \`server\` must be a net.Server (http, https, http2 or net), got ${show(server)}`);
    }
    if (this.#servers.has(server)) {
      throw typeError(`${op}: \`server\` was added already`, 'ERR_INVALID_ARG_VALUE');
    }
    checkOpts(opts, op);
    const graceMs = opts?.graceMs === undefined ? 1_000 : checkMs(opts.graceMs, op, 'graceMs');
    let name = opts?.name;
    if (name === undefined) {
      const base = `${kindOf(server)} server`;
      name = base;
      for (let n = 2; this.#names.has(name); n++) name = `${base} ${n}`;
    }
    const entry = this.#check(op, name, opts);
    this.#servers.add(server);
    const drain = new ServerDrain(server, this.#clock, graceMs);
    this.#push({
      ...entry,
      call: (_run: Run, signal: AbortSignal, budgetMs: number) => drain.drain(signal, budgetMs),
      release: () => drain.release(),
    });
  }

  /**
   * Starts the shutdown with `reason` (when undefined: a `CanceledError`,
   * code `'ERR_CANCELED'`) and resolves with its report once every hook has
   * ended or been abandoned. Never rejects.
   *
   * Idempotent: every later call, whatever its reason, returns the same
   * promise, including a call from inside a hook, which starts nothing. A
   * hook must not await it: it would wait for its own end, until its
   * timeout (the timeout error then says so).
   *
   * With `exit: true` the process exits once the promise has resolved and
   * the callbacks waiting on it have run.
   *
   * **Cancellation**: none; the shutdown is bounded by `timeoutMs`.
   *
   * @example Idempotent
   * ```ts
   * import { Shutdown } from 'weftjs/node';
   * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
   * const first = shutdown.shutdown('deploy');
   * shutdown.shutdown('again') === first; // => true
   * shutdown.signal.reason; // => 'deploy'
   * (await first).reason; // => 'deploy'
   * shutdown.state; // => 'done'
   * ```
   */
  shutdown(reason?: unknown): Promise<ShutdownReport> {
    if (this.#promise !== undefined) {
      const run = this.#inside.getStore();
      if (run !== undefined) run.calledShutdown = true;
      return this.#promise;
    }
    this.#state = 'running';
    if (reason === undefined) reason = new CanceledError('Shutdown: shutdown() was called');
    let resolve!: (report: ShutdownReport) => void;
    // Set before any hook runs, so that a hook calling shutdown() gets this promise.
    this.#promise = new Promise<ShutdownReport>((r) => {
      resolve = r;
    });
    this.#run(reason).then(resolve);
    return this.#promise;
  }

  /** Same as `shutdown()`, for `await using`: with `exit: true`, the process then exits. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown().then(() => {});
  }

  #check(op: string, value: unknown, opts: ShutdownHookOptions | undefined): Omit<Entry, 'call'> {
    const name = checkString(value, op, 'name');
    if (name === '') throw typeError(`${op}: \`name\` must not be empty`, 'ERR_INVALID_ARG_VALUE');
    checkOpts(opts, op);
    const phase = checkPhase(opts?.phase, op);
    const timeoutMs =
      opts?.timeoutMs === undefined ? Number.POSITIVE_INFINITY : checkMs(opts.timeoutMs, op, 'timeoutMs');
    if (this.#state !== 'idle') {
      throw new ShutdownStartedError(`${op}: the shutdown has started; ${show(name)} was not added`);
    }
    if (this.#names.has(name))
      throw typeError(`${op}: \`name\` ${show(name)} is used already`, 'ERR_INVALID_ARG_VALUE');
    return { name, phase, timeoutMs };
  }

  #push(entry: Entry): void {
    this.#names.add(entry.name);
    this.#entries.push(entry);
  }

  async #run(reason: unknown): Promise<ShutdownReport> {
    const clock = this.#clock;
    const started = clock.now();
    const deadline = started + this.#timeoutMs;
    // Sorting is stable: hooks of one phase keep the order they were added in.
    const runs = [...this.#entries]
      .sort((a, b) => a.phase - b.phase)
      .map(
        (entry): Run => ({
          entry,
          report: { name: entry.name, phase: entry.phase, durationMs: 0, outcome: 'ok' },
          controller: new AbortController(),
          started: Number.NaN,
          timer: undefined,
          done: false,
          calledShutdown: false,
        }),
      );
    this.#emit(startLine(reason, runs.length, this.#timeoutMs));
    if (channels.start.hasSubscribers) channels.start.publish({ reason });
    this.#controller.abort(reason);
    for (let i = 0; i < runs.length; ) {
      let j = i;
      while (j < runs.length && runs[j]!.entry.phase === runs[i]!.entry.phase) j++;
      await this.#phase(runs.slice(i, j), deadline);
      i = j;
    }
    const hooks = runs.map((r) => r.report);
    const report: ShutdownReport = {
      reason,
      ok: hooks.every((h) => h.outcome === 'ok'),
      durationMs: clock.now() - started,
      hooks,
    };
    this.#finish(report);
    return report;
  }

  // Runs the hooks of one phase at once; resolves when each has ended or timed out.
  #phase(runs: Run[], deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let left = runs.length;
      const end = (run: Run, outcome: ShutdownOutcome, error?: unknown): void => {
        if (run.done) return;
        run.done = true;
        if (run.timer !== undefined) stopTimer(this.#clock, run.timer);
        run.report.durationMs = Number.isNaN(run.started) ? 0 : this.#clock.now() - run.started;
        run.report.outcome = outcome;
        if (outcome !== 'ok') run.report.error = error;
        this.#emit(hookLine(run.report));
        if (channels.hookFinish.hasSubscribers) channels.hookFinish.publish(run.report);
        if (--left === 0) resolve();
      };
      for (const run of runs) this.#start(run, deadline, end);
    });
  }

  #start(run: Run, deadline: number, end: (run: Run, outcome: ShutdownOutcome, error?: unknown) => void): void {
    const { entry } = run;
    const clock = this.#clock;
    const now = clock.now();
    const left = deadline - now;
    if (left <= 0) {
      const err = new DeadlineExceededError(
        `Shutdown: hook ${show(entry.name)} was not started: the shutdown's ${this.#timeoutMs} ms ran out`,
      );
      end(run, 'timeout', err);
      return;
    }
    const budget = Math.min(entry.timeoutMs, left);
    run.started = now;
    if (channels.hookStart.hasSubscribers) channels.hookStart.publish({ name: entry.name, phase: entry.phase });
    run.timer = startTimer(
      clock,
      () => {
        run.timer = undefined;
        const because = run.calledShutdown ? '; it called shutdown(), which waits for every hook, itself included' : '';
        const err = new DeadlineExceededError(
          `Shutdown: hook ${show(entry.name)} did not finish within ${Math.round(budget)} ms${because}`,
        );
        end(run, 'timeout', err);
        run.controller.abort(err);
      },
      budget,
      'Shutdown.hook',
    );
    try {
      const result = entry.call(run, run.controller.signal, budget);
      if (isThenable(result)) {
        result.then(
          () => end(run, 'ok'),
          (err: unknown) => end(run, 'error', err),
        );
      } else {
        end(run, 'ok');
      }
    } catch (err) {
      // A synchronous throw, or a thenable whose `then` throws.
      end(run, 'error', err);
    }
  }

  #finish(report: ShutdownReport): void {
    this.#state = 'done';
    for (const signal of this.#signals) process.off(signal, this.#onSignal);
    for (const entry of this.#entries) entry.release?.();
    this.#emit(finishLine(report.ok, report.hooks, report.durationMs));
    if (channels.finish.hasSubscribers) channels.finish.publish({ report });
    // After the promise of shutdown() resolves and what awaits it has run.
    if (this.#exit) setImmediate(exitProcess, report.ok ? 0 : 1);
  }

  #repeat(signal: NodeJS.Signals): void {
    this.#emit(repeatLine(signal, this.#exit));
    if (this.#exit) process.exit(130);
  }

  #emit(line: string): void {
    try {
      this.#log(line);
    } catch {
      // A failing logger must not stop the shutdown.
    }
  }
}
