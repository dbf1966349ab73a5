/**
 * How weft's objects show in `util.inspect` and `console.log` in Node
 * (`WorkerPool { concurrency: 10, running: 3, queued: 0, ... }`) without a
 * `node:` import: Node looks up a method under the registered symbol
 * `nodejs.util.inspect.custom` and uses the string it returns. Other
 * runtimes ignore the method.
 */

/** The key Node's `util.inspect` looks for (`util.inspect.custom`). */
export const inspectKey: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

type Inspect = (value: unknown, options?: unknown) => string;

/** `Name { ...state }`, rendered by Node's own inspect with the caller's options. */
export function inspectAs(name: string, state: object, depth: number, options: unknown, inspect?: Inspect): string {
  if (depth < 0) return `[${name}]`;
  const body = inspect === undefined ? JSON.stringify(state) : inspect(state, options);
  return `${name} ${body}`;
}
