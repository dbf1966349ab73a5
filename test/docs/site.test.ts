/**
 * The docs site as a reader gets it: this suite builds it (the Benchmarks
 * page from bench/results, then typedoc with warnings as errors, into a
 * temporary folder), serves it on loopback, and opens it in headless
 * Chromium (Debian's `chromium`, driven by playwright-core): every page
 * reachable from the home page loads with no console error, no failed
 * request and no broken link (a missing page or a missing `#anchor`), the
 * sidebar lists the five modules and the families, the benchmark charts
 * render with their bars, and a screenshot of the home page is kept at
 * .ci/docs-home.png (a CI artifact).
 *
 * Without a Chromium, the suite is skipped with a message, except under
 * CI (`CI=true`), where a missing browser fails it: `.ci/run` installs
 * `chromium`. CHROMIUM_PATH names another binary.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
const inCI = process.env.CI === 'true';

if (!hasChromium && !inCI) {
  console.warn(
    `test/docs/site.test.ts: skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`,
  );
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** A static file server over `dir`, on a free loopback port. */
async function serve(dir: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) && file !== dir) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    // Assets cached as a static host would let them be, so each page does not compile the scripts again.
    const cache = path.startsWith('/assets/') ? 'max-age=3600' : 'no-cache';
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': cache });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Visit {
  url: string;
  errors: string[];
  links: string[];
  ids: Set<string>;
}

describe.skipIf(!hasChromium && !inCI)('the docs site in headless Chromium', () => {
  let out: string;
  let profile: string;
  let server: Server;
  let origin: string;
  let context: BrowserContext;
  const visits = new Map<string, Visit>();

  /** Loads a page, collecting console errors, page errors, failed requests, its links and its element ids. */
  async function visit(page: Page, url: string): Promise<Visit> {
    const errors: string[] = [];
    const onConsole = (m: { type(): string; text(): string }) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    };
    const onPageError = (e: Error) => errors.push(`page error: ${e.message}`);
    const onFailed = (r: { url(): string; failure(): { errorText: string } | null }) =>
      errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
    const onResponse = (r: { url(): string; status(): number }) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    };
    page.on('console', onConsole);
    page.on('pageerror', onPageError);
    page.on('requestfailed', onFailed);
    page.on('response', onResponse);
    try {
      const response = await page.goto(url, { waitUntil: 'load' });
      if (response === null || !response.ok()) errors.push(`HTTP ${response?.status()}: ${url}`);
      // The sidebar is drawn by the page's script from navigation.js: wait for it, so its links are crawled too.
      await page.waitForSelector('#tsd-nav-container a', { state: 'attached', timeout: 10_000 });
      const { links, ids } = await page.evaluate(() => ({
        links: Array.from(document.querySelectorAll('a[href]'), (a) => (a as HTMLAnchorElement).href),
        ids: Array.from(document.querySelectorAll('[id], a[name]'), (e) => e.id || e.getAttribute('name') || ''),
      }));
      return { url, errors, links, ids: new Set(ids) };
    } finally {
      page.off('console', onConsole);
      page.off('pageerror', onPageError);
      page.off('requestfailed', onFailed);
      page.off('response', onResponse);
    }
  }

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`CI=true and no Chromium at ${chromiumPath}: apt-get install -y chromium`);
    out = mkdtempSync(join(tmpdir(), 'weft-docs-'));
    profile = mkdtempSync(join(tmpdir(), 'weft-chromium-'));
    // What `npm run docs` does, into a folder of the test's own.
    await run(process.execPath, [join(root, 'scripts', 'docs-charts.mjs')], { cwd: root });
    await run(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], {
      cwd: root,
    });
    ({ server, origin } = await serve(out));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    // Nothing leaves the machine: a request to anywhere but the site fails the page that made it.
    await context.route(
      (url) => url.origin !== origin,
      (route) => route.abort('blockedbyclient'),
    );

    // Crawl from the home page. Its sidebar links nearly every page, so once it is read a few pages load at a
    // time; a worker stops when the queue is empty, and the last one left takes whatever is added after.
    const queue = [`${origin}/index.html`];
    const seen = new Set(queue);
    const crawl = async (page: Page) => {
      for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
        const v = await visit(page, url);
        visits.set(url, v);
        for (const link of v.links) {
          const u = new URL(link);
          u.hash = '';
          if (u.origin === origin && u.pathname.endsWith('.html') && !seen.has(u.href)) {
            seen.add(u.href);
            queue.push(u.href);
          }
        }
      }
    };
    const started = performance.now();
    const pages = await Promise.all(Array.from({ length: 4 }, () => context.newPage()));
    await crawl(pages[0]!);
    while (queue.length > 0) await Promise.all(pages.map(crawl));
    await Promise.all(pages.map((p) => p.close()));
    console.log(`docs site: ${visits.size} pages crawled in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  it('crawls every page: the home page, the guides, the five modules and their members', () => {
    const paths = [...visits.keys()].map((u) => new URL(u).pathname);
    expect(paths).toContain('/index.html');
    for (const module of ['weftjs', 'weftjs_threads', 'weftjs_node', 'weftjs_redis', 'weftjs_testing']) {
      expect(paths).toContain(`/modules/${module}.html`);
    }
    expect(paths.filter((p) => p.startsWith('/documents/')).length).toBeGreaterThanOrEqual(5);
    expect(paths).toContain('/classes/weftjs.Channel.html');
    expect(visits.size).toBeGreaterThan(100);
  });

  it('loads every page with no console error, no page error and no failed request', () => {
    const problems = [...visits.values()].flatMap((v) => v.errors.map((e) => `${new URL(v.url).pathname}: ${e}`));
    expect(problems).toEqual([]);
  });

  it('has no broken link: every page linked to exists, and so does every #anchor linked to', async () => {
    const broken: string[] = [];
    for (const v of visits.values()) {
      for (const link of v.links) {
        const u = new URL(link);
        if (u.origin !== origin) {
          if (!/^(https?|mailto):$/.test(u.protocol)) broken.push(`${v.url}: ${link}`);
          continue;
        }
        const hash = decodeURIComponent(u.hash.slice(1));
        u.hash = '';
        const target = visits.get(u.href);
        if (target === undefined) {
          // Not crawled (not an .html page): it must still be served.
          const res = await fetch(u.href);
          if (!res.ok) broken.push(`${new URL(v.url).pathname} -> ${u.pathname} (HTTP ${res.status})`);
        } else if (hash !== '' && !target.ids.has(hash)) {
          broken.push(`${new URL(v.url).pathname} -> ${u.pathname}#${hash} (no such anchor)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('lists the modules and groups the core by family in the sidebar', async () => {
    const page = await context.newPage();
    await page.goto(`${origin}/modules/weftjs.html`);
    await page.waitForSelector('#tsd-nav-container a', { state: 'attached' });
    const text = (await page.locator('#tsd-nav-container').textContent()) ?? '';
    for (const entry of [
      'weftjs',
      'weftjs/threads',
      'weftjs/node',
      'weftjs/redis',
      'weftjs/testing',
      'weft for Go engineers',
      'Cancellation and using',
      'Testing with virtual time and leak checks',
      'Choosing a pattern',
      'Benchmarks',
    ]) {
      expect(text).toContain(entry);
    }
    // The families are the core module's sections, in this order.
    const sections = await page.locator('.col-content details > summary h2').allInnerTexts();
    const families = [
      'Cancellation and time',
      'Channels and select',
      'Sync',
      'Admission control',
      'Resilience',
      'Pipelines and pools',
      'Errors',
    ];
    expect(sections.map((s) => s.trim()).filter((s) => families.includes(s))).toEqual(families);
    await page.close();
  });

  it('renders the benchmark charts: one SVG per comparison, with a bar per measured contender', async () => {
    const page = await context.newPage();
    const benchmarks = [...visits.keys()].find((u) => /\/documents\/benchmarks\.html$/i.test(u));
    expect(benchmarks).toBeDefined();
    await page.goto(benchmarks!);
    const charts = await page.locator('figure.weft-chart').evaluateAll((figures) =>
      figures.map((f) => {
        const svg = f.querySelector('svg')!;
        const box = svg.getBoundingClientRect();
        const bars = Array.from(svg.querySelectorAll('rect.bar'), (r) => (r as SVGRectElement).getBBox().width);
        return { id: f.id, width: box.width, height: box.height, bars, weft: svg.querySelectorAll('.row.weft').length };
      }),
    );
    expect(charts.length).toBeGreaterThan(0);
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(50);
      expect(c.bars.length, c.id).toBeGreaterThanOrEqual(2);
      expect(Math.max(...c.bars), c.id).toBeGreaterThan(100);
      expect(c.weft, c.id).toBeGreaterThanOrEqual(1);
    }
    // The machine the figures come from is on the page.
    expect(await page.getByText(/Measured on \d+ ×/).count()).toBe(1);
    await page.close();
  });

  it('keeps a screenshot of the home page under .ci/', async () => {
    const page = await context.newPage();
    await page.goto(`${origin}/index.html`);
    await page.waitForSelector('#tsd-nav-container a', { state: 'attached' });
    mkdirSync(join(root, '.ci'), { recursive: true });
    const file = join(root, '.ci', 'docs-home.png');
    await page.screenshot({ path: file });
    expect(statSync(file).size).toBeGreaterThan(10_000);
    await page.close();
  });
});
