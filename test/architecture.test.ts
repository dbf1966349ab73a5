/**
 * The package's shape, as STYLE.md draws it: the core runs anywhere (no `node:` import, no runtime dependency),
 * imports flow one way (internal -> core -> threads/node/redis/testing) without cycles, and the package ships no
 * dependencies and no side effects.
 *
 * Biome enforces what its rules can say (biome.json's overrides, run by `npm run lint`): `noNodejsModules` on the
 * core, `noRestrictedImports` (the core imports no outer subpath and no Redis client, an outer subpath none of the
 * others), `noImportCycles` on src/. The first suite below proves those rules fire, on files that break each one.
 * What no Biome rule says is checked here on the import graph TypeScript's own scanner (`ts.preProcessFile`) reads:
 * the core imports no package at all, only src/redis imports a package, internal/ stands on its own.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : /\.ts$/.test(e.name) && !/\.test(-d)?\.ts$/.test(e.name)
        ? [join(dir, e.name)]
        : [],
  );
}

interface Import {
  spec: string;
  /** The src-relative path of the imported file, for relative imports. */
  target: string | undefined;
}

/** Static imports and re-exports (type-only ones included), `import()` and `require()` of literals. */
function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map(({ fileName: spec }) => ({
    spec,
    target: spec.startsWith('.')
      ? relative(src, resolve(dirname(file), spec))
          .replaceAll('\\', '/')
          .replace(/\.js$/, '.ts')
      : undefined,
  }));
}

const files = walk(src).map((f) => relative(src, f).replaceAll('\\', '/'));
const graph = new Map(files.map((f) => [f, importsOf(join(src, f))]));

type Layer = 'internal' | 'core' | 'threads' | 'node' | 'redis' | 'testing';
function layerOf(file: string): Layer {
  const top = file.split('/')[0]!;
  if (!file.includes('/')) return 'core';
  if (top === 'internal') return 'internal';
  if (top === 'threads' || top === 'node' || top === 'redis' || top === 'testing') return top;
  throw new Error(`src/${file}: a folder STYLE.md does not name`);
}
// The core files that hold only shared interfaces and import nothing: internal may use them.
const LEAVES = new Set(['clock.ts', 'lock.ts']);

describe('Biome enforces the layering (biome.json overrides)', () => {
  const run = promisify(execFile);
  let dir: string;

  beforeAll(() => {
    // A copy of biome.json and of files that break each rule, in a project of their own.
    dir = mkdtempSync(join(tmpdir(), 'weft-arch-'));
    cpSync(join(root, 'biome.json'), join(dir, 'biome.json'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    put('src/clock.ts', 'export const clock = 1;\n');
    put('src/nodeapi.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n");
    put('src/outer.ts', "import { ThreadPool } from './threads/pool.js';\nexport const t = ThreadPool;\n");
    put('src/client.ts', "import { createClient } from 'redis';\nexport const c = createClient;\n");
    put('src/self.ts', "import { Channel } from 'weftjs';\nexport const ch = Channel;\n");
    put('src/internal/up.ts', "import { TestClock } from '../testing/clock.js';\nexport const u = TestClock;\n");
    put('src/internal/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
    put('src/internal/b.ts', "import type { a } from './a.js';\nexport const b = (x: typeof a) => x;\n");
    put('src/threads/pool.ts', "import { cpus } from 'node:os';\nexport const ThreadPool = cpus;\n");
    put('src/threads/side.ts', "import { TestClock } from '../testing/clock.js';\nexport const s = TestClock;\n");
    put('src/testing/clock.ts', "import { clock } from '../clock.js';\nexport const TestClock = clock;\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rejects each import the layering forbids, and accepts the ones it allows', { timeout: 60_000 }, async () => {
    const biome = join(root, 'node_modules', '.bin', 'biome');
    const out = await run(biome, ['lint', '--reporter=json', '--max-diagnostics=none', 'src'], { cwd: dir }).then(
      (r) => r.stdout,
      (e: { stdout: string }) => e.stdout,
    );
    const report = JSON.parse(out) as { diagnostics: { category: string; location: { path: string } }[] };
    const found = report.diagnostics
      .filter((d) => d.category.startsWith('lint/'))
      .map((d) => `${d.location.path.replace(/^.*?src\//, 'src/')} ${d.category.split('/').pop()}`)
      .sort();
    expect([...new Set(found)]).toEqual([
      'src/client.ts noRestrictedImports',
      'src/internal/a.ts noImportCycles',
      'src/internal/b.ts noImportCycles',
      'src/internal/up.ts noRestrictedImports',
      'src/nodeapi.ts noNodejsModules',
      'src/outer.ts noRestrictedImports',
      'src/self.ts noRestrictedImports',
      'src/threads/side.ts noRestrictedImports',
    ]);
  });
});

describe('architecture', () => {
  it('finds the source files and their imports', () => {
    expect(files).toContain('index.ts');
    expect(files).toContain('internal/waiter.ts');
    expect(graph.get('index.ts')!.map((i) => i.target)).toContain('context.ts');
    expect(graph.get('testing/index.ts')!.map((i) => i.target)).toContain('testing/clock.ts');
  });

  it('reads imports as TypeScript does: type-only, re-exports and import(), never a quoted import in a comment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-imports-'));
    try {
      const file = join(dir, 'probe.ts');
      writeFileSync(
        file,
        [
          '/** @example',
          " * import { Channel } from 'weftjs';",
          ' */',
          "// import 'commented';",
          "import type { A } from './a.js';",
          "export * from './b.js';",
          "export { c } from './c.js';",
          'const s = \'import x from "in-a-string"\';',
          "const d = await import('./d.js');",
        ].join('\n'),
      );
      expect(importsOf(file).map((i) => i.spec)).toEqual(['./a.js', './b.js', './c.js', './d.js']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([f, imps]) =>
      imps.filter((i) => i.target !== undefined && !graph.has(i.target)).map((i) => `src/${f} -> ${i.spec}`),
    );
    expect(missing).toEqual([]);
  });

  it('core and internal files import no package at all', () => {
    const bad = [...graph]
      .filter(([f]) => layerOf(f) === 'core' || layerOf(f) === 'internal')
      .flatMap(([f, imps]) => imps.filter((i) => i.target === undefined).map((i) => `src/${f} imports '${i.spec}'`));
    expect(bad).toEqual([]);
  });

  it('only src/redis imports redis or ioredis, and no file imports another package at run time', () => {
    const bad = [...graph].flatMap(([f, imps]) =>
      imps
        .filter((i) => i.target === undefined && !i.spec.startsWith('node:'))
        .filter((i) => !(layerOf(f) === 'redis' && /^(redis|ioredis|@redis\/)/.test(i.spec)))
        .map((i) => `src/${f} imports '${i.spec}'`),
    );
    expect(bad).toEqual([]);
  });

  it('internal imports only internal files and the leaf interface files clock.ts and lock.ts', () => {
    const bad = [...graph]
      .filter(([f]) => layerOf(f) === 'internal')
      .flatMap(([f, imps]) =>
        imps
          .filter((i) => i.target !== undefined && layerOf(i.target) !== 'internal' && !LEAVES.has(i.target))
          .map((i) => `src/${f} -> src/${i.target}`),
      );
    expect(bad).toEqual([]);
    const leafImports = [...LEAVES].flatMap((leaf) => (graph.get(leaf) ?? []).map((i) => `src/${leaf} -> ${i.spec}`));
    expect(leafImports).toEqual([]);
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

  it('has no runtime dependencies, and every peer dependency is optional', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    const peers = Object.keys(pkg.peerDependencies ?? {});
    const optional = peers.filter((p) => pkg.peerDependenciesMeta?.[p]?.optional === true);
    expect(optional).toEqual(peers);
  });

  it('declares no side effects', () => {
    expect(pkg.sideEffects).toBe(false);
  });

  it('exports the five subpaths and hides internal/', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(
      ['.', './internal/*', './node', './package.json', './redis', './testing', './threads'].sort(),
    );
    expect(pkg.exports['./internal/*']).toBeNull();
  });

  it('ships dist/ and the sources its maps point at, without tests, and builds dist/ before packing', () => {
    expect(pkg.files).toEqual(['dist', 'src', '!src/**/*.test.ts', '!src/**/*.test-d.ts']);
    expect(pkg.scripts.prepack).toBe('npm run build');
  });
});
