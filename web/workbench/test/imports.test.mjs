// The workbench's modules import each other without a cycle: a page that
// imports App (which imports every page) loads half-initialised, and a
// bundler splits it badly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src', import.meta.url));

function modules(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) modules(p, out);
    else if (/\.(jsx?|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** The relative imports of each module, as absolute paths. */
export function graph(files, read = (f) => readFileSync(f, 'utf8')) {
  const g = new Map();
  for (const f of files) {
    const deps = [...read(f).matchAll(/^\s*import\s[^'"]*['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => resolve(dirname(f), m[1]));
    g.set(f, deps);
  }
  return g;
}

/** The first cycle found, as a list of modules, or null. */
export function cycle(g) {
  const state = new Map(); // 1: on the path, 2: done
  const path = [];
  const visit = (f) => {
    if (state.get(f) === 2) return null;
    if (state.get(f) === 1) return path.slice(path.indexOf(f)).concat(f);
    state.set(f, 1);
    path.push(f);
    for (const d of g.get(f) || []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(f, 2);
    return null;
  };
  for (const f of g.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

test('the cycle check finds a cycle', () => {
  const g = new Map([['/a', ['/b']], ['/b', ['/c']], ['/c', ['/a']], ['/d', []]]);
  assert.deepEqual(cycle(g), ['/a', '/b', '/c', '/a']);
  assert.equal(cycle(new Map([['/a', ['/b']], ['/b', []]])), null);
});

test('no module of src imports itself through others', () => {
  const files = modules(src);
  assert.ok(files.length > 5, 'the sources are where the test looks');
  const c = cycle(graph(files));
  assert.equal(c, null, c && 'import cycle: ' + c.map((f) => relative(src, f)).join(' → '));
});
