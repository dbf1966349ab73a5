/**
 * Where a `ThreadPool`'s threads start: the bootstrap file (`worker.ts` in
 * the sources, `threads/worker.js` or `.cjs` in the build, found next to
 * this module's own file), the task module's URL, and, when TypeScript is
 * involved, the code that registers tsx in the thread first.
 *
 * Why tsx is registered by hand: on Node 20, a worker does not get the
 * module hooks of `--import tsx` from `execArgv` (inherited or given), so
 * a `.ts` file cannot be a worker's entry, nor be imported in one, unless
 * the thread registers the loader itself (`tsx/esm/api`'s `register()`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { show, typeError } from '../../internal/validate.js';

/** This module's own URL: `__filename` in the CommonJS build, `import.meta.url` otherwise. */
function here(): string {
  return typeof __filename === 'string' ? pathToFileURL(__filename).href : import.meta.url;
}

let bootstrap: string | undefined;

/** The bootstrap's file URL (found once). */
export function bootstrapUrl(): string {
  if (bootstrap !== undefined) return bootstrap;
  const self = here();
  const ext = /\.[cm]?[jt]s$/.exec(new URL(self).pathname)?.[0] ?? '.js';
  // Next to this file in the build (threads/index.js or a shared chunk), one folder up in the sources.
  for (const rel of [`./worker${ext}`, `../worker${ext}`, `./threads/worker${ext}`]) {
    const url = new URL(rel, self);
    if (existsSync(fileURLToPath(url))) return (bootstrap = url.href);
  }
  throw new Error(`weftjs/threads: the thread bootstrap (worker${ext}) is not next to ${self}`);
}

/**
 * The task module's URL: a `file:` or `data:` URL as given, or a path,
 * absolute or relative to the current working directory.
 */
export function moduleUrl(module: unknown, op: string): string {
  if (module instanceof URL) module = module.href;
  if (typeof module !== 'string' || module === '') {
    throw typeError(`${op}: \`module\` must be a path or a URL, got ${show(module)}`);
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) {
    if (/^(file|data):/i.test(module)) return module;
    throw typeError(
      `${op}: \`module\` must be a path, a file: URL or a data: URL, got ${show(module)}`,
      'ERR_INVALID_ARG_VALUE',
    );
  }
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

/** Whether a module URL names a TypeScript file. */
export function isTypeScript(url: string): boolean {
  return /^file:/i.test(url) && /\.[cm]?tsx?$/i.test(new URL(url).pathname);
}

/** The URL of tsx's ESM API (`tsx/esm/api`), looked up from the working directory, then from weft. */
function tsxApi(): string | undefined {
  for (const base of [join(process.cwd(), 'noop.js'), fileURLToPath(here())]) {
    try {
      const pkgFile = createRequire(base).resolve('tsx/package.json');
      const exp = JSON.parse(readFileSync(pkgFile, 'utf8')).exports?.['./esm/api'];
      const rel = typeof exp === 'string' ? exp : (exp?.import?.default ?? exp?.import);
      if (typeof rel === 'string') return pathToFileURL(join(dirname(pkgFile), rel)).href;
    } catch {
      // Not found from this base: try the next.
    }
  }
  return undefined;
}

/**
 * The `execArgv` of a thread: `undefined` (the process's, as Node passes it
 * on: a V8 flag such as `--expose-gc` stays with the process) unless it has
 * what a thread refuses: `--input-type` (of `node --input-type=module -e
 * ...`) fails a thread whose entry is a file. Then the list without it, and
 * without the V8 and process-wide flags that an explicit `execArgv` may not
 * name (Node throws ERR_WORKER_INVALID_EXEC_ARGV on them).
 */
export function threadExecArgv(): string[] | undefined {
  const argv = process.execArgv;
  if (!argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) return undefined;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=') && !PROCESS_ONLY.test(a)) out.push(a);
  }
  return out;
}

/** Flags a Worker's explicit `execArgv` refuses: V8's heap, GC and stack flags, and the process title. */
const PROCESS_ONLY =
  /^--(expose[-_]gc|max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|stack[-_]size|title)(=|$)/;

/**
 * How to start a thread for `module`: the bootstrap file, or, when the
 * bootstrap or the module is TypeScript or the process runs under tsx,
 * code that registers tsx in the thread and then imports the bootstrap.
 */
export function threadEntry(module: string): { entry: string | URL; evalEntry: boolean } {
  const boot = bootstrapUrl();
  const ts = isTypeScript(boot) || isTypeScript(module) || process.execArgv.some((a) => /[\\/]tsx[\\/]|^tsx$/.test(a));
  if (!ts) return { entry: new URL(boot), evalEntry: false };
  const api = tsxApi();
  const load = `import(${JSON.stringify(boot)})`;
  const code =
    api === undefined
      ? `Promise.reject(new Error(${JSON.stringify(`a TypeScript module needs tsx in the thread: install it (npm i -D tsx)`)}))`
      : `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return ${load}; })`;
  return { entry: `${code}.catch((err) => { process.nextTick(() => { throw err; }); });`, evalEntry: true };
}
