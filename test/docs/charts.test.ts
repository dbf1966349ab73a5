/**
 * scripts/docs-charts.mjs draws the Benchmarks page from the JSON that
 * `npm run bench` writes. These tests feed it a results file of the full
 * shape (bench/run.ts's report, bench/report.ts's summaries): a time
 * comparison with peers, a floor, a skipped and a failed contender, and a
 * peak-memory comparison, and check what the page says and draws.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'scripts', 'docs-charts.mjs');
const dir = mkdtempSync(join(tmpdir(), 'weft-charts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Contender = { name: string; median: number | null; perSec?: number | null; vsWeft?: number | null };

function contender(c: Contender, ops: number) {
  return {
    name: c.name,
    ops,
    skip: c.median === null && c.name.includes('skipped') ? 'no such API' : null,
    rounds: [c.median, c.median, c.median],
    samples: [null, null, null],
    errors: c.median === null && !c.name.includes('skipped') ? ['round 1: exit 1: Error: boom'] : [],
    median: c.median,
    min: c.median,
    max: c.median,
    perSec: c.perSec ?? (c.median === null ? null : (ops * 1e9) / c.median),
    vsWeft: c.vsWeft ?? null,
    vsFloor: null,
  };
}

const results = {
  schema: 1,
  startedAt: '2026-12-01T10:00:00.000Z',
  finishedAt: '2026-12-01T10:20:00.000Z',
  durationS: 1200,
  build: 'dist',
  smoke: false,
  check: false,
  rounds: 3,
  filters: [],
  grep: [],
  resolved: { weftjs: 'file:///x/dist/index.js' },
  node: 'v22.0.0',
  v8: '12.4',
  machine: {
    cpus: 16,
    model: 'Test CPU <fast> & quiet',
    availableParallelism: 16,
    totalmemGiB: 64,
    platform: 'linux 6.1 x64',
    loadavgAtStart: [0.1, 0.2, 0.3],
  },
  git: { sha: '0123456789abcdef0123456789abcdef01234567', dirty: false },
  comparisons: [
    {
      file: 'semaphore.bench.ts',
      title: '1,000 tasks <at> concurrency 10',
      unit: 'tasks',
      ops: 1000,
      metric: 'time',
      weft: 'weft Semaphore.run',
      floor: 'floor (hand-written)',
      note: null,
      smoke: false,
      rounds: 3,
      seconds: 10,
      contenders: [
        contender({ name: 'weft Semaphore.run', median: 1e6, vsWeft: 1 }, 1000),
        contender({ name: 'floor (hand-written)', median: 0.5e6, vsWeft: 0.5 }, 1000),
        contender({ name: 'peer p-limit', median: 4e6, vsWeft: 4 }, 1000),
        contender({ name: 'p-queue (add all + onIdle)', median: 10e6, vsWeft: 10 }, 1000),
        contender({ name: 'peer skipped thing', median: null }, 1000),
        contender({ name: 'peer crashing thing', median: null }, 1000),
      ],
      targets: [
        {
          key: 'k',
          label: 'weft Semaphore.run at least 3.00x as fast as peer p-limit',
          contender: 'weft Semaphore.run',
          vs: 'peer p-limit',
          kind: 'atLeast',
          threshold: 3,
          ratio: 4,
          met: true,
          better: 'higher',
          note: null,
          why: null,
        },
      ],
    },
    {
      file: 'rss.bench.ts',
      title: 'peak RSS of 100,000 queued jobs',
      unit: 'jobs',
      ops: 100000,
      metric: 'maxRSS',
      weft: 'weft WorkerPool',
      floor: null,
      note: 'young generation held at 16 MB',
      smoke: false,
      rounds: 3,
      seconds: 20,
      contenders: [
        contender({ name: 'weft WorkerPool', median: 100 * 2 ** 20, perSec: null, vsWeft: 1 }, 100000),
        contender({ name: 'p-queue', median: 250 * 2 ** 20, perSec: null, vsWeft: 2.5 }, 100000),
      ],
      targets: [],
    },
  ],
  missedTargets: [],
  failures: ['1,000 tasks <at> concurrency 10: peer crashing thing: exit 1: Error: boom'],
};

const resultsPath = join(dir, 'results.json');
writeFileSync(resultsPath, JSON.stringify(results));
const pagePath = join(dir, 'benchmarks.md');
const before =
  '---\ntitle: Benchmarks\n---\n\n# Benchmarks\n\nProse.\n\n<!-- charts:start -->\nold figures\n<!-- charts:end -->\n\nAfter.\n';
writeFileSync(pagePath, before);
await run(process.execPath, [script, resultsPath, '--page', pagePath]);
const page = readFileSync(pagePath, 'utf8');
/** The `<figure>` of a comparison, by its title. */
const figure = (title: string) => {
  const at = page.indexOf(`### ${title}`);
  return page.slice(at, page.indexOf('</figure>', at));
};

describe('scripts/docs-charts.mjs', () => {
  it('replaces only what lies between the markers', () => {
    expect(page.startsWith('---\ntitle: Benchmarks\n---\n\n# Benchmarks\n\nProse.\n\n<!-- charts:start -->\n')).toBe(
      true,
    );
    expect(page.endsWith('<!-- charts:end -->\n\nAfter.\n')).toBe(true);
    expect(page).not.toContain('old figures');
  });

  it('names the machine, the run and the source of the figures, escaped', () => {
    expect(page).toContain('Measured on 16 × Test CPU &lt;fast&gt; &amp; quiet (availableParallelism 16), 64 GiB');
    expect(page).toContain('Node v22.0.0');
    expect(page).toContain('git 0123456789; 3 rounds');
    expect(page).toContain('a whole run');
    expect(page).not.toContain('partial');
    expect(page).toContain(`Source: \`${relative(root, resultsPath)}\`.`);
    expect(page).toContain('- 1,000 tasks &lt;at&gt; concurrency 10: peer crashing thing: exit 1: Error: boom');
  });

  it('tabulates weft against its fastest peer, with the ratio to the floor', () => {
    expect(page).toContain(
      '| [1,000 tasks &lt;at&gt; concurrency 10](#chart-1-000-tasks-at-concurrency-10) | 1.00M tasks/s | p-limit | weft 4.00x as fast |',
    );
    expect(page).toContain("| p-queue | 2.50x weft's memory | - |");
  });

  it('draws one bar per measured contender, linear in throughput, with its ratio to weft', () => {
    const f = figure('1,000 tasks &lt;at&gt; concurrency 10');
    expect(f).toContain('<figure class="weft-chart" id="chart-1-000-tasks-at-concurrency-10"');
    const bars = [...f.matchAll(/<rect class="bar" x="0" y="[\d.]+" width="([\d.]+)"[^>]*fill="([^"]+)"/g)];
    // weft 1M/s, floor 2M/s (the longest), p-limit 250k/s, p-queue 100k/s; the skipped and the failed have none.
    expect(bars.map((b) => Number(b[1]))).toEqual([180, 360, 45, 18]);
    expect(bars.map((b) => b[2])).toEqual(['#2f7fd6', '#8a8f98', '#e07b39', '#e07b39']);
    expect(f).toContain('250.0k tasks/s · weft 4.00x as fast');
    expect(f).toContain('2.00M tasks/s · 2.00x as fast as weft');
    expect(f).toContain('skipped: no such API');
    expect(f).toContain('not measured: round 1: exit 1: Error: boom');
    expect(f).toContain('met: weft Semaphore.run at least 3.00x as fast as peer p-limit (4.00x as fast)');
  });

  it('draws peak memory in MB, with the ratio of memory', () => {
    const f = figure('peak RSS of 100,000 queued jobs');
    expect(f).toContain('100.0 MB');
    expect(f).toContain("250.0 MB · 2.50x weft's memory");
    expect(f).toContain('peak resident set size');
    expect(f).toContain('note: young generation held at 16 MB');
  });

  it('tells a stale page with --check, and says when a run is partial', async () => {
    await expect(run(process.execPath, [script, resultsPath, '--page', pagePath, '--check'])).resolves.toBeDefined();
    writeFileSync(pagePath, page.replace('1.00M tasks/s', '9.99M tasks/s'));
    await expect(run(process.execPath, [script, resultsPath, '--page', pagePath, '--check'])).rejects.toMatchObject({
      code: 1,
    });
    writeFileSync(resultsPath, JSON.stringify({ ...results, filters: ['semaphore'], smoke: true }));
    await run(process.execPath, [script, resultsPath, '--page', pagePath]);
    expect(readFileSync(pagePath, 'utf8')).toContain('**a partial run** (files: semaphore), smoke sizes');
  });

  it('refuses a file that is not a results file of schema 1', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ schema: 2 }));
    await expect(run(process.execPath, [script, bad, '--page', pagePath])).rejects.toMatchObject({
      stderr: expect.stringContaining('not a bench/run.ts results file of schema 1'),
    });
  });
});
