/**
 * scripts/pure-classes.mjs, the build step that makes each top-level class of dist/ droppable by a user's bundler
 * and names it after its export (see tsup.config.ts).
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { pureClasses } from '../../scripts/pure-classes.mjs';

async function evaluate(code: string): Promise<Record<string, unknown>> {
  return import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

async function bundled(lib: string, entry: string): Promise<string> {
  const out = await build({
    stdin: { contents: entry, loader: 'js', resolveDir: '/' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'lib',
        setup(b) {
          b.onResolve({ filter: /^lib$/ }, () => ({ path: 'lib', namespace: 'lib', sideEffects: false }));
          b.onLoad({ filter: /.*/, namespace: 'lib' }, () => ({ contents: lib, loader: 'js' }));
        },
      },
    ],
  });
  return out.outputFiles[0]!.text;
}

const LIB = `var key = /* @__PURE__ */ Symbol("k");
var Base = class {
  [key]() { return 'base'; }
};
var Flow = class _Flow extends Base {
  static of(x) { return new _Flow(x); }
  constructor(x) { super(); this.x = x; }
};
var Other = class {
  get [key]() { return 1; }
};
export { Base, Flow, Other };
`;

describe('pure-classes', () => {
  it('wraps each top-level class in a pure IIFE named after its binding, renaming the inner name', async () => {
    const out = pureClasses(LIB, 'lib.js')!;
    expect(out.changed).toBe(3);
    expect(out.code).toContain('var Flow = /* @__PURE__ */ (() => class Flow extends Base {');
    expect(out.code).toContain('return new Flow(x);');
    expect(out.code).not.toContain('_Flow');
    // Lines stay where they were.
    expect(out.code.split('\n').length).toBe(LIB.split('\n').length);
    const m = await evaluate(out.code);
    const Flow = m.Flow as { name: string; of(x: number): { x: number } };
    expect([Flow.name, (m.Base as { name: string }).name, (m.Other as { name: string }).name]).toEqual([
      'Flow',
      'Base',
      'Other',
    ]);
    expect(Flow.of(3)).toBeInstanceOf(m.Flow as new () => unknown);
    expect(Flow.of(3).x).toBe(3);
  });

  it('lets esbuild drop the classes a bundle does not use, which it keeps without the step', async () => {
    const entry = "import { Other } from 'lib'; console.log(Other);";
    const before = await bundled(LIB, entry);
    const after = await bundled(pureClasses(LIB, 'lib.js')!.code, entry);
    expect(before).toContain('base');
    expect(after).not.toContain('base');
    expect(after.length).toBeLessThan(before.length);
  });

  it('leaves alone a class that runs code as it is defined, and a file without classes', () => {
    const lib =
      'var A = class { static { globalThis.hit = 1; } };\nvar B = class { static n = f(); };\nexport { A, B };\n';
    expect(pureClasses(lib, 'lib.js')).toBeUndefined();
    expect(pureClasses('export const x = 1;\n', 'lib.js')).toBeUndefined();
  });

  it('keeps the inner name where the exported one means something else inside the class', () => {
    const lib = 'var Flow = class _Flow { m() { const Flow = 1; return [Flow, _Flow]; } };\nexport { Flow };\n';
    expect(pureClasses(lib, 'lib.js')).toBeUndefined();
  });
});
