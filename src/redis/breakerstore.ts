/**
 * Package redis's `breakerStore`: the `store` of a `CircuitBreaker` that
 * keeps its state and counts in Redis, so that the breakers of one name in
 * every process open, probe and close as one.
 */
import { randomUUID } from 'node:crypto';
import type {
  CircuitBreakerStore,
  CircuitOutcome,
  CircuitShared,
  CircuitState,
  CircuitStoreSettings,
  Counts,
} from '../breaker.js';
import { checkInt, checkOpts } from '../internal/validate.js';
import type { RedisErrorPolicy, RedisOptions } from './client.js';
import { BREAKER } from './internal/breakerlua.js';
import type { Conn } from './internal/client.js';
import { keysOf } from './internal/keys.js';
import { checkCommon } from './internal/options.js';
import { type Caller, run, Watch } from './internal/scripts.js';

/**
 * Options of `breakerStore`: those of every weft/redis primitive but
 * `redis` (given first), and the lease of a half-open trial.
 *
 * @see breakerStore
 */
export interface BreakerStoreOptions extends Omit<RedisOptions, 'redis'> {
  /**
   * Milliseconds a half-open trial keeps its place (default 10_000): a
   * process that died while probing frees it after this long. Keep it above
   * the time a call through the breaker takes.
   */
  probeLeaseMs?: number;
}

const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];
const OUTCOME = { success: 's', failure: 'f', excluded: 'x' } as const;

/** An answer of the store, with the ticket of the request it admitted. */
interface Shared extends CircuitShared {
  readonly ticket: string;
}

class RedisBreakerStore implements CircuitBreakerStore {
  readonly #prefix: string;
  readonly #probe: string;
  readonly #keys = new Map<string, string[]>();
  readonly #ticketPrefix = `${randomUUID()}.`;
  #tickets = 0;
  readonly #admitCaller: Caller<CircuitShared | 'local' | 'admit' | Error>;
  readonly #sharedCaller: Caller<CircuitShared | undefined>;

  constructor(conn: Conn, watch: Watch, policy: RedisErrorPolicy, prefix: string, probeLeaseMs: number) {
    this.#prefix = prefix;
    this.#probe = String(probeLeaseMs);
    this.#admitCaller = {
      conn,
      watch,
      reply: (reply, call) => decode(reply, call.data as string),
      fail: (err) => (policy === 'local' ? 'local' : policy === 'fail-open' ? 'admit' : err),
    };
    this.#sharedCaller = {
      conn,
      watch,
      reply: (reply, call) => decode(reply, call.data as string),
      fail: () => undefined,
    };
  }

  #argv(s: CircuitStoreSettings, ...rest: string[]): string[] {
    let keys = this.#keys.get(s.name);
    if (keys === undefined) {
      keys = keysOf(this.#prefix, 'breaker', s.name, ['state', 'probes']);
      this.#keys.set(s.name, keys);
    }
    const { maxRequests, interval, timeout, multiplier, maxTimeout } = s;
    const head = [String(maxRequests), String(interval), String(timeout), String(multiplier), String(maxTimeout)];
    return ['EVALSHA', BREAKER.sha, '2', keys[0]!, keys[1]!, ...head, this.#probe, ...rest];
  }

  admit(settings: CircuitStoreSettings): Promise<CircuitShared | 'local' | 'admit' | Error> {
    const ticket = this.#ticketPrefix + ++this.#tickets;
    const argv = this.#argv(settings, 'a', ticket);
    return run(this.#admitCaller, BREAKER, argv, argv[3]!, 0, ticket, true);
  }

  record(
    settings: CircuitStoreSettings,
    admission: CircuitShared,
    outcome: CircuitOutcome,
  ): Promise<CircuitShared | undefined> {
    const ticket = (admission as Shared).ticket;
    const argv = this.#argv(settings, 'r', ticket, String(admission.generation), OUTCOME[outcome]);
    return run(this.#sharedCaller, BREAKER, argv, argv[3]!, 0, ticket, false);
  }

  trip(settings: CircuitStoreSettings, generation: number): Promise<CircuitShared | undefined> {
    const argv = this.#argv(settings, 't', String(generation));
    return run(this.#sharedCaller, BREAKER, argv, argv[3]!, 0, '', false);
  }
}

function decode(reply: unknown, ticket: string): Shared {
  const r = reply as number[];
  const counts: Counts = {
    requests: r[4]!,
    totalSuccesses: r[5]!,
    totalFailures: r[6]!,
    consecutiveSuccesses: r[7]!,
    consecutiveFailures: r[8]!,
  };
  const left = r[3]!;
  return {
    admitted: r[0] === 1,
    state: STATES[r[1]!]!,
    generation: r[2]!,
    counts,
    expiresIn: left < 0 ? Number.POSITIVE_INFINITY : left,
    ticket,
  };
}

/**
 * A `CircuitBreakerStore` in Redis: pass it as the `store` of
 * `CircuitBreaker`s, and every breaker of one `name` that uses the same
 * Redis and `prefix`, in any process, shares one state and one set of
 * counts. One store serves breakers of any number of names.
 *
 * It is advisory by design. Each `execute` costs one round trip to be
 * admitted and one to record its outcome (a third when `readyToTrip`
 * trips); so every process sees an open breaker on its next call, one
 * round trip after another opened it. gobreaker's rules run in Lua on
 * Redis's clock: counts per generation, `interval`, the open `timeout` and
 * its `backoff`. Half-open trials are leased: at most `maxRequests` at a
 * time across the processes, and the place of a prober that died is free
 * again after `probeLeaseMs`. `readyToTrip` runs in the process that saw
 * the failure, on the shared counts; a `window` counts the failure rate of
 * that process's own calls.
 *
 * **When Redis cannot decide** (`onRedisError`, default `'local'`): with
 * `'local'` each breaker decides with its own state machine, as without a
 * store, starting from the shared state it last saw, until Redis answers
 * again; `'fail-open'` calls `fn` and counts nothing; `'fail-closed'`
 * rejects with `RedisUnavailableError` without calling `fn`. `'local'` is
 * the default since a breaker is itself the fallback of a failing
 * dependency: it keeps protecting it from each process.
 *
 * @throws TypeError if `opts` or a field has the wrong type, `prefix` is
 * empty, or `redis` is not a connected client.
 * @throws RangeError if `probeLeaseMs` or `timeoutMs` is not an integer >= 1.
 * @example Two processes, one breaker
 * ```ts
 * import { createClient } from 'redis';
 * import { CircuitBreaker } from 'weftjs';
 * import { breakerStore } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = breakerStore(redis);
 * const opts = { name: 'doc:payments', store, timeout: 10_000, readyToTrip: (c: { consecutiveFailures: number }) => c.consecutiveFailures >= 2 };
 * const here = new CircuitBreaker(opts);
 * const there = new CircuitBreaker(opts); // another process, with its own client
 * const down = () => Promise.reject(new Error('provider down'));
 * await here.execute(down).catch((e) => e.message); // => 'provider down'
 * await there.execute(down).catch((e) => e.message); // => 'provider down'
 * await here.execute(() => 'ok').catch((e) => e.code); // => 'ERR_CIRCUIT_OPEN'
 * [here.state, there.state]; // => ['open', 'open']
 * await redis.close();
 * ```
 * @see CircuitBreaker
 */
export function breakerStore(redis: RedisOptions['redis'], opts?: BreakerStoreOptions): CircuitBreakerStore {
  const op = 'breakerStore';
  const o = checkOpts(opts, op) ?? {};
  const common = checkCommon({ ...o, redis }, op, 'local');
  const probe = o.probeLeaseMs === undefined ? 10_000 : checkInt(o.probeLeaseMs, op, 'probeLeaseMs', 1, 2_147_483_647);
  const watch = new Watch(common.timeoutMs, op, common.onFallback);
  return new RedisBreakerStore(common.conn, watch, common.policy, common.prefix, probe);
}
