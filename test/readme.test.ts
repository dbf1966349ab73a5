/**
 * README.md's examples are tests too: `scripts/extract-examples.mjs` turns
 * each ```ts fence of the README into a test of
 * `test/doc-examples/README.test.ts`. This suite checks that half of the
 * script on small markdown files, and that the real README's first lines
 * stay what CI and newcomers rely on.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const script = join(root, 'scripts', 'extract-examples.mjs');

describe('README.md', () => {
  it('opens with the title, the tagline and the install-and-run commands', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
    expect(lines.slice(0, 8)).toEqual([
      '# weft',
      '',
      "Go's production concurrency patterns, done properly in TypeScript.",
      '',
      '```sh',
      'npm ci && npm run demo     # install the locked dependencies, then the demo: a million items through every pattern, live',
      'npm ci && npm test         # install the locked dependencies, then build and run the whole test suite',
      '```',
    ]);
  });

  it('shows a deadlock program that prints the report it shows and exits with code 2', async () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    const fence = /^```ts nocheck\n(\/\/ deadlock\.ts[\s\S]*?)^```$/m.exec(text);
    expect(fence).not.toBeNull();
    const program = fence![1]!;
    // The report the README promises, from its leading comment.
    const promised = [...program.matchAll(/^\/\/ {3}\s*(\S.*)$/gm)].map((m) => m[1]!);
    expect(promised).toEqual([
      'fatal error: all goroutines are asleep - deadlock!',
      'weft operation 1 [Channel.send]:',
      'at main (deadlock.ts:12:12)',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'weft-deadlock-'));
    try {
      writeFileSync(join(dir, 'deadlock.ts'), program);
      // tsx resolves 'weftjs' and 'weftjs/testing' to src/ through tsconfig.json's paths.
      const tsx = join(root, 'node_modules', '.bin', 'tsx');
      const res = await run(tsx, ['--tsconfig', join(root, 'tsconfig.json'), join(dir, 'deadlock.ts')], {
        cwd: root,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(res.code).toBe(2);
      for (const line of promised) expect(res.stderr).toContain(line.replace('deadlock.ts', join(dir, 'deadlock.ts')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps ```ts nocheck fences rare', () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    const fences = text.match(/^```ts\b.*$/gm) ?? [];
    const skipped = fences.filter((f) => /\bnocheck\b/.test(f));
    expect(fences.length).toBeGreaterThanOrEqual(15);
    expect(skipped.length).toBeLessThanOrEqual(3);
  });
});

describe('scripts/extract-examples.mjs on a README', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-readme-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function extract(readme: string): Promise<{ code: number; stdout: string; stderr: string; out: string }> {
    const base = join(dir, `case-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(base, 'src'), { recursive: true });
    writeFileSync(join(base, 'src', 'empty.ts'), 'export const empty = 1;\n');
    writeFileSync(join(base, 'README.md'), readme);
    const outDir = join(base, 'out');
    try {
      const { stdout, stderr } = await run(process.execPath, [script, '--src', join(base, 'src'), '--out', outDir]);
      return { code: 0, stdout, stderr, out: readFileSync(join(outDir, 'README.test.ts'), 'utf8') };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr, out: '' };
    }
  }

  it('turns each ```ts fence into a test named after its heading, skipping nocheck and other languages', async () => {
    const res = await extract(
      [
        '# Title',
        '```sh',
        'npm test',
        '```',
        '## `Channel` basics',
        '```ts',
        "import { Channel } from 'weftjs';",
        'const ch = new Channel<number>(1);',
        'ch.trySend(1); // => true',
        '```',
        'Some text.',
        '```ts',
        "import { Channel, sleep } from 'weftjs';",
        'await sleep(0); // => undefined',
        '```',
        '### Server',
        '```ts nocheck',
        'server.listen(80); // => never checked',
        '```',
        '- a list item:',
        '',
        '  ```ts',
        "  import { TestClock } from 'weftjs/testing';",
        '  new TestClock(5).now(); // => 5',
        '  ```',
      ].join('\n'),
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/3 examples from 1 files/);
    expect(res.out).toContain("import { Channel, sleep } from 'weftjs';\nimport { TestClock } from 'weftjs/testing';");
    expect(res.out).toContain('__it("README.md Channel basics", async () => {\n  // README.md:7\n');
    expect(res.out).toContain('__it("README.md Channel basics (2)", async () => {\n  // README.md:13\n');
    expect(res.out).toContain('__it("README.md Server", async () => {\n  // README.md:23\n');
    expect(res.out).toContain('__expect(ch.trySend(1)).toEqual(true);');
    expect(res.out).toContain('__expect(new TestClock(5).now()).toEqual(5);');
    expect(res.out).not.toContain('server.listen');
    expect(res.out).not.toContain('npm test');
  });

  it('fails naming README.md and the line of a bad assertion or an unterminated fence', async () => {
    const bad = await extract(['# T', '```ts', 'const x = 1; // => 1', '```'].join('\n'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('README.md:3: `// =>` must follow an expression statement, not a declaration');
    const open = await extract(['# T', '', '```ts', '1; // => 1'].join('\n'));
    expect(open.code).toBe(1);
    expect(open.stderr).toContain('README.md:3: unterminated ``` fence');
  });
});
