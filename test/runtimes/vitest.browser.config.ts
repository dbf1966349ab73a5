/// <reference types="@vitest/browser/providers/playwright" />
/**
 * The core's own tests in headless Chromium (vitest's browser mode, Playwright driving Debian's /usr/bin/chromium,
 * or CHROMIUM_PATH): every test file of the core, its internals, its property and leak suites that needs no Node
 * API, so what the README says of browsers is proved on each CI run. `npm run test:browser`.
 *
 * A file is left to Node when it imports a `node:` module (read by TypeScript's scanner) or uses `process`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = (p: string) => join(root, 'src', p);

function tests(dir: string, deep: boolean): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? deep
        ? tests(join(dir, e.name), deep)
        : []
      : e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

function needsNode(file: string): boolean {
  const text = readFileSync(join(root, file), 'utf8');
  const imports = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  return imports.some((s) => s.startsWith('node:')) || /\bprocess\.\w/.test(text);
}

const candidates = [
  ...tests('src', false),
  ...tests('src/internal', true),
  ...tests('test/properties', false),
  ...tests('test/leaks', false),
];
export const browserTests = candidates.filter((f) => !needsNode(f)).map((f) => relative(root, join(root, f)));

export default defineConfig({
  root,
  resolve: {
    alias: [
      { find: /^weftjs$/, replacement: src('index.ts') },
      { find: /^weftjs\/(testing)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: [...browserTests, 'test/runtimes/runtime.browser-test.ts'],
    setupFiles: ['test/runtimes/browser-setup.ts'],
    testTimeout: 20_000,
    browser: {
      enabled: true,
      provider: 'playwright',
      headless: true,
      screenshotFailures: false,
      instances: [
        {
          browser: 'chromium',
          launch: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] },
        },
      ],
    },
  },
});
