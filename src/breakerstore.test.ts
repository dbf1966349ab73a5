// The `store` option of CircuitBreaker, with stores in memory (no Redis):
// what execute asks a store, what it does with each kind of answer, and
// what it leaves alone without one.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerStore,
  type CircuitOutcome,
  type CircuitShared,
  type CircuitState,
  type CircuitStoreSettings,
  type Counts,
} from 'weftjs';
import { TestClock } from 'weftjs/testing';

const zero = (): Counts => ({
  requests: 0,
  totalSuccesses: 0,
  totalFailures: 0,
  consecutiveSuccesses: 0,
  consecutiveFailures: 0,
});

/** A shared record with gobreaker's rules, in memory, on a TestClock: what a Redis store does, minus Redis. */
class MemoryStore implements CircuitBreakerStore {
  state: CircuitState = 'closed';
  generation = 100;
  counts = zero();
  expiry = Number.POSITIVE_INFINITY;
  probes = 0;
  calls: string[] = [];

  constructor(readonly clock: TestClock) {}

  #tick(s: CircuitStoreSettings): void {
    if (this.clock.now() < this.expiry) return;
    if (this.state === 'open') this.#enter('half-open', s);
  }

  #enter(state: CircuitState, s: CircuitStoreSettings): void {
    this.state = state;
    this.generation++;
    this.counts = zero();
    this.probes = 0;
    this.expiry = state === 'open' ? this.clock.now() + s.timeout : Number.POSITIVE_INFINITY;
  }

  #answer(admitted: boolean): CircuitShared {
    const left = this.expiry - this.clock.now();
    return { admitted, state: this.state, generation: this.generation, counts: { ...this.counts }, expiresIn: left };
  }

  async admit(s: CircuitStoreSettings): Promise<CircuitShared> {
    this.calls.push(`admit ${s.name}`);
    this.#tick(s);
    if (this.state === 'open') return this.#answer(false);
    if (this.state === 'half-open') {
      if (this.probes >= s.maxRequests) return this.#answer(false);
      this.probes++;
    }
    this.counts.requests++;
    return this.#answer(true);
  }

  async record(s: CircuitStoreSettings, a: CircuitShared, outcome: CircuitOutcome): Promise<CircuitShared> {
    this.calls.push(`record ${outcome}`);
    this.#tick(s);
    if (a.generation !== this.generation) return this.#answer(false);
    const c = this.counts;
    if (this.state === 'half-open') this.probes--;
    if (outcome === 'excluded') c.requests--;
    else if (outcome === 'success') {
      c.totalSuccesses++;
      c.consecutiveSuccesses++;
      c.consecutiveFailures = 0;
      if (this.state === 'half-open' && c.consecutiveSuccesses >= s.maxRequests) this.#enter('closed', s);
    } else {
      c.totalFailures++;
      c.consecutiveFailures++;
      c.consecutiveSuccesses = 0;
      if (this.state === 'half-open') this.#enter('open', s);
    }
    return this.#answer(true);
  }

  async trip(s: CircuitStoreSettings, generation: number): Promise<CircuitShared> {
    this.calls.push(`trip ${generation}`);
    if (generation === this.generation && this.state === 'closed') this.#enter('open', s);
    return this.#answer(true);
  }
}

/** A store that answers `admit` with a fixed answer and records what it is asked. */
function fixed(answer: Awaited<ReturnType<CircuitBreakerStore['admit']>>): CircuitBreakerStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    admit: async () => {
      calls.push('admit');
      return answer;
    },
    record: async (_s, _a, outcome) => {
      calls.push(`record ${outcome}`);
      return undefined;
    },
    trip: async () => {
      calls.push('trip');
      return undefined;
    },
  };
}

const boom = () => Promise.reject(new Error('down'));

describe('CircuitBreaker with a store', () => {
  it('asks the store to admit, then records the outcome, for each call', async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    const cb = new CircuitBreaker({ name: 'api', store, clock });
    expect(await cb.execute(() => 'ok')).toBe('ok');
    await expect(cb.execute(boom)).rejects.toThrow('down');
    await expect(
      cb.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(store.calls).toEqual([
      'admit api',
      'record success',
      'admit api',
      'record failure',
      'admit api',
      'record failure',
    ]);
    expect(cb.counts).toEqual({
      requests: 3,
      totalSuccesses: 1,
      totalFailures: 2,
      consecutiveSuccesses: 0,
      consecutiveFailures: 2,
    });
  });

  it('hands the store its settings, frozen', async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    let seen: CircuitStoreSettings | undefined;
    const admit = store.admit.bind(store);
    store.admit = (s) => {
      seen = s;
      return admit(s);
    };
    const cb = new CircuitBreaker({
      name: 'svc',
      store,
      clock,
      maxRequests: 3,
      interval: 500,
      timeout: 2000,
      backoff: { multiplier: 2, maxTimeout: 8000 },
    });
    await cb.execute(() => 1);
    expect(seen).toEqual({
      name: 'svc',
      maxRequests: 3,
      interval: 500,
      timeout: 2000,
      multiplier: 2,
      maxTimeout: 8000,
    });
    expect(Object.isFrozen(seen)).toBe(true);
  });

  it('breakers sharing a store act as one: a trip by one is seen by the other on its next call', async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    const changes: string[] = [];
    const make = (tag: string) =>
      new CircuitBreaker({
        name: 'api',
        store,
        clock,
        timeout: 1000,
        readyToTrip: (c) => c.consecutiveFailures >= 2,
        onStateChange: (_n, from, to) => changes.push(`${tag} ${from}->${to}`),
      });
    const a = make('a');
    const b = make('b');
    await a.execute(boom).catch(() => {});
    await b.execute(boom).catch(() => {});
    expect(store.calls.at(-1)).toBe('trip 100');
    expect([a.state, b.state]).toEqual(['closed', 'open']);
    const err = await a.execute(() => 'never').catch((e) => e);
    expect([err.code, err.retryAfter]).toEqual(['ERR_CIRCUIT_OPEN', 1000]);
    expect(a.state).toBe('open');
    await clock.advance(1000);
    expect(await b.execute(() => 'trial')).toBe('trial');
    expect(await a.execute(() => 'back')).toBe('back');
    expect(changes).toEqual([
      'b closed->open',
      'a closed->open',
      'b open->half-open',
      'b half-open->closed',
      'a open->closed',
    ]);
  });

  it('a half-open store that refuses rejects with TooManyRequestsError without calling fn', async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    store.state = 'half-open';
    store.probes = 1;
    const cb = new CircuitBreaker({ name: 'api', store, clock });
    let called = false;
    await expect(cb.execute(() => (called = true))).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REQUESTS' });
    expect(called).toBe(false);
    expect(cb.state).toBe('half-open');
  });

  it('readyToTrip and the window judge the shared counts; a result of an older generation trips nothing', async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    const counts: Counts[] = [];
    const cb = new CircuitBreaker({
      name: 'api',
      store,
      clock,
      readyToTrip: (c) => {
        counts.push(c);
        return false;
      },
    });
    store.counts.consecutiveFailures = 4; // four failures elsewhere
    await cb.execute(boom).catch(() => {});
    expect(counts.at(-1)?.consecutiveFailures).toBe(5);
    // The generation changes while the call runs: its failure is ignored.
    const late = cb.execute(
      () =>
        new Promise((_, reject) => {
          store.generation++;
          reject(new Error('late'));
        }),
    );
    await expect(late).rejects.toThrow('late');
    expect(counts).toHaveLength(1);
    expect(store.calls.filter((c) => c.startsWith('trip'))).toEqual([]);
    const windowed = new CircuitBreaker({
      name: 'w',
      store: new MemoryStore(clock),
      clock,
      readyToTrip: () => false,
      window: { ms: 10_000, minRequests: 2, failureRate: 0.5 },
    });
    await windowed.execute(() => 1);
    await windowed.execute(boom).catch(() => {});
    expect(windowed.state).toBe('open');
  });

  it("a caller's abort is recorded as excluded, and the call rejects with its reason", async () => {
    const clock = new TestClock();
    const store = new MemoryStore(clock);
    const cb = new CircuitBreaker({ name: 'api', store, clock });
    const ac = new AbortController();
    const call = cb.execute(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: ac.signal },
    );
    await Promise.resolve();
    ac.abort(new Error('client left'));
    await expect(call).rejects.toThrow('client left');
    expect(store.calls).toEqual(['admit api', 'record excluded']);
    expect(cb.counts.requests).toBe(0);
  });

  it("answer 'local': the breaker's own state machine decides and counts, the store records nothing", async () => {
    const store = fixed('local');
    const cb = new CircuitBreaker({ name: 'api', store, readyToTrip: (c) => c.consecutiveFailures >= 1 });
    await expect(cb.execute(boom)).rejects.toThrow('down');
    expect(cb.state).toBe('open');
    await expect(cb.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(store.calls).toEqual(['admit', 'admit']);
  });

  it("answer 'admit': fn runs and nothing is counted, here or in the store", async () => {
    const store = fixed('admit');
    const cb = new CircuitBreaker({ name: 'api', store, readyToTrip: () => true });
    expect(await cb.execute(() => 'ran')).toBe('ran');
    await expect(cb.execute(boom)).rejects.toThrow('down');
    expect(cb.state).toBe('closed');
    expect(cb.counts.requests).toBe(0);
    expect(store.calls).toEqual(['admit', 'admit']);
  });

  it('answer an Error: execute rejects with it, without calling fn', async () => {
    const refusal = Object.assign(new Error('store down'), { code: 'ERR_REDIS_UNAVAILABLE' });
    const store = fixed(refusal);
    const cb = new CircuitBreaker({ name: 'api', store });
    let called = false;
    await expect(cb.execute(() => (called = true))).rejects.toBe(refusal);
    expect(called).toBe(false);
  });

  it('runs fn in the async context of the caller of execute', async () => {
    const als = new AsyncLocalStorage<string>();
    const cb = new CircuitBreaker({ name: 'api', store: new MemoryStore(new TestClock()) });
    expect(await als.run('ctx', () => cb.execute(() => als.getStore()))).toBe('ctx');
  });

  it('an already-aborted signal rejects at once, without asking the store', async () => {
    const store = fixed('admit');
    const cb = new CircuitBreaker({ name: 'api', store });
    const reason = new Error('gone');
    await expect(cb.execute(() => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(store.calls).toEqual([]);
  });

  it('requires a non-empty name and a store with admit, record and trip', () => {
    const store = fixed('local');
    expect(() => new CircuitBreaker({ store })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new CircuitBreaker({ name: 'x', store: {} as never })).toThrow(
      /`store` must be a CircuitBreakerStore \(admit, record, trip\), got an object/,
    );
    expect(() => new CircuitBreaker({ name: 'x', store: null as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('without a store, execute is unchanged: synchronous results are counted before it returns', () => {
    const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 1 });
    void cb
      .execute(() => {
        throw new Error('x');
      })
      .catch(() => {});
    expect(cb.state).toBe('open');
  });
});
