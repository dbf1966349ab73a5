/**
 * Package testing's deadlock detector: Go's "all goroutines are asleep -
 * deadlock!" for a Node process whose event loop has run dry while weft
 * operations are still blocked.
 */
import { observe, registry } from '../internal/registry.js';
import { checkInt, checkOpts } from '../internal/validate.js';

/** Options of `detectDeadlocks`. */
export interface DetectDeadlocksOptions {
  /** The exit code a deadlocked process ends with (default 2, as a Go program that deadlocks). */
  exitCode?: number;
}

interface ProcessLike {
  on(event: 'beforeExit', listener: () => void): unknown;
  off(event: 'beforeExit', listener: () => void): unknown;
  exitCode?: number | string | undefined;
  stderr: { write(text: string): unknown };
}

/**
 * Lists the weft operations blocked now, one paragraph each: its name and,
 * when stacks were being captured, where it was started.
 */
function blockedReport(): string[] {
  const out: string[] = [];
  for (const entry of registry.live.values()) {
    if (entry.kind !== 'waiter') continue;
    const stack = (entry.stack ?? '    (no stack: started before detectDeadlocks)')
      .split('\n')
      .map((l) => `\t${l.trim()}`)
      .join('\n');
    out.push(`weft operation ${out.length + 1} [${entry.op}]:\n${stack}`);
  }
  return out;
}

/**
 * Watches the process for deadlocks, until the returned function is called.
 * When the event loop runs dry (Node's `beforeExit`) while weft operations
 * started since the call are still blocked (a `recv` nobody will send to, a
 * `lock` nobody will release), it writes Go's report to stderr:
 * `fatal error: all goroutines are asleep - deadlock!`, then each blocked
 * operation with the stack where it started, and sets `process.exitCode` to
 * `opts.exitCode` (default 2, Go's). A program waiting on a timer, an I/O or
 * another process is not deadlocked: the loop is not dry.
 *
 * Call it first thing in a program or a test process: operations started
 * before it are not seen. While it runs, every blocked operation records its
 * stack, which costs time: use it in tests and debugging, not in production.
 * It needs Node's `process` (Deno and Bun provide one too).
 *
 * @param opts.exitCode the exit code to set on a deadlock: an integer from 0 to 255 (default 2).
 * @returns `stop`: ends the detection (idempotent).
 * @throws TypeError if `opts` is not an object or `exitCode` is not a number.
 * @throws RangeError if `exitCode` is not an integer from 0 to 255.
 * @throws Error if the runtime has no `process` with a `beforeExit` event.
 *
 * @example Watching, then stopping
 * ```ts
 * import { detectDeadlocks } from 'weftjs/testing';
 * const before = process.listenerCount('beforeExit');
 * const stop = detectDeadlocks({ exitCode: 3 });
 * process.listenerCount('beforeExit') - before; // => 1
 * stop();
 * process.listenerCount('beforeExit') - before; // => 0
 * ```
 * @see trackLeaks
 */
export function detectDeadlocks(opts?: DetectDeadlocksOptions): () => void {
  const op = 'detectDeadlocks';
  checkOpts(opts, op);
  const exitCode = opts?.exitCode === undefined ? 2 : checkInt(opts.exitCode, op, 'exitCode', 0, 255);
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (proc === undefined || typeof proc.on !== 'function' || typeof proc.off !== 'function') {
    throw new Error(`${op}: needs a \`process\` with a 'beforeExit' event (Node, Deno or Bun)`);
  }
  const stopObserving = observe(true);
  const onBeforeExit = (): void => {
    const blocked = blockedReport();
    if (blocked.length === 0) return;
    proc.stderr.write(`fatal error: all goroutines are asleep - deadlock!\n\n${blocked.join('\n\n')}\n`);
    proc.exitCode = exitCode;
    // Report once: the process now exits unless a listener schedules more work.
    stop();
  };
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    proc.off('beforeExit', onBeforeExit);
    stopObserving();
  };
  proc.on('beforeExit', onBeforeExit);
  return stop;
}
