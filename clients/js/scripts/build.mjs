// Builds dist/esm (ES modules) and dist/cjs (CommonJS), both with .d.ts, from src/ with the
// pinned TypeScript compiler. dist/ is generated: never committed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) {
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(root, project)], { stdio: 'inherit' });
  } catch {
    console.error(`clients/js: tsc -p ${project} failed`);
    process.exit(1);
  }
}
// dist/cjs holds .js files in CommonJS inside a "type": "module" package.
fs.writeFileSync(path.join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
