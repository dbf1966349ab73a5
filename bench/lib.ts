/**
 * The declaration API of weft's benchmarks: a `bench/*.bench.ts` file
 * default-exports an async function that calls `compare(title, options)`
 * once per comparison, and `bench/run.ts` measures them. The file never
 * measures anything itself: `run.ts` starts a fresh child process
 * (`bench/child.ts`) for every contender of every round, and in that child
 * `compare` runs the one contender it was asked for and prints its figures;
 * every other call of `compare` in the child returns at once. So the code
 * of a bench file outside its contenders runs in every child: keep it to
 * declarations, and put what a contender needs (an array of a million
 * items, a pool) in that contender's `setup`, which runs in its child only,
 * outside the timed part.
 *
 * Bench files import weft by its package name (`'weftjs'`,
 * `'weftjs/testing'`, ...). `run.ts` bundles them with weft and every peer
 * left external, so in a child those names resolve through package.json
 * `exports` to `dist/`, as they do for users; under `--src` (tsx, with the
 * tsconfig `paths`) they resolve to `src/`. Each child checks which one it
 * got before it measures.
 *
 * How a child measures (`measure.ts`): the contender's `setup`, then one
 * call whose result goes to `check`; then, for a `heavy` comparison (one
 * call is a whole run of many operations), one more warm-up call and 3
 * timed calls (2, and no more warm-up, after a first call of over a
 * second); otherwise calls for 300 ms of warm-up, then 5 timed samples
 * of about 50 ms each (100 ms and 3 samples in the smoke): a simple timed
 * loop, `await`ed when the case returns a promise. `gc()` runs before each
 * timed call or sample, so one does not pay for the garbage of the one
 * before. The child reports the median time per call; `run.ts` takes the
 * median of those over the rounds. Under `--check`, the first call is all
 * a child makes.
 */
import { writeSync } from 'node:fs';

/** One contender, when it needs more than a function. */
export interface Contender<S = any> {
  /** One call: what is timed. It receives what `setup` returned. */
  run: (state: S) => unknown;
  /** Runs once in the contender's child, before the first call, untimed. */
  setup?: () => S | Promise<S>;
  /** Operations one call performs, where they differ from the comparison's `ops`. */
  ops?: number;
  /** A reason not to run it now (the row is printed as skipped, with the reason). */
  skip?: string | false | undefined;
  /** One timed call per process, no warm-up: a case that takes seconds. */
  once?: boolean;
  /** At most this many rounds of it (e.g. 1 for a case that takes seconds). */
  rounds?: number;
  /** `false`: left out of the smoke even where a target names it (a slow peer that is never the fastest of a list). */
  smoke?: boolean;
  /** Its child is stopped after this long, and its later rounds are skipped (default 300 s; 60 s in the smoke). */
  timeoutMs?: number;
}

/** A contender: a function (one call) or a `Contender`. */
export type Case = (() => unknown) | Contender;

/**
 * A target, checked on the same-run ratio (the median over rounds of the
 * ratio measured within one round, contenders run one after another).
 * `atMost: x`: `contender` takes at most x times the time per operation of
 * `vs` ("within 1.15x of the floor"). `atLeast: x`: `contender` is at least
 * x times as fast as `vs` ("at least 4x p-map"). Neither: the ratio is
 * printed for the reader, as "info". Names are keys of `cases`, or `'weft'`
 * and `'floor'` for the comparison's `weft` and `floor`; a list for `vs`
 * means the fastest of them in this run. For a `maxRSS` comparison, the
 * ratio is of peak memory.
 */
export interface Target {
  /** Default: the comparison's `weft`. */
  contender?: string;
  vs: string | string[];
  atMost?: number;
  atLeast?: number;
  /** Printed after the target: where it comes from, or why it is what it is. */
  note?: string;
}

export interface CompareOptions {
  /** Operations one call of a case performs (1 for a micro-benchmark). */
  ops: number;
  /** What an operation is called in the throughput column ("values", "tasks"). */
  unit?: string;
  /** The contenders, in the order of the table and of each round. */
  cases: Record<string, Case>;
  /** The key of `cases` that is weft's, the reference of the "vs weft" column (default: the first key). */
  weft?: string;
  /** The key of the hand-written floor, for the "vs floor" column (default: the first key starting with "floor"). */
  floor?: string;
  /** A free-text note printed under the table. */
  target?: string;
  /** Machine-checked targets, printed under the table as met or MISSED. */
  targets?: Target[];
  /** One call is a whole heavy run (a million tasks): a few timed calls, not a timed loop. */
  heavy?: boolean;
  /** Called with the first call's result of each contender (untimed): throw if it is wrong. */
  check?: (value: unknown, contender: string) => void;
  /** A headline comparison: `npm run bench:smoke` runs it, and checks its targets against `bench/baseline.json`. */
  smoke?: boolean;
  /** `'maxRSS'`: each child makes one call and reports its peak resident set size instead of a time. */
  metric?: 'time' | 'maxRSS';
  /** Extra `node` flags for this comparison's children (e.g. `--max-semi-space-size=1`). */
  nodeFlags?: string[];
  /** At most this many rounds for this comparison. */
  rounds?: number;
}

/**
 * What a bench file may export besides its default function: `setup` runs
 * once in the parent before any child of the file starts (e.g. to start a
 * server); its `env` is given to every child of the file, and `teardown`
 * runs when the file is done, also after a failure or Ctrl-C.
 */
export type Setup = () => Promise<SetupResult | void> | SetupResult | void;
export interface SetupResult {
  env?: Record<string, string>;
  teardown?: () => unknown;
}

/** True in `npm run bench:smoke`: files pick smaller sizes for their smoke comparisons. */
export const smoke = process.env.WEFT_BENCH_SMOKE === '1';

/** How the package is loaded: `'dist'` (the built package) or `'src'` (`--src`). */
export const build: 'dist' | 'src' = process.env.WEFT_BENCH_BUILD === 'src' ? 'src' : 'dist';

const root = process.env.WEFT_BENCH_ROOT ?? process.cwd();

/**
 * The file of `bench/fixtures/<name>.ts` to hand to a Worker or a child
 * process: its bundle, `bench/.out/fixtures/<name>.mjs`, which `run.ts`
 * makes with weft and the peers left external (so weft is the built
 * package's), or under `--src` with weft inlined from `src/`.
 */
export function fixture(name: string): string {
  return `${root}/bench/.out/fixtures/${name}.mjs`;
}

/** A comparison as the child lists it to the parent. */
export interface ComparisonMeta {
  title: string;
  ops: number;
  unit: string;
  weft: string;
  floor: string | null;
  note: string | null;
  targets: Target[];
  heavy: boolean;
  smoke: boolean;
  metric: 'time' | 'maxRSS';
  nodeFlags: string[];
  rounds: number | null;
  contenders: {
    name: string;
    ops: number;
    skip: string | null;
    once: boolean;
    rounds: number | null;
    timeoutMs: number | null;
    smoke: boolean;
  }[];
}

/** One contender's figures from one child. */
export interface ResultLine {
  title: string;
  contender: string;
  /** The child's figure: the median of `samples`. */
  value: number;
  /** Nanoseconds per call (`time`) or bytes (`maxRSS`). */
  samples: number[];
  /** Calls timed in all. */
  calls: number;
}

/** Lines the child prints for the parent start with this. */
export const MARK = '##weft-bench ';

type ChildTask = { mode: 'list' } | { mode: 'run'; title: string; contender: string };

const task: ChildTask | undefined = process.env.WEFT_BENCH_CHILD ? JSON.parse(process.env.WEFT_BENCH_CHILD) : undefined;

function emit(kind: string, body: object): void {
  // writeSync: the line is out before the child exits.
  writeSync(1, `${MARK}${JSON.stringify({ kind, ...body })}\n`);
}

function resolveName(opts: CompareOptions, name: string, weft: string, floor: string | null): string {
  if (name === 'weft') return weft;
  if (name === 'floor' && floor !== null && !(name in opts.cases)) return floor;
  return name;
}

/** Describes a comparison: see the file's doc. Resolves when the child has nothing more to do with it. */
export async function compare(title: string, opts: CompareOptions): Promise<void> {
  if (task === undefined) {
    throw new Error('bench/lib: bench files run under bench/run.ts (npm run bench), not on their own');
  }
  const names = Object.keys(opts.cases);
  const weft = opts.weft ?? names[0]!;
  const floor = opts.floor ?? names.find((n) => n.startsWith('floor')) ?? null;
  if (task.mode === 'list') {
    const bad = (n: string) => {
      if (!(n in opts.cases)) throw new Error(`bench: ${title}: no contender named ${JSON.stringify(n)}`);
    };
    bad(weft);
    if (floor !== null) bad(floor);
    const targets = (opts.targets ?? []).map((t) => {
      const contender = resolveName(opts, t.contender ?? 'weft', weft, floor);
      const vs = Array.isArray(t.vs)
        ? t.vs.map((v) => resolveName(opts, v, weft, floor))
        : resolveName(opts, t.vs, weft, floor);
      for (const n of [contender, ...(Array.isArray(vs) ? vs : [vs])]) bad(n);
      return { ...t, contender, vs };
    });
    const meta: ComparisonMeta = {
      title,
      ops: opts.ops,
      unit: opts.unit ?? 'ops',
      weft,
      floor,
      note: opts.target ?? null,
      targets,
      heavy: opts.heavy ?? false,
      smoke: opts.smoke ?? false,
      metric: opts.metric ?? 'time',
      nodeFlags: opts.nodeFlags ?? [],
      rounds: opts.rounds ?? null,
      contenders: names.map((name) => {
        const c = opts.cases[name]!;
        const o: Contender = typeof c === 'function' ? { run: c } : c;
        return {
          name,
          ops: o.ops ?? opts.ops,
          skip: o.skip || null,
          once: o.once ?? false,
          rounds: o.rounds ?? null,
          timeoutMs: o.timeoutMs ?? null,
          smoke: o.smoke ?? true,
        };
      }),
    };
    emit('comparison', meta);
    return;
  }
  if (title !== task.title) return;
  const c = opts.cases[task.contender];
  if (c === undefined) throw new Error(`bench: ${title}: no contender named ${JSON.stringify(task.contender)}`);
  const { measure } = await import('./measure.js');
  const result = await measure(typeof c === 'function' ? { run: c } : c, {
    heavy: opts.heavy ?? false,
    metric: opts.metric ?? 'time',
    smoke,
    only: process.env.WEFT_BENCH_CHECK === '1',
    check: opts.check === undefined ? undefined : (v) => opts.check!(v, task.contender),
  });
  emit('result', { title, contender: task.contender, ...result } satisfies ResultLine);
  // The child was started for this one contender: it ends here, leaving
  // nothing the rest of the file would start behind.
  process.exit(0);
}
