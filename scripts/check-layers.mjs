#!/usr/bin/env node
// The include layering of src/ (docs/architecture.md), checked: `make test` runs it first.
//
//   node scripts/check-layers.mjs              check src/ of this checkout
//   node scripts/check-layers.mjs --root DIR   check DIR (a tree laid out like src/)
//   node scripts/check-layers.mjs --self-test  show that a wrong include and a cycle are caught:
//                                              copies src/ to a temp dir, adds each, expects failure
//
// Fails (exit 1), naming file and line, on:
//   - an #include "dir/…" from a directory that ALLOWED below does not let it include;
//   - a cycle between directories, or between components (a header and its .cpp counted as one
//     node, e.g. store/rollup <-> store/migrations), even among allowed directories.
// Only quoted includes of the form "dir/file" are project includes; <…> are libraries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// What each directory of src/ may include besides itself. Lower layers first; a directory may
// include only directories listed before it. main.cpp is the directory "main".
export const ALLOWED = {
  core: [],
  metrics: ['core'],
  net: ['core'],
  ratelimit: ['core', 'net'],
  auth: ['core'],
  http: ['core'],
  web: ['core', 'http'],
  emulator: ['core', 'http'],
  config: ['core', 'net', 'ratelimit', 'emulator'],
  store: ['core', 'metrics'],
  upstream: ['core', 'metrics', 'http'],
  supervisor: ['core', 'metrics', 'store', 'upstream'],
  alerts: ['core', 'metrics', 'config', 'store', 'upstream'],
  api: ['core', 'metrics', 'net', 'ratelimit', 'auth', 'http', 'web', 'config', 'store', 'upstream'],
  app: ['core', 'metrics', 'net', 'ratelimit', 'auth', 'http', 'web', 'emulator', 'config', 'store',
        'upstream', 'supervisor', 'alerts', 'api'],
  cli: ['core', 'metrics', 'net', 'ratelimit', 'auth', 'http', 'web', 'emulator', 'config', 'store',
        'upstream', 'supervisor', 'alerts', 'api', 'app'],
  main: ['core', 'config', 'cli', 'app'],
};

const INCLUDE = /^\s*#\s*include\s+"([a-z0-9_]+)\/([^"]+)"/;

function sourceFiles(root) {
  const out = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const p = path.join(root, entry.name);
    if (entry.isDirectory()) {
      for (const f of sourceFiles(p)) out.push(f);
    } else if (/\.(hpp|cpp|h|ipp)$/.test(entry.name)) {
      out.push(p);
    }
  }
  return out;
}

// The directory a file belongs to: the first path component under root, or "main" for a file
// directly in root.
function dirOf(root, file) {
  const rel = path.relative(root, file).split(path.sep);
  return rel.length === 1 ? 'main' : rel[0];
}

function componentOf(root, file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  return rel.replace(/\.(hpp|cpp|h|ipp)$/, '');
}

// Strongly connected components of size > 1 (or a self loop) of a graph given as Map<node, Set>.
function cycles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], found = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

export function check(root) {
  const problems = [];
  const dirGraph = new Map();
  const compGraph = new Map();
  const add = (g, a, b) => { if (!g.has(a)) g.set(a, new Set()); g.get(a).add(b); };
  // The table itself must be a layering: each directory only includes earlier ones.
  const order = Object.keys(ALLOWED);
  for (const [dir, deps] of Object.entries(ALLOWED)) {
    for (const d of deps) {
      if (!(d in ALLOWED) || order.indexOf(d) >= order.indexOf(dir)) {
        problems.push(`ALLOWED table: ${dir} may include ${d}, which is not a lower layer`);
      }
    }
  }
  for (const file of sourceFiles(root)) {
    const dir = dirOf(root, file);
    const comp = componentOf(root, file);
    if (!(dir in ALLOWED)) {
      problems.push(`${path.relative(root, file)}: directory "${dir}" is not in the layering ` +
                    `(add it to ALLOWED in scripts/check-layers.mjs and to docs/architecture.md)`);
      continue;
    }
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const m = INCLUDE.exec(line);
      if (!m) return;
      const [, target, rest] = m;
      if (!fs.existsSync(path.join(root, target, rest))) return;  // not a src/ header
      const targetComp = `${target}/${rest}`.replace(/\.(hpp|h|ipp)$/, '');
      if (targetComp !== comp) add(compGraph, comp, targetComp);
      if (target === dir) return;
      add(dirGraph, dir, target);
      if (!ALLOWED[dir].includes(target)) {
        problems.push(`${path.relative(root, file)}:${i + 1}: ${dir}/ may not include ${target}/ ` +
                      `("${target}/${rest}"); ${dir}/ may include: ${ALLOWED[dir].join(', ') || 'nothing outside itself'}`);
      }
    });
  }
  for (const scc of cycles(dirGraph)) problems.push(`cycle between directories: ${scc.join(' <-> ')}`);
  for (const scc of cycles(compGraph)) problems.push(`cycle between components: ${scc.join(' <-> ')}`);
  return problems;
}

function selfTest(srcRoot) {
  const cases = [
    { what: 'core/ including api/ (against the layering)', file: 'core/text.hpp',
      line: '#include "api/handlers.hpp"', expect: /core\/ may not include api\// },
    { what: 'net/ including config/ (closes the cycle config -> net -> config)', file: 'net/cidr.hpp',
      line: '#include "config/config.hpp"', expect: /net\/ may not include config\/|cycle between directories/ },
  ];
  // A problem counts as caught only if the unchanged tree does not already have it.
  const before = new Set(check(srcRoot));
  let ok = true;
  for (const c of cases) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-layers-'));
    try {
      fs.cpSync(srcRoot, tmp, { recursive: true });
      const target = path.join(tmp, c.file);
      if (!fs.existsSync(target)) { console.log(`self-test: ${c.file} missing`); ok = false; continue; }
      fs.appendFileSync(target, `\n${c.line}\n`);
      const problems = check(tmp);
      const hit = problems.find((p) => c.expect.test(p) && !before.has(p));
      console.log(`self-test: ${c.what}: ${hit ? `caught: ${hit}` : 'NOT caught'}`);
      if (!hit) ok = false;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return ok;
}

const here = path.dirname(fileURLToPath(import.meta.url));
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const rootArg = args.indexOf('--root');
  const root = rootArg >= 0 ? path.resolve(args[rootArg + 1]) : path.join(here, '..', 'src');
  if (args.includes('--self-test')) {
    process.exit(selfTest(root) ? 0 : 1);
  }
  const problems = check(root);
  if (problems.length) {
    for (const p of problems) console.error(`layers: ${p}`);
    console.error(`layers: ${problems.length} problem(s); the layering is in docs/architecture.md`);
    process.exit(1);
  }
  const n = sourceFiles(root).length;
  console.log(`layers: ${n} files, no include against the layering, no cycle`);
}
