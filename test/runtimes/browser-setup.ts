/**
 * The one Node global the core's tests use, for the browser run: `setImmediate`, which test/support.ts's `flush()`
 * waits on for "one macrotask turn". A MessageChannel message is the browser's macrotask without timer clamping.
 */
const g = globalThis as { setImmediate?: unknown; clearImmediate?: unknown };
if (typeof g.setImmediate !== 'function') {
  const cancelled = new Set<number>();
  let next = 0;
  g.setImmediate = (fn: (...args: unknown[]) => void, ...args: unknown[]): number => {
    const id = ++next;
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      if (!cancelled.delete(id)) fn(...args);
    };
    port2.postMessage(null);
    return id;
  };
  g.clearImmediate = (id: number): void => {
    cancelled.add(id);
  };
}
