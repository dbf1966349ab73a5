/**
 * The benchmark harness: each contender of a comparison is measured with
 * mitata's `measure` in the same process run, then one table prints the
 * median time per run, the throughput and the ratio to weft (> 1: weft is
 * faster by that factor).
 */
import { measure } from 'mitata';

export interface CompareOptions {
  /** Operations one call of a case performs (1 for a micro-benchmark). */
  ops: number;
  /** What an operation is called in the throughput column ("values", "tasks"). */
  unit?: string;
  /** The contenders; the one named by `weft` is the reference of the ratios. */
  cases: Record<string, () => unknown>;
  /** The key of `cases` that is weft's (default: the first key). */
  weft?: string;
  /** A line printed under the table: the issue's target, for the reader. */
  target?: string;
  /** Heavier cases (a whole million-item run per call) want fewer samples. */
  heavy?: boolean;
}

export interface Row {
  group: string;
  name: string;
  nsPerRun: number;
  opsPerSec: number;
  ratio: number;
}

export const results: Row[] = [];

function fmtTime(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k`;
  return perSec.toFixed(1);
}

/** Measures every case and prints the comparison table. */
export async function compare(title: string, opts: CompareOptions): Promise<Row[]> {
  const names = Object.keys(opts.cases);
  const weftName = opts.weft ?? names[0]!;
  const measureOpts = opts.heavy
    ? { min_samples: 5, max_samples: 15, min_cpu_time: 2e9, warmup_samples: 2, warmup_threshold: 0 }
    : { min_cpu_time: 5e8 };
  const times = new Map<string, number>();
  for (const name of names) {
    const stats = await measure(opts.cases[name]!, measureOpts);
    times.set(name, stats.p50);
  }
  const weftTime = times.get(weftName)!;
  const unit = opts.unit ?? 'ops';
  const rows: Row[] = names.map((name) => ({
    group: title,
    name,
    nsPerRun: times.get(name)!,
    opsPerSec: (opts.ops * 1e9) / times.get(name)!,
    ratio: times.get(name)! / weftTime,
  }));
  const width = Math.max(...names.map((n) => n.length), 8);
  console.log(`\n${title}`);
  console.log(
    `  ${'contender'.padEnd(width)}  ${'time/run'.padStart(10)}  ${`${unit}/s`.padStart(10)}  ${'vs weft'.padStart(8)}`,
  );
  for (const r of rows) {
    const ratio = r.name === weftName ? '1.00x' : `${r.ratio.toFixed(2)}x`;
    console.log(
      `  ${r.name.padEnd(width)}  ${fmtTime(r.nsPerRun).padStart(10)}  ${fmtRate(r.opsPerSec).padStart(10)}  ${ratio.padStart(8)}`,
    );
  }
  if (opts.target) console.log(`  target: ${opts.target}`);
  results.push(...rows);
  return rows;
}
