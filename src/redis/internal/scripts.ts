/**
 * Lua scripts and the one way weft/redis runs them: `EVALSHA` of the
 * script's SHA-1 (one round trip), and on a `NOSCRIPT` reply (a new server,
 * a restart, `SCRIPT FLUSH`) the same call as `EVAL` with the source, which
 * loads it again. Every call is bounded by its caller's `timeoutMs`: the
 * calls of one caller share one timer (a list in deadline order, since they
 * all wait as long), armed only while a call is in flight. A call that gets
 * no answer in time, or an error, resolves with what the caller's policy
 * says (`fail`), never hangs; a late answer is then ignored.
 */
import { createHash } from 'node:crypto';
import { systemClock } from '../../clock.js';
import { startTimer, stopTimer } from '../../internal/timer.js';
import { RedisUnavailableError } from '../client.js';
import { type Conn, isNoScript, isReplyError } from './client.js';

/** A Lua script, with the SHA-1 that `EVALSHA` names it by. */
export class Script {
  readonly lua: string;
  readonly sha: string;

  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

/**
 * Who makes calls, and what their results are: from Redis's reply, or,
 * when Redis did not answer, by the failure policy. `call.n` and
 * `call.data` carry what the call was for (a count, a waiter).
 */
export interface Caller<R> {
  readonly conn: Conn;
  readonly watch: Watch;
  reply(reply: unknown, call: Call<R>): R;
  fail(err: RedisUnavailableError, call: Call<R>): R | PromiseLike<R>;
}

/** One call in flight. */
export class Call<R = unknown> {
  readonly caller: Caller<R>;
  readonly n: number;
  readonly data: unknown;
  resolve!: (value: R | PromiseLike<R>) => void;
  deadline = 0;
  prev: Call<any> | null = null;
  next: Call<any> | null = null;
  done = false;

  constructor(caller: Caller<R>, n: number, data: unknown) {
    this.caller = caller;
    this.n = n;
    this.data = data;
  }

  /** Settles with the result of `reply`, unless the call already ended. */
  ok(reply: unknown): void {
    if (this.done) return;
    this.done = true;
    this.caller.watch.remove(this);
    this.caller.conn.up();
    let value: R;
    try {
      value = this.caller.reply(reply, this);
    } catch (err) {
      this.#fallback(err);
      return;
    }
    this.resolve(value);
  }

  /** Settles by the policy: Redis replied with an error, the connection failed, or time ran out. */
  error(err: unknown, timedOut: boolean): void {
    if (this.done) return;
    this.done = true;
    const c = this.caller;
    if (!timedOut) c.watch.remove(this);
    if (timedOut || !isReplyError(err)) c.conn.down(err, systemClock.now(), c.watch.ms);
    else c.conn.up();
    this.#fallback(err, timedOut);
  }

  #fallback(cause: unknown, timedOut = false): void {
    const ms = this.caller.watch.ms;
    const err = timedOut
      ? new RedisUnavailableError(`${this.caller.watch.op}: Redis did not answer within ${ms} ms`)
      : new RedisUnavailableError(`${this.caller.watch.op}: Redis could not serve the call: ${errText(cause)}`, {
          cause,
        });
    decide(this, err);
  }
}

/** Settles `call` by its caller's policy, after telling `onFallback`. */
function decide<R>(call: Call<R>, err: RedisUnavailableError): void {
  const tell = call.caller.watch.onFallback;
  if (tell !== undefined) {
    try {
      tell(err);
    } catch (e) {
      // Reported as an uncaught error, as a throwing event listener is; the call still settles.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
  try {
    call.resolve(call.caller.fail(err, call));
  } catch (e) {
    // A policy that throws (fail-closed) rejects the call.
    call.resolve(Promise.reject(e));
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The deadlines of one caller's calls, in order (they all wait `ms`), and
 * the one timer that fires at the earliest.
 */
export class Watch {
  readonly ms: number;
  readonly op: string;
  /** Told of every call that decided by the policy. */
  readonly onFallback: ((err: RedisUnavailableError) => void) | undefined;
  #head: Call<any> | null = null;
  #tail: Call<any> | null = null;
  #timer: unknown = undefined;
  readonly #onTimer = (): void => this.#fire();

  constructor(ms: number, op: string, onFallback?: (err: RedisUnavailableError) => void) {
    this.ms = ms;
    this.op = op;
    this.onFallback = onFallback;
  }

  add(call: Call<any>, now: number): void {
    call.deadline = now + this.ms;
    call.prev = this.#tail;
    if (this.#tail === null) this.#head = call;
    else this.#tail.next = call;
    this.#tail = call;
    if (this.#timer === undefined) this.#timer = startTimer(systemClock, this.#onTimer, this.ms, this.op);
  }

  remove(call: Call<any>): void {
    const { prev, next } = call;
    if (prev === null) {
      if (this.#head !== call) return; // not listed
      this.#head = next;
    } else prev.next = next;
    if (next === null) this.#tail = prev;
    else next.prev = prev;
    call.prev = call.next = null;
    if (this.#head === null && this.#timer !== undefined) {
      stopTimer(systemClock, this.#timer);
      this.#timer = undefined;
    }
  }

  #fire(): void {
    this.#timer = undefined;
    const now = systemClock.now();
    let head = this.#head;
    // Timers may fire a little early; a millisecond of slack saves a re-arm.
    while (head !== null && head.deadline <= now + 1) {
      this.remove(head);
      head.error(undefined, true);
      head = this.#head;
    }
    if (head !== null && this.#timer === undefined) {
      this.#timer = startTimer(systemClock, this.#onTimer, head.deadline - now, this.op);
    }
  }
}

/**
 * Runs `script` with `argv` (`['EVALSHA', sha, numkeys, ...keys, ...args]`,
 * sent to the node of `key` on a cluster) for `caller`, and resolves with
 * what `caller.reply` makes of the answer, or with its policy's answer when
 * Redis is down, errs or is too slow. `admit` calls decide by the policy at
 * once while the connection is known to be down (one probe at a time goes
 * through); the others (renewals, clean-ups) always try.
 */
export function run<R>(
  caller: Caller<R>,
  script: Script,
  argv: string[],
  key: string,
  n: number,
  data: unknown,
  admit: boolean,
): Promise<R> {
  const call = new Call<R>(caller, n, data);
  const promise = new Promise<R>((resolve) => {
    call.resolve = resolve;
  });
  const conn = caller.conn;
  const now = systemClock.now();
  if (admit && conn.isDown(now)) {
    call.done = true;
    const err = new RedisUnavailableError(
      `${caller.watch.op}: Redis is unavailable (last error: ${conn.lastError === undefined ? 'no answer in time' : errText(conn.lastError)})`,
      { cause: conn.lastError },
    );
    decide(call, err);
    return promise;
  }
  caller.watch.add(call, now);
  let sent: Promise<unknown>;
  try {
    sent = conn.send(key, argv);
  } catch (err) {
    call.error(err, false);
    return promise;
  }
  sent.then(
    (reply) => call.ok(reply),
    (err) => {
      // An admission that timed out is dropped (its caller was answered, and
      // a clean-up may follow it); a clean-up or a renewal still runs.
      if (!isNoScript(err) || (call.done && admit)) return call.error(err, false);
      // Not in the script cache (a new or restarted server, SCRIPT FLUSH): EVAL loads it.
      argv[0] = 'EVAL';
      argv[1] = script.lua;
      conn.send(key, argv).then(
        (reply) => call.ok(reply),
        (e) => call.error(e, false),
      );
    },
  );
  return promise;
}
