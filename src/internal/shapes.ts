/**
 * Loud mistakes in callback shapes. weft hands its callbacks a signal in
 * one of two shapes, fixed by the contract: the `AbortSignal` itself
 * (`flow` stages `(x, signal)`, `ErrGroup.go` and `Singleflight.do`
 * `(signal)`, `retry` `(attempt, signal)`), or a context object holding
 * it (`WorkerPool` work `(job, { signal, worker })`). Written the other way
 * round, a callback would read `undefined` and run on without
 * cancellation, or fail far from the cause; instead the mistake throws at
 * once a `TypeError` that names the right shape.
 */
import { typeError } from './validate.js';

/**
 * Makes destructuring `{ signal }` out of an `AbortSignal` that weft owns
 * and hands to a callback throw a TypeError that names the right shape
 * (`shape`, e.g. `(x, signal) => …`). Never called on a user's signal.
 */
export function guardSignal(signal: AbortSignal, op: string, shape: string): AbortSignal {
  Object.defineProperty(signal, 'signal', {
    configurable: true,
    get(): never {
      throw typeError(
        `${op}: the callback receives the AbortSignal itself, not an object holding it: write ${shape}`,
        'ERR_INVALID_ARG_VALUE',
      );
    },
  });
  return signal;
}

function misread(): never {
  throw typeError(
    'WorkerPool: the work function receives a JobContext { signal, worker }, not the AbortSignal: write (job, { signal }) => …',
    'ERR_INVALID_ARG_VALUE',
  );
}

/**
 * The prototype of the `JobContext` objects weft makes: reading them as if
 * they were the signal (`ctx.aborted`, `ctx.addEventListener(...)`)
 * throws a TypeError that names the right shape.
 */
export class JobContextBase {
  get aborted(): never {
    return misread();
  }
  get reason(): never {
    return misread();
  }
  get addEventListener(): never {
    return misread();
  }
  get throwIfAborted(): never {
    return misread();
  }
}
