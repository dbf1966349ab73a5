/**
 * The service's side of the downstream: `startDownstream` forks the flaky
 * HTTP service (`downstream.ts`) and waits until it listens;
 * `DownstreamClient` makes calls to it over keep-alive connections, each
 * call abortable by its signal, and turns every way a call can fail into
 * an error with a `code`, so the summary can count failures by kind.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { DownstreamConfig, DownstreamMessage, DownstreamStats } from './protocol.js';

/** The downstream answered with a status other than 2xx. */
export class HttpStatusError extends Error {
  readonly code: string;
  constructor(readonly status: number) {
    super(`downstream answered HTTP ${status}`);
    this.name = 'HttpStatusError';
    this.code = `HTTP_${status}`;
  }
}

/** Calls to the downstream on `port`, over at most `maxSockets` keep-alive connections. */
export class DownstreamClient {
  readonly #agent: http.Agent;
  readonly port: number;

  constructor(port: number, maxSockets: number) {
    this.port = port;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
  }

  /** `GET path` or `POST path` with `body`; resolves with the parsed JSON answer, rejects with the signal's reason on abort. */
  call<R>(
    method: 'GET' | 'POST',
    path: string,
    opts: { body?: string; headers?: http.OutgoingHttpHeaders; signal: AbortSignal },
  ): Promise<R> {
    const { body, headers, signal } = opts;
    return new Promise<R>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: this.port, method, path, agent: this.#agent, headers, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(signal.aborted ? signal.reason : err));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) reject(new HttpStatusError(status));
            else resolve(JSON.parse(Buffer.concat(chunks).toString()) as R);
          });
        },
      );
      // An abort surfaces as Node's AbortError; the caller wants the signal's reason (a timeout, a shutdown).
      req.on('error', (err) => reject(signal.aborted ? signal.reason : err));
      req.end(body);
    });
  }

  /** Closes the connections. */
  close(): void {
    this.#agent.destroy();
  }
}

/** Events of the downstream process, for the live view. */
export interface DownstreamEvents {
  down?: (at: number) => void;
  up?: (at: number) => void;
}

/** The running downstream process. */
export class Downstream {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly port: number;
  /** The latest counters the downstream sent (a few times a second, and when it stops). */
  stats: DownstreamStats | undefined;

  constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    // 'close', not 'exit': it comes after the IPC channel has delivered the last counters.
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** Asks the downstream to stop, waits for its last counters and its exit; SIGKILL if it has not gone within `ms`. */
  async stop(ms = 500): Promise<DownstreamStats | undefined> {
    if (this.#child.connected) this.#child.send({ type: 'stop' });
    else this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), ms);
    await this.#exited;
    clearTimeout(timer);
    return this.stats;
  }
}

/** Forks the flaky downstream on a free loopback port and resolves once it listens. */
export function startDownstream(config: DownstreamConfig, events: DownstreamEvents): Promise<Downstream> {
  const child = fork(fileURLToPath(new URL('./downstream.ts', import.meta.url)), [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let downstream: Downstream | undefined;
    child.on('message', (message: DownstreamMessage) => {
      switch (message.type) {
        case 'ready':
          downstream = new Downstream(child, message.port);
          resolve(downstream);
          break;
        case 'stats':
          if (downstream) downstream.stats = message.stats;
          break;
        case 'down':
          events.down?.(message.at);
          break;
        case 'up':
          events.up?.(message.at);
          break;
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!downstream) reject(new Error(`the downstream exited before it listened (code ${code}, signal ${signal})`));
    });
  });
}
