/**
 * The root vitest config plus the Redis globalSetup, for running the Redis
 * suites and the extracted doc examples of `src/redis/` before the root
 * config has it:
 *   npx vitest run -c test/redis/vitest.config.ts src/redis test/redis
 *   node scripts/extract-examples.mjs --out /tmp/redis-doc-examples
 *   WEFT_DOC_EXAMPLES=/tmp/redis-doc-examples npx vitest run -c test/redis/vitest.config.ts
 * (the examples folder needs node_modules reachable from it: a symlink to
 * the repository's).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import root from '../../vitest.config.js';

const docs = process.env.WEFT_DOC_EXAMPLES;

export default mergeConfig(
  root,
  defineConfig({
    test: {
      globalSetup: [fileURLToPath(new URL('./global-setup.ts', import.meta.url))],
      ...(docs === undefined ? {} : { dir: docs, include: ['**/*.test.ts'], typecheck: { enabled: false } }),
    },
  }),
);
