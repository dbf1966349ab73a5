#!/usr/bin/env node
/**
 * The Benchmarks page of the docs site (guide/benchmarks.md): reads a
 * results file that `npm run bench` wrote (bench/run.ts; its shape is in
 * bench/report.ts) and writes, between the page's `<!-- charts:start -->`
 * and `<!-- charts:end -->` markers, the figures: where they were measured,
 * a table of weft against its fastest peer per comparison, and one SVG bar
 * chart per comparison (every contender's throughput, or peak RSS, with its
 * same-run ratio to weft). The SVG is written by hand, inline, so the page
 * needs no script, no image file and no dependency. The output depends only
 * on the results file, so the page, committed, changes only with them.
 * `npm run docs` runs this first; `npm run docs:charts` runs it alone.
 *
 * Usage: node scripts/docs-charts.mjs [results.json] [--page FILE] [--check]
 *   results.json  default: of the records in bench/results/ (the files
 *                 committed there, before latest/smoke/check.json, which
 *                 every run rewrites), the newest whole run (built package,
 *                 no filter, not --smoke or --check), else the newest
 *                 partial run of the built package, else the newest of any
 *                 kind; the page says when a run is partial
 *   --page        default guide/benchmarks.md
 *   --check       write nothing; exit 1 if the page is not what it would write
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { page: { type: 'string' }, check: { type: 'boolean', default: false } },
});
const pagePath = resolve(args.page ?? join(root, 'guide', 'benchmarks.md'));

/** A whole run: the built package, every comparison, full sizes: the figures to publish. */
const isWhole = (r) => r.build === 'dist' && !r.smoke && !r.check && r.filters.length === 0 && r.grep.length === 0;

function pickResults() {
  if (positionals[0] !== undefined) return resolve(positionals[0]);
  const dir = join(root, 'bench', 'results');
  const found = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => ({ path: join(dir, f), report: JSON.parse(readFileSync(join(dir, f), 'utf8')) }))
    : [];
  if (found.length === 0) {
    throw new Error(
      'docs-charts: no results in bench/results/: run `npm run bench` (or pass a results file: node scripts/docs-charts.mjs FILE)',
    );
  }
  // Records (the files committed) before the working files every run rewrites (latest, smoke, check: git-ignored);
  // within each, a whole run first, then a partial run of the built package at full size, then the rest.
  const working = (path) => /^(latest.*|smoke|check)\.json$/.test(basename(path));
  const rank = ({ path, report: r }) =>
    (working(path) ? 0 : 3) + (isWhole(r) ? 2 : r.build === 'dist' && !r.smoke && !r.check ? 1 : 0);
  found.sort((a, b) => rank(b) - rank(a) || b.report.finishedAt.localeCompare(a.report.finishedAt));
  return found[0].path;
}

const resultsPath = pickResults();
const report = JSON.parse(readFileSync(resultsPath, 'utf8'));
if (report.schema !== 1 || !Array.isArray(report.comparisons)) {
  throw new Error(`docs-charts: ${resultsPath} is not a bench/run.ts results file of schema 1`);
}

// --- formatting (as bench/report.ts prints them) ------------------------------

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Text for markdown (a heading, a table cell, a list item): HTML-escaped, so a `<` in a title stays text. */
const mdText = (s) => esc(s).replace(/\|/g, '\\|');
function fmtRate(perSec) {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k`;
  return perSec.toFixed(1);
}
const fmtBytes = (b) => `${(b / 2 ** 20).toFixed(1)} MB`;
const fmtRatio = (r) => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));
const slug = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

// The peers are the devDependencies the benchmarks import: a contender named after one (`p-limit`,
// `cockatiel@3 ConsecutiveBreaker`, `piscina, 2 threads`) or marked `peer ` is a peer.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const peerNames = Object.keys(pkg.devDependencies ?? {})
  .map((n) => n.toLowerCase())
  .sort((a, b) => b.length - a.length);
const escapeRe = (t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const peerPatterns = peerNames.map((p) => new RegExp(`^${escapeRe(p)}($|[@ ,:(])`));
const isPeer = (name) => name.startsWith('peer ') || peerPatterns.some((re) => re.test(name.toLowerCase()));

/** weft, floor, peer, or other (a baseline, or another variant of weft), from the contender's name. */
function role(c, s) {
  if (c.name === s.weft || /^weft\b/i.test(c.name)) return 'weft';
  if (c.name === s.floor || /^floor\b/i.test(c.name)) return 'floor';
  if (isPeer(c.name)) return 'peer';
  return 'other';
}
const COLORS = { weft: '#2f7fd6', floor: '#8a8f98', peer: '#e07b39', other: '#b39ddb' };

/** What a contender's bar says: its figure, and how it compares with weft in the same rounds. */
function figure(c, s) {
  if (s.metric === 'maxRSS') return fmtBytes(c.median);
  return `${fmtRate(c.perSec)} ${s.unit}/s`;
}
function versus(c, s) {
  if (c.name === s.weft || c.vsWeft === null) return '';
  if (s.metric === 'maxRSS') return `${fmtRatio(c.vsWeft)}x weft's memory`;
  if (c.vsWeft >= 1) return `weft ${fmtRatio(c.vsWeft)}x as fast`;
  return `${fmtRatio(1 / c.vsWeft)}x as fast as weft`;
}

// --- one chart per comparison ---------------------------------------------------

const W = 640;
const BAR = 360; // the longest bar; its figure is written after it
const ROW = 40; // a contender's name on one line, its bar under it
const TOP = 22;

function chart(s) {
  const id = slug(s.title);
  const rows = s.contenders;
  const measured = rows.filter((c) => c.median !== null);
  // Throughput for time (longer: faster), bytes for memory (longer: more); linear, so lengths compare honestly.
  const value = (c) => (s.metric === 'maxRSS' ? c.median : c.perSec);
  const max = Math.max(...measured.map(value), 0);
  const height = TOP + rows.length * ROW + 22;
  const axis =
    s.metric === 'maxRSS' ? 'peak resident set size (shorter is better)' : `${s.unit} per second (longer is faster)`;
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="weft-chart-svg" viewBox="0 0 ${W} ${height}" width="100%" style="max-width:${W}px" role="img" aria-labelledby="${id}-title" font-family="system-ui, sans-serif" font-size="13">`,
    `<title id="${id}-title">${esc(s.title)}: ${esc(axis)}</title>`,
  ];
  rows.forEach((c, i) => {
    const y = TOP + i * ROW;
    const r = role(c, s);
    lines.push(`<g class="row ${r}">`);
    lines.push(
      `<text x="0" y="${y + 13}" fill="currentColor"${r === 'weft' ? ' font-weight="600"' : ''}>${esc(c.name)}</text>`,
    );
    if (c.median === null) {
      const why = c.skip !== null ? `skipped: ${c.skip}` : `not measured: ${c.errors[0] ?? 'no round ran'}`;
      lines.push(
        `<text x="0" y="${y + 31}" fill="currentColor" font-style="italic" font-size="12">${esc(why.slice(0, 90))}</text>`,
      );
    } else {
      const w = max === 0 ? 1 : Math.max(1, (value(c) / max) * BAR);
      const label = [figure(c, s), versus(c, s)].filter(Boolean).join(' · ');
      lines.push(
        `<rect class="bar" x="0" y="${y + 19}" width="${w.toFixed(1)}" height="14" rx="2" fill="${COLORS[r]}"><title>${esc(`${c.name}: ${label}`)}</title></rect>`,
      );
      lines.push(
        `<text x="${(w + 6).toFixed(1)}" y="${y + 31}" fill="currentColor" font-size="12">${esc(label)}</text>`,
      );
    }
    lines.push('</g>');
  });
  const foot = `${axis}; median of ${s.rounds} round${s.rounds === 1 ? '' : 's'}, each contender in a fresh process`;
  lines.push(`<text x="0" y="${height - 6}" fill="currentColor" opacity="0.7" font-size="11">${esc(foot)}</text>`);
  // The key, on the first line (the page's heading above the chart names the comparison).
  let x = 0;
  for (const r of Object.keys(COLORS).filter((k) => rows.some((c) => role(c, s) === k))) {
    lines.push(
      `<g class="key"><rect x="${x}" y="4" width="10" height="10" rx="2" fill="${COLORS[r]}"/><text x="${x + 14}" y="13" fill="currentColor" font-size="11">${r}</text></g>`,
    );
    x += r.length * 7 + 28;
  }
  lines.push('</svg>');
  const caption = [];
  for (const t of s.targets) {
    const status = t.met === true ? 'met' : t.met === false ? 'missed' : t.kind === 'info' ? 'info' : 'not measured';
    const fig =
      t.ratio === null ? (t.why ?? '') : `${t.ratio.toFixed(2)}x${t.kind === 'atLeast' ? ' as fast' : ' the time'}`;
    caption.push(`${status}: ${t.label} (${fig})`);
  }
  if (s.note !== null) caption.push(`note: ${s.note}`);
  return [
    `<figure class="weft-chart" id="chart-${id}" style="margin:1em 0">`,
    ...lines,
    caption.length === 0 ? '' : `<figcaption>${caption.map(esc).join('<br>')}</figcaption>`,
    '</figure>',
  ]
    .filter(Boolean)
    .join('\n');
}

// --- the page --------------------------------------------------------------------

/** weft against the fastest peer that ran, per comparison with peers. */
function summary(comparisons) {
  const rows = [];
  for (const s of comparisons) {
    const weft = s.contenders.find((c) => c.name === s.weft);
    const peers = s.contenders.filter((c) => role(c, s) === 'peer' && c.median !== null && c.vsWeft !== null);
    if (weft === undefined || weft.median === null || peers.length === 0) continue;
    const best = peers.reduce((a, b) => (b.vsWeft < a.vsWeft ? b : a));
    const floor = s.floor === null ? undefined : s.contenders.find((c) => c.name === s.floor);
    const ratio = s.metric === 'maxRSS' ? `${fmtRatio(best.vsWeft)}x weft's memory` : versus(best, s);
    const vsFloor = floor?.median == null || weft.vsFloor === null ? '-' : `${weft.vsFloor.toFixed(2)}x`;
    rows.push(
      `| [${mdText(s.title)}](#chart-${slug(s.title)}) | ${mdText(figure(weft, s))} | ${mdText(best.name.replace(/^peer /, ''))} | ${mdText(ratio)} | ${vsFloor} |`,
    );
  }
  if (rows.length === 0) return '';
  return [
    '| comparison | weft | fastest peer | weft against it | weft / floor |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

function machine(r) {
  const m = r.machine;
  const scope = isWhole(r)
    ? 'a whole run'
    : `**a partial run**${r.filters.length > 0 ? ` (files: ${mdText(r.filters.join(', '))})` : ''}${r.grep.length > 0 ? ` (comparisons: ${r.grep.map((g) => `“${mdText(g)}”`).join(', ')})` : ''}${r.smoke ? ', smoke sizes' : ''}${r.check ? ', --check: one call each, figures mean little' : ''}`;
  return [
    `Measured on ${m.cpus} × ${mdText(m.model)} (availableParallelism ${m.availableParallelism}), ${m.totalmemGiB} GiB, ${mdText(m.platform)};`,
    `Node ${mdText(r.node)} (V8 ${mdText(r.v8)}); ${r.build === 'dist' ? 'the built package' : 'src/ through tsx'};`,
    `git ${r.git.sha.slice(0, 10)}${r.git.dirty ? ' (with uncommitted changes)' : ''}; ${r.rounds} round${r.rounds === 1 ? '' : 's'};`,
    `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, load average at start ${m.loadavgAtStart.join(', ')}; ${scope}.`,
    `Source: \`${relative(root, resultsPath)}\`.`,
  ].join('\n');
}

const parts = [machine(report)];
const table = summary(report.comparisons);
if (table !== '') parts.push(table);
if (report.failures.length > 0)
  parts.push(`Failed in this run:\n\n${report.failures.map((f) => `- ${mdText(f)}`).join('\n')}`);
for (const s of report.comparisons) parts.push(`### ${mdText(s.title)}\n\n${chart(s)}`);

const START = '<!-- charts:start -->';
const END = '<!-- charts:end -->';
const source = readFileSync(pagePath, 'utf8');
const a = source.indexOf(START);
const b = source.indexOf(END);
if (a < 0 || b < a) throw new Error(`docs-charts: ${pagePath} has no ${START} ... ${END} markers`);
const page = `${source.slice(0, a + START.length)}\n\n${parts.join('\n\n')}\n\n${source.slice(b)}`;
const where = relative(root, pagePath);
if (args.check) {
  if (page !== source) {
    console.error(`docs-charts: ${where} is not drawn from ${relative(root, resultsPath)}: run npm run docs:charts`);
    process.exit(1);
  }
  console.log(`docs-charts: ${where} is up to date with ${relative(root, resultsPath)}`);
} else {
  writeFileSync(pagePath, page);
  console.log(`docs-charts: ${report.comparisons.length} chart(s) from ${relative(root, resultsPath)} -> ${where}`);
}
