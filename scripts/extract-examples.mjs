#!/usr/bin/env node
/**
 * Examples are tests: this script turns every ```ts fence under a TSDoc
 * `@example` tag in `src/**\/*.ts` (test files excepted) into a vitest test,
 * one file per source file, under `test/doc-examples/` (git-ignored; rebuilt
 * from scratch on every run). `npm test` runs it before vitest.
 *
 * The transform, as Effect's doctest and Go's `Example` functions:
 * - import lines are hoisted to the top of the generated file, merged;
 *   `'weftjs'` and `'weftjs/testing'` resolve to `src/` through vitest's alias;
 * - the rest of the fence becomes the body of an async test, so top-level
 *   `await` and `using` work, and each example has a scope of its own;
 * - a statement followed by `// => value` becomes
 *   `expect(<statement's expression>).toEqual(<value>)`; the statement must
 *   be an expression statement (not a declaration), else extraction fails
 *   with the file and line.
 *
 * README.md is documentation too: every ```ts fence in it becomes a test of
 * `test/doc-examples/README.test.ts`, named after the heading it sits under,
 * with the same transform. A fence opens ```ts nocheck to opt out (only for
 * code that cannot run in a test, such as a server).
 *
 * Usage: node scripts/extract-examples.mjs [--check] [--src DIR] [--out DIR] [--readme FILE]
 *   --check    parse and transform only, write nothing
 *   --src/out  other folders than src/ and test/doc-examples/ (for the script's own tests)
 *   --readme   another markdown file than README.md next to the source folder (skipped if absent)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? resolve(argv[i + 1]) : fallback;
};
const srcDir = option('--src', join(root, 'src'));
const outDir = option('--out', join(root, 'test', 'doc-examples'));
const readmePath = option('--readme', join(dirname(srcDir), 'README.md'));
const checkOnly = argv.includes('--check');

class ExtractError extends Error {}

/** Every source file under src, tests excepted, sorted. */
function sources(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.ts$/.test(entry.name) && !/\.test(-d)?\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name))
      out.push(path);
  }
  return out.sort();
}

/** The name a doc comment documents: `fn`, `Class`, `Class.method`, `Class constructor`. */
function nameOf(node, sf, owner) {
  let name;
  if (ts.isVariableStatement(node)) name = node.declarationList.declarations[0]?.name.getText(sf);
  else if (ts.isConstructorDeclaration(node)) return `${owner ?? '?'} constructor`;
  else name = node.name?.getText(sf);
  name ??= ts.SyntaxKind[node.kind];
  return owner === undefined ? name : `${owner}.${name}`;
}

/** The doc comments of a file: their lines without ` * ` margins (with source line numbers), and the symbol. */
function docComments(path, text) {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = [];
  const visit = (node, owner) => {
    // `jsDoc` holds the /** */ comments the parser attached to a declaration.
    for (const doc of node.jsDoc ?? []) {
      const start = doc.getStart(sf);
      const first = sf.getLineAndCharacterOfPosition(start).line + 1;
      const lines = text.slice(start, doc.end).split('\n').slice(1, -1);
      const body = lines.map((l, k) => ({ text: l.replace(/^\s*\* ?/, ''), line: first + 1 + k }));
      out.push({ body, symbol: nameOf(node, sf, owner) });
    }
    const inner = ts.isClassLike(node) || ts.isInterfaceDeclaration(node) ? node.name?.text : owner;
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(sf, undefined);
  return out;
}

/** The `@example` blocks of a comment: title, code and the source line of the code's first line. */
function examples(comment, file) {
  const out = [];
  const { body } = comment;
  for (let i = 0; i < body.length; i++) {
    const tag = /^@example\b(.*)$/.exec(body[i].text.trim());
    if (tag === null) continue;
    const title = tag[1].trim();
    let fences = 0;
    for (i++; i < body.length && !/^@\w/.test(body[i].text.trim()); i++) {
      if (!/^```(ts|typescript)\s*$/.test(body[i].text.trim())) continue;
      const codeLine = body[i + 1]?.line;
      const code = [];
      for (i++; i < body.length && body[i].text.trim() !== '```'; i++) code.push(body[i].text);
      if (i >= body.length) throw new ExtractError(`${file}:${codeLine}: unterminated \`\`\`ts fence`);
      out.push({ title: fences === 0 ? title : `${title} (${fences + 1})`, code, line: codeLine });
      fences++;
    }
    i--;
  }
  return out;
}

/** Splits an example into its import declarations and its body, checking imports; `at(n)` locates line n. */
function splitImports(code, at) {
  const sf = ts.createSourceFile('example.ts', code.join('\n'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports = [];
  let bodyStart = 0;
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st)) break;
    const spec = st.moduleSpecifier.text;
    if (spec.startsWith('.'))
      throw new ExtractError(`${at(lineIn(sf, st))}: examples import from 'weftjs', not '${spec}'`);
    imports.push(st);
    bodyStart = st.end;
  }
  for (const st of sf.statements) {
    if (st.pos >= bodyStart && ts.isImportDeclaration(st)) {
      throw new ExtractError(`${at(lineIn(sf, st))}: imports must come first`);
    }
  }
  return { sf, imports, bodyStart };
}

function lineIn(sf, node) {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
}

/** Rewrites each `stmt; // => value` in the body into an assertion. */
function assertions(sf, bodyStart, at) {
  const text = sf.text;
  const statements = [];
  const visit = (node) => {
    if (Array.isArray(node.statements)) statements.push(...node.statements);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const edits = [];
  text.split('\n').forEach((line, n) => {
    const col = line.indexOf('// =>');
    if (col < 0) return;
    const pos = sf.getPositionOfLineAndCharacter(n, col);
    if (pos < bodyStart) throw new ExtractError(`${at(n)}: \`// =>\` on an import`);
    const value = line.slice(col + 5).trim();
    if (value === '') throw new ExtractError(`${at(n)}: \`// =>\` without a value`);
    // The innermost statement that ends on this line, just before the comment.
    const st = statements
      .filter((s) => s.end <= pos && text.slice(s.end, pos).trim() === '')
      .sort((a, b) => b.getStart(sf) - a.getStart(sf))[0];
    if (st === undefined) throw new ExtractError(`${at(n)}: \`// =>\` must follow a complete statement`);
    if (!ts.isExpressionStatement(st)) {
      throw new ExtractError(
        `${at(n)}: \`// =>\` must follow an expression statement, not ${describe(st)}: ${line.trim()}`,
      );
    }
    const expr = st.expression.getText(sf);
    edits.push({ start: st.getStart(sf), end: pos + line.length - col, text: `__expect(${expr}).toEqual(${value});` });
  });
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out.slice(bodyStart).replace(/^\n+/, '');
}

function describe(st) {
  if (ts.isVariableStatement(st)) return 'a declaration';
  if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) return 'a declaration';
  return `a ${ts.SyntaxKind[st.kind]}`;
}

/** Merges import declarations: named specifiers per module, other forms kept once each. */
class Imports {
  #named = new Map();
  #other = new Set();

  add(decl, sf) {
    const spec = decl.moduleSpecifier.text;
    const clause = decl.importClause;
    const named = clause?.namedBindings;
    if (clause && !clause.name && named && ts.isNamedImports(named)) {
      const set = this.#named.get(spec) ?? new Map();
      for (const el of named.elements) {
        const local = el.name.text;
        const text = el.getText(sf).replace(/^type\s+/, '');
        const isType = clause.isTypeOnly || el.isTypeOnly;
        const prev = set.get(local);
        if (prev !== undefined && prev.text !== text) {
          throw new ExtractError(`two examples import different things as \`${local}\` from '${spec}'`);
        }
        set.set(local, { text, type: (prev?.type ?? true) && isType });
      }
      this.#named.set(spec, set);
    } else {
      this.#other.add(decl.getText(sf));
    }
  }

  render() {
    const out = [];
    for (const [spec, set] of [...this.#named].sort(([a], [b]) => a.localeCompare(b))) {
      const names = [...set.values()].map((v) => (v.type ? `type ${v.text}` : v.text)).sort();
      out.push(`import { ${names.join(', ')} } from '${spec}';`);
    }
    return [...out, ...this.#other].join('\n');
  }
}

function indent(text, by) {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');
}

/** Turns examples `{ name, code, line }` of file `rel` into the text of a vitest file, or null if there are none. */
function render(rel, list) {
  const imports = new Imports();
  const tests = [];
  const seen = new Map();
  for (const ex of list) {
    const where = `${rel}:${ex.line}`;
    const at = (n) => `${rel}:${ex.line + n}`;
    const { sf, imports: decls, bodyStart } = splitImports(ex.code, at);
    for (const d of decls) {
      try {
        imports.add(d, sf);
      } catch (err) {
        throw new ExtractError(`${where}: ${err.message}`);
      }
    }
    const body = assertions(sf, bodyStart, at);
    let name = ex.name;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    if (n > 1) name += ` (${n})`;
    tests.push(`__it(${JSON.stringify(name)}, async () => {\n  // ${where}\n${indent(body, '  ')}\n});`);
  }
  if (tests.length === 0) return null;
  const header = `// Generated by scripts/extract-examples.mjs from ${rel}; do not edit.\nimport { expect as __expect, it as __it } from 'vitest';\n`;
  return `${header}${imports.render()}\n\n${tests.join('\n\n')}\n`;
}

function extractFile(path) {
  const rel = relative(dirname(srcDir), path).replaceAll('\\', '/');
  const text = readFileSync(path, 'utf8');
  const list = [];
  for (const comment of docComments(path, text)) {
    for (const ex of examples(comment, rel)) {
      list.push({ name: `${rel} ${comment.symbol}: ${ex.title || 'example'}`, code: ex.code, line: ex.line });
    }
  }
  return render(rel, list);
}

/**
 * The ```ts fences of a markdown file, each named after the heading above it;
 * ```ts nocheck fences are skipped. Fences indented under list items count too.
 */
function markdownExamples(text, rel) {
  const lines = text.split('\n');
  const out = [];
  let heading = rel;
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]);
    if (h !== null) {
      heading = h[1].replaceAll('`', '');
      continue;
    }
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const [, margin, fence, lang, info] = open;
    const start = i;
    const code = [];
    for (i++; i < lines.length && lines[i].trim() !== fence; i++) code.push(lines[i].slice(margin.length));
    if (i >= lines.length) throw new ExtractError(`${rel}:${start + 1}: unterminated ${fence} fence`);
    if (!/^(ts|typescript)$/.test(lang) || /\bnocheck\b/.test(info)) continue;
    out.push({ name: `${rel} ${heading}`, code, line: start + 2 });
  }
  return out;
}

function extractMarkdown(path) {
  const rel = relative(dirname(srcDir), path).replaceAll('\\', '/');
  return render(rel, markdownExamples(readFileSync(path, 'utf8'), rel));
}

const generated = [];
const failures = [];
for (const path of sources(srcDir)) {
  try {
    const out = extractFile(path);
    if (out !== null) generated.push({ path, out });
  } catch (err) {
    if (!(err instanceof ExtractError)) throw err;
    failures.push(err.message);
  }
}
if (existsSync(readmePath)) {
  try {
    const out = extractMarkdown(readmePath);
    if (out !== null) generated.push({ path: readmePath, out, target: join(outDir, 'README.test.ts') });
  } catch (err) {
    if (!(err instanceof ExtractError)) throw err;
    failures.push(err.message);
  }
}
if (failures.length > 0) {
  console.error(`extract-examples: ${failures.length} example(s) could not be extracted:`);
  for (const f of failures) console.error(`  ${f}`);
  process.exit(1);
}
if (!checkOnly) {
  rmSync(outDir, { recursive: true, force: true });
  for (const { path, out, target: to } of generated) {
    const target = to ?? join(outDir, relative(srcDir, path).replace(/\.ts$/, '.test.ts'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out);
  }
}
const count = generated.reduce((n, g) => n + (g.out.match(/^__it\(/gm)?.length ?? 0), 0);
console.log(
  `extract-examples: ${count} examples from ${generated.length} files${checkOnly ? ' checked' : ` -> ${relative(root, outDir)}/`}`,
);
