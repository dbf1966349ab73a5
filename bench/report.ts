/**
 * What `bench/run.ts` makes of the rounds of one comparison: each
 * contender's median over its rounds and their spread (min and max), its
 * throughput, its same-run ratios to weft and to the floor, and each target
 * checked; then the table printed for it and the object written to the
 * results JSON.
 *
 * A same-run ratio is the median, over the rounds, of the ratio of two
 * contenders' times per operation measured in the same round (one child
 * right after the other), so a machine that slows down between rounds moves
 * both sides of a ratio together. "vs weft" is the contender's time over
 * weft's (2.00x: weft is twice as fast); "vs floor" the contender's time
 * over the floor's (1.10x: 10% slower than the hand-written floor).
 */
import type { ComparisonMeta, Target } from './lib.js';
import { median } from './measure.js';

/** A contender's rounds as `run.ts` collected them: a figure, or null where the round failed or did not run. */
export interface ContenderRounds {
  name: string;
  ops: number;
  skip: string | null;
  rounds: (number | null)[];
  samples: (number[] | null)[];
  errors: string[];
}

export interface ContenderSummary extends ContenderRounds {
  /** Median over the rounds: ns per call, or bytes for maxRSS. */
  median: number | null;
  min: number | null;
  max: number | null;
  /** Operations per second at the median (time only). */
  perSec: number | null;
  vsWeft: number | null;
  vsFloor: number | null;
}

export interface TargetResult {
  /** `title :: label`, the key in `bench/baseline.json`. */
  key: string;
  label: string;
  contender: string;
  /** The `vs` contender measured against (the fastest, for a list). */
  vs: string | null;
  kind: 'atMost' | 'atLeast' | 'info';
  threshold: number | null;
  /** atMost and info: time (or memory) of contender over vs; atLeast: how many times as fast. */
  ratio: number | null;
  /** null: not measured (skipped or failed), or info. */
  met: boolean | null;
  /** Which way is better for `ratio`. */
  better: 'lower' | 'higher';
  note: string | null;
  why: string | null;
}

export interface ComparisonSummary {
  file: string;
  title: string;
  unit: string;
  ops: number;
  metric: 'time' | 'maxRSS';
  weft: string;
  floor: string | null;
  note: string | null;
  smoke: boolean;
  rounds: number;
  /** Wall-clock seconds the comparison's children took, in all. */
  seconds: number;
  contenders: ContenderSummary[];
  targets: TargetResult[];
}

/** Time (or bytes) per operation in one round. */
function perOp(meta: ComparisonMeta, c: ContenderRounds, i: number): number | null {
  const v = c.rounds[i];
  if (v === null || v === undefined) return null;
  return meta.metric === 'maxRSS' ? v : v / c.ops;
}

/** The median over rounds of a's figure per operation over b's, in rounds where both ran. */
function sameRun(meta: ComparisonMeta, a: ContenderRounds, b: ContenderRounds): number | null {
  const ratios: number[] = [];
  for (let i = 0; i < Math.max(a.rounds.length, b.rounds.length); i++) {
    const x = perOp(meta, a, i);
    const y = perOp(meta, b, i);
    if (x !== null && y !== null) ratios.push(x / y);
  }
  return ratios.length === 0 ? null : median(ratios);
}

function medianPerOp(meta: ComparisonMeta, c: ContenderSummary): number | null {
  if (c.median === null) return null;
  return meta.metric === 'maxRSS' ? c.median : c.median / c.ops;
}

function names(vs: string | string[]): string {
  return Array.isArray(vs) ? `the fastest of ${vs.join(', ')}` : vs;
}

function label(meta: ComparisonMeta, t: Target): string {
  const c = t.contender!;
  const what = meta.metric === 'maxRSS' ? "'s peak RSS" : '';
  if (t.atMost !== undefined) return `${c} within ${t.atMost.toFixed(2)}x of ${names(t.vs)}${what}`;
  if (t.atLeast !== undefined) return `${c} at least ${t.atLeast.toFixed(2)}x as fast as ${names(t.vs)}`;
  return `${c} vs ${names(t.vs)}${what}`;
}

export function summarize(
  file: string,
  meta: ComparisonMeta,
  runs: ContenderRounds[],
  rounds: number,
  seconds: number,
): ComparisonSummary {
  const contenders: ContenderSummary[] = runs.map((c) => {
    const vals = c.rounds.filter((v): v is number => v !== null);
    const med = vals.length === 0 ? null : median(vals);
    return {
      ...c,
      median: med,
      min: vals.length === 0 ? null : Math.min(...vals),
      max: vals.length === 0 ? null : Math.max(...vals),
      perSec: med === null || meta.metric !== 'time' ? null : (c.ops * 1e9) / med,
      vsWeft: null,
      vsFloor: null,
    };
  });
  const byName = new Map(contenders.map((c) => [c.name, c]));
  const weft = byName.get(meta.weft)!;
  const floor = meta.floor === null ? undefined : byName.get(meta.floor);
  for (const c of contenders) {
    c.vsWeft = sameRun(meta, c, weft);
    c.vsFloor = floor === undefined ? null : sameRun(meta, c, floor);
  }
  const targets = meta.targets.map((t): TargetResult => {
    const kind = t.atMost !== undefined ? 'atMost' : t.atLeast !== undefined ? 'atLeast' : 'info';
    const l = label(meta, t);
    const c = byName.get(t.contender!);
    if (c === undefined) throw new Error(`bench: ${meta.title}: a target names ${t.contender}, which did not run`);
    // For a list, the fastest of those that ran.
    let vs: ContenderSummary | undefined;
    const listed = (Array.isArray(t.vs) ? t.vs : [t.vs]).filter((n) => byName.has(n));
    for (const name of listed) {
      const v = byName.get(name)!;
      const x = medianPerOp(meta, v);
      if (x !== null && (vs === undefined || x < medianPerOp(meta, vs)!)) vs = v;
    }
    const base = {
      key: `${meta.title} :: ${l}`,
      label: l,
      contender: c.name,
      vs: vs?.name ?? null,
      kind,
      threshold: t.atMost ?? t.atLeast ?? null,
      better: kind === 'atLeast' ? 'higher' : 'lower',
      note: t.note ?? null,
    } as const;
    const missing = [c, ...(vs === undefined ? listed.map((n) => byName.get(n)!) : [vs])]
      .filter((x) => x.median === null)
      .map((x) => (x.skip !== null ? `${x.name} skipped: ${x.skip}` : `${x.name} did not run`));
    if (vs === undefined || c.median === null) return { ...base, ratio: null, met: null, why: missing.join('; ') };
    const ratio = kind === 'atLeast' ? sameRun(meta, vs, c) : sameRun(meta, c, vs);
    const met = ratio === null || kind === 'info' ? null : kind === 'atMost' ? ratio <= t.atMost! : ratio >= t.atLeast!;
    return { ...base, ratio, met, why: ratio === null ? 'no round where both ran' : null };
  });
  return {
    file,
    title: meta.title,
    unit: meta.unit,
    ops: meta.ops,
    metric: meta.metric,
    weft: meta.weft,
    floor: meta.floor,
    note: meta.note,
    smoke: meta.smoke,
    rounds,
    seconds,
    contenders,
    targets,
  };
}

export function fmtTime(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k`;
  return perSec.toFixed(1);
}

const fmtBytes = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
const fmtRatio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}x`);

function spread(c: ContenderSummary): string {
  if (c.median === null || c.min === null || c.max === null) return '';
  if (c.rounds.filter((v) => v !== null).length < 2) return '(1 round)';
  const pct = (v: number) => `${v >= 0 ? '+' : '-'}${Math.abs(v * 100).toFixed(Math.abs(v) < 0.1 ? 1 : 0)}%`;
  return `${pct(c.min / c.median - 1)}..${pct(c.max / c.median - 1)}`;
}

/** The figure of a contender (for a target line): its throughput, or its peak RSS. */
function figure(s: ComparisonSummary, name: string | null): string {
  const c = s.contenders.find((x) => x.name === name);
  if (c === undefined || c.median === null) return '-';
  return s.metric === 'maxRSS' ? fmtBytes(c.median) : `${fmtRate(c.perSec!)} ${s.unit}/s`;
}

export function targetLine(s: ComparisonSummary, t: TargetResult): string {
  const status =
    t.met === true ? 'met' : t.met === false ? 'MISSED' : t.kind === 'info' && t.ratio !== null ? 'info' : 'n/a';
  const fig =
    t.ratio === null
      ? `not measured (${t.why})`
      : `${fmtRatio(t.ratio)}${t.kind === 'atLeast' ? ' as fast' : s.metric === 'maxRSS' ? ' the memory' : ' the time'}` +
        ` (${figure(s, t.contender)} vs ${figure(s, t.vs)}${t.vs !== null && t.label.includes('the fastest of') ? `, fastest: ${t.vs}` : ''})`;
  return `    ${status.padEnd(6)}  ${t.label}: ${fig}${t.note === null ? '' : ` [${t.note}]`}`;
}

export function printTable(s: ComparisonSummary): void {
  const width = Math.max(...s.contenders.map((c) => c.name.length), 9);
  const rss = s.metric === 'maxRSS';
  console.log(`\n${s.title}  (${s.rounds} round${s.rounds === 1 ? '' : 's'}, ${s.seconds.toFixed(0)} s)`);
  console.log(
    `  ${'contender'.padEnd(width)}  ${(rss ? 'peak RSS' : 'time/run').padStart(10)}  ${'spread'.padStart(11)}  ${(rss ? '' : `${s.unit}/s`).padStart(10)}  ${'vs weft'.padStart(7)}  ${s.floor === null ? '' : 'vs floor'.padStart(8)}`.trimEnd(),
  );
  for (const c of s.contenders) {
    let row: string;
    if (c.skip !== null) row = `skipped: ${c.skip}`;
    else if (c.median === null) row = `not measured: ${c.errors[0] ?? 'no round ran'}`;
    else {
      const value = rss ? fmtBytes(c.median) : fmtTime(c.median);
      const rate = c.perSec === null ? '' : fmtRate(c.perSec);
      const floor = s.floor === null ? '' : fmtRatio(c.vsFloor).padStart(8);
      row = `${value.padStart(10)}  ${spread(c).padStart(11)}  ${rate.padStart(10)}  ${fmtRatio(c.vsWeft).padStart(7)}  ${floor}`;
      if (c.errors.length > 0) row += `  (${c.errors.length} round(s) failed: ${c.errors[0]})`;
    }
    console.log(`  ${c.name.padEnd(width)}  ${row}`.trimEnd());
  }
  if (s.targets.length > 0) {
    console.log('  targets:');
    for (const t of s.targets) console.log(targetLine(s, t));
  }
  if (s.note !== null) console.log(`  note: ${s.note}`);
}
