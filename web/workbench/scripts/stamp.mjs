// Writes the hash of the workbench's sources beside its build, so a test
// (gateway/web TestWorkbenchBuildCurrent) and `make run` can tell whether
// the committed build is the build of these sources. The Go side computes
// the same hash (gateway/web/stamp.go): for each file, sorted by path,
// "<sha256 of the content>  <path>\n"; then the sha256 of that text.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const inputs = ['index.html', 'package.json', 'package-lock.json', 'vite.config.js', 'src'];

function walk(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) walk(join(path, name), out);
  } else {
    out.push(relative(root, path).split(sep).join('/'));
  }
  return out;
}

export function sourceHash() {
  const files = inputs.flatMap((p) => walk(join(root, p), [])).sort();
  const list = files.map((f) => `${createHash('sha256').update(readFileSync(join(root, f))).digest('hex')}  ${f}\n`).join('');
  return createHash('sha256').update(list).digest('hex');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(join(root, '../../gateway/web/workbench/source.sha256'), sourceHash() + '\n');
}
