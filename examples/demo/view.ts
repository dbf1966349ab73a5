/**
 * The demo's terminal view. It learns everything from the service's
 * `PubSub`: a `demo.progress` snapshot every 100 ms, and `demo.breaker` and
 * `demo.downstream` events as they happen. On a terminal it redraws one
 * panel in place (log-update), with the events kept below it; elsewhere
 * (CI, a pipe) it prints a plain progress line each second and a line per
 * event, so the output is a log that tests can read.
 */
import { createLogUpdate } from 'log-update';
import type { PubSub } from 'weftjs';
import type { DemoEvent, DemoOptions, Progress } from './service.js';

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const stamp = (ms: number) => `[${(ms / 1000).toFixed(1).padStart(5)}s]`;
const arrow = (tty: boolean) => (tty ? '→' : '->');

function bar(share: number, width: number): string {
  const full = Math.round(Math.min(1, Math.max(0, share)) * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** Describes one event in a line. */
function describe(event: DemoEvent, tty: boolean): string {
  if (event.kind === 'breaker') {
    const { from, to } = event.transition;
    return `breaker ${from} ${arrow(tty)} ${to}`;
  }
  if (event.kind === 'downstream') return event.up ? 'downstream up again' : 'downstream down';
  return '';
}

function eventTime(event: DemoEvent): number {
  if (event.kind === 'breaker') return event.transition.t;
  if (event.kind === 'downstream') return event.t;
  return event.progress.t;
}

/** The live view: attach it to the bus, feed it log lines, stop it at the end. */
export class View {
  readonly #tty: boolean;
  readonly #opts: DemoOptions;
  readonly #draw: ReturnType<typeof createLogUpdate> | undefined;
  readonly #events: string[] = [];
  #last: Progress | undefined;
  #lastPlain = -1;
  #peakRss = 0;
  /** When the breaker last changed state, and how many times it has. */
  #breakerSince = 0;
  #transitions = 0;
  #stopped = false;

  constructor(opts: DemoOptions, tty: boolean) {
    this.#opts = opts;
    this.#tty = tty;
    if (tty) this.#draw = createLogUpdate(process.stdout);
  }

  /** Subscribes to every `demo.*` topic; the subscription ends when the bus closes. */
  attach(bus: PubSub<DemoEvent>): void {
    // A view that falls behind skips old snapshots rather than slowing the job down.
    const sub = bus.subscribe('demo.>', { buffer: 1_000, overflow: 'drop-oldest' });
    void (async () => {
      for await (const { payload } of sub) this.#on(payload);
    })();
  }

  /**
   * Prints a line of the Shutdown's report. On a terminal the first one
   * freezes the panel where it is (the job has ended, or Ctrl-C came), so
   * that the report reads below it.
   */
  line(text: string): void {
    this.stop();
    console.log(text);
  }

  /** Draws the last snapshot one more time and leaves it on the screen. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#draw) {
      if (this.#last) this.#draw(this.#panel(this.#last, false));
      this.#draw.done();
    }
  }

  #on(event: DemoEvent): void {
    if (this.#stopped) return;
    if (event.kind === 'progress') {
      const p = event.progress;
      this.#last = p;
      if (p.rss > this.#peakRss) this.#peakRss = p.rss;
      if (this.#draw) this.#draw(this.#panel(p));
      else if (Math.floor(p.t / 1000) > this.#lastPlain || p.done + p.failed === p.total) {
        this.#lastPlain = Math.floor(p.t / 1000);
        console.log(this.#plain(p));
      }
      return;
    }
    if (event.kind === 'breaker') {
      this.#breakerSince = event.transition.t;
      this.#transitions++;
    }
    const text = `${stamp(eventTime(event))} ${describe(event, this.#tty)}`;
    if (this.#draw) {
      this.#events.push(text);
      if (this.#events.length > 12) this.#events.shift();
    } else console.log(text);
  }

  #plain(p: Progress): string {
    const t = p.threads;
    return (
      `${stamp(p.t)} done ${n(p.done)}/${n(p.total)} (${((p.done / p.total) * 100).toFixed(1)}%) ${n(p.perSecond)}/s` +
      ` | failed ${n(p.failed)} | in flight ${n(p.inFlight)} | queued ${n(p.queued)} | breaker ${p.breaker}` +
      ` | limiter waits ${n(p.limiterWaits)} | retries ${n(p.retries)}` +
      ` | threads ${t.threads}: ${n(t.running)} running, ${n(t.queued)} queued | rss ${mb(p.rss)}`
    );
  }

  #panel(p: Progress, live = true): string {
    const o = this.#opts;
    const t = p.threads;
    const share = (p.done + p.failed) / p.total;
    const breaker = p.breaker === 'closed' ? 'closed' : p.breaker === 'open' ? 'OPEN' : 'half-open';
    const rows = [
      `weft demo: ${n(o.items)} items, ${o.workers} workers, ${n(o.rate)} calls/s, batches of ${o.batch}   ${secs(p.t)}`,
      '',
      `  done        ${n(p.done).padStart(11)} / ${n(p.total)}  ${bar(share, 30)} ${(share * 100).toFixed(1)}%`,
      `  rate        ${n(p.perSecond).padStart(11)} items/s`,
      `  failed      ${n(p.failed).padStart(11)} items (after retries)`,
      `  in flight   ${n(p.inFlight).padStart(11)} items   queued ${n(p.queued)}`,
      `  breaker     ${breaker.padStart(11)}${this.#transitions === 0 ? '' : `   since ${secs(this.#breakerSince)}, ${this.#transitions} transitions`}`,
      `  limiter     ${n(p.limiterWaits).padStart(11)} calls waited for a token, ${n(p.limiterWaiting)} waiting now`,
      `  retries     ${n(p.retries).padStart(11)}`,
      `  threads     ${String(t.threads).padStart(11)} thread${t.threads === 1 ? '' : 's'}: ${n(t.running)} tasks running, ${n(t.queued)} queued, ${n(t.completed)} batches sealed`,
      `  downstream  ${(p.downstreamUp ? 'up' : 'DOWN').padStart(11)}`,
      `  rss         ${mb(p.rss).padStart(11)}   peak ${mb(this.#peakRss)}`,
      '',
      ...this.#events.map((e) => `  ${e}`),
      ...(live ? ['', '  Ctrl-C stops it cleanly'] : []),
    ];
    return rows.join('\n');
  }
}
