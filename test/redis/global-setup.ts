/**
 * A vitest globalSetup for what needs one shared Redis: the doc examples of
 * `src/redis/*.ts` (and the README's), written as
 * `createClient({ url: process.env.REDIS_URL })`. It starts one
 * `redis-server` on a free loopback port, sets `REDIS_URL` for the test
 * processes, and stops the server in teardown. A `REDIS_URL` already set is
 * left as it is (and no server is started).
 */
import { type Server, startServer } from './harness.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.REDIS_URL) return undefined;
  const server: Server = await startServer();
  process.env.REDIS_URL = server.url;
  return async () => {
    await server.stop();
    delete process.env.REDIS_URL;
  };
}
