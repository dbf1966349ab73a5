/**
 * Package select provides Go's `select` statement: wait on several channel
 * operations at once and commit exactly one of them. A case is built with
 * `recv(ch, then)` or `send(ch, value, then)`; `select(cases)` resolves with
 * what the chosen case's `then` returns.
 */
import { Channel, ChannelClosedError } from './channel.js';
import { checkSignal } from './internal/abort.js';
import {
  CLOSED,
  canRecv,
  canSend,
  enqueueRecv,
  enqueueSend,
  type RecvEntry,
  type SendEntry,
  take,
} from './internal/chanhooks.js';
import { checkOptFn, checkOpts, show, typeError } from './internal/validate.js';
import { Waiter, type WaitQueue } from './internal/waiter.js';

/**
 * One operation of a `select`: a receive (`recv(ch, then)`) or a send
 * (`send(ch, value, then)`), with the function that runs if it is chosen.
 * `R` is what that function returns. Build cases with `recv` and `send`;
 * a case may be reused across any number of `select` calls.
 *
 * @example A case built once, reused by every select of a loop
 * ```ts
 * import { Channel, recv, select } from 'weftjs';
 * const jobs = new Channel<number>(3);
 * for (const n of [1, 2, 3]) await jobs.send(n);
 * jobs.close();
 * const next = recv(jobs, (n, ok) => (ok ? n : undefined));
 * next.kind; // => 'recv'
 * const seen: (number | undefined)[] = [];
 * for (let i = 0; i < 4; i++) seen.push(await select([next]));
 * seen; // => [1, 2, 3, undefined]
 * ```
 * @see recv
 * @see send
 * @see select
 */
export class Case<R> {
  /** Which operation the case performs. */
  readonly kind: 'recv' | 'send';
  /** The channel; `null` or `undefined` is Go's nil channel, whose case never proceeds. */
  readonly channel: Channel<any> | null | undefined;
  /** The value a send case sends (`undefined` for a receive). */
  readonly value: unknown;
  /** The `then` given to `recv`/`send`: runs when the case is chosen (named so that a case is not a thenable). */
  readonly handler: ((value?: any, ok?: boolean) => R) | undefined;

  /** Use `recv` or `send` instead. */
  constructor(
    kind: 'recv' | 'send',
    channel: Channel<any> | null | undefined,
    value: unknown,
    then: ((value?: any, ok?: boolean) => R) | undefined,
  ) {
    this.kind = kind;
    this.channel = channel;
    this.value = value;
    this.handler = then;
  }
}

/** The result type of a case: the `R` of `Case<R>` (a union for a union of cases). */
export type CaseResult<C> = C extends Case<infer R> ? R : never;

function checkChannel(ch: unknown, op: string): Channel<any> | null | undefined {
  if (ch === null || ch === undefined || ch instanceof Channel) return ch;
  throw typeError(`${op}: \`ch\` must be a Channel, null or undefined, got ${show(ch)}`);
}

/**
 * What a receive case's `then` is called with: `(value, true)` for a value
 * received, `(undefined, false)` once the channel is closed and drained.
 * Checking `ok` narrows `value` to `T`.
 */
export type Received<T> = [value: T, ok: true] | [value: undefined, ok: false];

/**
 * A receive case for `select` (Go's `case v, ok := <-ch:`). If chosen, it
 * receives one value and calls `then(value, ok)`: `ok` is false, and `value`
 * `undefined`, when the channel is closed and drained. Without `then` the
 * case's result is `undefined`. On a `null`/`undefined` channel the case
 * never proceeds (Go's nil channel), which is how a case is switched off.
 *
 * @throws TypeError if `ch` is not a Channel, null or undefined, or `then` is not a function.
 * @example
 * ```ts
 * import { Channel, recv, select } from 'weftjs';
 * const ch = new Channel<number>(1);
 * ch.trySend(3);
 * await select([recv(ch, (v, ok) => [v, ok])]); // => [3, true]
 * ch.close();
 * await select([recv(ch, (v, ok) => [v, ok])]); // => [undefined, false]
 * ```
 * @example ok narrows the value
 * ```ts
 * import { Channel, recv, select } from 'weftjs';
 * const ch = new Channel<number>(1);
 * ch.trySend(20);
 * await select([recv(ch, (v, ok) => (ok ? v.toFixed(1) : 'closed'))]); // => '20.0'
 * ```
 * @see select
 * @see send
 */
export function recv<T>(ch: Channel<T> | null | undefined): Case<undefined>;
export function recv<T, R>(ch: Channel<T> | null | undefined, then: (...received: Received<T>) => R): Case<R>;
// For a `then` written with its own parameter types, `(value: T | undefined, ok: boolean) => R`.
export function recv<T, R>(ch: Channel<T> | null | undefined, then: (value: T | undefined, ok: boolean) => R): Case<R>;
export function recv<T, R>(
  ch: Channel<T> | null | undefined,
  then?: ((...received: Received<T>) => R) | ((value: T | undefined, ok: boolean) => R),
): Case<R | undefined> {
  return new Case<R | undefined>(
    'recv',
    checkChannel(ch, 'recv'),
    undefined,
    checkOptFn(then as ((value?: any, ok?: boolean) => R) | undefined, 'recv', 'then'),
  );
}

/**
 * A send case for `select` (Go's `case ch <- value:`). If chosen, it sends
 * `value` and calls `then()`; without `then` the case's result is
 * `undefined`. A send case on a closed channel makes `select` reject with
 * `ChannelClosedError` if it is chosen (Go panics); on a `null`/`undefined`
 * channel it never proceeds.
 *
 * @throws TypeError if `ch` is not a Channel, null or undefined, or `then` is not a function.
 * @example Send if there is room, else drop
 * ```ts
 * import { Channel, select, send } from 'weftjs';
 * const ch = new Channel<string>(1);
 * const offer = (v: string) => select([send(ch, v, () => 'sent')], { default: () => 'dropped' });
 * await offer('a'); // => 'sent'
 * await offer('b'); // => 'dropped'
 * ```
 * @see select
 * @see recv
 */
export function send<T>(ch: Channel<T> | null | undefined, value: T): Case<undefined>;
export function send<T, R>(ch: Channel<T> | null | undefined, value: T, then: () => R): Case<R>;
export function send<T, R>(ch: Channel<T> | null | undefined, value: T, then?: () => R): Case<R | undefined> {
  return new Case<R | undefined>('send', checkChannel(ch, 'send'), value, checkOptFn(then, 'send', 'then'));
}

/** The numbers 0 to n - 1 in a uniformly random order (Fisher–Yates). */
function shuffled(n: number): number[] {
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const j = Math.floor(Math.random() * (i + 1));
    order[i] = order[j]!;
    order[j] = i;
  }
  return order;
}

/** A blocked select: one entry queued on each of its channels; the first to be matched wins. */
class SelectWaiter extends Waiter<CaseNode> {
  readonly nodes: CaseNode[] = [];
  value: unknown = undefined;
  ok = false;

  // A partner matched `node`: every other entry leaves its queue in this same
  // synchronous step, so no other channel can hand this select a value.
  fire(node: CaseNode, value: unknown, ok: boolean): void {
    this.value = value;
    this.ok = ok;
    this.#unlink(node);
    this.settle(node);
  }

  failWith(node: CaseNode, err: unknown): void {
    this.#unlink(node);
    this.fail(err);
  }

  override handleEvent(): void {
    if (!this.settled) this.#unlink(null);
    super.handleEvent();
  }

  #unlink(except: CaseNode | null): void {
    for (const n of this.nodes) if (n !== except && n.queue !== null) n.queue.remove(n);
  }
}

/** A select's entry in one channel's queue. */
class CaseNode implements RecvEntry<unknown>, SendEntry<unknown> {
  prev: CaseNode | null = null;
  next: CaseNode | null = null;
  queue: WaitQueue<any> | null = null;
  readonly sel: SelectWaiter;
  readonly case: Case<unknown>;
  readonly value: unknown;

  constructor(sel: SelectWaiter, c: Case<unknown>) {
    this.sel = sel;
    this.case = c;
    this.value = c.value;
  }

  deliver(value: unknown, ok: boolean): void {
    this.sel.fire(this, value, ok);
  }

  taken(): void {
    this.sel.fire(this, undefined, true);
  }

  closed(): void {
    this.sel.failWith(this, new ChannelClosedError('select: send on closed channel', this.value));
  }
}

function isReady(c: Case<unknown>): boolean {
  const ch = c.channel;
  if (ch === null || ch === undefined) return false;
  return c.kind === 'recv' ? ch[canRecv]() : ch[canSend]();
}

// Commits a case that is ready and runs its `then`.
function commit<R>(c: Case<R>): Promise<Awaited<R>> {
  const ch = c.channel!;
  let result: R | undefined;
  try {
    if (c.kind === 'recv') {
      const v = ch[take]();
      if (c.handler !== undefined) result = v === CLOSED ? c.handler(undefined, false) : c.handler(v, true);
    } else {
      if (ch.closed) return Promise.reject(new ChannelClosedError('select: send on closed channel', c.value));
      ch.trySend(c.value);
      result = c.handler === undefined ? undefined : c.handler();
    }
  } catch (err) {
    return Promise.reject(err);
  }
  return Promise.resolve(result) as Promise<Awaited<R>>;
}

/**
 * Waits until one of `cases` can proceed, commits exactly that one, runs its
 * `then` and resolves with what `then` returns (Go's `select`). Among cases
 * ready at once it picks uniformly at random (`Math.random`), so no case
 * starves. A case on a `null`/`undefined` channel never proceeds; with no
 * case able to proceed ever (no cases, or only nil channels) `select` waits
 * until its signal aborts, like Go's `select {}`.
 *
 * With `{ default }` it never waits: if no case is ready it runs `default`
 * and resolves with its result. A case that is ready is committed and its
 * `then` run synchronously, inside the call; a case that had to wait runs
 * its `then` once the promise's callbacks run. If `then` throws, `select`
 * rejects with that error, after the case was committed (the value is
 * received or sent all the same).
 *
 * **Cancellation**: aborting `signal` takes the select out of the queue of
 * every channel it waits on and rejects with `signal.reason`; nothing is
 * received or sent. An already-aborted signal rejects only a select that
 * would wait.
 *
 * Rejects with `ChannelClosedError` (`ERR_CHANNEL_CLOSED`) when a send case
 * is chosen on a closed channel, or its channel closes while it waits.
 *
 * @throws TypeError if `cases` is not an array of cases, or an option has the wrong type.
 * @example The first channel to deliver wins
 * ```ts
 * import { Channel, recv, select } from 'weftjs';
 * const a = new Channel<string>();
 * const b = new Channel<string>();
 * const winner = select([recv(a, (v) => `a:${v}`), recv(b, (v) => `b:${v}`)]);
 * await b.send('hi');
 * await winner; // => 'b:hi'
 * a.length + b.length; // => 0
 * ```
 * @example A timeout with after()
 * ```ts
 * import { Channel, after, recv, select } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const replies = new Channel<string>();
 * const reply = select([recv(replies, (v) => v), recv(after(100, { clock }), () => 'timeout')]);
 * await clock.advance(100);
 * await reply; // => 'timeout'
 * ```
 * @example Non-blocking receive with a default
 * ```ts
 * import { Channel, recv, select } from 'weftjs';
 * const ch = new Channel<number>();
 * await select([recv(ch, (v) => v)], { default: () => 'nothing ready' }); // => 'nothing ready'
 * ```
 * @see recv
 * @see send
 * @see after
 */
export function select<R>(cases: Case<R>[], opts?: { signal?: AbortSignal }): Promise<Awaited<R>>;
export function select<R, D>(cases: Case<R>[], opts: { default: () => D }): Promise<Awaited<R | D>>;
// The same for cases whose results differ in type: R is then the union of them.
export function select<C extends Case<unknown>>(
  cases: C[],
  opts?: { signal?: AbortSignal },
): Promise<Awaited<CaseResult<C>>>;
export function select<C extends Case<unknown>, D>(
  cases: C[],
  opts: { default: () => D },
): Promise<Awaited<CaseResult<C> | D>>;
export function select<R, D>(
  cases: Case<R>[],
  opts?: { signal?: AbortSignal; default?: () => D },
): Promise<Awaited<R | D>> {
  if (!Array.isArray(cases)) throw typeError(`select: \`cases\` must be an array of cases, got ${show(cases)}`);
  let signal: AbortSignal | undefined;
  let fallback: (() => D) | undefined;
  if (opts !== undefined) {
    checkOpts(opts, 'select');
    signal = checkSignal(opts.signal, 'select');
    fallback = checkOptFn(opts.default, 'select', 'default');
  }
  const n = cases.length;
  // Which cases are ready: a bit each for the first 31, asked again for the rest.
  let ready = 0;
  let mask = 0;
  for (let i = 0; i < n; i++) {
    const c = cases[i];
    if (!(c instanceof Case)) {
      throw typeError(`select: \`cases[${i}]\` must be a case from recv() or send(), got ${show(c)}`);
    }
    if (isReady(c)) {
      ready++;
      if (i < 31) mask |= 1 << i;
    }
  }
  if (ready !== 0) {
    // Uniform among the ready cases: pick the k-th of them.
    let k = ready === 1 ? 0 : Math.floor(Math.random() * ready);
    for (let i = 0; i < n; i++) {
      const c = cases[i]!;
      if ((i < 31 ? (mask >>> i) & 1 : isReady(c)) && k-- === 0) return commit(c);
    }
  }
  if (fallback !== undefined) {
    try {
      return Promise.resolve(fallback()) as Promise<Awaited<D>>;
    } catch (err) {
      return Promise.reject(err);
    }
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  const w = new SelectWaiter('select', signal);
  // Queued in a random order, as Go's pollorder: when a partner later finds
  // several of this select's cases ready at once (two sends on one
  // channel), the one it meets first, and commits, is uniform among them.
  const order = n < 2 ? null : shuffled(n);
  for (let k = 0; k < n; k++) {
    const c = cases[order === null ? k : order[k]!]!;
    const ch = c.channel;
    if (ch === null || ch === undefined) continue;
    const node = new CaseNode(w, c);
    w.nodes.push(node);
    if (c.kind === 'recv') ch[enqueueRecv](node);
    else ch[enqueueSend](node);
  }
  return w.promise.then((node) => {
    const c = node.case;
    if (c.handler === undefined) return undefined;
    return c.kind === 'recv' ? c.handler(w.value, w.ok) : c.handler();
  }) as Promise<Awaited<R>>;
}
