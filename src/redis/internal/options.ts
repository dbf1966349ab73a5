/**
 * Checks of the options every weft/redis primitive shares (`RedisOptions`),
 * with the errors `validate.ts` makes.
 */
import { AsyncResource } from 'node:async_hooks';
import {
  checkInt,
  checkOneOf,
  checkOptFn,
  checkRequiredOpts,
  checkString,
  show,
  typeError,
} from '../../internal/validate.js';
import type { RedisErrorPolicy, RedisOptions, RedisUnavailableError } from '../client.js';
import { type Conn, connOf } from './client.js';

const POLICIES: readonly RedisErrorPolicy[] = ['fail-open', 'fail-closed', 'local'];

/** The checked common options. */
export interface Common {
  conn: Conn;
  prefix: string;
  policy: RedisErrorPolicy;
  timeoutMs: number;
  onFallback: ((err: RedisUnavailableError) => void) | undefined;
}

/** Checks `opts` (required) and its common fields; `policy` is the primitive's default. */
export function checkCommon(opts: RedisOptions, op: string, policy: RedisErrorPolicy): Common {
  checkRequiredOpts(opts, op);
  const conn = connOf(opts.redis, op);
  // Called later, from a reply or a timer: in the async context the primitive was made in.
  const fallback = checkOptFn(opts.onFallback, op, 'onFallback');
  const prefix = opts.prefix === undefined ? 'weft' : checkName(opts.prefix, op, 'prefix');
  return {
    conn,
    prefix,
    policy: checkOneOf(opts.onRedisError, op, 'onRedisError', POLICIES, policy),
    timeoutMs: opts.timeoutMs === undefined ? 1000 : checkInt(opts.timeoutMs, op, 'timeoutMs', 1, 2_147_483_647),
    onFallback: fallback === undefined ? undefined : AsyncResource.bind(fallback),
  };
}

/** A non-empty string: a prefix, a key, a name. */
export function checkName(value: unknown, op: string, name: string): string {
  checkString(value, op, name);
  if (value === '')
    throw typeError(`${op}: \`${name}\` must be a non-empty string, got ${show(value)}`, 'ERR_INVALID_ARG_VALUE');
  return value as string;
}
