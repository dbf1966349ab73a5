// The size budget, checked by `npm run size` on the built package (dist/): each entry is what a user's bundler
// (esbuild, minified, brotli) keeps for one import, so an export that stops tree-shaking fails here. Budgets sit
// about 10% above the sizes measured; raise one only with the reason in the commit.
const quiet = (config) => ({ ...config, logLevel: 'error' });
// The Node-only subpaths leave Node's built-ins and the Redis clients (optional peers) to the runtime.
const outside = ['node:*', 'redis', 'ioredis'];

export default [
  { name: "import { Channel } from 'weftjs'", path: 'dist/index.js', import: '{ Channel }', limit: '2.8 kB' },
  { name: "import { select } from 'weftjs'", path: 'dist/index.js', import: '{ select }', limit: '2.4 kB' },
  { name: "import { flow } from 'weftjs'", path: 'dist/index.js', import: '{ flow }', limit: '8.2 kB' },
  { name: "import * from 'weftjs'", path: 'dist/index.js', import: '*', limit: '26.5 kB' },
  {
    name: "import * from 'weftjs/threads'",
    path: 'dist/threads/index.js',
    import: '*',
    limit: '14.3 kB',
    ignore: outside,
  },
  { name: "import * from 'weftjs/node'", path: 'dist/node/index.js', import: '*', limit: '5.6 kB', ignore: outside },
  { name: "import * from 'weftjs/redis'", path: 'dist/redis/index.js', import: '*', limit: '32 kB', ignore: outside },
  { name: "import * from 'weftjs/testing'", path: 'dist/testing/index.js', import: '*', limit: '2.2 kB' },
].map((check) => ({ ...check, modifyEsbuildConfig: quiet }));
