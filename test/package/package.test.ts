/**
 * The BUILT package, as users get it: every subpath imports by the
 * package's name from ESM and from CommonJS (through package.json
 * "exports", by self-reference from the repository root), exports what the
 * sources export, hides `internal/`, and passes publint and
 * `attw --pack . --profile node16`. `npm test` builds `dist/` first.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const subpaths = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json' && !k.includes('*'))
  .map((k) => (k === '.' ? 'weftjs' : `weftjs/${k.slice(2)}`));
const sources: Record<string, string> = {
  weftjs: '../../src/index.ts',
  'weftjs/threads': '../../src/threads/index.ts',
  'weftjs/node': '../../src/node/index.ts',
  'weftjs/redis': '../../src/redis/index.ts',
  'weftjs/testing': '../../src/testing/index.ts',
};

async function node(kind: 'module' | 'commonjs', code: string): Promise<string> {
  const { stdout } = await run(process.execPath, [`--input-type=${kind}`, '-e', code], { cwd: root });
  return stdout;
}

async function cli(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(root, 'node_modules', '.bin', bin), ...args], {
      cwd: root,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    throw new Error('test/package needs the built package: run `npm run build` (npm test does) first');
  }
});

describe('the built package', () => {
  it('has the five subpaths', () => {
    expect(subpaths.sort()).toEqual(['weftjs', 'weftjs/node', 'weftjs/redis', 'weftjs/testing', 'weftjs/threads']);
  });

  for (const sub of subpaths) {
    it(`${sub} imports from ESM and CommonJS with the names its source exports`, async () => {
      const esm = JSON.parse(
        await node('module', `console.log(JSON.stringify(Object.keys(await import('${sub}')).sort()))`),
      );
      const cjs = JSON.parse(
        await node(
          'commonjs',
          `console.log(JSON.stringify(Object.keys(require('${sub}')).filter((k) => k !== '__esModule').sort()))`,
        ),
      );
      const source = Object.keys(await import(/* @vite-ignore */ sources[sub]!)).sort();
      expect(esm).toEqual(source);
      expect(cjs).toEqual(source);
    });
  }

  it('works as users call it, from both module systems', async () => {
    const esm = await node(
      'module',
      `import { withCancel, Channel } from 'weftjs';
       import { TestClock } from 'weftjs/testing';
       const s = withCancel(); s.cancel();
       console.log(s.signal.reason.code, new TestClock(5).now(), typeof Channel);`,
    );
    const cjs = await node(
      'commonjs',
      `const { withCancel, Channel } = require('weftjs');
       const { TestClock } = require('weftjs/testing');
       const s = withCancel(); s.cancel();
       console.log(s.signal.reason.code, new TestClock(5).now(), typeof Channel);`,
    );
    expect(esm).toBe('ERR_CANCELED 5 function\n');
    expect(cjs).toBe(esm);
  });

  it('shares one registry between its ESM and CommonJS copies in one process', async () => {
    const out = await node(
      'module',
      `import { createRequire } from 'node:module';
       import { trackLeaks } from 'weftjs/testing';
       const { withCancel } = createRequire(import.meta.url)('weftjs');
       const leaks = trackLeaks();
       const s = withCancel(new AbortController().signal);
       const held = leaks.check().listeners;
       s.cancel();
       console.log(held, leaks.check().listeners);`,
    );
    expect(out).toBe('1 0\n');
  });

  it('does not export internal/ or dist paths', async () => {
    for (const spec of ['weftjs/internal/waiter', 'weftjs/internal/waiter.js', 'weftjs/dist/index.js']) {
      const res = await node(
        'module',
        `import('${spec}').then(() => console.log('imported'), (e) => console.log(e.code))`,
      );
      expect(res.trim(), spec).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    }
  });

  it('passes publint', { timeout: 60_000 }, async () => {
    const res = await cli('publint', []);
    expect(res.out).toMatch(/All good!/);
    expect(res.code).toBe(0);
  });

  it('passes attw --profile node16 on the packed tarball (types resolve for node16 ESM and CJS, and bundlers)', {
    timeout: 120_000,
  }, async () => {
    // Packed without scripts: `prepack` would rebuild the dist/ this suite reads.
    const dir = await mkdtemp(join(tmpdir(), 'weft-attw-'));
    try {
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
        cwd: root,
      });
      const tarball = join(dir, JSON.parse(stdout)[0].filename);
      const res = await cli('attw', [tarball, '--profile', 'node16']);
      expect(res.out, res.out).not.toMatch(/❌|🥴|Masquerading|FalseCJS|FalseESM|CJSResolvesToESM/);
      expect(res.code, res.out).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
