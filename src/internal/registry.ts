/**
 * The one piece of module-level state in weft: the registry that
 * `weft/testing` observes to find leaked waiters, timers and signal listeners
 * and to report deadlocks. It lives on `globalThis` under a registered symbol
 * so that every copy of weft in a process (ESM and CommonJS builds, two
 * installed versions) reports to the same place.
 *
 * When nobody observes (`active === 0`) each hook costs one property read.
 */

export type EntryKind = 'waiter' | 'timer' | 'listener';

export interface Entry {
  readonly kind: EntryKind;
  /** The operation that created the entry, e.g. `Channel.recv`. */
  readonly op: string;
  /** Where the operation was started, when stacks are being captured. */
  readonly stack: string | undefined;
}

export interface Registry {
  /** Number of observers; entries are recorded only while it is above 0. */
  active: number;
  /** Number of observers that want stacks (deadlock detection). */
  stacks: number;
  readonly live: Map<unknown, Entry>;
  /** The diagnostics probes `weftjs/node` installs (`probes.ts`); absent until then. */
  probes?: Probes | null;
}

/** What the core needs of a `diagnostics_channel` channel. */
export interface Probe {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

/** The core's events, one probe each (the channel names are in `weftjs/node`). */
export interface Probes {
  readonly breakerStateChange: Probe;
  readonly limiterDenied: Probe;
  readonly limiterWait: Probe;
  readonly poolJobStart: Probe;
  readonly poolJobFinish: Probe;
  readonly poolJobFail: Probe;
  readonly semaphoreContended: Probe;
  readonly pubsubOverflow: Probe;
}

const KEY = Symbol.for('weft.registry');

export const registry: Registry = ((globalThis as Record<symbol, Registry | undefined>)[KEY] ??= {
  active: 0,
  stacks: 0,
  live: new Map(),
  // There from the start, so that installing the probes does not change the object's shape under the hot paths.
  probes: null,
});

/** Records `key` as live. Call only after checking `registry.active !== 0`. */
export function track(key: unknown, kind: EntryKind, op: string): void {
  registry.live.set(key, new LiveEntry(kind, op, registry.stacks !== 0 ? new Error() : undefined));
}

/** Forgets `key`. Call only after checking `registry.active !== 0`. */
export function untrack(key: unknown): void {
  registry.live.delete(key);
}

// The folder weft runs from (its src/ or dist/), read off this module's own
// stack frame, so that stack capture drops weft's frames and only those: a
// user's own src/ folder is not weft's.
const ownRoot: string | undefined = (() => {
  const frame = new Error().stack
    ?.split('\n')
    .find((l) => /registry|chunk|index/.test(l) && /[/\\](src|dist)[/\\]/.test(l));
  const match = frame?.match(/(?:\(|at |file:\/\/)([^()]*[/\\](?:src|dist)[/\\])/);
  return match?.[1];
})();

/**
 * An entry whose stack is captured when it is made (an `Error`, which only
 * records the frames) and formatted when it is first read: formatting is most
 * of the cost, and a leak report reads few of the entries a test makes.
 */
class LiveEntry implements Entry {
  readonly kind: EntryKind;
  readonly op: string;
  #site: Error | undefined;
  #stack: string | undefined;

  constructor(kind: EntryKind, op: string, site: Error | undefined) {
    this.kind = kind;
    this.op = op;
    this.#site = site;
  }

  get stack(): string | undefined {
    if (this.#site !== undefined) {
      this.#stack = formatStack(this.#site);
      this.#site = undefined;
    }
    return this.#stack;
  }
}

function formatStack(site: Error): string | undefined {
  const stack = site.stack;
  if (stack === undefined) return undefined;
  // Drop the "Error" line and weft's own frames, keep the caller's.
  const lines = stack.split('\n').slice(1);
  const user =
    ownRoot === undefined ? lines : lines.filter((l) => !l.includes(ownRoot) || /\.test\.[cm]?[jt]s/.test(l));
  return (user.length > 0 ? user : lines).join('\n');
}

/** Starts observing; returns the function that stops. */
export function observe(stacks: boolean): () => void {
  registry.active++;
  if (stacks) registry.stacks++;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    registry.active--;
    if (stacks) registry.stacks--;
    if (registry.active === 0) registry.live.clear();
  };
}
