/**
 * A connection of its own for blocking reads (`XREADGROUP ... BLOCK`),
 * duplicated from the client given, which a blocked command would hold up
 * for everything else. It is opened on the first read and reconnects as
 * its client does (the duplicate takes the client's options). A read that
 * gets no answer `ms` after it was sent (BLOCK plus the call timeout) takes
 * the connection for broken: it is dropped, the read rejects, and the next
 * read opens a new one. `close()` drops it at once; a read in flight then
 * rejects.
 */
import { systemClock } from '../../clock.js';
import { startTimer, stopTimer } from '../../internal/timer.js';
import { RedisUnavailableError } from '../client.js';
import { Conn } from './client.js';

/** Closes a connection of either client, ignoring one already closed. */
export function drop(client: any, kind: Conn['kind']): void {
  try {
    if (kind === 'io' || kind === 'io-cluster') client.disconnect();
    else client.destroy();
  } catch {
    // Already closed.
  }
}

/** Opens a duplicate of `conn`'s client: connected (node-redis) or connecting (ioredis). */
export async function duplicate(conn: Conn): Promise<Conn> {
  const dup = conn.client.duplicate();
  // A connection error on this internal connection must not crash the process.
  dup.on('error', () => {});
  if (conn.kind === 'node' || conn.kind === 'node-cluster') {
    try {
      await dup.connect();
    } catch (err) {
      drop(dup, conn.kind);
      throw err;
    }
  }
  return new Conn(dup, conn.kind);
}

export class BlockingReader {
  readonly #conn: Conn;
  readonly #op: string;
  #dup: Promise<Conn> | null = null;
  #closed = false;
  /** The reads in flight, to end at `close()`. */
  readonly #reads = new Set<(ok: boolean, value: unknown) => void>();

  constructor(conn: Conn, op: string) {
    this.#conn = conn;
    this.#op = op;
  }

  /** Sends `argv` (routed by `key`) on the blocking connection; rejects after `ms` without an answer. */
  read(key: string, argv: string[], ms: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RedisUnavailableError(`${this.#op}: the reader is closed`));
    const opening = (this.#dup ??= duplicate(this.#conn));
    opening.catch(() => {
      if (this.#dup === opening) this.#dup = null;
    });
    return new Promise<unknown>((resolve, reject) => {
      let timer: unknown;
      const done = (ok: boolean, value: unknown): void => {
        if (timer === undefined) return;
        stopTimer(systemClock, timer);
        timer = undefined;
        this.#reads.delete(done);
        if (ok) resolve(value);
        else reject(value);
      };
      timer = startTimer(
        systemClock,
        () => {
          this.#reset(opening);
          done(false, new RedisUnavailableError(`${this.#op}: a blocking read got no answer within ${ms} ms`));
        },
        ms,
        this.#op,
      );
      this.#reads.add(done);
      opening.then(
        (dup) => {
          if (timer === undefined) return;
          let sent: Promise<unknown>;
          try {
            sent = dup.send(key, argv);
          } catch (err) {
            done(false, err);
            return;
          }
          sent.then(
            (reply) => done(true, reply),
            (err) => done(false, new RedisUnavailableError(`${this.#op}: a blocking read failed`, { cause: err })),
          );
        },
        (err) => done(false, new RedisUnavailableError(`${this.#op}: could not open a connection`, { cause: err })),
      );
    });
  }

  /** Drops the connection `opening` made, if it is still the current one. */
  #reset(opening: Promise<Conn>): void {
    if (this.#dup !== opening) return;
    this.#dup = null;
    opening.then(
      (dup) => drop(dup.client, dup.kind),
      () => {},
    );
  }

  /** Drops the connection for good: a read in flight rejects, later reads reject at once. */
  close(): void {
    this.#closed = true;
    if (this.#dup !== null) this.#reset(this.#dup);
    const closed = new RedisUnavailableError(`${this.#op}: the reader is closed`);
    for (const done of [...this.#reads]) done(false, closed);
  }
}
