/**
 * Helpers for the weft/node tests: servers on loopback, clients that say
 * exactly what they got, and child processes that are always stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A self-signed certificate for localhost and 127.0.0.1, for tests only. */
export const tlsOptions = {
  key: readFileSync(`${fixtures}localhost-key.pem`),
  cert: readFileSync(`${fixtures}localhost-cert.pem`),
};

/** Listens on an ephemeral loopback port; resolves with it. */
export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Resolves once `server` has emitted `event` `n` times from now. */
export function events(server: net.Server, event: string, n = 1): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    const on = (): void => {
      if (--left === 0) {
        server.off(event, on);
        resolve();
      }
    };
    server.on(event, on);
  });
}

/** What a client got for one request: a full response, or the error that ended it. */
export type Outcome =
  | { ok: true; status: number; body: string; connection: string | undefined; socket: net.Socket }
  | { ok: false; code: string };

/** One GET with `http.request`, settled as an Outcome (never rejects). */
export function get(port: number, path: string, agent: http.Agent | false, timeoutMs = 10_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      // Read now: a response that has ended is detached from its socket.
      const socket = res.socket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const header = res.headers.connection;
        resolve({ ok: true, status: res.statusCode!, body, connection: header, socket });
      });
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message }));
    req.end();
  });
}

/** A child process of a fixture, with its output as lines, stopped by `stop()` whatever happened. */
export interface Child {
  readonly proc: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line matching `re` (now or later). */
  line(re: RegExp): Promise<string>;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Kills the process (SIGKILL) if it is still running. */
  stop(): void;
}

/** Starts `node --import tsx test/node/fixtures/<name> ...args`. */
export function fixture(name: string, args: string[] = []): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', `test/node/fixtures/${name}`, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiting: { re: RegExp; resolve: (line: string) => void }[] = [];
  let partial = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i]!.re.test(line)) waiting.splice(i, 1)[0]!.resolve(line);
      }
    }
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    proc,
    lines,
    exited,
    line(re) {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiting.push({ re, resolve });
        exited.then((code) =>
          setImmediate(() =>
            reject(new Error(`exited (${code}) before a line matched ${re}:\n${lines.join('\n')}\n${stderr}`)),
          ),
        );
      });
    },
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
