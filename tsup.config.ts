import { defineConfig } from 'tsup';
import { run as pureClasses } from './scripts/pure-classes.mjs';

export default defineConfig((options) => ({
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
  // The maps point at src/, which ships beside dist/, and carry no copy of it (sourcesContent): the sources ship
  // once, not once per map of each format (ESM and CJS), and editors and debuggers open the real files.
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
  external: ['redis', 'ioredis', /^node:/],
  // Keep `node:` on the built-ins: Deno resolves only `node:net`, never a bare `net`.
  removeNodeProtocol: false,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  // Not `keepNames`: its `static { __name(this) }` blocks keep every class in every bundle. This step makes each class
  // droppable and gives it its own name instead (`Flow.name === 'Flow'`); see scripts/pure-classes.mjs.
  async onSuccess() {
    pureClasses(options.outDir ?? 'dist');
  },
}));
