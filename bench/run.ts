/**
 * `npm run bench [-- filter... --grep text --rounds n --src --no-build --list]`:
 * the parent of weft's benchmarks. It builds the package (`tsup --no-dts`:
 * the JavaScript of `npm run build`; unless `--no-build`), bundles `bench/child.ts`, every `bench/*.bench.ts` and
 * `bench/fixtures/*.ts` into `bench/.out/` with esbuild, weft and every
 * peer left external (so `import 'weftjs'` in a child resolves through
 * package.json `exports` to `dist/`, the way users get it), then for each
 * bench file (those whose name contains a filter, if any): runs its
 * exported `setup()` if it has one, lists its comparisons in a child, and
 * measures each comparison (those whose title contains a `--grep` text, if
 * any) in rounds: in every round each contender runs in a fresh `node`
 * process, one after the other, the order rotated by one each round
 * (A B C, B C A, ...). It prints a table per comparison as it finishes
 * (`report.ts`) and writes every figure to `bench/results/` as JSON.
 *
 * `--src` runs the children on tsx from `src/` instead, for quick
 * iteration; figures for notes and docs come from the built package.
 * `--smoke` (`npm run bench:smoke`) runs only the comparisons marked
 * `smoke`, at their smoke sizes, with only the contenders their targets
 * name, over 5 rounds, and exits 1 when a headline ratio regressed past
 * `bench/baseline.json` (`baseline.ts`); `--update-baseline` rewrites it.
 * `--check` runs every contender once, in one round, each child making
 * one checked call: a quick proof that every row still runs, whose
 * figures mean little. `--strict` exits 1 when any target is missed. A failed child makes the
 * run exit 1 at the end.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build as esbuild } from 'esbuild';
import { checkBaseline, readBaseline, updateBaseline } from './baseline.js';
import { type ComparisonMeta, MARK, type ResultLine, type Setup } from './lib.js';
import { type ComparisonSummary, type ContenderRounds, printTable, summarize } from './report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = join(root, 'bench');
const outDir = join(benchDir, '.out');

const { values: args, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    src: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    grep: { type: 'string', short: 'g', multiple: true },
    smoke: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    'update-baseline': { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]!
      .replace(/^\/\*\*|^ \* ?/gm, ''),
  );
  process.exit(0);
}
const mode: 'dist' | 'src' = args.src ? 'src' : 'dist';
const smoke = args.smoke || args['update-baseline'];
const rounds = args.check ? 1 : Number(args.rounds ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: a positive integer, got ${args.rounds}`);
const greps = (args.grep ?? []).map((g) => g.toLowerCase());
const started = new Date();

function git(...a: string[]): string {
  try {
    return execFileSync('git', a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
const sha = git('rev-parse', 'HEAD') || 'unknown';
const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
const cpus = os.cpus();
const machine = {
  cpus: cpus.length,
  model: cpus[0]?.model ?? 'unknown',
  availableParallelism: os.availableParallelism(),
  totalmemGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
};

// --- build -----------------------------------------------------------------

const files = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) throw new Error(`no bench file matches ${filters.join(', ')}`);

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

if (mode === 'dist') {
  if (!args['no-build']) {
    const t0 = performance.now();
    // The JavaScript of `npm run build`, without the type declarations: they
    // change nothing that runs, take most of the build's time, and a type
    // error is the typecheck's to report, not a reason not to measure.
    const r = spawnSync(join(root, 'node_modules/.bin/tsup'), ['--no-dts'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(r.stdout, r.stderr);
      throw new Error('bench: the package build (tsup) failed');
    }
    console.log(`built the package (tsup --no-dts) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else if (!existsSync(join(root, 'dist/index.js'))) {
    throw new Error('bench: --no-build, and dist/ has no build: run without --no-build');
  } else if (newest(join(root, 'src')) > statSync(join(root, 'dist/index.js')).mtimeMs) {
    console.log('warning: --no-build, and src/ has changed since dist/ was built');
  }
}

// Bundles into bench/.out/: for the built package, the child entry, the
// bench files and the fixtures, with every bare specifier left an import
// (weftjs resolved by Node through `exports`, never through the tsconfig
// `paths`, and the peers); under --src, the fixtures only, with weft inlined
// from src/ (a Worker does not inherit tsx's loader on Node 20).
async function bundle(): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  const fixtures = existsSync(join(benchDir, 'fixtures'))
    ? readdirSync(join(benchDir, 'fixtures'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(benchDir, 'fixtures', f))
    : [];
  const entries = mode === 'dist' ? [join(benchDir, 'child.ts'), ...files.map((f) => join(benchDir, f))] : [];
  if (entries.length + fixtures.length === 0) return;
  const inlineWeft = mode === 'src';
  const result = await esbuild({
    entryPoints: [...entries, ...fixtures],
    outdir: outDir,
    outbase: benchDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'external-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            inlineWeft && /^weftjs(\/|$)/.test(a.path) ? undefined : { path: a.path, external: true },
          );
        },
      },
    ],
  });
  const fromSrc = Object.keys(result.metafile.inputs).filter((p) => p.startsWith('src/'));
  if (!inlineWeft && fromSrc.length > 0) {
    throw new Error(`bench: a bench file imports weft's source (${fromSrc[0]}): import 'weftjs' instead`);
  }
}
await bundle();

// --- children ----------------------------------------------------------------

let current: ChildProcess | null = null;
const teardowns: (() => unknown)[] = [];
process.on('SIGINT', async () => {
  if (current?.pid !== undefined) current.kill('SIGKILL');
  for (const t of teardowns.splice(0)) await t();
  process.exit(130);
});

interface ChildOut {
  lines: Record<string, any>[];
  code: number | null;
  stderr: string;
  timedOut: boolean;
}

function child(file: string, task: object, env: Record<string, string>, flags: string[], timeoutMs: number) {
  const argv =
    mode === 'dist'
      ? ['--expose-gc', ...flags, join(outDir, 'child.mjs'), join(outDir, file.replace(/\.ts$/, '.mjs'))]
      : ['--expose-gc', '--import', 'tsx', ...flags, join(benchDir, 'child.ts'), join(benchDir, file)];
  return new Promise<ChildOut>((resolve) => {
    const p = spawn(process.execPath, argv, {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        WEFT_BENCH_CHILD: JSON.stringify(task),
        WEFT_BENCH_BUILD: mode,
        WEFT_BENCH_ROOT: root,
        WEFT_BENCH_SMOKE: smoke ? '1' : '0',
        WEFT_BENCH_CHECK: args.check ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = p;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      current = null;
      const lines: Record<string, any>[] = [];
      for (const line of stdout.split('\n')) {
        if (line.startsWith(MARK)) lines.push(JSON.parse(line.slice(MARK.length)));
        else if (line.trim() !== '') console.log(`    | ${line}`);
      }
      resolve({ lines, code, stderr, timedOut });
    });
  });
}

function tail(s: string): string {
  const lines = s.trim().split('\n');
  const err = [...lines].reverse().find((l) => /Error|error:/.test(l)) ?? lines.at(-1) ?? '';
  return err.trim().slice(0, 300);
}

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 80) - 1)}`);
}

// --- the run -------------------------------------------------------------

const summaries: ComparisonSummary[] = [];
const failures: string[] = [];
let resolved: Record<string, string> = {};

async function runFile(file: string): Promise<void> {
  const source = readFileSync(join(benchDir, file), 'utf8');
  let env: Record<string, string> = {};
  if (/export\s+(async\s+)?function\s+setup\b|export\s+const\s+setup\b/.test(source)) {
    const path = mode === 'dist' ? join(outDir, file.replace(/\.ts$/, '.mjs')) : join(benchDir, file);
    const mod = (await import(pathToFileURL(path).href)) as { setup?: Setup };
    const s = (await mod.setup?.()) ?? {};
    if (s.teardown !== undefined) teardowns.push(s.teardown);
    env = s.env ?? {};
  }
  const list = await child(file, { mode: 'list' }, env, [], 120_000);
  if (list.code !== 0) {
    failures.push(`${file}: listing its comparisons failed: ${tail(list.stderr)}`);
    console.log(`\n${file}: listing its comparisons failed (exit ${list.code}):\n${list.stderr.trim()}`);
    return;
  }
  let metas = list.lines.filter((l) => l.kind === 'comparison') as unknown as ComparisonMeta[];
  const titles = new Set<string>();
  for (const m of metas) {
    if (titles.has(m.title)) throw new Error(`bench: ${file}: two comparisons titled ${JSON.stringify(m.title)}`);
    titles.add(m.title);
  }
  if (smoke) metas = metas.filter((m) => m.smoke);
  if (greps.length > 0) metas = metas.filter((m) => greps.some((g) => m.title.toLowerCase().includes(g)));
  if (args.list) {
    for (const m of metas) {
      console.log(`\n${file}: ${m.title}`);
      for (const c of m.contenders) console.log(`  ${c.name}${c.skip === null ? '' : `  (skipped: ${c.skip})`}`);
    }
    return;
  }
  for (const meta of metas) await runComparison(file, meta, env);
}

async function runComparison(file: string, meta: ComparisonMeta, env: Record<string, string>): Promise<void> {
  let contenders = meta.contenders;
  if (smoke) {
    // Only what the headline ratios need: weft and the contenders the targets name.
    const wanted = new Set([meta.weft]);
    for (const t of meta.targets) {
      if (t.atMost === undefined && t.atLeast === undefined) continue;
      wanted.add(t.contender!);
      for (const v of Array.isArray(t.vs) ? t.vs : [t.vs]) wanted.add(v);
    }
    contenders = contenders.filter((c) => wanted.has(c.name) && c.smoke);
    meta = { ...meta, targets: meta.targets.filter((t) => t.atMost !== undefined || t.atLeast !== undefined) };
  }
  const n = Math.min(rounds, meta.rounds ?? rounds);
  const runs: ContenderRounds[] = contenders.map((c) => ({
    name: c.name,
    ops: c.ops,
    skip: c.skip,
    rounds: Array(n).fill(null),
    samples: Array(n).fill(null),
    errors: [],
  }));
  const t0 = performance.now();
  const stopped = new Set<string>();
  const live = contenders.map((c, i) => ({ c, run: runs[i]! })).filter((x) => x.c.skip === null);
  for (let r = 0; r < n; r++) {
    const order = live.map((_, i) => live[(i + r) % live.length]!);
    for (const { c, run } of order) {
      if (stopped.has(c.name) || (c.rounds !== null && r >= c.rounds)) continue;
      progress(`  ${meta.title.slice(0, 40)}: round ${r + 1}/${n}: ${c.name}`);
      const timeoutMs = c.timeoutMs ?? (smoke ? 60_000 : 300_000);
      const out = await child(
        file,
        { mode: 'run', title: meta.title, contender: c.name },
        env,
        meta.nodeFlags,
        timeoutMs,
      );
      const line = out.lines.find((l) => l.kind === 'result') as ResultLine | undefined;
      if (out.code === 0 && line !== undefined) {
        run.rounds[r] = line.value;
        run.samples[r] = line.samples;
        continue;
      }
      // A contender that failed or timed out once is not run again.
      const why = out.timedOut ? `timed out after ${timeoutMs / 1000} s` : `exit ${out.code}: ${tail(out.stderr)}`;
      run.errors.push(`round ${r + 1}: ${why}`);
      stopped.add(c.name);
      if (!out.timedOut) {
        failures.push(`${meta.title}: ${c.name}: ${why}`);
        console.log(`\n  ${c.name} failed in round ${r + 1}:\n${out.stderr.trim().replace(/^/gm, '    ')}`);
      }
    }
  }
  progress('');
  const s = summarize(file, meta, runs, n, Number(((performance.now() - t0) / 1000).toFixed(1)));
  printTable(s);
  summaries.push(s);
}

// Where weftjs resolves in a child, for the header (each child checks it again).
const probe = await child(files[0]!, { mode: 'probe' }, {}, [], 60_000);
const probed = probe.lines.find((l) => l.kind === 'resolved');
if (probe.code !== 0 || probed === undefined) throw new Error(`bench: the resolution probe failed: ${probe.stderr}`);
resolved = probed.resolved;

console.log(
  `weft benchmarks: ${mode === 'dist' ? 'the built package' : 'src/ through tsx (--src: not for published figures)'}` +
    `${smoke ? ', smoke' : ''}; node ${process.version}; ${machine.cpus} x ${machine.model}` +
    ` (availableParallelism ${machine.availableParallelism}); git ${sha.slice(0, 10)}${dirty ? ' (uncommitted changes)' : ''}`,
);
console.log(
  `${files.length} file(s), ${rounds} round(s): each contender in a fresh process per round, the contenders of a` +
    ' comparison interleaved; a figure is the median of the rounds, spread = min..max of the rounds;' +
    ' vs weft / vs floor = same-run ratio of times (> 1: slower than weft / the floor)',
);
console.log(`weftjs -> ${resolved.weftjs}`);
try {
  for (const file of files) await runFile(file);
} finally {
  for (const t of teardowns.splice(0)) await t();
}

if (args.list) process.exit(failures.length > 0 ? 1 : 0);

const missed = summaries.flatMap((s) =>
  s.targets.filter((t) => t.met === false).map((t) => `${s.title} :: ${t.label}`),
);
const finished = new Date();
const report = {
  schema: 1,
  startedAt: started.toISOString(),
  finishedAt: finished.toISOString(),
  durationS: Number(((finished.getTime() - started.getTime()) / 1000).toFixed(1)),
  build: mode,
  smoke,
  check: args.check,
  rounds,
  filters,
  grep: greps,
  resolved,
  node: process.version,
  v8: process.versions.v8,
  machine,
  git: { sha, dirty },
  comparisons: summaries,
  missedTargets: missed,
  failures,
};
const resultsDir = join(benchDir, 'results');
mkdirSync(resultsDir, { recursive: true });
const latest =
  args.out ??
  join(
    resultsDir,
    smoke ? 'smoke.json' : args.check ? 'check.json' : mode === 'src' ? 'latest-src.json' : 'latest.json',
  );
writeFileSync(latest, `${JSON.stringify(report, null, 2)}\n`);
const written = [relative(root, latest)];
// A whole run of the built package is a record: a dated copy, to commit when it is the quiet machine's.
if (!smoke && !args.check && mode === 'dist' && filters.length === 0 && greps.length === 0 && args.out === undefined) {
  const dated = join(resultsDir, `${started.toISOString().slice(0, 16).replace(/:/g, '')}-${sha.slice(0, 7)}.json`);
  writeFileSync(dated, `${JSON.stringify(report, null, 2)}\n`);
  written.push(relative(root, dated));
}

let regressed = 0;
if (smoke) {
  const path = join(benchDir, 'baseline.json');
  const old = readBaseline(path);
  if (args['update-baseline']) {
    if (failures.length > 0) throw new Error('bench: not updating the baseline from a run with failures');
    updateBaseline(summaries, old, relative(root, path), {
      node: process.version,
      machine,
      sha,
      date: started.toISOString(),
      rounds,
    });
  } else regressed = checkBaseline(summaries, old, relative(root, path), filters.length === 0 && greps.length === 0);
}

console.log(
  `\n${summaries.length} comparison(s) in ${report.durationS} s; ${missed.length} target(s) missed; results in ${written.join(', ')}`,
);
for (const f of failures) console.log(`  FAILED: ${f}`);
process.exit(failures.length > 0 || regressed > 0 || (args.strict && missed.length > 0) ? 1 : 0);
