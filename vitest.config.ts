import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^weftjs$/, replacement: src('index.ts') },
      { find: /^weftjs\/(threads|node|redis|testing)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts', 'test/**/*.test-d.ts'] },
    testTimeout: 20_000,
    // One redis-server for the extracted doc examples of weftjs/redis (REDIS_URL); Redis's own tests start theirs.
    globalSetup: ['test/redis/global-setup.ts'],
    pool: 'forks',
  },
});
