/**
 * The guides of the docs site (guide/*.md) are documentation too, and their
 * examples are tests as the README's are: `scripts/extract-examples.mjs`
 * turns each ```ts fence of a guide into a test (`// => value` asserts),
 * written under test/doc-examples/.guides/ (git-ignored; a dot folder, so
 * vitest does not collect it on its own), and this file runs them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// --src guide/: a folder of no .ts file, so that only the guide's fences are extracted, named guide/<file>.
const noSources = join(root, 'guide');
const outRoot = join(root, 'test', 'doc-examples', '.guides');
rmSync(outRoot, { recursive: true, force: true });

for (const guide of readdirSync(join(root, 'guide'))
  .filter((f) => f.endsWith('.md'))
  .sort()) {
  const out = join(outRoot, guide.replace(/\.md$/, ''));
  execFileSync(process.execPath, [
    join(root, 'scripts', 'extract-examples.mjs'),
    '--src',
    noSources,
    '--readme',
    join(root, 'guide', guide),
    '--out',
    out,
  ]);
  const generated = join(out, 'README.test.ts');
  if (existsSync(generated)) await import(pathToFileURL(generated).href);
}
