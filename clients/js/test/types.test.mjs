// The published types fit browser code: a consumer file using the DOM's RTCPeerConnection,
// navigator.mediaDevices and fetch compiles in strict mode (no casts needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('types: browser classes fit connect() without casts', () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  let out = '';
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2020',
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2020,DOM',
      path.join(root, 'test', 'types', 'browser-consumer.ts')], { encoding: 'utf8' });
  } catch (err) {
    out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  assert.equal(out, '');
});
