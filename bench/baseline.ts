/**
 * The benchmark smoke's baseline (`bench/baseline.json`): the headline
 * ratios (every target with a threshold, of every comparison marked
 * `smoke`) as a smoke run measured them, and how far a later run may fall
 * behind them. Ratios, not times: each is weft against a floor or a peer
 * in the same run, so it holds from one machine to another far better than
 * a time does. A run regresses when a ratio is worse than its baseline by
 * more than the tolerance (a factor: 1.75 means a time ratio up from 1.00x
 * to over 1.75x, or an "as fast" ratio down from 7.0x to under 4.0x): wide
 * enough for the noise of a shared machine, narrow enough to catch a lost
 * fast path. A target with no baseline yet, or whose contender is skipped,
 * is reported and does not fail.
 *
 * Update it after a change that moves a headline ratio on purpose, on a
 * quiet machine: `npm run bench:smoke -- --update-baseline` (add
 * `--rounds 9` for a steadier figure), then commit `bench/baseline.json`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ComparisonSummary } from './report.js';

/**
 * The tolerance a new baseline file gets. Measured on the 2-core shared
 * development machine, with other work running: over three smoke runs of
 * 5 rounds each, a headline ratio moved by at most 1.45x from one run to
 * another (flow drain vs the floor, PubSub vs emittery with sync
 * listeners, Semaphore vs promise-pool; most moved by under 1.25x); with 3
 * rounds, by up to 1.72x. 1.75 leaves room for that and for a CI machine
 * that is not the one the baseline was measured on, and still fails a
 * ratio that got twice as bad (unless noise hides more than an eighth of
 * it: a lost fast path usually costs more than 2x).
 */
export const DEFAULT_TOLERANCE = 1.75;

interface Entry {
  ratio: number;
  better: 'lower' | 'higher';
  /** Overrides the file's tolerance for this ratio. */
  tolerance?: number;
}

export interface Baseline {
  about: string;
  tolerance: number;
  measured: Record<string, unknown>;
  ratios: Record<string, Entry>;
}

export function readBaseline(path: string): Baseline | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Baseline) : null;
}

function headline(summaries: ComparisonSummary[]) {
  return summaries
    .filter((s) => s.smoke)
    .flatMap((s) => s.targets.filter((t) => t.kind !== 'info').map((t) => ({ s, t })));
}

/** Prints each headline ratio against the baseline (and, for a `whole` run, those it did not measure); returns how many regressed. */
export function checkBaseline(
  summaries: ComparisonSummary[],
  baseline: Baseline | null,
  path: string,
  whole: boolean,
): number {
  const tol = baseline?.tolerance ?? DEFAULT_TOLERANCE;
  console.log(`\nsmoke: headline ratios against ${path} (regression: worse by more than ${tol}x)`);
  if (baseline === null) console.log('  no baseline file: write one with npm run bench:smoke -- --update-baseline');
  let regressed = 0;
  const seen = new Set<string>();
  for (const { t } of headline(summaries)) {
    seen.add(t.key);
    const b = baseline?.ratios[t.key];
    let status: string;
    let detail = '';
    if (t.ratio === null) status = 'n/a';
    else if (b === undefined) status = 'new';
    else {
      const limit = b.tolerance ?? tol;
      const worse = b.better === 'lower' ? t.ratio / b.ratio : b.ratio / t.ratio;
      status = worse > limit ? 'REGRESSED' : worse < 1 / limit ? 'improved' : 'ok';
      if (status === 'REGRESSED') regressed++;
      detail = ` (baseline ${b.ratio.toFixed(2)}x, worse by ${worse.toFixed(2)}x, limit ${limit}x)`;
    }
    const now = t.ratio === null ? `not measured: ${t.why}` : `${t.ratio.toFixed(2)}x`;
    console.log(`  ${status.padEnd(9)}  ${t.key}: ${now}${detail}`);
  }
  // A run narrowed by a filter or --grep leaves the others out on purpose.
  for (const key of whole ? Object.keys(baseline?.ratios ?? {}) : []) {
    if (!seen.has(key)) console.log(`  missing    ${key}: in the baseline, not measured by this run`);
  }
  if (regressed > 0) console.log(`  ${regressed} headline ratio(s) regressed past the baseline`);
  return regressed;
}

/** JSON as the repository's formatter (biome) writes it: an array of plain values on one line where it fits. */
function stringify(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /^( *)(.*)\[\n((?:\1 {2}[^\n[\]{}]*\n)+)\1\]/gm,
    (all, indent, head, body) => {
      const line = `${indent}${head}[${body
        .trim()
        .split(/,\n\s*/)
        .join(', ')}]`;
      return line.length <= 120 ? line : all;
    },
  );
}

/** Writes this run's headline ratios as the new baseline, keeping the tolerances already set. */
export function updateBaseline(
  summaries: ComparisonSummary[],
  old: Baseline | null,
  path: string,
  measured: Record<string, unknown>,
): void {
  const ratios: Record<string, Entry> = {};
  for (const { t } of headline(summaries)) {
    if (t.ratio === null) continue;
    const tolerance = old?.ratios[t.key]?.tolerance;
    ratios[t.key] = {
      ratio: Number(t.ratio.toFixed(3)),
      better: t.better,
      ...(tolerance === undefined ? {} : { tolerance }),
    };
  }
  const baseline: Baseline = {
    about:
      'Headline ratios of `npm run bench:smoke` (see bench/baseline.ts). The smoke fails when one is worse than here by more than `tolerance` (a factor). Update: npm run bench:smoke -- --update-baseline --rounds 9, on a quiet machine, then commit.',
    tolerance: old?.tolerance ?? DEFAULT_TOLERANCE,
    measured,
    ratios,
  };
  writeFileSync(path, `${stringify(baseline)}\n`);
  console.log(`\nwrote ${Object.keys(ratios).length} headline ratios to ${path}`);
}
