import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'threads/index': 'src/threads/index.ts',
    // The code each thread of a ThreadPool runs: found next to the pool's own module.
    'threads/worker': 'src/threads/worker.ts',
    'node/index': 'src/node/index.ts',
    'redis/index': 'src/redis/index.ts',
    'testing/index': 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  // The declarations use `Symbol.dispose`/`asyncDispose`: reference the lib they need,
  // so that a project without `esnext.disposable` in its `lib` type-checks them.
  dts: { compilerOptions: { paths: {} }, banner: '/// <reference lib="esnext.disposable" />' },
  tsconfig: 'tsconfig.build.json',
  target: 'node20',
  platform: 'neutral',
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
  external: ['redis', 'ioredis', /^node:/],
});
