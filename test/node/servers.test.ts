/**
 * Shutdown.addServer against real servers and real clients over loopback,
 * in this process (`exit: false`): Node's http.Agent and fetch (undici) with
 * keep-alive, raw TCP for the grace period, HTTPS, and HTTP/2 for GOAWAY.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Shutdown, type ShutdownOptions } from 'weftjs/node';
import { trackLeaks } from 'weftjs/testing';
import { events, get, listen, tlsOptions } from './support.js';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

function make(opts: ShutdownOptions = {}): { shutdown: Shutdown; lines: string[] } {
  const lines: string[] = [];
  const shutdown = new Shutdown({ signals: [], exit: false, log: (l) => lines.push(l), ...opts });
  return { shutdown, lines };
}

/** An HTTP server whose `/slow?ms=N` answers after N ms, `/hang` never, and anything else at once. */
function app(): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/hang') return;
    const ms = Number(url.searchParams.get('ms') ?? 0);
    setTimeout(() => res.end(`done ${url.pathname}${url.search}`), ms);
  };
}

function serve<S extends net.Server>(server: S): S {
  cleanup.push(() => {
    (server as unknown as Partial<http.Server>).closeAllConnections?.();
    server.close();
  });
  return server;
}

function agent(opts: http.AgentOptions = {}): http.Agent {
  const a = new http.Agent({ keepAlive: true, ...opts });
  cleanup.push(() => a.destroy());
  return a;
}

/** Resolves when `socket` has closed. */
function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('addServer with HTTP/1.1', () => {
  it('closes an idle keep-alive socket at once, answers the in-flight request with Connection: close, then refuses', async () => {
    using leaks = trackLeaks();
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const a = agent({ maxSockets: 2 });
    // Two at once, so that the agent keeps two sockets: one for the slow request, one idle.
    const warm = await Promise.all([get(port, '/a', a), get(port, '/b', a)]);
    expect(warm.map((w) => w.ok && w.connection)).toEqual(['keep-alive', 'keep-alive']);
    const requested = events(server, 'request');
    const slow = get(port, '/slow?ms=300', a);
    // Only once the server has the request: before, the socket carrying it looks idle.
    await requested;
    const idle = Object.values(a.freeSockets).flat()[0]!;
    expect(idle.destroyed).toBe(false);
    const idleClosed = closed(idle).then(() => 'idle closed');
    const report = shutdown.shutdown();
    const order = await Promise.race([idleClosed, slow.then(() => 'slow answered')]);
    expect(order).toBe('idle closed');
    const got = await slow;
    expect(got).toMatchObject({ ok: true, status: 200, body: 'done /slow?ms=300', connection: 'close' });
    const r = await report;
    expect(r.hooks).toEqual([{ name: 'http server', phase: 0, durationMs: expect.any(Number), outcome: 'ok' }]);
    expect(server.listening).toBe(false);
    expect(await get(port, '/after', a)).toEqual({ ok: false, code: 'ECONNREFUSED' });
    expect(leaks.check()).toEqual(clean);
  });

  it('fetch with keep-alive: every in-flight request completes, and undici does not reuse the socket', async () => {
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/warm`)).text()).toBe('done /warm');
    const requests = events(server, 'request', 3);
    const inFlight = [100, 200, 300].map((ms) => fetch(`${base}/slow?ms=${ms}`));
    await requests;
    const report = shutdown.shutdown();
    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.headers.get('connection'))).toEqual(['close', 'close', 'close']);
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual([
      'done /slow?ms=100',
      'done /slow?ms=200',
      'done /slow?ms=300',
    ]);
    expect((await report).ok).toBe(true);
    await expect(fetch(`${base}/after`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });

  it('a response whose headers went out before the shutdown is finished, then its connection is closed', async () => {
    let finish!: () => void;
    const server = serve(
      http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('head ');
        finish = () => res.end('tail');
      }),
    );
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const a = agent();
    const requested = events(server, 'request');
    const got = get(port, '/stream', a);
    await requested;
    const report = shutdown.shutdown();
    await new Promise((r) => setTimeout(r, 50));
    finish();
    const outcome = await got;
    expect(outcome).toMatchObject({ ok: true, body: 'head tail', connection: 'keep-alive' });
    await closed((outcome as { socket: net.Socket }).socket);
    expect((await report).ok).toBe(true);
  });

  it('a connection whose first request is still on its way when the drain starts is served, not reset', async () => {
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server, { graceMs: 2_000 });
    const port = await listen(server);
    const accepted = events(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    await accepted;
    const report = shutdown.shutdown();
    await new Promise((r) => setTimeout(r, 100));
    let response = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (response += chunk));
    socket.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(socket);
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).toMatch(/\r\nConnection: close\r\n/i);
    expect(response).toMatch(/done \/late$/);
    expect((await report).ok).toBe(true);
  });

  it('a connection that never sends a request is closed when the grace period ends', async () => {
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server, { graceMs: 150 });
    const port = await listen(server);
    const accepted = events(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    socket.on('error', () => {});
    await accepted;
    const started = Date.now();
    const report = await shutdown.shutdown();
    await closed(socket);
    expect(report.hooks[0]!.outcome).toBe('ok');
    // Generous bounds: the grace period is what this test is about.
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(report.hooks[0]!.durationMs).toBeLessThan(5_000);
  });

  it('the grace period is at most half of the hook’s time, so a silent connection does not make it time out', async () => {
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server, { graceMs: 60_000, timeoutMs: 400 });
    const port = await listen(server);
    const accepted = events(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    socket.on('error', () => {});
    await accepted;
    const report = await shutdown.shutdown();
    expect(report.hooks[0]!.outcome).toBe('ok');
  });

  it('when the hook’s time is up, what is still open is destroyed and the hook is a timeout', async () => {
    using leaks = trackLeaks();
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server, { timeoutMs: 200 });
    const next: string[] = [];
    shutdown.add('next', () => void next.push('ran'), { phase: 1 });
    const port = await listen(server);
    const requested = events(server, 'request');
    const hung = get(port, '/hang', agent());
    await requested;
    const report = await shutdown.shutdown();
    expect(report.hooks.map((h) => h.outcome)).toEqual(['timeout', 'ok']);
    expect(next).toEqual(['ran']);
    const outcome = await hung;
    expect(outcome.ok).toBe(false);
    expect(['ECONNRESET', 'socket hang up']).toContain((outcome as { code: string }).code);
    const count = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    expect(count).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('a connection accepted before addServer is closed too, once idle', async () => {
    const server = serve(http.createServer(app()));
    const port = await listen(server);
    const a = agent();
    const before = await get(port, '/before', a);
    expect(before.ok).toBe(true);
    const { shutdown } = make();
    shutdown.addServer(server, { graceMs: 100 });
    const report = await shutdown.shutdown();
    expect(report.hooks[0]!.outcome).toBe('ok');
    await closed((before as { socket: net.Socket }).socket);
  });

  it('a connection accepted before addServer is tracked from its next request on', async () => {
    const server = serve(http.createServer(app()));
    const port = await listen(server);
    const a = agent({ maxSockets: 1 });
    expect((await get(port, '/before', a)).ok).toBe(true);
    const { shutdown } = make();
    shutdown.addServer(server, { graceMs: 5_000 });
    const requested = events(server, 'request');
    const slow = get(port, '/slow?ms=200', a);
    await requested;
    const report = shutdown.shutdown();
    expect(await slow).toMatchObject({ ok: true, connection: 'close' });
    // Closed after its response, not at the end of the 5 s grace period.
    expect((await report).hooks[0]!.durationMs).toBeLessThan(2_000);
  });

  it('a server that was never listening, or was closed already, ends ok at once', async () => {
    const { shutdown } = make();
    const never = http.createServer();
    const closedBefore = serve(http.createServer());
    await listen(closedBefore);
    await new Promise((r) => closedBefore.close(r));
    const closeEvents: number[] = [];
    closedBefore.on('close', () => closeEvents.push(1));
    shutdown.addServer(never);
    shutdown.addServer(closedBefore);
    const report = await shutdown.shutdown();
    expect(report.hooks.map((h) => `${h.name} ${h.outcome}`)).toEqual(['http server ok', 'http server 2 ok']);
    expect(closeEvents).toEqual([]);
  });

  it('a server the application closed with a connection still open is drained all the same', async () => {
    const server = serve(http.createServer(app()));
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const a = agent();
    const requested = events(server, 'request');
    const slow = get(port, '/slow?ms=150', a);
    await requested;
    server.close();
    const report = await shutdown.shutdown();
    expect(await slow).toMatchObject({ ok: true, connection: 'close' });
    expect(report.ok).toBe(true);
  });

  it('removes its listeners from the server when done', async () => {
    const server = serve(http.createServer(app()));
    const names = ['connection', 'request', 'secureConnection', 'session', 'newListener'] as const;
    const counts = () => names.map((n) => server.listenerCount(n));
    const before = counts();
    const { shutdown } = make();
    shutdown.addServer(server);
    expect(counts()).not.toEqual(before);
    await listen(server);
    await shutdown.shutdown();
    expect(counts()).toEqual(before);
  });

  it('rejects what is not a server, a server added twice, and bad options', () => {
    const { shutdown } = make();
    const server = http.createServer();
    expect(() => shutdown.addServer({} as net.Server)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
    shutdown.addServer(server);
    expect(() => shutdown.addServer(server)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const other = http.createServer();
    expect(() => shutdown.addServer(other, { graceMs: -1 })).toThrow(RangeError);
    expect(() => shutdown.addServer(other, { phase: Number.NaN })).toThrow(RangeError);
    expect(() => shutdown.addServer(other, { name: 'http server' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    // None of the failed calls left a listener on the server.
    expect(other.listenerCount('connection')).toBe(1);
    expect(other.listenerCount('request')).toBe(0);
  });

  it('after the shutdown started, addServer throws ShutdownStartedError', async () => {
    const { shutdown } = make();
    const done = shutdown.shutdown();
    expect(() => shutdown.addServer(http.createServer())).toThrow(
      expect.objectContaining({ code: 'ERR_SHUTDOWN_STARTED' }),
    );
    await done;
  });
});

describe('addServer with HTTPS', () => {
  it('answers the in-flight request with Connection: close and closes the idle TLS connection', async () => {
    const server = serve(https.createServer(tlsOptions, app()));
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const a = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    cleanup.push(() => a.destroy());
    const request = (path: string) =>
      new Promise<{ body: string; connection?: string; socket: net.Socket }>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path, agent: a }, (res) => {
            const socket = res.socket;
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ body, connection: res.headers.connection, socket }));
          })
          .on('error', reject);
      });
    const warm = await request('/warm');
    expect(warm.connection).toBe('keep-alive');
    const requested = events(server, 'request');
    const slow = request('/slow?ms=200');
    await requested;
    const report = shutdown.shutdown();
    await closed(warm.socket);
    expect(await slow).toMatchObject({ body: 'done /slow?ms=200', connection: 'close' });
    expect((await report).hooks[0]).toMatchObject({ name: 'https server', outcome: 'ok' });
  });
});

describe('addServer with HTTP/2', () => {
  function h2app(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const url = new URL(headers[':path']!, 'http://x');
    const ms = Number(url.searchParams.get('ms') ?? 0);
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end(`done ${url.pathname}`);
    }, ms);
  }

  function read(req: http2.ClientHttp2Stream): Promise<string> {
    return new Promise((resolve, reject) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
  }

  it('sends GOAWAY in two steps, lets the open stream finish, and refuses new ones', async () => {
    const server = serve(http2.createServer());
    server.on('stream', h2app);
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    cleanup.push(() => client.destroy());
    const goaways: number[] = [];
    client.on('goaway', (_code, lastStreamID) => goaways.push(lastStreamID));
    const streamed = events(server, 'stream');
    const slow = read(client.request({ ':path': '/slow?ms=200' }));
    await streamed;
    const report = shutdown.shutdown();
    const goaway = new Promise((resolve) => client.once('goaway', resolve));
    await goaway;
    // A new stream is refused: Node 20 and 22 throw at once, Node 24 cancels the stream it returned.
    const refused = await new Promise<string>((resolve) => {
      try {
        const req = client.request({ ':path': '/new' });
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
        req.on('response', () => resolve('answered'));
      } catch (err) {
        resolve((err as NodeJS.ErrnoException).code ?? String(err));
      }
    });
    expect(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_STREAM_CANCEL']).toContain(refused);
    expect(await slow).toBe('done /slow');
    const r = await report;
    expect(r.hooks[0]).toMatchObject({ name: 'http2 server', outcome: 'ok' });
    expect(goaways[0]).toBe(2 ** 31 - 1);
    expect(server.listening).toBe(false);
  });

  it('a secure HTTP/2 server with allowHTTP1 drains its HTTP/2 sessions and its HTTP/1 connections', async () => {
    const server = serve(http2.createSecureServer({ ...tlsOptions, allowHTTP1: true }));
    server.on(
      'request',
      (req: http2.Http2ServerRequest | http.IncomingMessage, res: http2.Http2ServerResponse | http.ServerResponse) => {
        const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
        setTimeout(() => res.end(`done ${req.httpVersion}`), ms);
      },
    );
    const { shutdown } = make();
    shutdown.addServer(server);
    const port = await listen(server);
    const client = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    cleanup.push(() => client.destroy());
    const a = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    cleanup.push(() => a.destroy());
    const requested = events(server, 'request', 2);
    const h2 = read(client.request({ ':path': '/?ms=200' }));
    const h1 = new Promise<{ body: string; connection?: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/?ms=200', agent: a }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ body, connection: res.headers.connection }));
        })
        .on('error', reject);
    });
    await requested;
    const report = shutdown.shutdown();
    expect(await h2).toBe('done 2.0');
    expect(await h1).toEqual({ body: 'done 1.1', connection: 'close' });
    expect((await report).hooks[0]).toMatchObject({ name: 'http2 server', outcome: 'ok' });
  });
});

describe('addServer with a plain net.Server', () => {
  it('waits for its connections to end, which an earlier phase can do', async () => {
    const sockets = new Set<net.Socket>();
    const server = serve(
      net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      }),
    );
    const { shutdown } = make();
    shutdown.add(
      'say goodbye',
      () => {
        for (const s of sockets) s.end('bye\n');
      },
      { phase: -1 },
    );
    shutdown.addServer(server);
    const port = await listen(server);
    const accepted = events(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    let got = '';
    client.on('data', (d) => (got += d));
    client.on('end', () => client.end());
    await accepted;
    const report = await shutdown.shutdown();
    expect(report.hooks.map((h) => `${h.name} ${h.outcome}`)).toEqual(['say goodbye ok', 'net server ok']);
    expect(got).toBe('bye\n');
  });

  it('destroys the connections still open when time is up', async () => {
    const server = serve(net.createServer(() => {}));
    const { shutdown } = make();
    shutdown.addServer(server, { timeoutMs: 100 });
    const port = await listen(server);
    const accepted = events(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    client.on('error', () => {});
    await accepted;
    const report = await shutdown.shutdown();
    expect(report.hooks[0]).toMatchObject({ name: 'net server', outcome: 'timeout' });
    await closed(client);
  });
});
