/**
 * Channel and select: (1) a buffered channel of capacity 100 carrying
 * 1,000,000 values from one async producer loop to one async consumer loop;
 * (2) unbuffered ping-pong between two async loops over two channels,
 * 200,000 round trips; (3) a consumer selecting over 4 channels fed by 4
 * producers, 200,000 selections.
 *
 * Contenders: weft; the floor, a minimal hand-written bounded promise
 * channel with a synchronous fast path (and a hand-written select over it);
 * Effect's `Queue.bounded` driven by `Effect.gen` loops under one
 * `Effect.runPromise` (Effect has no unbuffered queue: ping-pong uses
 * capacity 1; its select is `Effect.raceAll` of `Queue.take`s, which
 * interrupts the losing takers without losing values); and ts-chan's `Chan`
 * and `Select`, in its `setUnsafe(true)` mode (its default yields to the
 * macrotask queue on every operation, which would measure `setImmediate`).
 */
import type * as effect from 'effect';
import { Chan, Select, recv as tsRecv } from 'ts-chan';
import { Channel, recv, select } from 'weftjs';
import { compare } from './lib.js';

// Effect is loaded in the processes of its own rows only (their setup):
// its module graph is large, and in any other child it would only add to
// the startup and to the heap the collector walks.
let Effect: typeof effect.Effect;
let Queue: typeof effect.Queue;
async function loadEffect(): Promise<void> {
  ({ Effect, Queue } = await import('effect'));
}

const RESOLVED = Promise.resolve();

/** The floor: the least a bounded promise channel can do, with a synchronous fast path. */
class FloorChan<T> {
  readonly buf: (T | undefined)[];
  head = 0;
  len = 0;
  readonly recvq: ((v: T) => void)[] = [];
  readonly sendq: { v: T; resolve: () => void }[] = [];

  constructor(readonly cap: number) {
    this.buf = new Array(cap);
  }

  send(v: T): Promise<void> {
    if (this.recvq.length !== 0) {
      this.recvq.shift()!(v);
      return RESOLVED;
    }
    if (this.len < this.cap) {
      this.buf[(this.head + this.len++) % this.cap] = v;
      return RESOLVED;
    }
    return new Promise((resolve) => this.sendq.push({ v, resolve }));
  }

  /** A value if one is there now (buffered or from a waiting sender); `undefined` otherwise. */
  poll(): T | undefined {
    if (this.len !== 0) {
      const v = this.buf[this.head] as T;
      this.buf[this.head] = undefined;
      this.head = (this.head + 1) % this.cap;
      this.len--;
      const s = this.sendq.shift();
      if (s !== undefined) {
        this.buf[(this.head + this.len++) % this.cap] = s.v;
        s.resolve();
      }
      return v;
    }
    const s = this.sendq.shift();
    if (s !== undefined) {
      s.resolve();
      return s.v;
    }
    return undefined;
  }

  ready(): boolean {
    return this.len !== 0 || this.sendq.length !== 0;
  }

  recv(): Promise<T> {
    if (this.ready()) return Promise.resolve(this.poll() as T);
    return new Promise((resolve) => this.recvq.push(resolve));
  }
}

/** A hand-written select over floor channels: uniform among the ready ones, else wait on all. */
function floorSelect<T>(chans: FloorChan<T>[]): Promise<T> {
  let ready = 0;
  for (const ch of chans) if (ch.ready()) ready++;
  if (ready !== 0) {
    let k = Math.floor(Math.random() * ready);
    for (const ch of chans) if (ch.ready() && k-- === 0) return Promise.resolve(ch.poll() as T);
  }
  return new Promise((resolve) => {
    const take = (v: T) => {
      for (const ch of chans) {
        const i = ch.recvq.indexOf(take);
        if (i >= 0) ch.recvq.splice(i, 1);
      }
      resolve(v);
    };
    for (const ch of chans) ch.recvq.push(take);
  });
}

const N_BUF = 1_000_000;
const N_PING = 200_000;
const N_SEL = 200_000;
// Effect takes 20 to 300 times longer per operation: it is measured against
// weft in tables of its own, on fewer operations, so that a run ends in minutes.
const E_BUF = 100_000;
const E_PING = 10_000;
const E_SEL = 4_000;

// (1) Buffered producer/consumer.
async function weftBuffered(n = N_BUF): Promise<number> {
  const ch = new Channel<number>(100);
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (await ch.recv()).value as number;
  await producer;
  return sum;
}

async function weftBufferedRange(n = N_BUF): Promise<number> {
  const ch = new Channel<number>(100);
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
    ch.close();
  })();
  let sum = 0;
  for await (const v of ch) sum += v;
  await producer;
  return sum;
}

async function floorBuffered(n = N_BUF): Promise<number> {
  const ch = new FloorChan<number>(100);
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await ch.recv();
  await producer;
  return sum;
}

function effectBuffered(n = N_BUF): Promise<number> {
  return Effect.runPromise(
    Effect.gen(function* () {
      const q = yield* Queue.bounded<number>(100);
      const producer = yield* Effect.fork(
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* Queue.offer(q, i);
        }),
      );
      let sum = 0;
      for (let i = 0; i < n; i++) sum += yield* Queue.take(q);
      yield* producer.await;
      return sum;
    }),
  );
}

async function tsChanBuffered(n = N_BUF): Promise<number> {
  const ch = new Chan<number>(100).setUnsafe(true);
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (await ch.recv()).value as number;
  await producer;
  return sum;
}

// (2) Unbuffered ping-pong.
async function weftPingPong(n = N_PING): Promise<number> {
  const ping = new Channel<number>();
  const pong = new Channel<number>();
  const echo = (async () => {
    for (let i = 0; i < n; i++) await pong.send((await ping.recv()).value as number);
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    await ping.send(i);
    sum += (await pong.recv()).value as number;
  }
  await echo;
  return sum;
}

async function floorPingPong(n = N_PING): Promise<number> {
  const ping = new FloorChan<number>(0);
  const pong = new FloorChan<number>(0);
  const echo = (async () => {
    for (let i = 0; i < n; i++) await pong.send(await ping.recv());
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    await ping.send(i);
    sum += await pong.recv();
  }
  await echo;
  return sum;
}

function effectPingPong(n = N_PING): Promise<number> {
  return Effect.runPromise(
    Effect.gen(function* () {
      const ping = yield* Queue.bounded<number>(1);
      const pong = yield* Queue.bounded<number>(1);
      const echo = yield* Effect.fork(
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* Queue.offer(pong, yield* Queue.take(ping));
        }),
      );
      let sum = 0;
      for (let i = 0; i < n; i++) {
        yield* Queue.offer(ping, i);
        sum += yield* Queue.take(pong);
      }
      yield* echo.await;
      return sum;
    }),
  );
}

async function tsChanPingPong(n = N_PING): Promise<number> {
  const ping = new Chan<number>(0).setUnsafe(true);
  const pong = new Chan<number>(0).setUnsafe(true);
  const echo = (async () => {
    for (let i = 0; i < n; i++) await pong.send((await ping.recv()).value as number);
  })();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    await ping.send(i);
    sum += (await pong.recv()).value as number;
  }
  await echo;
  return sum;
}

// (3) select over 4 channels, each fed by its own producer.

async function weftSelect(n = N_SEL): Promise<number> {
  const chans = [0, 1, 2, 3].map(() => new Channel<number>());
  const producers = chans.map(async (ch) => {
    for (let i = 0; i < n / 4; i++) await ch.send(i);
  });
  const cases = chans.map((ch) => recv(ch, (v) => v as number));
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await select(cases);
  await Promise.all(producers);
  return sum;
}

async function floorSelects(n = N_SEL): Promise<number> {
  const chans = [0, 1, 2, 3].map(() => new FloorChan<number>(0));
  const producers = chans.map(async (ch) => {
    for (let i = 0; i < n / 4; i++) await ch.send(i);
  });
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await floorSelect(chans);
  await Promise.all(producers);
  return sum;
}

function effectSelect(n = N_SEL): Promise<number> {
  return Effect.runPromise(
    Effect.gen(function* () {
      const qs: effect.Queue.Queue<number>[] = [];
      for (let k = 0; k < 4; k++) qs.push(yield* Queue.bounded<number>(1));
      const producers = yield* Effect.forEach(
        qs,
        (q) =>
          Effect.fork(
            Effect.gen(function* () {
              for (let i = 0; i < n / 4; i++) yield* Queue.offer(q, i);
            }),
          ),
        { concurrency: 'unbounded' },
      );
      const takes = qs.map((q) => Queue.take(q));
      let sum = 0;
      for (let i = 0; i < n; i++) sum += yield* Effect.raceAll(takes);
      for (const p of producers) yield* p.await;
      return sum;
    }),
  );
}

async function tsChanSelect(n = N_SEL): Promise<number> {
  const chans = [0, 1, 2, 3].map(() => new Chan<number>(0).setUnsafe(true));
  const producers = chans.map(async (ch) => {
    for (let i = 0; i < n / 4; i++) await ch.send(i);
  });
  const sel = new Select(chans.map((ch) => tsRecv(ch))).setUnsafe(true);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const k = await sel.wait();
    sum += sel.recv(sel.cases[k]!).value as number;
  }
  await Promise.all(producers);
  return sum;
}

type Run = (n?: number) => Promise<number>;

const sumTo = (n: number) => (n * (n - 1)) / 2;
const want = {
  buffered: sumTo,
  pingPong: sumTo,
  select: (n: number) => 4 * sumTo(n / 4),
};

/** The cases of a table, each called with `n`. */
function at(n: number, cases: Record<string, Run>): Record<string, () => Promise<number>> {
  return Object.fromEntries(Object.entries(cases).map(([name, fn]) => [name, () => fn(n)]));
}

/** Every contender must move every value exactly once: its first (untimed) call is checked. */
function check(expected: number): (got: unknown, name: string) => void {
  return (got, name) => {
    if (got !== expected) throw new Error(`${name}: sum ${got}, want ${expected}`);
  };
}

export default async function bench(): Promise<void> {
  const tables: [string, keyof typeof want, number, number, Record<string, Run>, number, boolean][] = [
    [
      `Channel(100): ${N_BUF.toLocaleString('en-US')} values, one producer loop, one consumer loop`,
      'buffered',
      N_BUF,
      E_BUF,
      {
        'weft Channel send/recv': weftBuffered,
        'weft Channel send/for await': weftBufferedRange,
        'floor (hand-written)': floorBuffered,
        'peer ts-chan Chan(100)': tsChanBuffered,
      },
      1.25,
      true,
    ],
    [
      'Unbuffered ping-pong over two channels: 200,000 round trips',
      'pingPong',
      N_PING,
      E_PING,
      {
        'weft Channel()': weftPingPong,
        'floor (hand-written)': floorPingPong,
        'peer ts-chan Chan(0)': tsChanPingPong,
      },
      1.5,
      false,
    ],
    [
      'select over 4 unbuffered channels fed by 4 producers: 200,000 selections',
      'select',
      N_SEL,
      E_SEL,
      {
        'weft select': weftSelect,
        'floor (hand-written)': floorSelects,
        'peer ts-chan Select': tsChanSelect,
      },
      1.5,
      false,
    ],
  ];
  const effect: Record<keyof typeof want, [string, Run, string]> = {
    buffered: ['peer effect Queue.bounded(100)', effectBuffered, 'values'],
    pingPong: ['peer effect Queue.bounded(1)', effectPingPong, 'trips'],
    select: ['peer effect raceAll(Queue.take)', effectSelect, 'selects'],
  };
  for (const [title, kind, n, en, cases, within, headline] of tables) {
    const [ename, efn, unit] = effect[kind];
    const weftName = Object.keys(cases)[0]!;
    await compare(title, {
      ops: n,
      unit,
      heavy: true,
      smoke: headline,
      weft: weftName,
      cases: at(n, cases),
      check: check(want[kind](n)),
      targets: [
        { vs: 'floor', atMost: within },
        ...(kind === 'buffered' ? [{ contender: 'weft Channel send/for await', vs: 'floor' }] : []),
      ],
    });
    await compare(`The same against Effect, on ${en.toLocaleString('en-US')} ${unit}`, {
      ops: en,
      unit,
      heavy: true,
      weft: weftName,
      cases: { [weftName]: () => cases[weftName]!(en), [ename]: { setup: loadEffect, run: () => efn(en) } },
      check: check(want[kind](en)),
      targets: [{ vs: ename, atLeast: 15 }],
    });
  }
}
