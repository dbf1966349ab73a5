/**
 * The package as a user installs it: `npm pack`, the tarball installed into a new project (offline: it has no
 * dependency but the optional Redis peers), then the files it holds checked, every subpath imported from `.mjs`, from `.cjs`, and from strict
 * TypeScript under `module` node16, nodenext and bundler (this repository's `tsc`, `--noEmit`), and the size budget
 * of .size-limit.mjs measured on the installed files, as a user's bundler (esbuild, and Bun's) would take them.
 *
 * It reads the built dist/ (`npm test` builds it first) and is skipped without one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompressSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(root, 'dist', 'index.js'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const subpaths = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json' && !k.includes('*'))
  .map((k) => (k === '.' ? 'weftjs' : `weftjs/${k.slice(2)}`));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

async function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, maxBuffer: 16 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { message: string; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
  }
}

describe.skipIf(!built)('the packed tarball, installed into a new project', () => {
  let dir: string;
  let project: string;
  let installed: string;
  let packedFiles: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-pack-'));
    // `--ignore-scripts`: dist/ is built already, and `prepack` would rebuild what other suites read.
    const packed = JSON.parse(
      await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root),
    ) as { filename: string; files: { path: string }[] }[];
    const tarball = join(dir, packed[0]!.filename);
    packedFiles = packed[0]!.files.map((f) => f.path);
    project = join(dir, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    await sh(
      'npm',
      ['install', tarball, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'],
      project,
    );
    installed = join(project, 'node_modules', 'weftjs');
    // What a TypeScript user of the Node subpaths has: Node's types.
    mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'), 'dir');
  }, 60_000);
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('holds dist/, the sources its maps point at (each once), the LICENSE and the README; no test', () => {
    for (const f of ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts']) {
      expect(existsSync(join(installed, f)), f).toBe(true);
    }
    expect(existsSync(join(installed, 'test'))).toBe(false);
    const shipped = packedFiles.filter((f) => f.startsWith('src/'));
    expect(shipped).toContain('src/index.ts');
    expect(shipped.filter((f) => /\.test(-d)?\.ts$/.test(f))).toEqual([]);
    // Every map of both formats points at files that ship, and carries no copy of them.
    const maps = packedFiles.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    const unresolved: string[] = [];
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(installed, m), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      expect(map.sourcesContent, m).toBeUndefined();
      for (const s of map.sources) if (!existsSync(join(installed, dirname(m), s))) unresolved.push(`${m} -> ${s}`);
    }
    expect(unresolved).toEqual([]);
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).dependencies ?? {}).toEqual({});
  });

  it('imports every subpath from .mjs and from .cjs, with the same names', async () => {
    const names = `for (const [s, m] of mods) console.log(s, Object.keys(m).filter((k) => k !== '__esModule').sort().join(','));`;
    writeFileSync(
      join(project, 'all.mjs'),
      `const mods = [];\n${subpaths.map((s) => `mods.push(['${s}', await import('${s}')]);`).join('\n')}\n${names}\n`,
    );
    writeFileSync(
      join(project, 'all.cjs'),
      `const mods = [];\n${subpaths.map((s) => `mods.push(['${s}', require('${s}')]);`).join('\n')}\n${names}\n`,
    );
    const esm = await sh(process.execPath, ['all.mjs'], project);
    const cjs = await sh(process.execPath, ['all.cjs'], project);
    expect(esm.trim().split('\n')).toHaveLength(subpaths.length);
    expect(esm).toMatch(/^weftjs [^\n]*\bChannel\b/m);
    expect(cjs).toBe(esm);
  });

  it('works as users call it: a channel, select, a flow, a pool, virtual time; class names intact', async () => {
    const code = (imp: (s: string, names: string) => string) => `
      ${imp('weftjs', '{ Channel, recv, select, flow, WorkerPool, Semaphore, Flow }')}
      ${imp('weftjs/testing', '{ TestClock }')}
      const ch = new Channel(1);
      await ch.send(1);
      const got = await select([recv(ch, (v) => 'got ' + v)]);
      const doubled = await flow([1, 2, 3]).map((n) => n * 2).toArray();
      const pool = new WorkerPool((n) => n + 1, { concurrency: 2 });
      const r = await pool.submit(41);
      await pool.close();
      const sem = new Semaphore(2);
      const clock = new TestClock();
      console.log(got, doubled.join(','), r, sem.available, clock.now(), Flow.name, Channel.name);`;
    writeFileSync(
      join(project, 'use.mjs'),
      code((s, n) => `import ${n} from '${s}';`),
    );
    writeFileSync(
      join(project, 'use.cjs'),
      `(async () => {${code((s, n) => `const ${n} = require('${s}');`)}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    expect(await sh(process.execPath, ['use.mjs'], project)).toBe('got 1 2,4,6 42 2 0 Flow Channel\n');
    expect(await sh(process.execPath, ['use.cjs'], project)).toBe('got 1 2,4,6 42 2 0 Flow Channel\n');
  });

  it('hides internal/ and dist/ paths', async () => {
    writeFileSync(
      join(project, 'hidden.mjs'),
      `for (const s of ['weftjs/internal/waiter', 'weftjs/dist/index.js']) await import(s).then(() => console.log('imported'), (e) => console.log(e.code));`,
    );
    expect(await sh(process.execPath, ['hidden.mjs'], project)).toBe(
      'ERR_PACKAGE_PATH_NOT_EXPORTED\nERR_PACKAGE_PATH_NOT_EXPORTED\n',
    );
  });

  it('type-checks from strict TypeScript under module node16, nodenext and bundler', { timeout: 60_000 }, async () => {
    const body = `
      const ch = new Channel<number>(1);
      const sent: Promise<void> = ch.send(1);
      const r: Promise<IteratorResult<number, undefined>> = ch.recv();
      const doubled: Promise<number[]> = flow([1, 2, 3]).map((n) => n * 2).toArray();
      const clock: TestClock = new TestClock();
      type Pool = ThreadPool; type Down = Shutdown; type Limit = RedisRateLimiter;
      export const used: [unknown, unknown, unknown, unknown, Pool | Down | Limit | undefined] = [sent, r, doubled, clock, undefined];
    `;
    const esmImports = `import { Channel, flow } from 'weftjs';
      import { TestClock } from 'weftjs/testing';
      import type { ThreadPool } from 'weftjs/threads';
      import type { Shutdown } from 'weftjs/node';
      import type { RedisRateLimiter } from 'weftjs/redis';`;
    const cjsImports = `import weft = require('weftjs');
      import testing = require('weftjs/testing');
      import type { ThreadPool } from 'weftjs/threads';
      import type { Shutdown } from 'weftjs/node';
      import type { RedisRateLimiter } from 'weftjs/redis';
      const { Channel, flow } = weft; const { TestClock } = testing; type TestClock = import('weftjs/testing').TestClock;`;
    mkdirSync(join(project, 'ts'), { recursive: true });
    writeFileSync(join(project, 'ts', 'esm.mts'), `${esmImports}\n${body}`);
    writeFileSync(join(project, 'ts', 'cjs.cts'), `${cjsImports}\n${body}`);
    writeFileSync(join(project, 'ts', 'bundler.ts'), `${esmImports}\n${body}`);
    const strict = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      // No `esnext.disposable` here: the shipped declarations reference the lib they need.
      lib: ['ES2022', 'DOM'],
      types: ['node'],
      skipLibCheck: false,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: false,
    };
    const configs = {
      node16: { module: 'node16', moduleResolution: 'node16', files: ['ts/esm.mts', 'ts/cjs.cts'] },
      nodenext: { module: 'nodenext', moduleResolution: 'nodenext', files: ['ts/esm.mts', 'ts/cjs.cts'] },
      bundler: { module: 'esnext', moduleResolution: 'bundler', files: ['ts/bundler.ts'] },
    };
    for (const [name, { files, ...opts }] of Object.entries(configs)) {
      writeFileSync(
        join(project, `tsconfig.${name}.json`),
        JSON.stringify({ compilerOptions: { ...strict, ...opts }, files }),
      );
    }
    const results = await Promise.all(
      Object.keys(configs).map((name) =>
        sh(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], project).then(
          (out) => `${name}: ${out.trim() || 'ok'}`,
          (err: Error) => `${name}: ${err.message}`,
        ),
      ),
    );
    expect(results).toEqual(['node16: ok', 'nodenext: ok', 'bundler: ok']);
  });

  it('stays within the size budget of .size-limit.mjs, bundled from the installed package', async () => {
    const { default: checks } = (await import(pathToFileURL(join(root, '.size-limit.mjs')).href)) as {
      default: { name: string; path: string; import: string; limit: string; ignore?: string[] }[];
    };
    const sizes: Record<string, number> = {};
    const over: string[] = [];
    for (const check of checks) {
      const spec = `weftjs${check.path.replace(/^dist/, '').replace(/\/?index\.js$/, '')}`;
      const entry =
        check.import === '*'
          ? `import * as all from '${spec}'; console.log(all);`
          : `import ${check.import} from '${spec}'; console.log(${check.import.replace(/[{}]/g, '')});`;
      const out = await build({
        stdin: { contents: entry, resolveDir: project, loader: 'js' },
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        external: check.ignore ?? [],
        logLevel: 'silent',
      });
      const bytes = brotliCompressSync(out.outputFiles[0]!.contents).length;
      sizes[check.name] = bytes;
      const limit = Number.parseFloat(check.limit) * 1000;
      if (bytes > limit) over.push(`${check.name}: ${bytes} B, over its ${check.limit}`);
    }
    expect(over).toEqual([]);
    // Tree-shaking: one class costs a fraction of the whole core.
    expect(sizes["import { Channel } from 'weftjs'"]!).toBeLessThan(sizes["import * from 'weftjs'"]! / 4);
  });

  it('tree-shakes every export of weftjs: each alone bundles to under half the core', { timeout: 30_000 }, async () => {
    const size = async (entry: string) => {
      const out = await build({
        stdin: { contents: entry, resolveDir: project, loader: 'js' },
        bundle: true,
        minify: true,
        format: 'esm',
        write: false,
        logLevel: 'silent',
      });
      return brotliCompressSync(out.outputFiles[0]!.contents).length;
    };
    const names = (
      await sh(process.execPath, ['-e', "import('weftjs').then((m) => console.log(Object.keys(m).join(' ')))"], project)
    )
      .trim()
      .split(' ');
    expect(names.length).toBeGreaterThan(40);
    const all = await size("import * as all from 'weftjs'; console.log(all);");
    const sizes = await Promise.all(
      names.map(async (n) => [n, await size(`import { ${n} } from 'weftjs'; console.log(${n});`)] as const),
    );
    // The largest today, WorkerPool (the whole flow engine), is 39%; an export that stops tree-shaking pulls in all of it.
    expect(sizes.filter(([, s]) => s > all / 2).map(([n, s]) => `${n}: ${s} of ${all} B`)).toEqual([]);
  });

  it("tree-shakes in Bun's bundler too: Channel alone is a fraction of the core", { timeout: 30_000 }, async () => {
    const bun = join(root, 'node_modules', '.bin', 'bun');
    writeFileSync(join(project, 'one.mjs'), "import { Channel } from 'weftjs'; console.log(Channel);\n");
    writeFileSync(join(project, 'every.mjs'), "import * as all from 'weftjs'; console.log(all);\n");
    const one = (await sh(bun, ['build', 'one.mjs', '--minify'], project)).length;
    const every = (await sh(bun, ['build', 'every.mjs', '--minify'], project)).length;
    expect(one).toBeLessThan(every / 4);
  });
});
