/**
 * RateLimiter.allow: the cost of one check when the token is there (allow
 * path) and when it is not (deny path), against `limiter`'s TokenBucket and
 * RateLimiter (`tryRemoveTokens`, synchronous), `bottleneck` (`check()` is
 * asynchronous and does not take a token), `p-throttle` (no check at all:
 * it queues every call, so only the cost of a call that runs at once is
 * measured), and a hand-written token bucket on performance.now() (floor).
 */
import Bottleneck from 'bottleneck';
import { RateLimiter as LimiterRateLimiter, TokenBucket } from 'limiter';
import pThrottle from 'p-throttle';
import { RateLimiter } from 'weftjs';
import { compare } from './lib.js';

/** The floor: the least a token bucket can do per check. */
class FloorBucket {
  tokens: number;
  last = performance.now();
  constructor(
    readonly perMs: number,
    readonly burst: number,
  ) {
    this.tokens = burst;
  }
  allow(): boolean {
    const now = performance.now();
    let t = this.tokens + (now - this.last) * this.perMs;
    if (t > this.burst) t = this.burst;
    this.last = now;
    if (t < 1) {
      this.tokens = t;
      return false;
    }
    this.tokens = t - 1;
    return true;
  }
}

const BATCH = 1000;

function batch(fn: () => boolean): () => number {
  return () => {
    let n = 0;
    for (let i = 0; i < BATCH; i++) if (fn()) n++;
    return n;
  };
}

export default async function bench(): Promise<void> {
  // Allow path: a rate so high that every check finds a token.
  const huge = 1e12;
  const weftOpen = new RateLimiter({ rate: huge, burst: huge });
  const floorOpen = new FloorBucket(huge / 1000, huge);
  const bucketOpen = new TokenBucket({ bucketSize: huge, tokensPerInterval: huge, interval: 'second' });
  const limiterOpen = new LimiterRateLimiter({ tokensPerInterval: huge, interval: 'second' });
  const bottleneckOpen = new Bottleneck({});
  const throttled = pThrottle({ limit: 1e9, interval: 1000 })(() => true);
  await new Promise((r) => setTimeout(r, 5)); // limiter's buckets start empty and fill with time
  for (const b of [
    weftOpen.allow(),
    floorOpen.allow(),
    bucketOpen.tryRemoveTokens(1),
    limiterOpen.tryRemoveTokens(1),
  ]) {
    if (!b) throw new Error('allow path: a contender denied');
  }

  await compare('RateLimiter.allow(), allow path (1,000 checks per run)', {
    ops: BATCH,
    unit: 'checks',
    cases: {
      'weft RateLimiter.allow': batch(() => weftOpen.allow()),
      'floor (hand-written)': batch(() => floorOpen.allow()),
      'limiter TokenBucket.tryRemoveTokens': batch(() => bucketOpen.tryRemoveTokens(1)),
      'limiter RateLimiter.tryRemoveTokens': batch(() => limiterOpen.tryRemoveTokens(1)),
      'p-throttle call (async, no check)': async () => {
        for (let i = 0; i < BATCH; i++) await throttled();
      },
    },
    weft: 'weft RateLimiter.allow',
    smoke: true,
    targets: [{ vs: 'floor', atMost: 1.3, note: 'issue 14: 76-78 ns against 55-56 ns' }],
  });

  // Deny path: the one token is spent and the next comes in a day.
  const slow = 1 / 86_400;
  const weftShut = new RateLimiter({ rate: slow, burst: 1 });
  const floorShut = new FloorBucket(slow / 1000, 1);
  const bucketShut = new TokenBucket({ bucketSize: 1, tokensPerInterval: 1, interval: 'day' });
  const limiterShut = new LimiterRateLimiter({ tokensPerInterval: 1, interval: 'day' });
  const bottleneckShut = new Bottleneck({ reservoir: 0 });
  weftShut.allow();
  floorShut.allow();
  limiterShut.tryRemoveTokens(1);
  for (const b of [
    weftShut.allow(),
    floorShut.allow(),
    bucketShut.tryRemoveTokens(1),
    limiterShut.tryRemoveTokens(1),
  ]) {
    if (b) throw new Error('deny path: a contender allowed');
  }

  await compare('RateLimiter.allow(), deny path (1,000 checks per run)', {
    ops: BATCH,
    unit: 'checks',
    cases: {
      'weft RateLimiter.allow': batch(() => weftShut.allow()),
      'floor (hand-written)': batch(() => floorShut.allow()),
      'limiter TokenBucket.tryRemoveTokens': batch(() => bucketShut.tryRemoveTokens(1)),
      'limiter RateLimiter.tryRemoveTokens': batch(() => limiterShut.tryRemoveTokens(1)),
    },
    weft: 'weft RateLimiter.allow',
    targets: [{ vs: 'floor', atMost: 1.3 }],
    target: 'p-throttle has no deny path: it queues',
  });

  // Bottleneck's check() is asynchronous (and takes no token): ~1 ms each,
  // so it gets a group of its own with 10 checks a run.
  const few = (fn: () => boolean) => () => {
    let n = 0;
    for (let i = 0; i < 10; i++) if (fn()) n++;
    return n;
  };
  const bottleneckFew = (b: Bottleneck) => async () => {
    let n = 0;
    for (let i = 0; i < 10; i++) if (await b.check()) n++;
    return n;
  };
  await compare('RateLimiter.allow() vs bottleneck check() (10 checks per run)', {
    ops: 10,
    unit: 'checks',
    cases: {
      'weft RateLimiter.allow, allow path': few(() => weftOpen.allow()),
      'bottleneck check(), allow path (async)': bottleneckFew(bottleneckOpen),
      'weft RateLimiter.allow, deny path': few(() => weftShut.allow()),
      'bottleneck check(), deny path (async)': bottleneckFew(bottleneckShut),
    },
    weft: 'weft RateLimiter.allow, allow path',
    heavy: true,
  });
}
