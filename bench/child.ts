/**
 * The child entry: `node bench/.out/child.mjs <bench file>` (or, under
 * `--src`, `node --import tsx bench/child.ts <bench file>`), started by
 * `bench/run.ts` with its task in `WEFT_BENCH_CHILD`. It first checks
 * where `weftjs` resolves (into `dist/` for the built package, `src/` under
 * `--src`) and refuses to go on otherwise (in `probe` mode it prints where and
 * ends there), then imports the bench file and
 * calls its default function. In `list` mode every `compare` prints its
 * comparison as one JSON line; in `run` mode the one `compare` asked for
 * runs the one contender asked for, prints its figures as one JSON line,
 * and ends the process (see `lib.ts`).
 */
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, MARK } from './lib.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: child <bench file>');
const root = process.env.WEFT_BENCH_ROOT ?? process.cwd();
const task = JSON.parse(process.env.WEFT_BENCH_CHILD ?? '{}') as { mode?: string; title?: string; contender?: string };

// Where each entry point of the package resolves from here: the built
// package goes through package.json `exports` to dist/, --src through
// tsx and the tsconfig `paths` to src/.
const want = pathToFileURL(`${resolve(root, build === 'src' ? 'src' : 'dist')}/`).href;
const resolved: Record<string, string> = {};
for (const name of ['weftjs', 'weftjs/threads', 'weftjs/node', 'weftjs/redis', 'weftjs/testing']) {
  let url: string;
  try {
    url = import.meta.resolve(name);
  } catch {
    continue; // an entry point not built yet; a file importing it fails on its own
  }
  if (!url.startsWith(want)) {
    throw new Error(`bench: ${name} resolves to ${url}, not into ${want} (${build} mode)`);
  }
  resolved[name] = url;
}
if (resolved.weftjs === undefined) throw new Error('bench: weftjs does not resolve (is the package built?)');

if (task.mode === 'list' || task.mode === 'probe') {
  writeSync(1, `${MARK}${JSON.stringify({ kind: 'resolved', resolved })}\n`);
  if (task.mode === 'probe') process.exit(0);
}
const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: () => Promise<void> };
if (typeof mod.default !== 'function') throw new Error(`bench: ${file} has no default export`);
await mod.default();
if (task.mode === 'run') {
  // A contender that ran would have ended the process in compare().
  throw new Error(`bench: ${file}: no comparison ${JSON.stringify(task.title)} with ${JSON.stringify(task.contender)}`);
}
process.exit(0);
