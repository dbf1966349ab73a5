/**
 * Peak memory of a long run: 1,000,000 and 10,000,000 trivial async jobs at
 * concurrency 100 from a lazy source, each run in a fresh child process
 * (`bench/fixtures/rss-run.ts`), peak RSS read from
 * `process.resourceUsage().maxRSS` at the end. Contenders: weft's
 * `flow().map().drain()` and `WorkerPool.map` (read with `for await`, and
 * with its flow's `drain()`), the hand-written floor (100
 * loops over one iterator), and p-map over an array (1,000,000 only: it
 * needs the whole input up front).
 *
 * The fixture is bundled first (tsup, weft and p-map inlined) and run on
 * plain `node`: under `--import tsx` the loader's own memory would be most
 * of the figure.
 *
 * Each size is run twice: with V8's defaults, and with the young
 * generation held at one size (`--max-semi-space-size=1`). V8 grows the
 * young generation as a process keeps allocating (here from 1 MB towards
 * 16 MB per semi-space), so with the defaults a longer run of the same
 * steady work peaks higher, the floor's included; with the young
 * generation held, what is left is what the run retains, which must not
 * grow with the number of items.
 *
 * Target: flat (10,000,000 within 10% of 1,000,000) and within 1.3x of the
 * floor.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const root = fileURLToPath(new URL('..', import.meta.url));

function peak(script: string, n: number, impl: string, flags: string[]): number {
  const out = execFileSync(process.execPath, [...flags, script, String(n), impl], { cwd: root, encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').pop()!) as { maxRSS: number }).maxRSS;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

const impls: Record<string, string> = {
  'weft flow': 'flow',
  'weft pool': 'pool',
  'pool drain': 'pool-drain',
  floor: 'floor',
  'p-map': 'p-map',
};

function table(script: string, title: string, flags: string[]): void {
  const rows = new Map<string, { m1: number; m10?: number }>();
  for (const [name, impl] of Object.entries(impls)) {
    const m1 = peak(script, 1_000_000, impl, flags);
    const m10 = impl === 'p-map' ? undefined : peak(script, 10_000_000, impl, flags);
    rows.set(name, { m1, m10 });
  }
  const floor = rows.get('floor')!;
  console.log(`\n${title}`);
  console.log(
    `  ${'contender'.padEnd(10)}  ${'1M items'.padStart(10)}  ${'10M items'.padStart(10)}  ${'10M/1M'.padStart(7)}  ${'vs floor (1M)'.padStart(13)}  ${'vs floor (10M)'.padStart(14)}`,
  );
  for (const [name, r] of rows) {
    const growth = r.m10 === undefined ? '-' : `${((r.m10 / r.m1 - 1) * 100).toFixed(1)}%`;
    const vs10 = r.m10 === undefined ? '-' : `${(r.m10 / floor.m10!).toFixed(2)}x`;
    console.log(
      `  ${name.padEnd(10)}  ${mb(r.m1).padStart(10)}  ${(r.m10 === undefined ? '-' : mb(r.m10)).padStart(10)}  ${growth.padStart(7)}  ${`${(r.m1 / floor.m1).toFixed(2)}x`.padStart(13)}  ${vs10.padStart(14)}`,
    );
  }
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-rss-'));
  try {
    await build({
      entry: { 'rss-run': join(root, 'bench/fixtures/rss-run.ts') },
      outDir: dir,
      format: ['esm'],
      platform: 'node',
      target: 'node20',
      noExternal: [/.*/],
      config: false,
      silent: true,
      dts: false,
      splitting: false,
      sourcemap: false,
      outExtension: () => ({ js: '.mjs' }),
    });
    const script = join(dir, 'rss-run.mjs');
    const head = 'Peak RSS, 100 concurrent trivial async jobs over a lazy source (plain node, fresh process each)';
    table(script, `${head}: V8 defaults`, []);
    table(script, `${head}: young generation held (--max-semi-space-size=1)`, ['--max-semi-space-size=1']);
    console.log('  target: flat (10M within 10% of 1M) and within 1.3x of the floor');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
