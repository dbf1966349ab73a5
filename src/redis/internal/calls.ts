/**
 * Calls to Redis that reject when Redis does not serve them, for what has
 * no failure policy to decide by (a queue's and a pub/sub's commands): a
 * script (EVALSHA, reloaded on NOSCRIPT) or a plain command, each bounded
 * by the caller's `timeoutMs` through the same `Watch` as the other
 * primitives' calls, rejecting with `RedisUnavailableError` (its `cause`
 * the reply error or the connection's) when there is no answer in time or
 * an error. A late answer is ignored.
 */
import { systemClock } from '../../clock.js';
import type { Conn } from './client.js';
import { Call, type Caller, run, type Script, Watch } from './scripts.js';

/** Turns a reply into a result; may throw (the call then rejects). */
export type Parse<R> = (reply: unknown) => R;

const asIs: Parse<unknown> = (reply) => reply;

/** The calls of one primitive, on one connection, under one timeout. */
export class Calls {
  readonly conn: Conn;
  readonly #caller: Caller<unknown>;

  constructor(conn: Conn, timeoutMs: number, op: string) {
    this.conn = conn;
    this.#caller = {
      conn,
      watch: new Watch(timeoutMs, op),
      // The parser of each call rides in its `data`.
      reply: (reply, call) => (call.data as Parse<unknown>)(reply),
      fail: (err) => {
        throw err;
      },
    };
  }

  /** Runs `script` on `keys` (routed by the first) with `args`; resolves with `parse` of the reply. */
  script<R>(script: Script, keys: readonly string[], args: readonly string[], parse?: Parse<R>): Promise<R> {
    const argv = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args];
    return run(this.#caller, script, argv, keys[0]!, 0, parse ?? asIs, false) as Promise<R>;
  }

  /** Sends `argv` (routed by `key` on a cluster); resolves with `parse` of the reply. */
  command<R>(key: string, argv: string[], parse?: Parse<R>): Promise<R> {
    const call = new Call<unknown>(this.#caller, 0, parse ?? asIs);
    const promise = new Promise<unknown>((resolve) => {
      call.resolve = resolve;
    });
    this.#caller.watch.add(call, systemClock.now());
    let sent: Promise<unknown>;
    try {
      sent = this.conn.send(key, argv);
    } catch (err) {
      call.error(err, false);
      return promise as Promise<R>;
    }
    sent.then(
      (reply) => call.ok(reply),
      (err) => call.error(err, false),
    );
    return promise as Promise<R>;
  }
}

/** The elements of an array reply (an empty array for anything else). */
export function list(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : [];
}

/** The text of an error, for a dead letter or a message. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message}`;
  }
  try {
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}
