/**
 * `npm run bench [-- filter...]`: runs every `bench/*.bench.ts` (or those
 * whose name contains a filter) in this one process, so weft and its peers
 * are measured side by side on the same machine state. Each file
 * default-exports an async function that calls `compare`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

console.log(`weft benchmarks, node ${process.version}, ${files.length} file(s); ratio = contender time / weft time`);
for (const file of files) {
  const mod = (await import(pathToFileURL(`${dir}${file}`).href)) as { default: () => Promise<void> };
  await mod.default();
}
