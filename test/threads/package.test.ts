/**
 * The BUILT weftjs/threads, as users get it: from ESM and from CommonJS,
 * on plain node (no TypeScript loader), the pool finds its thread
 * bootstrap (`dist/threads/worker.js` / `.cjs`, its own tsup entry) and
 * runs tasks. Skipped until `npm run build` has built the bootstrap
 * (`npm test` builds first).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(root, 'dist/threads/worker.js')) && existsSync(join(root, 'dist/threads/worker.cjs'));
const tasks = `data:text/javascript,${encodeURIComponent('export const inc = (n) => n + 1; export const boom = () => { throw Object.assign(new TypeError("no"), { code: "E_NO" }); };')}`;

async function node(kind: 'module' | 'commonjs', code: string, flags: string[] = []): Promise<string> {
  const args = [...flags, `--input-type=${kind}`, '-e', code];
  const { stdout } = await run(process.execPath, args, { cwd: root, timeout: 30_000 });
  return stdout.trim();
}

describe.skipIf(!built)('the built weftjs/threads', () => {
  it('runs tasks from ESM, with errors rebuilt, and the process exits after close', async () => {
    const out = await node(
      'module',
      `import { ThreadPool } from 'weftjs/threads';
       const pool = new ThreadPool({ module: ${JSON.stringify(tasks)}, threads: 2 });
       const err = await pool.run('boom').catch((e) => e);
       console.log(await pool.run('inc', 1), err instanceof TypeError, err.code);
       await pool.close();`,
    );
    expect(out).toBe('2 true E_NO');
  });

  it('runs tasks from CommonJS', async () => {
    const out = await node(
      'commonjs',
      `const { ThreadPool, WorkerCrashedError } = require('weftjs/threads');
       const pool = new ThreadPool({ module: ${JSON.stringify(tasks)}, threads: 1 });
       pool.run('inc', 41).then(async (v) => { console.log(v, typeof WorkerCrashedError); await pool.close(); });`,
    );
    expect(out).toBe('42 function');
  });

  it('starts threads in a process run with V8 flags (node --expose-gc, --max-old-space-size), from a file and from -e', async () => {
    const code = `import { ThreadPool } from 'weftjs/threads';
       const pool = new ThreadPool({ module: ${JSON.stringify(tasks)}, threads: 1 });
       console.log(await pool.run('inc', 1), typeof gc);
       await pool.close();`;
    expect(await node('module', code, ['--expose-gc', '--max-old-space-size=256'])).toBe('2 function');
    const dir = mkdtempSync(join(tmpdir(), 'weft-threads-flags-'));
    try {
      const file = join(dir, 'main.mjs');
      writeFileSync(file, code.replace("'weftjs/threads'", JSON.stringify(join(root, 'dist/threads/index.js'))));
      const { stdout } = await run(process.execPath, ['--expose-gc', file], { cwd: root, timeout: 30_000 });
      expect(stdout.trim()).toBe('2 function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
