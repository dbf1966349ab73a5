/**
 * `npm run examples`, the tour of the example programs: every program in
 * `examples/` is introduced by a sentence and none is introduced that does
 * not exist; a run of one program prints its introduction and its output.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { firstSentence, intro, intros, programs } from '../../examples/tour.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('npm run examples', () => {
  it('introduces every example program with one sentence, and only programs that exist', () => {
    const files = programs();
    expect(files.length).toBeGreaterThan(0);
    for (const file of Object.keys(intros)) expect(existsSync(`${root}examples/${file}`), file).toBe(true);
    for (const file of files) {
      const sentence = intro(file);
      // One sentence: one full stop at the end, none in between.
      expect(sentence, file).toMatch(/^\S.*[.]$/);
      expect(sentence.slice(0, -1), file).not.toMatch(/[.!?] [A-Z]/);
    }
  });

  it("falls back on the first sentence of a program's doc comment", () => {
    expect(firstSentence('/**\n * Does a thing: well. And more.\n */\nconst x = 1;')).toBe('Does a thing: well.');
    expect(firstSentence('/**\n * A `flow`, over\n * two lines. Then.\n */')).toBe('A `flow`, over two lines.');
    expect(firstSentence('const x = 1;')).toBeUndefined();
  });

  it('is what the package scripts run: examples is the tour, demo is the service', () => {
    const { scripts } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.examples).toBe('tsx examples/tour.ts');
    expect(scripts.demo).toBe('tsx examples/demo.ts');
  });

  it('runs a chosen program in its own process, after its introduction', { timeout: 30_000 }, async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/tour.ts', '60-rate'], { cwd: root });
    const lines = stdout.split('\n');
    const at = lines.indexOf('=== examples/60-rate-limiter.ts');
    expect(at, stdout).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(intro('60-rate-limiter.ts'));
    const expected = readFileSync(`${root}examples/60-rate-limiter.expected`, 'utf8').trimEnd().split('\n');
    expect(lines.slice(at + 3, at + 3 + expected.length)).toEqual(expected);
    expect(lines).toContain('1 of 1 programs ran.');
  });
});
