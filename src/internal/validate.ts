/**
 * Argument checks shared by every public entry point. Each throws at once,
 * naming the operation, the argument and the value it got:
 * ``Semaphore.acquire: `weight` must be an integer from 1 to 10, got 12``.
 * The errors carry Node's codes: `ERR_INVALID_ARG_TYPE` on a `TypeError`,
 * `ERR_OUT_OF_RANGE` on a `RangeError`, and `ERR_INVALID_ARG_VALUE` on a
 * `TypeError` for a value of the right type that is not one of those allowed.
 */

/** Node's codes for argument errors. */
export type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

/** A `TypeError` with Node's `ERR_INVALID_ARG_TYPE` code (or the code given). */
export function typeError(message: string, code: ArgCode = 'ERR_INVALID_ARG_TYPE'): TypeError {
  const err = new TypeError(message);
  (err as { code?: string }).code = code;
  return err;
}

/** A `RangeError` with Node's `ERR_OUT_OF_RANGE` code. */
export function rangeError(message: string): RangeError {
  const err = new RangeError(message);
  (err as { code?: string }).code = 'ERR_OUT_OF_RANGE';
  return err;
}

/** Renders a value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  return String(value);
}

function fail(
  Kind: typeof TypeError | typeof RangeError,
  op: string,
  name: string,
  what: string,
  value: unknown,
): never {
  const message = `${op}: \`${name}\` must be ${what}, got ${show(value)}`;
  throw Kind === RangeError ? rangeError(message) : typeError(message);
}

/** An integer in [min, max] (max may be Infinity, which is then accepted too). */
export function checkInt(value: unknown, op: string, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') fail(TypeError, op, name, 'a number', value);
  if (value === Number.POSITIVE_INFINITY && max === Number.POSITIVE_INFINITY) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER || max === Number.POSITIVE_INFINITY
        ? `an integer >= ${min}`
        : `an integer from ${min} to ${max}`;
    fail(RangeError, op, name, range, value);
  }
  return value;
}

/** A duration in milliseconds: a number >= 0, not NaN. Infinity only if `allowInfinity`. */
export function checkMs(value: unknown, op: string, name = 'ms', allowInfinity = false): number {
  if (typeof value !== 'number') fail(TypeError, op, name, 'a number of milliseconds', value);
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    fail(
      RangeError,
      op,
      name,
      allowInfinity ? 'a number of milliseconds >= 0' : 'a finite number of milliseconds >= 0',
      value,
    );
  }
  return value;
}

/** A finite duration in milliseconds > 0 (a period, a window). */
export function checkPositiveMs(value: unknown, op: string, name = 'ms'): number {
  if (typeof value !== 'number') fail(TypeError, op, name, 'a number of milliseconds', value);
  if (!(value > 0) || !Number.isFinite(value)) fail(RangeError, op, name, 'a finite number of milliseconds > 0', value);
  return value;
}

/** A finite number >= min (a rate, a fraction...). */
export function checkNumber(value: unknown, op: string, name: string, min = 0, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number') fail(TypeError, op, name, 'a number', value);
  if (Number.isNaN(value) || value < min || value > max) {
    fail(
      RangeError,
      op,
      name,
      max === Number.POSITIVE_INFINITY ? `a number >= ${min}` : `a number from ${min} to ${max}`,
      value,
    );
  }
  return value;
}

/** A function. */
export function checkFn<F extends (...args: any[]) => unknown>(value: F, op: string, name: string): F {
  if (typeof value !== 'function') fail(TypeError, op, name, 'a function', value);
  return value;
}

/** An optional function. */
export function checkOptFn<F extends (...args: any[]) => unknown>(
  value: F | undefined,
  op: string,
  name: string,
): F | undefined {
  if (value !== undefined && typeof value !== 'function') fail(TypeError, op, name, 'a function', value);
  return value;
}

/** An options bag: undefined or an object. */
export function checkOpts<O extends object>(value: O | undefined, op: string, name = 'opts'): O | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object'))
    fail(TypeError, op, name, 'an object', value);
  return value;
}

/** A required options bag: an object. */
export function checkRequiredOpts<O extends object>(value: O | undefined, op: string, name = 'opts'): O {
  if (value === null || typeof value !== 'object') fail(TypeError, op, name, 'an object', value);
  return value;
}

/** A string. */
export function checkString(value: unknown, op: string, name: string): string {
  if (typeof value !== 'string') fail(TypeError, op, name, 'a string', value);
  return value;
}

/** A boolean, or `fallback` when undefined. */
export function checkBool(value: unknown, op: string, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(TypeError, op, name, 'a boolean', value);
  return value;
}

/** One of `allowed` (strings), or `fallback` when undefined. */
export function checkOneOf<S extends string>(
  value: unknown,
  op: string,
  name: string,
  allowed: readonly S[],
  fallback: S,
): S {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as S)) {
    const list = allowed.map((a) => `'${a}'`).join(', ');
    throw typeError(`${op}: \`${name}\` must be one of ${list}, got ${show(value)}`, 'ERR_INVALID_ARG_VALUE');
  }
  return value as S;
}
