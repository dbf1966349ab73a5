// @ts-check
/**
 * A TypeDoc plugin (typedoc.json `plugin`) that files each export of the
 * core module `weftjs` under its family in the docs' sidebar: channels and
 * select, sync, admission control, resilience, pipelines and pools, and the
 * cancellation, time and errors every family shares.
 *
 * The family follows from the file that declares the export, as STYLE.md
 * lays the core out one concept per file, so one table here keeps the
 * sidebar in order without a `@category` tag on each of some 150 exports.
 * An explicit `@category` tag in a doc comment still wins. A core file that
 * is not in the table fails the build, so a new concept cannot land in a
 * catch-all "Other" unnoticed. The subpaths (`weftjs/threads`, `weftjs/node`,
 * `weftjs/redis`, `weftjs/testing`) are families of their own: their
 * modules are left as they are.
 */
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

/** The sidebar's order of the core's families; typedoc.json's `categoryOrder` repeats it. */
export const FAMILIES = [
  'Cancellation and time',
  'Channels and select',
  'Sync',
  'Admission control',
  'Resilience',
  'Pipelines and pools',
  'Errors',
];

/** Core file (relative to the package root) -> family. */
const FILES = {
  'src/context.ts': 'Cancellation and time',
  'src/clock.ts': 'Cancellation and time',
  'src/channel.ts': 'Channels and select',
  'src/select.ts': 'Channels and select',
  'src/timers.ts': 'Channels and select',
  'src/pubsub.ts': 'Channels and select',
  'src/waitgroup.ts': 'Sync',
  'src/mutex.ts': 'Sync',
  'src/rwmutex.ts': 'Sync',
  'src/lock.ts': 'Sync',
  'src/once.ts': 'Sync',
  'src/cond.ts': 'Sync',
  'src/pool.ts': 'Sync',
  'src/syncmap.ts': 'Sync',
  'src/errgroup.ts': 'Sync',
  'src/semaphore.ts': 'Admission control',
  'src/rate.ts': 'Admission control',
  'src/keyedrate.ts': 'Admission control',
  'src/singleflight.ts': 'Resilience',
  'src/breaker.ts': 'Resilience',
  'src/retry.ts': 'Resilience',
  'src/policy.ts': 'Resilience',
  'src/workerpool.ts': 'Pipelines and pools',
  'src/flow.ts': 'Pipelines and pools',
  'src/errors.ts': 'Errors',
  'src/internal/errors.ts': 'Errors',
};

const SUBPATH = /^src\/(threads|node|redis|testing)\//;

/** @param {import('typedoc').Reflection} r */
function hasCategory(r) {
  const own = (/** @type {import('typedoc').Comment | undefined} */ c) =>
    c?.blockTags.some((t) => t.tag === '@category') ?? false;
  if (own(r.comment)) return true;
  return r.isDeclaration() && (r.signatures ?? []).some((s) => own(s.comment));
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const project = context.project;
    for (const mod of project.getReflectionsByKind(ReflectionKind.Module)) {
      if (!mod.isDeclaration()) continue;
      for (const child of mod.children ?? []) {
        const path = project.getSymbolIdFromReflection(child)?.packagePath;
        if (path === undefined || SUBPATH.test(path) || hasCategory(child)) continue;
        const family = /** @type {Record<string, string>} */ (FILES)[path];
        if (family === undefined) {
          app.logger.error(
            `${child.getFriendlyFullName()} (${path}) belongs to no family: add ${path} to scripts/typedoc-families.mjs`,
          );
          continue;
        }
        child.comment ??= new Comment();
        child.comment.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: family }]));
      }
    }
  });
}
