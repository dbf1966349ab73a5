/**
 * A step of the build (tsup's onSuccess): makes every top-level class of the built package droppable by the
 * bundlers of the package's users, and gives each its own name.
 *
 * esbuild (and so Vite's dependency pre-bundling, tsup and Bun's `var` handling) keeps a class whose body has a
 * computed key it cannot prove pure, such as `[inspectKey]()` or `get [holder]()` with a module-level symbol: one
 * such class in a chunk kept every other class of the engine, so `import { Channel } from 'weftjs'` bundled the
 * whole core. tsup's `keepNames` makes it worse: its `static { __name(this, 'X') }` blocks keep every class in
 * esbuild, Bun and rollup alike. So instead each
 *
 *     var X = class [_X] [extends Y] { ... };
 *
 * becomes
 *
 *     var X = /* @__PURE__ *\/ (() => class X [extends Y] { ... })();
 *
 * which every bundler drops when `X` is unused. The inner name is the exported one (`Flow.name === 'Flow'`, where
 * esbuild's own output names it `_Flow` because its methods refer to it); references to the old inner name inside
 * the body are renamed with it. The IIFE runs once, at module load. The edit keeps every line where it was and the
 * source map is carried through (magic-string, then remapping onto esbuild's map).
 *
 * Usage: node scripts/pure-classes.mjs [dir]   (default dist/)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import remapping from '@ampproject/remapping';
import MagicString from 'magic-string';
import ts from 'typescript';

/** Rewrites one file's text; returns the new text and its map against the old, or undefined when nothing changed. */
export function pureClasses(text, fileName) {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const s = new MagicString(text);
  let changed = 0;
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt) || stmt.declarationList.declarations.length !== 1) continue;
    const decl = stmt.declarationList.declarations[0];
    const init = decl.initializer;
    if (!init || !ts.isIdentifier(decl.name) || !ts.isClassExpression(init)) continue;
    // A class whose evaluation runs code of its own (a static block or a static initializer) is not pure: leave it.
    if (init.members.some((m) => ts.isClassStaticBlockDeclaration(m))) continue;
    if (init.members.some((m) => ts.isPropertyDeclaration(m) && isStatic(m) && m.initializer)) continue;
    const name = decl.name.text;
    const inner = init.name?.text;
    if (inner !== undefined && inner !== name) {
      // Rename `_X` to `X` inside the class, unless `X` already means something else there.
      const idents = [];
      let clash = false;
      const visit = (n) => {
        if (ts.isIdentifier(n)) {
          if (n.text === inner) idents.push(n);
          else if (n.text === name) clash = true;
        }
        ts.forEachChild(n, visit);
      };
      visit(init);
      if (clash) continue;
      for (const id of idents) s.overwrite(id.getStart(sf), id.end, name);
    } else if (inner === undefined) {
      s.appendLeft(init.getStart(sf) + 'class'.length, ` ${name}`);
    }
    s.appendLeft(init.getStart(sf), '/* @__PURE__ */ (() => ');
    s.appendRight(init.end, ')()');
    changed++;
  }
  if (changed === 0) return undefined;
  return { code: s.toString(), map: s.generateMap({ hires: true, source: fileName, includeContent: false }), changed };
}

function isStatic(m) {
  return ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static;
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(c|m)?js$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

export function run(dir = 'dist') {
  let total = 0;
  for (const file of files(dir)) {
    const text = readFileSync(file, 'utf8');
    const out = pureClasses(text, basename(file));
    if (out === undefined) continue;
    total += out.changed;
    writeFileSync(file, out.code);
    let mapFile;
    try {
      mapFile = `${file}.map`;
      const old = JSON.parse(readFileSync(mapFile, 'utf8'));
      const merged = remapping(out.map.toString(), (src) => (src === basename(file) ? old : null));
      merged.file = old.file;
      // A build without sourcesContent stays without: remapping would add a list of nulls.
      if (!old.sourcesContent) delete merged.sourcesContent;
      writeFileSync(mapFile, merged.toString());
    } catch (err) {
      if (err?.code !== 'ENOENT') throw err;
    }
  }
  return total;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = run(process.argv[2]);
  console.log(`pure-classes: ${n} classes wrapped`);
}
