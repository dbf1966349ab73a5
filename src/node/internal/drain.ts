/**
 * The server side of `Shutdown.addServer`: from the moment a server is
 * added, its connections, HTTP/1 requests and HTTP/2 sessions are tracked,
 * so that a drain can stop accepting, close what is idle at once, tell the
 * busy connections to close after their current request, and destroy what
 * is still open when the hook's time is up.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { ServerHttp2Session } from 'node:http2';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../../clock.js';
import { listen, unlisten } from '../../internal/abort.js';
import { startTimer, stopTimer } from '../../internal/timer.js';

/** What a server speaks, as far as draining it goes. */
export type ServerKind = 'http' | 'https' | 'http2' | 'tls' | 'net';

/** The kind of `server`: HTTP/2 (plain or secure), HTTPS, HTTP, another TLS server, or a bare net.Server. */
export function kindOf(server: net.Server): ServerKind {
  // Http2Server and Http2SecureServer are not exported; `updateSettings` is
  // their documented method and no other server has it.
  if (typeof (server as { updateSettings?: unknown }).updateSettings === 'function') return 'http2';
  if (server instanceof https.Server) return 'https';
  if (server instanceof http.Server) return 'http';
  if (server instanceof tls.Server) return 'tls';
  return 'net';
}

const NGHTTP2_NO_ERROR = 0;
// The first GOAWAY of a graceful HTTP/2 shutdown names the largest stream
// id (RFC 9113, section 6.8): "stop opening streams", while streams already
// on their way are still served.
const MAX_STREAM_ID = 2 ** 31 - 1;

/** One HTTP/1 connection: the socket requests arrive on (the TLS socket on HTTPS). */
interface Conn {
  readonly socket: Socket;
  /** Requests whose response has not closed yet. */
  inflight: number;
  /** Requests seen on this connection. */
  served: number;
  /** `socket.bytesRead` when the connection last had nothing in flight: more means a request is arriving. */
  mark: number;
  closing: boolean;
}

const TRACKING = 0; // counting connections, nothing asked of them
const DRAINING = 1; // stopped accepting; closing connections as they become idle
const DONE = 2; // drained, or destroyed when time ran out; listeners removed

function destroyThis(this: Socket): void {
  this.destroy();
}

// Half-closes, then destroys once what was written is flushed to the
// kernel, as Node does after a `Connection: close` response: the response
// reaches the client, and a socket whose client never answers the FIN is
// not kept open.
function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writable) socket.end();
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', destroyThis);
}

/**
 * Tracks one server from construction; `drain(signal, budgetMs)` runs the
 * shutdown and resolves once every connection it knows of has closed, or
 * when `signal` aborts, after destroying them.
 */
export class ServerDrain implements EventListenerObject {
  readonly kind: ServerKind;
  readonly #server: net.Server;
  readonly #clock: Clock;
  #state = TRACKING;
  /** Every socket accepted since tracking started (the TCP socket, under TLS too). */
  readonly #raw = new Set<Socket>();
  /** HTTP/1 connections, by the socket their requests arrive on. */
  readonly #conns = new Map<Socket, Conn>();
  /** In-flight HTTP/1 responses, with their connection. */
  readonly #responses = new Map<ServerResponse, Conn>();
  readonly #sessions = new Set<ServerHttp2Session>();
  /** False from `close()` on a listening server until its callback: it runs once every connection has ended. */
  #serverClosed = true;
  /** How long a connection that has sent nothing yet is given, once draining. */
  #graceMs: number;
  #graceTimer: unknown = undefined;
  #graceOver = false;
  #signal: AbortSignal | undefined = undefined;
  #resolve: (() => void) | undefined = undefined;

  constructor(server: net.Server, clock: Clock, graceMs: number) {
    this.#server = server;
    this.#clock = clock;
    this.#graceMs = graceMs;
    this.kind = kindOf(server);
    server.on('connection', this.#onConnection);
    if (this.kind === 'https' || this.kind === 'http2') server.on('secureConnection', this.#onSecureConnection);
    if (this.kind === 'http' || this.kind === 'https') server.prependListener('request', this.#onRequest);
    if (this.kind === 'http2') {
      server.on('session', this.#onSession);
      // A 'request' listener switches an HTTP/2 server to its compatibility
      // API for every stream; add ours only once the application has one
      // (it needs one for HTTP/1 fallback with `allowHTTP1` anyway).
      if (server.listenerCount('request') > 0) server.prependListener('request', this.#onRequest);
      else server.on('newListener', this.#onNewListener);
    }
  }

  /**
   * Stops accepting and drains; resolves when nothing is left open, or when
   * `signal` aborts (the hook's time is up), after destroying what is left.
   */
  drain(signal: AbortSignal, budgetMs: number): Promise<void> {
    if (this.#state !== TRACKING) return Promise.resolve();
    this.#state = DRAINING;
    const promise = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    const server = this.#server;
    if (server.listening) {
      this.#serverClosed = false;
      // net.Server's own close, not http.Server's: that one first destroys
      // every connection without a request in progress, including those
      // accepted a moment ago whose first request is still on its way. The
      // grace period below handles those instead.
      net.Server.prototype.close.call(server, this.#onServerClose);
    }
    for (const res of this.#responses.keys()) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
    for (const conn of this.#conns.values()) this.#settle(conn);
    for (const session of this.#sessions) this.#goaway(session);
    // Half the hook's time at most, so that a connection that never sends
    // anything is closed while the hook still has time to finish cleanly.
    this.#graceMs = Math.min(this.#graceMs, budgetMs / 2);
    this.#graceTimer = startTimer(this.#clock, this.#onGraceOver, this.#graceMs, 'Shutdown.addServer');
    this.#signal = signal;
    listen(signal, this, 'Shutdown.addServer');
    this.#check();
    return promise;
  }

  /** Stops tracking without draining (the shutdown ended without running this hook). */
  release(): void {
    if (this.#state === TRACKING) this.#finish();
  }

  /** The hook's time is up: destroy what is still open. */
  handleEvent(): void {
    if (this.#state !== DRAINING) return;
    for (const conn of this.#conns.values()) conn.socket.destroy();
    for (const socket of this.#raw) socket.destroy();
    for (const session of this.#sessions) session.destroy();
    // Connections accepted before addServer are known only to the server.
    (this.#server as Partial<http.Server>).closeAllConnections?.();
    this.#finish();
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#raw.add(socket);
    socket.on('close', this.#onRawClose);
    if (this.kind === 'http') this.#track(socket);
  };

  readonly #onSecureConnection = (socket: tls.TLSSocket): void => {
    // On an HTTP/2 server only connections that fell back to HTTP/1 are
    // tracked here; HTTP/2 ones are their session's.
    if (this.kind === 'http2' && socket.alpnProtocol === 'h2') return;
    this.#track(socket);
    // A TLS handshake that completed during the drain: its first request is
    // about to come; give it a grace period of its own.
    if (this.#state === DRAINING) this.#restartGrace();
  };

  readonly #onNewListener = (event: string | symbol): void => {
    if (event !== 'request') return;
    this.#server.off('newListener', this.#onNewListener);
    this.#server.prependListener('request', this.#onRequest);
  };

  // 'close' listeners are called with the socket (or session) as `this`: one
  // handler per drain serves them all, with no closure per connection.
  readonly #onRawClose = ((drain: ServerDrain) =>
    function (this: Socket): void {
      drain.#raw.delete(this);
      drain.#check();
    })(this);

  readonly #onConnClose = ((drain: ServerDrain) =>
    function (this: Socket): void {
      drain.#conns.delete(this);
      drain.#check();
    })(this);

  #track(socket: Socket): Conn {
    const conn: Conn = { socket, inflight: 0, served: 0, mark: socket.bytesRead, closing: false };
    this.#conns.set(socket, conn);
    socket.on('close', this.#onConnClose);
    return conn;
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.httpVersionMajor === 2) return; // an HTTP/2 stream: its session is drained as a whole
    const socket = req.socket;
    // A connection accepted before addServer is seen from its next request on.
    const conn = this.#conns.get(socket) ?? this.#track(socket);
    conn.inflight++;
    conn.served++;
    this.#responses.set(res, conn);
    res.on('close', this.#onResponseClose);
    // This listener runs before the application's, so no header is sent yet.
    if (this.#state === DRAINING) res.setHeader('Connection', 'close');
  };

  readonly #onResponseClose = ((drain: ServerDrain) =>
    function (this: ServerResponse): void {
      drain.#responseClosed(this);
    })(this);

  #responseClosed(res: ServerResponse): void {
    const conn = this.#responses.get(res);
    if (conn === undefined) return;
    this.#responses.delete(res);
    if (--conn.inflight !== 0) return;
    conn.mark = conn.socket.bytesRead;
    if (this.#state === DRAINING) this.#settle(conn);
  }

  // Closes an HTTP/1 connection that has nothing in flight and no request
  // arriving; one that has never sent a request is given the grace period.
  #settle(conn: Conn): void {
    if (conn.closing || conn.inflight !== 0 || conn.socket.bytesRead !== conn.mark) return;
    if (conn.served === 0 && !this.#graceOver) return;
    conn.closing = true;
    endSocket(conn.socket);
  }

  readonly #onSession = (session: ServerHttp2Session): void => {
    this.#sessions.add(session);
    session.on('close', this.#onSessionClose);
    if (this.#state === DRAINING) this.#goaway(session);
  };

  readonly #onSessionClose = ((drain: ServerDrain) =>
    function (this: ServerHttp2Session): void {
      drain.#sessions.delete(this);
      drain.#check();
    })(this);

  // The two-step GOAWAY: the first tells the client to open no more streams,
  // a PING round trip lets the streams it opened meanwhile arrive, and
  // close() then sends the final GOAWAY (the last stream served) and ends the
  // session once its open streams are done.
  #goaway(session: ServerHttp2Session): void {
    if (session.closed || session.destroyed) return;
    const close = (): void => {
      if (!session.closed && !session.destroyed) session.close();
    };
    try {
      session.goaway(NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      if (!session.ping(close)) close();
    } catch {
      close();
    }
  }

  readonly #onGraceOver = (): void => {
    this.#graceTimer = undefined;
    this.#graceOver = true;
    for (const conn of this.#conns.values()) this.#settle(conn);
    for (const session of this.#sessions) if (!session.closed) session.close();
    // Idle connections accepted before addServer; Node's own rule matches
    // ours (no request in progress, none arriving).
    (this.#server as Partial<http.Server>).closeIdleConnections?.();
  };

  #restartGrace(): void {
    if (this.#graceTimer !== undefined) return;
    this.#graceOver = false;
    this.#graceTimer = startTimer(this.#clock, this.#onGraceOver, this.#graceMs, 'Shutdown.addServer');
  }

  readonly #onServerClose = (): void => {
    this.#serverClosed = true;
    this.#check();
  };

  #check(): void {
    if (this.#state !== DRAINING || !this.#serverClosed) return;
    if (this.#raw.size !== 0 || this.#conns.size !== 0 || this.#sessions.size !== 0) return;
    this.#finish();
  }

  #finish(): void {
    this.#state = DONE;
    if (this.#graceTimer !== undefined) stopTimer(this.#clock, this.#graceTimer);
    this.#graceTimer = undefined;
    if (this.#signal !== undefined) unlisten(this.#signal, this);
    const server = this.#server;
    server.off('connection', this.#onConnection);
    server.off('secureConnection', this.#onSecureConnection);
    server.off('request', this.#onRequest);
    server.off('session', this.#onSession);
    server.off('newListener', this.#onNewListener);
    // Node's HTTP server also keeps an unref'd timer that checks request
    // timeouts; only http.Server's close() clears it, and calling that again
    // would emit 'close' a second time. It holds nothing open.
    this.#resolve?.();
  }
}
