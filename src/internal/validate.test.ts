import { describe, expect, it } from 'vitest';
import {
  checkBool,
  checkFn,
  checkInt,
  checkMs,
  checkNumber,
  checkOneOf,
  checkOptFn,
  checkOpts,
  checkString,
  show,
} from './validate.js';

// Argument errors carry Node's codes, as Node's own do.
const typeErr = (message: string) => Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
const rangeErr = (message: string) => Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });

describe('show', () => {
  it('renders values for error messages', () => {
    expect(show('a"b')).toBe('"a\\"b"');
    expect(show(3n)).toBe('3n');
    expect(show(function named() {})).toBe('function named');
    expect(show(() => {})).toBe('function (anonymous)');
    expect(show(null)).toBe('null');
    expect(show(undefined)).toBe('undefined');
    expect(show({})).toBe('an object');
    expect(show(Object.create(null))).toBe('an object');
    expect(show(new Map())).toBe('a Map');
    expect(show([])).toBe('an Array');
    expect(show(Number.NaN)).toBe('NaN');
    expect(show(Symbol('s'))).toBe('Symbol(s)');
  });
});

describe('checkInt', () => {
  it('returns integers in range and names op, argument and value otherwise', () => {
    expect(checkInt(3, 'Op', 'n')).toBe(3);
    expect(checkInt(0, 'Op', 'n')).toBe(0);
    expect(() => checkInt('3', 'Op', 'n')).toThrow(typeErr('Op: `n` must be a number, got "3"'));
    expect(() => checkInt(-1, 'Op', 'n')).toThrow(rangeErr('Op: `n` must be an integer >= 0, got -1'));
    expect(() => checkInt(12, 'Semaphore.acquire', 'weight', 1, 10)).toThrow(
      rangeErr('Semaphore.acquire: `weight` must be an integer from 1 to 10, got 12'),
    );
    expect(() => checkInt(1.5, 'Op', 'n')).toThrow(RangeError);
    expect(() => checkInt(Number.NaN, 'Op', 'n')).toThrow(RangeError);
  });

  it('accepts Infinity only when the maximum is Infinity', () => {
    expect(checkInt(Number.POSITIVE_INFINITY, 'Op', 'n', 1, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(() => checkInt(Number.POSITIVE_INFINITY, 'Op', 'n')).toThrow(RangeError);
    expect(() => checkInt(0, 'Op', 'n', 1, Number.POSITIVE_INFINITY)).toThrow(/an integer >= 1, got 0/);
  });
});

describe('checkMs', () => {
  it('accepts durations >= 0 and Infinity only when allowed', () => {
    expect(checkMs(0, 'Op')).toBe(0);
    expect(checkMs(1.5, 'Op')).toBe(1.5);
    expect(checkMs(Number.POSITIVE_INFINITY, 'Op', 'ms', true)).toBe(Number.POSITIVE_INFINITY);
    expect(() => checkMs(Number.POSITIVE_INFINITY, 'Op')).toThrow(
      rangeErr('Op: `ms` must be a finite number of milliseconds >= 0, got Infinity'),
    );
    expect(() => checkMs(-1, 'Op', 'delay', true)).toThrow(
      rangeErr('Op: `delay` must be a number of milliseconds >= 0, got -1'),
    );
    expect(() => checkMs(Number.NaN, 'Op')).toThrow(RangeError);
    expect(() => checkMs(null, 'Op')).toThrow(typeErr('Op: `ms` must be a number of milliseconds, got null'));
  });
});

describe('checkNumber', () => {
  it('accepts numbers in range, Infinity included when the maximum is', () => {
    expect(checkNumber(0.5, 'Op', 'rate')).toBe(0.5);
    expect(checkNumber(Number.POSITIVE_INFINITY, 'Op', 'rate')).toBe(Number.POSITIVE_INFINITY);
    expect(() => checkNumber(-0.1, 'Op', 'rate')).toThrow(rangeErr('Op: `rate` must be a number >= 0, got -0.1'));
    expect(() => checkNumber(2, 'Op', 'p', 0, 1)).toThrow(rangeErr('Op: `p` must be a number from 0 to 1, got 2'));
    expect(() => checkNumber(Number.NaN, 'Op', 'p')).toThrow(RangeError);
    expect(() => checkNumber(1n, 'Op', 'p')).toThrow(typeErr('Op: `p` must be a number, got 1n'));
  });
});

describe('checkFn, checkOptFn, checkOpts, checkString', () => {
  it('accept what they check and name what they refuse', () => {
    const f = () => 1;
    expect(checkFn(f, 'Op', 'fn')).toBe(f);
    expect(() => checkFn(1 as never, 'Op', 'fn')).toThrow(typeErr('Op: `fn` must be a function, got 1'));
    expect(checkOptFn(undefined, 'Op', 'fn')).toBeUndefined();
    expect(checkOptFn(f, 'Op', 'fn')).toBe(f);
    expect(() => checkOptFn(null as never, 'Op', 'fn')).toThrow(TypeError);
    const o = {};
    expect(checkOpts(o, 'Op')).toBe(o);
    expect(checkOpts(undefined, 'Op')).toBeUndefined();
    expect(() => checkOpts(null as never, 'Op')).toThrow(typeErr('Op: `opts` must be an object, got null'));
    expect(() => checkOpts(7 as never, 'Op', 'settings')).toThrow(/`settings` must be an object, got 7/);
    expect(checkString('k', 'Op', 'key')).toBe('k');
    expect(() => checkString(1, 'Op', 'key')).toThrow(typeErr('Op: `key` must be a string, got 1'));
  });
});

describe('checkBool, checkOneOf', () => {
  it('return the value or the default and refuse anything else with the code of its kind', () => {
    expect(checkBool(undefined, 'Op', 'ordered', true)).toBe(true);
    expect(checkBool(false, 'Op', 'ordered', true)).toBe(false);
    expect(() => checkBool('yes', 'Op', 'ordered', true)).toThrow(
      typeErr('Op: `ordered` must be a boolean, got "yes"'),
    );
    expect(checkOneOf(undefined, 'Op', 'jitter', ['full', 'none'], 'full')).toBe('full');
    expect(checkOneOf('none', 'Op', 'jitter', ['full', 'none'], 'full')).toBe('none');
    expect(() => checkOneOf('half', 'Op', 'jitter', ['full', 'none'], 'full')).toThrow(
      Object.assign(new TypeError("Op: `jitter` must be one of 'full', 'none', got \"half\""), {
        code: 'ERR_INVALID_ARG_VALUE',
      }),
    );
  });
});
