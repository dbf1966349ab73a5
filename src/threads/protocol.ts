/**
 * Package threads' wire protocol: the messages a `ThreadPool` and its
 * threads exchange, the states of the shared cancel slots, and the codec
 * that carries an error across a thread boundary with its name, message,
 * stack, code, cause and own properties (structured clone alone keeps
 * only the message, the stack and a standard name). Both sides import
 * this file: `pool.ts` on the main thread, `worker.ts` inside each thread.
 *
 * Every message is an array whose first element is its kind, so that a
 * batch of tasks is one flat array to clone, with no object per task.
 * - main -> thread, on the thread's `parentPort`:
 *   `[INIT, resultPort, slots, moduleUrl, controlPort]`, once, first;
 *   `[RUN, name, arg, name, arg, ...]`: tasks, numbered by the thread in
 *   order of arrival from 0 (their sequence numbers); each task's slot is
 *   `seq & SLOT_MASK`;
 * - main -> thread, on the control port: `[ABORT, seq, reason]`: abort the
 *   signal of the running task `seq` (posted, then its slot is marked
 *   `ABORTED`, so that a synchronous task that sees the mark finds the
 *   message already there).
 * - thread -> main, on the result port: `[status, value, micros]`, one
 *   message per task in sequence order (so a task's result is never held
 *   back behind another's: a thread that dies has sent every result it
 *   had), where `micros` is how long the task took; and `[READY]` or
 *   `[LOAD_FAILED, error]` once at startup.
 *
 * The slots are an `Int32Array` over a `SharedArrayBuffer`, one cell per
 * task in flight to the thread. The main thread writes `PENDING` before it
 * sends a task; the thread moves it to `STARTED` with a compare-and-swap
 * before it calls the task, and the main thread moves it to `CANCELLED`
 * with one when the task's caller aborts, or when it takes the task back
 * for another thread. Exactly one of the two wins, so the main thread
 * knows at once, without a round trip, whether a task sent ahead has
 * started; a cancelled task is skipped by the thread (`SKIPPED`). A started
 * task whose caller aborts is marked `ABORTED`, which its signal reads.
 */

/** Main -> thread: the first message, with the result port, the slots and the task module. */
export const INIT = 0;
/** Main -> thread: a batch of tasks. */
export const RUN = 1;
/** Main -> thread (on the control port): abort the running task. */
export const ABORT = 2;

/** Thread -> main: the task returned (or resolved) `value`. */
export const OK = 0;
/** Thread -> main: the task threw an `Error`, encoded by `encodeError`. */
export const ERROR = 1;
/** Thread -> main: the task threw something that is not an `Error`, cloned as it is. */
export const THROWN = 2;
/** Thread -> main: no exported function has the task's name; `value` lists those there are. */
export const NOT_FOUND = 3;
/** Thread -> main: the task's slot was `CANCELLED` before it started; it was not called. */
export const SKIPPED = 4;
/** Thread -> main: the module loaded; the thread takes tasks. */
export const READY = 5;
/** Thread -> main: the module failed to load; `value` is the encoded error. */
export const LOAD_FAILED = 6;

/** Slot state: sent to the thread, not started. */
export const PENDING = 1;
/** Slot state: the thread called the task. */
export const STARTED = 2;
/** Slot state: the main thread took the task back; the thread must not start it. */
export const CANCELLED = 3;
/** Slot state: the task started and its caller aborted: its signal must abort. */
export const ABORTED = 4;

/** Slots per thread: the most tasks a thread can have in flight (a power of two). */
export const SLOTS = 512;
export const SLOT_MASK = SLOTS - 1;

// Key of an encoded error: an object made by `encodeError`, not a user's.
const MARK = '__weftThreadError';
const WEFT_BRAND = Symbol.for('weft.error');
const MAX_DEPTH = 8;

/** An `Error` as it crosses a thread boundary. */
export interface EncodedError {
  [MARK]: 1;
  /** The constructor to rebuild it with: a standard one, `DOMException`, or `Error`. */
  kind: string;
  name: string;
  message: string;
  stack: string | undefined;
  /** Own properties (`code` among them), those that can be cloned. */
  props: Record<string, unknown>;
  /** Whether it had a `cause` (which may be `undefined`). */
  hasCause: boolean;
  cause?: unknown;
  /** An `AggregateError`'s errors. */
  errors?: unknown[];
  /** Whether it was a weft error (`isWeftError` knows it again). */
  weft: boolean;
}

const STANDARD: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

const SKIP = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function cloneable(value: unknown): boolean {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') return false;
  if (value === null || t !== 'object') return true;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function kindOf(err: Error): string {
  if (typeof DOMException !== 'undefined' && err instanceof DOMException) return 'DOMException';
  if (err instanceof AggregateError) return 'AggregateError';
  // The nearest standard constructor up the prototype chain.
  for (let p = Object.getPrototypeOf(err); p !== null; p = Object.getPrototypeOf(p)) {
    const name = p.constructor?.name;
    if (Object.hasOwn(STANDARD, name) && STANDARD[name]!.prototype === p) return name;
  }
  return 'Error';
}

/** Whether `value` is an `Error` (also one from another realm). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/** Encodes a value that may be, or hold, errors: errors become `EncodedError`s, anything else is left as it is. */
export function encodeValue(value: unknown, depth = 0, seen: Set<object> = new Set()): unknown {
  return isError(value) ? encodeError(value, depth, seen) : value;
}

/** Encodes `err` so that `decodeError` rebuilds it on the other side: see `EncodedError`. */
export function encodeError(err: Error, depth = 0, seen: Set<object> = new Set()): EncodedError {
  seen.add(err);
  const out: EncodedError = {
    [MARK]: 1,
    kind: kindOf(err),
    name: String(err.name),
    message: String(err.message),
    stack: typeof err.stack === 'string' ? err.stack : undefined,
    props: {},
    hasCause: 'cause' in err,
    weft: (err as unknown as Record<symbol, unknown>)[WEFT_BRAND] === true,
  };
  const inner = (v: unknown): unknown =>
    isError(v) && (seen.has(v) || depth >= MAX_DEPTH) ? undefined : encodeValue(v, depth + 1, seen);
  if (out.hasCause) {
    const c = inner(err.cause);
    out.cause = isError(c) || cloneable(c) ? c : String(c);
  }
  if (Array.isArray((err as AggregateError).errors)) {
    out.errors = (err as AggregateError).errors.map((e) => {
      const v = inner(e);
      return cloneable(v) ? v : String(v);
    });
  }
  const code = (err as { code?: unknown }).code;
  if (code !== undefined && out.kind !== 'DOMException' && cloneable(code)) out.props.code = code;
  for (const key of Object.keys(err)) {
    if (SKIP.has(key) || key === MARK) continue;
    const v = inner((err as unknown as Record<string, unknown>)[key]);
    if (cloneable(v)) out.props[key] = v;
  }
  return out;
}

/** Whether `value` was made by `encodeError`. */
export function isEncodedError(value: unknown): value is EncodedError {
  return value !== null && typeof value === 'object' && (value as Record<string, unknown>)[MARK] === 1;
}

/** Reverses `encodeValue`. */
export function decodeValue(value: unknown): unknown {
  return isEncodedError(value) ? decodeError(value) : value;
}

function define(target: object, key: PropertyKey, value: unknown): void {
  Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable: false });
}

/**
 * Rebuilds an error made by `encodeError`: of its standard class
 * (`TypeError`, ...), a `DOMException` or an `AggregateError` if it was
 * one, else an `Error`; with its original `name`, `message`, `stack`,
 * `cause` (rebuilt too) and own properties.
 */
export function decodeError(e: EncodedError): Error {
  let err: Error;
  if (e.kind === 'DOMException' && typeof DOMException !== 'undefined') err = new DOMException(e.message, e.name);
  else if (e.kind === 'AggregateError') err = new AggregateError((e.errors ?? []).map(decodeValue), e.message);
  else err = new (STANDARD[e.kind] ?? Error)(e.message);
  if (err.name !== e.name) define(err, 'name', e.name);
  if (e.stack !== undefined) define(err, 'stack', e.stack);
  if (e.hasCause) define(err, 'cause', decodeValue(e.cause));
  for (const key of Object.keys(e.props)) (err as unknown as Record<string, unknown>)[key] = decodeValue(e.props[key]);
  if (e.weft) Object.defineProperty(err, WEFT_BRAND, { value: true });
  return err;
}
