/**
 * Every `examples/NN-name.ts` program is run as a user would run it, and its
 * output is checked against `examples/NN-name.expected`: line by line,
 * exactly, except lines written `re:<regex>`, which must match the regex
 * (for figures that vary: timings, rates, memory).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('../examples/', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const programs = readdirSync(dir)
  .filter((f) => /^\d\d-.*\.ts$/.test(f))
  .sort();

describe('examples', () => {
  it('every example program has an expected output', () => {
    const missing = programs.filter((f) => !existsSync(`${dir}${f.replace(/\.ts$/, '.expected')}`));
    expect(missing).toEqual([]);
  });

  for (const file of programs) {
    it(`examples/${file} prints what it promises`, { timeout: 60_000 }, async () => {
      const expectedFile = `${dir}${file.replace(/\.ts$/, '.expected')}`;
      if (!existsSync(expectedFile)) return;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], {
        cwd: root,
        env: { ...process.env, WEFT_EXAMPLE_TEST: '1' },
      });
      const got = stdout.replace(/\n$/, '').split('\n');
      const want = readFileSync(expectedFile, 'utf8').replace(/\n$/, '').split('\n');
      expect(got.length, `line count of examples/${file}:\n${stdout}`).toBe(want.length);
      want.forEach((line, i) => {
        if (line.startsWith('re:')) expect(got[i], `line ${i + 1}`).toMatch(new RegExp(`^${line.slice(3)}$`));
        else expect(got[i], `line ${i + 1}`).toBe(line);
      });
    });
  }
});
