/**
 * The machinery of `RedisRateLimiter` and `RedisKeyedRateLimiter`: the
 * generic cell rate algorithm (GCRA, as go-redis/redis_rate and redis-cell
 * run it) in one Lua script per decision, with the time read inside the
 * script (`TIME`), so that every process sees one clock, Redis's.
 *
 * GCRA keeps one number per bucket, the theoretical arrival time `tat`: the
 * moment the bucket would be full again. A bucket of `burst` tokens filling
 * at `rate` tokens a second holds `burst - (tat - now) * rate` tokens now,
 * so taking `n` tokens is `tat = max(tat, now) + n / rate`, allowed while
 * `tat - now <= burst / rate`: the token bucket of `RateLimiter`, exactly.
 * The key expires when `tat` passes, which is when a bucket is full again:
 * an idle bucket takes no memory, and a missing key is a full bucket.
 * Rate 0 keeps a count of the tokens taken instead (it never refills, so
 * that key never expires).
 */
import { signalOf } from '../../internal/abort.js';
import { checkInt, rangeError } from '../../internal/validate.js';
import { RateLimitExceededError, type Reservation } from '../../rate.js';
import type { RedisErrorPolicy } from '../client.js';
import type { Conn } from './client.js';
import type { Common } from './options.js';
import { type Call, type Caller, run, Script, Watch } from './scripts.js';
import { sleepFor } from './sleep.js';

const INF = Number.POSITIVE_INFINITY;

// Time in microseconds since 2017 (as redis_rate counts): smaller numbers
// than since 1970, so a double holds them to 1/16 of a microsecond.
const NOW = `
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2])
`;

/**
 * The one script of the limiters (one, so that a cancel never meets a
 * script cache that its reserve did not fill). KEYS[1]: the bucket. ARGV:
 * microseconds per token (0: rate 0), burst, and the operation:
 * - `'a'` (allow), ARGV[4..] the `n` of each call of a batch, in order:
 *   take each one's tokens only if they are there; replies a string of
 *   '1' (taken) and '0', one per call;
 * - `'r'` (reserve), ARGV[4] n: take them, into debt if need be; replies
 *   {1, microseconds until due, the new tat} or {0} (never: rate 0);
 * - `'c'` (cancel), ARGV[4] n, ARGV[5] the tat a reservation made: give
 *   back its tokens if it is not due yet, less those that reservations
 *   made after it already count on (as x/time/rate's CancelAt); replies 1
 *   if it gave any.
 */
export const GCRA = new Script(`
local key = KEYS[1]
local T = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local op = ARGV[3]
local out = {}
if T == 0 then
  local used = tonumber(redis.call('GET', key) or '0')
  local taken = used
  if op == 'a' then
    for i = 4, #ARGV do
      local n = tonumber(ARGV[i])
      if used + n <= burst then
        used = used + n
        out[#out + 1] = '1'
      else
        out[#out + 1] = '0'
      end
    end
  elseif op == 'r' and used + tonumber(ARGV[4]) <= burst then
    used = used + tonumber(ARGV[4])
  end
  if used ~= taken then redis.call('SET', key, used) end
  if op == 'a' then return table.concat(out) end
  if op == 'r' and used ~= taken then return {1, 0, '0'} end
  return {0}
end
${NOW}
local tat = tonumber(redis.call('GET', key) or '0')
local stored = tat
if op == 'c' then
  local n = tonumber(ARGV[4])
  local mine = tonumber(ARGV[5])
  if mine - burst * T <= now or tat <= now then return 0 end
  local back = n - (tat - mine) / T
  if back <= 0 then return 0 end
  if back > n then back = n end
  tat = tat - back * T
elseif op == 'a' then
  if tat < now then tat = now end
  -- One microsecond of slack absorbs the rounding of the sums.
  local limit = burst * T + 1
  for i = 4, #ARGV do
    local new = tat + tonumber(ARGV[i]) * T
    if new - now <= limit then
      tat = new
      out[#out + 1] = '1'
    else
      out[#out + 1] = '0'
    end
  end
else
  if tat < now then tat = now end
  tat = tat + tonumber(ARGV[4]) * T
end
if tat ~= stored then
  if tat <= now then
    redis.call('DEL', key)
  else
    -- At a rate of millions a second, n / rate may be below the resolution
    -- of these numbers (1/16 us): the bucket then never fills, as it should not.
    redis.call('SET', key, string.format('%.17g', tat), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  end
end
if op == 'a' then return table.concat(out) end
if op == 'c' then return 1 end
local early = tat - now - burst * T
if early < 0 then early = 0 end
return {1, math.ceil(early), string.format('%.17g', tat)}
`);

// The most calls one allow script decides; more go in the next one.
const MAX_BATCH = 512;

/** The `allow` calls on one key made in one turn of the event loop: they go to Redis together. */
class Batch {
  readonly key: string;
  readonly ns: number[] = [];
  readonly resolves: ((allowed: boolean) => void)[] = [];

  constructor(key: string) {
    this.key = key;
  }
}

/** The in-memory twin that `'local'` decides with (a `RateLimiter` or `KeyedRateLimiter` behind a key). */
export interface Twin {
  allow(key: string, n: number): boolean;
  wait(key: string, n: number, signal: AbortSignal | undefined): Promise<void>;
  reserve(key: string, n: number): Reservation;
}

/**
 * What `reserve` resolves with: `ok`, the milliseconds left until the
 * reserved tokens are due, and `cancel()`, which gives them back in Redis.
 */
export class RedisBooking implements Reservation {
  readonly ok: boolean;
  readonly #due: number;
  #cancel: (() => Promise<void>) | null;

  constructor(ok: boolean, due: number, cancel: (() => Promise<void>) | null) {
    this.ok = ok;
    this.#due = due;
    this.#cancel = cancel;
  }

  get delay(): number {
    if (!this.ok) return INF;
    const left = this.#due - performance.now();
    return Math.max(left, 0);
  }

  cancel(): Promise<void> {
    const cancel = this.#cancel;
    this.#cancel = null;
    if (cancel === null || (this.ok && this.#due <= performance.now())) return Promise.resolve();
    return cancel();
  }
}

/** A reservation of the local twin, with a `cancel()` that resolves like the others. */
class LocalBooking implements Reservation {
  readonly #r: Reservation;

  constructor(r: Reservation) {
    this.#r = r;
  }

  get ok(): boolean {
    return this.#r.ok;
  }

  get delay(): number {
    return this.#r.delay;
  }

  cancel(): Promise<void> {
    this.#r.cancel();
    return Promise.resolve();
  }
}

const NOT_OK = new RedisBooking(false, INF, null);
const NOW_OK = new RedisBooking(true, 0, null);

/** The shared engine of both limiters; `key` is the full Redis key of the bucket. */
export class Gcra {
  readonly conn: Conn;
  readonly watch: Watch;
  readonly policy: RedisErrorPolicy;
  readonly op: string;
  readonly rate: number;
  readonly burst: number;
  readonly #perToken: string;
  readonly #burstArg: string;
  readonly #twin: () => Twin;
  #localTwin: Twin | null = null;
  readonly #allowCaller: Caller<undefined>;
  readonly #batches = new Map<string, Batch>();
  // The batch the next promise joins (the executor below reads it: no closure per call).
  #into: Batch | null = null;
  readonly #join = (resolve: (allowed: boolean) => void): void => {
    this.#into!.resolves.push(resolve);
  };
  readonly #reserveCaller: Caller<RedisBooking | typeof LOCAL>;
  readonly #cancelCaller: Caller<void>;

  constructor(common: Common, rate: number, burst: number, op: string, twin: () => Twin) {
    this.conn = common.conn;
    this.policy = common.policy;
    this.watch = new Watch(common.timeoutMs, op, common.onFallback);
    this.op = op;
    this.rate = rate;
    this.burst = burst;
    this.#perToken = rate === 0 ? '0' : String(1e6 / rate);
    this.#burstArg = String(burst);
    this.#twin = twin;
    const policy = this.policy;
    this.#allowCaller = {
      conn: this.conn,
      watch: this.watch,
      reply: (reply, call) => {
        const answers = String(reply);
        const b = call.data as Batch;
        for (let i = 0; i < b.resolves.length; i++) b.resolves[i]!(answers.charCodeAt(i) === 49);
        return undefined;
      },
      fail: (_err, call) => {
        const b = call.data as Batch;
        for (let i = 0; i < b.resolves.length; i++) {
          b.resolves[i]!(
            policy === 'fail-open' ? true : policy === 'fail-closed' ? false : this.twin().allow(b.key, b.ns[i]!),
          );
        }
        return undefined;
      },
    };
    this.#reserveCaller = {
      conn: this.conn,
      watch: this.watch,
      reply: (reply, call) => this.#booking(reply, call),
      fail: (err) => {
        if (policy === 'fail-open') return NOW_OK;
        if (policy === 'local') return LOCAL;
        throw err;
      },
    };
    this.#cancelCaller = { conn: this.conn, watch: this.watch, reply: () => {}, fail: () => {} };
  }

  /** The in-memory twin, made when first needed. */
  twin(): Twin {
    return (this.#localTwin ??= this.#twin());
  }

  /**
   * Takes `n` tokens of `key` if they are there now. The calls on one key
   * made in one turn of the event loop are decided by one script, in call
   * order: one round trip for all of them.
   */
  allow(key: string, n: number): Promise<boolean> {
    if (n === 0 || this.rate === INF) return Promise.resolve(true);
    if (n > this.burst) return Promise.resolve(false);
    let b = this.#batches.get(key);
    if (b === undefined || b.ns.length === MAX_BATCH) {
      const batch = new Batch(key);
      this.#batches.set(key, batch);
      queueMicrotask(() => this.#flush(batch));
      b = batch;
    }
    b.ns.push(n);
    this.#into = b;
    return new Promise(this.#join);
  }

  #flush(b: Batch): void {
    if (this.#batches.get(b.key) === b) this.#batches.delete(b.key);
    const argv = ['EVALSHA', GCRA.sha, '1', b.key, this.#perToken, this.#burstArg, 'a'];
    for (const n of b.ns) argv.push(String(n));
    void run(this.#allowCaller, GCRA, argv, b.key, 0, b, true);
  }

  /** Takes `n` tokens of `key`, into debt if need be; resolves with when they are due. */
  reserve(key: string, n: number): Promise<Reservation> {
    if (n === 0 || this.rate === INF) return Promise.resolve(NOW_OK);
    if (n > this.burst) return Promise.resolve(NOT_OK);
    return this.#take(key, n).then(
      (b) => (b === LOCAL ? new LocalBooking(this.twin().reserve(key, n)) : b),
      (err) => (this.policy === 'fail-closed' ? NOT_OK : Promise.reject(err)),
    );
  }

  #take(key: string, n: number): Promise<RedisBooking | typeof LOCAL> {
    const argv = ['EVALSHA', GCRA.sha, '1', key, this.#perToken, this.#burstArg, 'r', String(n)];
    return run(this.#reserveCaller, GCRA, argv, key, n, key, true);
  }

  #booking(reply: unknown, call: Call<RedisBooking | typeof LOCAL>): RedisBooking {
    const r = reply as [number, number?, string?];
    if (r[0] !== 1) return NOT_OK;
    const delay = Number(r[1]) / 1000;
    const key = call.data as string;
    const n = call.n;
    const tat = String(r[2]);
    // Rate 0 is never in debt: nothing to give back once taken.
    const cancel = this.rate === 0 ? null : () => this.#giveBack(key, n, tat);
    return new RedisBooking(true, performance.now() + delay, cancel);
  }

  #giveBack(key: string, n: number, tat: string): Promise<void> {
    const argv = ['EVALSHA', GCRA.sha, '1', key, this.#perToken, this.#burstArg, 'c', String(n), tat];
    return run(this.#cancelCaller, GCRA, argv, key, n, undefined, false);
  }

  /** Waits until `n` tokens of `key` are the caller's (see `RedisRateLimiter.wait`). */
  wait(key: string, n: number, opts: { signal?: AbortSignal } | undefined): Promise<void> {
    const op = `${this.op}.wait`;
    const signal = signalOf(opts, op);
    if (n > this.burst && this.rate !== INF) {
      throw rangeError(`${op}: \`n\` must be at most the burst ${this.burst}, got ${n}`);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (n === 0 || this.rate === INF) return Promise.resolve();
    return this.#wait(key, n, signal);
  }

  async #wait(key: string, n: number, signal: AbortSignal | undefined): Promise<void> {
    const b = await this.#take(key, n);
    if (b === LOCAL) return this.twin().wait(key, n, signal);
    if (!b.ok) {
      throw new RateLimitExceededError(`${this.op}.wait: ${n} token(s) can never be available at rate 0`);
    }
    if (signal?.aborted) {
      await b.cancel();
      throw signal.reason;
    }
    const delay = b.delay;
    if (delay === 0) return;
    try {
      await sleepFor(delay, signal, `${this.op}.wait`);
    } catch (reason) {
      await b.cancel();
      throw reason;
    }
  }
}

/** The reserve caller's answer when the policy is `'local'`: the twin decides. */
const LOCAL = Symbol('local');

/** Checks `n` (default 1): an integer >= 0. */
export function checkN(n: number | undefined, op: string): number {
  if (n === undefined) return 1;
  if (n !== 1) checkInt(n, op, 'n');
  return n;
}
