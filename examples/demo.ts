/**
 * `npm run demo`: a tour of weft, running every example program in
 * `examples/` in order. Each is a standalone program too:
 * `npx tsx examples/01-pipeline.ts`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const programs = readdirSync(dir)
  .filter((f) => /^\d\d-.*\.ts$/.test(f))
  .filter((f) => only.length === 0 || only.some((x) => f.includes(x)))
  .sort();

for (const file of programs) {
  const title = file
    .replace(/^\d\d-/, '')
    .replace(/\.ts$/, '')
    .replaceAll('-', ' ');
  console.log(`\n=== ${title} (examples/${file}) ===`);
  await import(pathToFileURL(`${dir}${file}`).href);
}
console.log(`\n${programs.length} programs ran.`);
