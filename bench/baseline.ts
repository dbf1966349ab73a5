/**
 * The benchmark smoke's baseline (`bench/baseline.json`): the headline
 * ratios (every target with a threshold, of every comparison marked
 * `smoke`) as a smoke run measured them, and how far a later run may fall
 * behind them. Ratios, not times: each is weft against a floor or a peer
 * in the same run, so it holds from one machine to another far better than
 * a time does. A run regresses when a ratio is worse than its baseline by
 * more than the tolerance (a factor: 1.5 means a time ratio up from 1.00x
 * to over 1.50x, or an "as fast" ratio down from 6.0x to under 4.0x): wide
 * enough for the noise of a shared machine, narrow enough to catch a lost
 * fast path. A target with no baseline yet, or whose contender is skipped,
 * is reported and does not fail.
 *
 * Update it after a change that moves a headline ratio on purpose, on a
 * quiet machine: `npm run bench:smoke -- --update-baseline` (add
 * `--rounds 5` for a steadier figure), then commit `bench/baseline.json`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ComparisonSummary } from './report.js';

/** The default tolerance; see the doc of `tolerance` in the file. */
export const DEFAULT_TOLERANCE = 1.5;

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

/** Prints each headline ratio against the baseline; returns how many regressed. */
export function checkBaseline(summaries: ComparisonSummary[], baseline: Baseline | null, path: string): number {
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
  for (const key of Object.keys(baseline?.ratios ?? {})) {
    if (!seen.has(key)) console.log(`  missing    ${key}: in the baseline, not measured by this run`);
  }
  if (regressed > 0) console.log(`  ${regressed} headline ratio(s) regressed past the baseline`);
  return regressed;
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
      'Headline ratios of `npm run bench:smoke` (see bench/baseline.ts). The smoke fails when one is worse than here by more than `tolerance` (a factor). Update: npm run bench:smoke -- --update-baseline --rounds 5, on a quiet machine, then commit.',
    tolerance: old?.tolerance ?? DEFAULT_TOLERANCE,
    measured,
    ratios,
  };
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
  console.log(`\nwrote ${Object.keys(ratios).length} headline ratios to ${path}`);
}
