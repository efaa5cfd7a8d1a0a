// web/js/vendor/: mpegts.js is the file tools/vendor-mpegts.sh pins, as its README says, with
// its licence next to it. Run: node --test tests/web/
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { WEB, readWeb } from './load.mjs';

const readme = readWeb('js/vendor/README.md');
const script = readFileSync(path.join(WEB, '..', 'tools', 'vendor-mpegts.sh'), 'utf8');
const sha256 = (relative) => createHash('sha256').update(readFileSync(path.join(WEB, relative))).digest('hex');

test('the README, the script and the file name one version of mpegts.js', () => {
  const pinned = /^VERSION=(\d+\.\d+\.\d+)$/m.exec(script);
  assert.ok(pinned, 'tools/vendor-mpegts.sh pins no exact VERSION');
  assert.match(readme, new RegExp(`^- version: ${pinned[1].replace(/\./g, '\\.')}$`, 'm'));
  assert.match(readme, new RegExp(`npm \`mpegts\\.js@${pinned[1].replace(/\./g, '\\.')}\``));
  const integrity = /^INTEGRITY=(sha512-\S+)$/m.exec(script);
  assert.ok(integrity && readme.includes(integrity[1]), 'the README and the script pin different tarballs');
});

test('web/js/vendor/mpegts.js is the file whose sha256 the README gives', () => {
  const noted = /sha256 of `mpegts\.js`: `([0-9a-f]{64})`/.exec(readme);
  assert.ok(noted, 'the README gives no sha256');
  assert.equal(sha256('js/vendor/mpegts.js'), noted[1]);
  assert.match(readWeb('js/vendor/mpegts.js'), /^\/\*! For license information please see mpegts\.js\.LICENSE\.txt \*\//);
});

test('the licences travel with it: Apache-2.0 of mpegts.js and the notice of what it bundles', () => {
  assert.match(readWeb('js/vendor/LICENSE'), /Apache License\s+Version 2\.0/);
  assert.match(readWeb('js/vendor/mpegts.js.LICENSE.txt'), /es6-promise[\s\S]*MIT/);
});
