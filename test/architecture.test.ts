/**
 * The package's shape, as STYLE.md draws it: the core runs anywhere (no
 * `node:` import, no runtime dependency), imports flow one way
 * (internal -> core -> threads/node/redis/testing) without cycles, and the
 * package ships no dependencies and no side effects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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

// Static imports and re-exports (type-only ones included), and dynamic import() and require() of literals.
const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  // Comments may quote imports (doc examples import from 'weftjs'): drop them first.
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = (m[1] ?? m[2] ?? m[3])!;
    let target: string | undefined;
    if (spec.startsWith('.')) {
      target = relative(src, resolve(dirname(file), spec))
        .replaceAll('\\', '/')
        .replace(/\.js$/, '.ts');
    }
    out.push({ spec, target });
  }
  return out;
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
const OUTER: Layer[] = ['threads', 'node', 'redis', 'testing'];

describe('architecture', () => {
  it('finds the source files and their imports', () => {
    expect(files).toContain('index.ts');
    expect(files).toContain('internal/waiter.ts');
    expect(graph.get('index.ts')!.map((i) => i.target)).toContain('context.ts');
    expect(graph.get('testing/index.ts')!.map((i) => i.target)).toContain('testing/clock.ts');
  });

  it('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([f, imps]) =>
      imps.filter((i) => i.target !== undefined && !graph.has(i.target)).map((i) => `src/${f} -> ${i.spec}`),
    );
    expect(missing).toEqual([]);
  });

  it('core and internal files import nothing from node: and no package', () => {
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

  it('core never imports from threads, node, redis or testing, and those never import one another', () => {
    const bad = [...graph].flatMap(([f, imps]) => {
      const from = layerOf(f);
      return imps
        .filter((i) => i.target !== undefined)
        .filter((i) => {
          const to = layerOf(i.target!);
          if (!OUTER.includes(to)) return false;
          return from === 'core' || from === 'internal' || (OUTER.includes(from) && from !== to);
        })
        .map((i) => `src/${f} -> src/${i.target}`);
    });
    expect(bad).toEqual([]);
  });

  it('has no import cycle among the source files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      path.push(f);
      for (const i of graph.get(f) ?? []) {
        if (i.target === undefined || !graph.has(i.target)) continue;
        const s = state.get(i.target);
        if (s === 'open') cycles.push([...path.slice(path.indexOf(i.target)), i.target].join(' -> '));
        else if (s === undefined) visit(i.target);
      }
      path.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
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
});
