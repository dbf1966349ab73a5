/**
 * The lines `Shutdown` logs, in one place so that their format stays
 * stable: `shutdown <event>` followed by `key=value` pairs (logfmt), a value
 * quoted as JSON when it holds anything but letters, digits and `_.:/@-`.
 */

/** A value for a `key=value` pair. */
export function field(value: string): string {
  return /^[\w.:/@-]+$/.test(value) ? value : JSON.stringify(value);
}

/** An error or a reason, in a few words: `Error: boom`, `SIGTERM`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** What a finished hook's line needs. */
export interface HookLine {
  readonly name: string;
  readonly phase: number;
  readonly durationMs: number;
  readonly outcome: string;
  readonly error?: unknown;
}

export function startLine(reason: unknown, hooks: number, timeoutMs: number): string {
  return `shutdown start reason=${field(describe(reason))} hooks=${hooks} timeoutMs=${timeoutMs}`;
}

export function hookLine(h: HookLine): string {
  const error = h.outcome === 'ok' ? '' : ` error=${field(describe(h.error))}`;
  return `shutdown hook phase=${h.phase} name=${field(h.name)} outcome=${h.outcome} durationMs=${Math.round(h.durationMs)}${error}`;
}

export function finishLine(ok: boolean, hooks: readonly HookLine[], durationMs: number): string {
  let errors = 0;
  let timeouts = 0;
  for (const h of hooks) {
    if (h.outcome === 'error') errors++;
    else if (h.outcome === 'timeout') timeouts++;
  }
  return `shutdown finish ok=${ok} hooks=${hooks.length} errors=${errors} timeouts=${timeouts} durationMs=${Math.round(durationMs)}`;
}

/** A signal that came while shutting down: a forced exit, or (with `exit: false`) nothing but this line. */
export function repeatLine(signal: string, exit: boolean): string {
  return exit ? `shutdown forced signal=${signal} exitCode=130` : `shutdown repeat signal=${signal} exit=false`;
}
