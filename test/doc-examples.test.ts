/**
 * Examples are tests: every public function and class documents itself with
 * at least one `@example`, and `scripts/extract-examples.mjs` turns those
 * examples into the vitest files under `test/doc-examples/` that `npm test`
 * runs. This suite checks both halves.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const script = join(root, 'scripts', 'extract-examples.mjs');

/** The public functions and classes of an entry file, each with whether its doc comment has an `@example`. */
function publicNames(program: ts.Program, entry: string): { name: string; example: boolean }[] {
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(entry)!;
  const mod = checker.getSymbolAtLocation(sf)!;
  const out: { name: string; example: boolean }[] = [];
  for (const exported of checker.getExportsOfModule(mod)) {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = sym.getDeclarations() ?? [];
    const callable =
      sym.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class) ||
      decls.some(
        (d) =>
          ts.isVariableDeclaration(d) &&
          d.initializer !== undefined &&
          (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer)),
      );
    if (!callable) continue;
    const example = decls.some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'example'));
    out.push({ name: exported.name, example });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

describe('doc examples', () => {
  const entries = ['src/index.ts', 'src/testing/index.ts', 'src/threads/index.ts', 'src/node/index.ts'].map((p) =>
    join(root, p),
  );
  const program = ts.createProgram(entries, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });

  for (const entry of entries) {
    const sub = /src\/([a-z]+)\/index\.ts$/.exec(entry)?.[1];
    const subpath = sub === undefined ? 'weftjs' : `weftjs/${sub}`;
    it(`every public function and class of ${subpath} has a doc comment with an @example`, () => {
      const names = publicNames(program, entry);
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !n.example).map((n) => n.name)).toEqual([]);
    });
  }
});

describe('scripts/extract-examples.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-extract-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function extract(files: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const src = join(dir, `case-${Math.random().toString(36).slice(2)}`, 'src');
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(src, name, '..'), { recursive: true });
      writeFileSync(join(src, name), text);
    }
    try {
      const { stdout, stderr } = await run(process.execPath, [script, '--src', src, '--out', join(src, '..', 'out')]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const outOf = (res: { stdout: string }, file: string) =>
    readFileSync(join(/-> (.*)\/$/.exec(res.stdout.trim())![1]!, file), 'utf8');

  it('turns each example into a named test, hoisting merged imports and asserting each `// =>` line', async () => {
    const res = await extract({
      'thing.ts': [
        '/**',
        ' * A thing.',
        ' * @example Adding',
        ' * ```ts',
        " * import { sleep } from 'weftjs';",
        ' * const f = (x: number) => x + 1;',
        ' * [1, 2].map(f); // => [2, 3]',
        ' * await sleep(0); // => undefined',
        ' * ```',
        ' * @example Other',
        ' * ```ts',
        " * import { sleep, withCancel } from 'weftjs';",
        " * import { TestClock } from 'weftjs/testing';",
        ' * const f = 1;',
        ' * f; // => 1',
        ' * ```',
        ' * @see other',
        ' */',
        'export function thing() {}',
        'export class Box {',
        '  /**',
        '   * @example',
        '   * ```ts',
        '   * 1 + 1; // => 2',
        '   * ```',
        '   */',
        '  open(): void {}',
        '}',
      ].join('\n'),
      'sub/other.test.ts': '/**\n * @example\n * ```ts\n * 1; // => 2\n * ```\n */\nexport {};\n',
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/3 examples from 1 files/);
    const out = outOf(res, 'thing.test.ts');
    expect(out).toContain("import { sleep, withCancel } from 'weftjs';\nimport { TestClock } from 'weftjs/testing';");
    expect(out).toContain('__it("src/thing.ts thing: Adding", async () => {');
    expect(out).toContain('__it("src/thing.ts thing: Other", async () => {');
    expect(out).toContain('__it("src/thing.ts Box.open: example", async () => {');
    expect(out).toContain('__expect([1, 2].map(f)).toEqual([2, 3]);');
    expect(out).toContain('__expect(await sleep(0)).toEqual(undefined);');
    expect(out).toContain('__expect(1 + 1).toEqual(2);');
    // Each example has a function body of its own: the two `const f` do not collide.
    expect(out.match(/const f =/g)).toHaveLength(2);
  });

  it('fails loudly, naming file and line, when `// =>` follows a declaration', async () => {
    const res = await extract({
      'bad.ts':
        "/**\n * @example\n * ```ts\n * import { sleep } from 'weftjs';\n * const x = 1; // => 1\n * ```\n */\nexport const bad = 1;\n",
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('src/bad.ts:5: `// =>` must follow an expression statement, not a declaration');
  });

  it('fails on an assertion that ends no statement and on a relative import', async () => {
    const res = await extract({
      'a.ts': '/**\n * @example\n * ```ts\n * foo(1, // => 1\n *   2);\n * ```\n */\nexport const a = 1;\n',
      'b.ts': "/**\n * @example\n * ```ts\n * import { x } from './x.js';\n * ```\n */\nexport const b = 1;\n",
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('src/a.ts:4: `// =>` must follow a complete statement');
    expect(res.stderr).toContain("src/b.ts:4: examples import from 'weftjs', not './x.js'");
  });
});
