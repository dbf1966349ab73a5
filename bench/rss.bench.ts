/**
 * Peak memory of a long run: 1,000,000 and 10,000,000 trivial async jobs at
 * concurrency 100 from a lazy source, each run in a fresh child process
 * (`bench/fixtures/rss-run.ts`), peak RSS read from
 * `process.resourceUsage().maxRSS` at the end. Contenders: weft's
 * `flow().map().drain()` and `WorkerPool.map`, the hand-written floor (100
 * loops over one iterator), and p-map over an array (1,000,000 only: it
 * needs the whole input up front).
 *
 * Target: flat (10,000,000 within 10% of 1,000,000) and within 1.3x of the
 * floor.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function peak(n: number, impl: string): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/fixtures/rss-run.ts', String(n), impl], {
    cwd: root,
    encoding: 'utf8',
  });
  return (JSON.parse(out.trim().split('\n').pop()!) as { maxRSS: number }).maxRSS;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

export default async function (): Promise<void> {
  const impls = ['weft flow', 'weft pool', 'floor', 'p-map'];
  const key: Record<string, string> = { 'weft flow': 'flow', 'weft pool': 'pool', floor: 'floor', 'p-map': 'p-map' };
  const rows = new Map<string, { m1: number; m10?: number }>();
  for (const impl of impls) {
    const m1 = peak(1_000_000, key[impl]!);
    const m10 = impl === 'p-map' ? undefined : peak(10_000_000, key[impl]!);
    rows.set(impl, { m1, m10 });
  }
  const floor = rows.get('floor')!;
  console.log('\nPeak RSS, 100 concurrent trivial async jobs over a lazy source (fresh process each)');
  console.log(
    `  ${'contender'.padEnd(10)}  ${'1M items'.padStart(10)}  ${'10M items'.padStart(10)}  ${'10M/1M'.padStart(7)}  ${'vs floor (10M)'.padStart(14)}`,
  );
  for (const [impl, r] of rows) {
    const growth = r.m10 === undefined ? '-' : `${((r.m10 / r.m1 - 1) * 100).toFixed(1)}%`;
    const vsFloor =
      r.m10 === undefined ? `${(r.m1 / floor.m1).toFixed(2)}x (1M)` : `${(r.m10 / floor.m10!).toFixed(2)}x`;
    console.log(
      `  ${impl.padEnd(10)}  ${mb(r.m1).padStart(10)}  ${(r.m10 === undefined ? '-' : mb(r.m10)).padStart(10)}  ${growth.padStart(7)}  ${vsFloor.padStart(14)}`,
    );
  }
  console.log('  target: flat (10M within 10% of 1M) and within 1.3x of the floor');
}
