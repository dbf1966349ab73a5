/**
 * Shutdown in a real process (test/node/fixtures/service.ts), stopped with
 * real SIGTERM and SIGINT while real clients over loopback (fetch and
 * http.request with keep-alive, an HTTP/2 session) have requests in flight:
 * the requests complete, the phases run in order, the report lists every
 * hook, and the exit code is 0, 1 or 130 as the SPEC gives it.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { type Child, fixture, get } from './support.js';

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.stop();
});

async function start(scenario: string): Promise<{ child: Child; port: number }> {
  const child = fixture('service.ts', [scenario]);
  children.push(child);
  const ready = await child.line(/^ready \d+$/);
  return { child, port: Number(ready.split(' ')[1]) };
}

/** The lines from Shutdown's start line on, with durations masked, but for the other SIGTERM listener's. */
function shutdownLines(child: Child): string[] {
  const from = child.lines.findIndex((l) => l.startsWith('shutdown start'));
  return child.lines
    .slice(from)
    .filter((l) => l !== 'other SIGTERM listener ran')
    .map((l) => l.replace(/durationMs=\d+/, 'durationMs=N'));
}

describe('Shutdown in a real process', { timeout: 30_000 }, () => {
  it('SIGTERM: in-flight requests over keep-alive complete, phases run in order, exit 0', async () => {
    const { child, port } = await start('ok');
    const agent = new http.Agent({ keepAlive: true });
    try {
      const viaFetch = fetch(`http://127.0.0.1:${port}/slow?ms=300`);
      const viaAgent = get(port, '/slow?ms=400', agent);
      await child.line(/^request \/slow\?ms=300$/);
      await child.line(/^request \/slow\?ms=400$/);
      child.proc.kill('SIGTERM');
      const res = await viaFetch;
      expect(res.headers.get('connection')).toBe('close');
      expect(await res.text()).toBe('done /slow?ms=300');
      expect(await viaAgent).toMatchObject({ ok: true, body: 'done /slow?ms=400', connection: 'close' });
      expect(await child.exited).toBe(0);
    } finally {
      agent.destroy();
    }
    expect(child.lines).toContain('other SIGTERM listener ran');
    expect(shutdownLines(child)).toEqual([
      'shutdown start reason=SIGTERM hooks=3 timeoutMs=10000',
      'shutdown hook phase=0 name=http outcome=ok durationMs=N',
      'hook flush',
      'shutdown hook phase=1 name=flush outcome=ok durationMs=N',
      'hook close db',
      'shutdown hook phase=2 name="close db" outcome=ok durationMs=N',
      'shutdown finish ok=true hooks=3 errors=0 timeouts=0 durationMs=N',
    ]);
  });

  it('SIGINT starts it as well, with SIGINT as the reason', async () => {
    const { child } = await start('ok');
    child.proc.kill('SIGINT');
    expect(await child.exited).toBe(0);
    expect(shutdownLines(child)[0]).toBe('shutdown start reason=SIGINT hooks=3 timeoutMs=10000');
    expect(child.lines).not.toContain('other SIGTERM listener ran');
  });

  it('a hook that throws makes the exit code 1; the other hooks and phases still run', async () => {
    const { child } = await start('fail');
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(1);
    const lines = shutdownLines(child);
    expect(lines).toContain('shutdown hook phase=1 name=broken outcome=error durationMs=N error="Error: cannot flush"');
    expect(lines).toContain('hook close db');
    expect(lines.at(-1)).toBe('shutdown finish ok=false hooks=4 errors=1 timeouts=0 durationMs=N');
  });

  it('a second signal while a hook hangs forces exit 130', async () => {
    const { child } = await start('stuck');
    child.proc.kill('SIGTERM');
    await child.line(/^hook stuck$/);
    child.proc.kill('SIGINT');
    expect(await child.exited).toBe(130);
    expect(child.lines.at(-1)).toBe('shutdown forced signal=SIGINT exitCode=130');
    expect(child.lines).not.toContain('hook close db');
  });

  it('HTTP/2: the client gets GOAWAY, its open stream completes, exit 0', async () => {
    const { child, port } = await start('h2');
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const goaway = new Promise<number>((resolve) => client.once('goaway', (_code, last) => resolve(last)));
      const body = new Promise<string>((resolve, reject) => {
        const req = client.request({ ':path': '/slow?ms=300' });
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (data += c));
        req.on('end', () => resolve(data));
        req.on('error', reject);
      });
      await child.line(/^request \/slow\?ms=300$/);
      child.proc.kill('SIGTERM');
      expect(await goaway).toBe(2 ** 31 - 1);
      expect(await body).toBe('done /slow?ms=300');
      expect(await child.exited).toBe(0);
    } finally {
      client.destroy();
    }
    expect(shutdownLines(child)[1]).toBe('shutdown hook phase=0 name=http outcome=ok durationMs=N');
  });
});
