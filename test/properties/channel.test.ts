// Random interleavings of channel operations against a sequential model of a
// Go channel: every operation's outcome (value received, send completed,
// error, abort), the buffer length and what remains queued must agree.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel, recv, select, send } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';

type Cmd =
  | { t: 'send' }
  | { t: 'recv' }
  | { t: 'trySend' }
  | { t: 'tryRecv' }
  | { t: 'close' }
  | { t: 'abort'; k: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ t: 'send' as const }) },
  { weight: 4, arbitrary: fc.constant({ t: 'recv' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'trySend' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'tryRecv' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'close' as const }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('abort' as const), k: fc.nat(20) }) },
);

/** What an operation ended with, written the same way by the model and by the test of the real channel. */
type Outcome = string;

/** A Go channel, one step at a time. */
class Model {
  buf: number[] = [];
  sendq: { id: number; v: number }[] = [];
  recvq: number[] = [];
  closed = false;
  outcomes = new Map<number, Outcome>();

  constructor(readonly capacity: number) {}

  send(id: number, v: number): void {
    if (this.closed) this.outcomes.set(id, 'closed');
    else if (this.recvq.length > 0) {
      this.outcomes.set(this.recvq.shift()!, `value ${v}`);
      if (id >= 0) this.outcomes.set(id, 'sent');
    } else if (this.buf.length < this.capacity) {
      this.buf.push(v);
      if (id >= 0) this.outcomes.set(id, 'sent');
    } else this.sendq.push({ id, v });
  }

  trySend(v: number): Outcome {
    if (this.closed) return 'throws closed';
    if (this.recvq.length > 0 || this.buf.length < this.capacity) {
      this.send(-1, v); // -1: no pending operation to record
      return 'true';
    }
    return 'false';
  }

  /** The receive that needs no wait, or undefined. */
  poll(): Outcome | undefined {
    if (this.buf.length > 0) {
      const v = this.buf.shift()!;
      const s = this.sendq.shift();
      if (s) {
        this.buf.push(s.v);
        this.outcomes.set(s.id, 'sent');
      }
      return `value ${v}`;
    }
    const s = this.sendq.shift();
    if (s) {
      this.outcomes.set(s.id, 'sent');
      return `value ${s.v}`;
    }
    return this.closed ? 'done' : undefined;
  }

  recv(id: number): void {
    const r = this.poll();
    if (r === undefined) this.recvq.push(id);
    else this.outcomes.set(id, r);
  }

  close(): Outcome {
    if (this.closed) return 'throws closed';
    this.closed = true;
    for (const id of this.recvq) this.outcomes.set(id, 'done');
    for (const s of this.sendq) this.outcomes.set(s.id, 'closed');
    this.recvq = [];
    this.sendq = [];
    return 'ok';
  }

  abort(id: number): void {
    const r = this.recvq.indexOf(id);
    if (r >= 0) {
      this.recvq.splice(r, 1);
      this.outcomes.set(id, 'aborted');
    }
    const s = this.sendq.findIndex((x) => x.id === id);
    if (s >= 0) {
      this.sendq.splice(s, 1);
      this.outcomes.set(id, 'aborted');
    }
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const ABORTED = new Error('aborted');

function show(r: IteratorResult<number, undefined> | undefined): Outcome | undefined {
  if (r === undefined) return undefined;
  return r.done ? 'done' : `value ${r.value}`;
}

async function run(capacity: number, cmds: Cmd[]): Promise<void> {
  using leaks = trackLeaks();
  const model = new Model(capacity);
  const ch = new Channel<number>(capacity);
  const real = new Map<number, Outcome>();
  const controllers: AbortController[] = [];
  let nextValue = 0;
  const record = (id: number, p: Promise<unknown>, ok: (x: any) => Outcome) =>
    p.then(
      (x) => real.set(id, ok(x)),
      (e) => real.set(id, e === ABORTED ? 'aborted' : e?.code === 'ERR_CHANNEL_CLOSED' ? 'closed' : `error ${e}`),
    );
  for (const c of cmds) {
    const id = controllers.length;
    switch (c.t) {
      case 'send': {
        const v = nextValue++;
        const ac = new AbortController();
        controllers.push(ac);
        model.send(id, v);
        record(id, ch.send(v, { signal: ac.signal }), () => 'sent');
        break;
      }
      case 'recv': {
        const ac = new AbortController();
        controllers.push(ac);
        model.recv(id);
        record(id, ch.recv({ signal: ac.signal }), (r) => show(r)!);
        break;
      }
      case 'trySend': {
        const v = nextValue++;
        const want = model.trySend(v);
        let got: Outcome;
        try {
          got = String(ch.trySend(v));
        } catch (e: any) {
          got = `throws ${e.code === 'ERR_CHANNEL_CLOSED' ? 'closed' : e}`;
        }
        expect(got).toBe(want);
        break;
      }
      case 'tryRecv':
        expect(show(ch.tryRecv())).toBe(model.poll());
        break;
      case 'close': {
        const want = model.close();
        let got = 'ok';
        try {
          ch.close();
        } catch (e: any) {
          got = `throws ${e.code === 'ERR_CHANNEL_CLOSED' ? 'closed' : e}`;
        }
        expect(got).toBe(want);
        break;
      }
      case 'abort': {
        if (controllers.length === 0) break;
        const target = c.k % controllers.length;
        model.abort(target);
        controllers[target]!.abort(ABORTED);
        break;
      }
    }
    await turn();
    expect(real).toEqual(model.outcomes);
    expect(ch.length).toBe(model.buf.length);
    expect(ch.closed).toBe(model.closed);
  }
  // Finish: abort whatever still waits; then nothing may be left behind.
  for (const ac of controllers) ac.abort(ABORTED);
  for (const id of [...model.recvq, ...model.sendq.map((s) => s.id)]) model.outcomes.set(id, 'aborted');
  await turn();
  expect(real).toEqual(model.outcomes);
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

describe('Channel against a model of a Go channel', () => {
  for (const capacity of [0, 1, 4]) {
    it(`agrees on every value delivered and every error at capacity ${capacity}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { maxLength: 60, size: 'max' }), (cmds) => run(capacity, cmds)),
        { numRuns: 150 },
      );
    });
  }
});

// select over several channels, mixed with plain operations, closes and
// aborts: every value whose send completed is received exactly once (or is
// still buffered), no value of an aborted or failed send is ever received,
// and nothing is left queued.

type SelCmd =
  | { t: 'send'; ch: number }
  | { t: 'recv'; ch: number }
  | { t: 'select'; recvs: number[]; sends: number[] }
  | { t: 'close'; ch: number }
  | { t: 'abort'; k: number };

const CHANS = 3;
const chIndex = fc.nat(CHANS - 1);
const selCmd: fc.Arbitrary<SelCmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('send' as const), ch: chIndex }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('recv' as const), ch: chIndex }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('select' as const),
      recvs: fc.uniqueArray(chIndex, { maxLength: CHANS }),
      sends: fc.uniqueArray(chIndex, { maxLength: CHANS }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), ch: chIndex }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('abort' as const), k: fc.nat(30) }) },
);

async function runSelect(capacities: number[], cmds: SelCmd[]): Promise<void> {
  using leaks = trackLeaks();
  const chans = capacities.map((c) => new Channel<number>(c));
  const controllers: AbortController[] = [];
  const sent = new Set<number>(); // values whose send completed
  const failed = new Set<number>(); // values whose send was aborted or rejected
  const received: number[] = [];
  const pending: Promise<unknown>[] = [];
  let next = 0;
  for (const c of cmds) {
    if (c.t === 'close') {
      if (!chans[c.ch]!.closed) chans[c.ch]!.close();
    } else if (c.t === 'abort') {
      if (controllers.length > 0) controllers[c.k % controllers.length]!.abort(ABORTED);
    } else {
      const ac = new AbortController();
      controllers.push(ac);
      if (c.t === 'send') {
        const v = next++;
        pending.push(
          chans[c.ch]!.send(v, { signal: ac.signal }).then(
            () => sent.add(v),
            () => failed.add(v),
          ),
        );
      } else if (c.t === 'recv') {
        pending.push(
          chans[c.ch]!.recv({ signal: ac.signal }).then(
            (r) => r.done || received.push(r.value),
            () => {},
          ),
        );
      } else {
        const values = c.sends.map(() => next++);
        const cases = [
          ...c.recvs.map((k) => recv(chans[k], (v, ok) => (ok ? received.push(v as number) : 0))),
          ...c.sends.map((k, i) => send(chans[k], values[i]!, () => sent.add(values[i]!))),
        ];
        pending.push(
          select(cases, { signal: ac.signal }).then(
            () => {
              for (const v of values) if (!sent.has(v)) failed.add(v);
            },
            () => {
              for (const v of values) failed.add(v);
            },
          ),
        );
      }
    }
    await turn();
  }
  for (const ac of controllers) ac.abort(ABORTED);
  await Promise.all(pending);
  for (const ch of chans)
    for (let r = ch.tryRecv(); r !== undefined && !r.done; r = ch.tryRecv()) received.push(r.value);
  expect([...received].sort((a, b) => a - b)).toEqual([...sent].sort((a, b) => a - b));
  for (const v of received) expect(failed.has(v)).toBe(false);
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

describe('select against the conservation of values', () => {
  it('receives every value whose send completed exactly once and no other, over unbuffered and buffered channels', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(0, 1, 2), { minLength: CHANS, maxLength: CHANS }),
        fc.array(selCmd, { maxLength: 50, size: 'max' }),
        (capacities, cmds) => runSelect(capacities, cmds),
      ),
      { numRuns: 200 },
    );
  });
});
