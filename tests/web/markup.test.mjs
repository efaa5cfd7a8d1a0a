// web/index.html and the files it loads, read as text: markup only (no inline script, style or
// event handler), the content security policy in a <meta>, the scripts as classic scripts
// in their order, every file one camstream serves. Run: node --test tests/web/
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { WEB, readWeb } from './load.mjs';

const html = readWeb('index.html');
const tags = html.match(/<[a-zA-Z][^>]*>/g);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; connect-src 'self' ws: wss: http: https:; " +
  "base-uri 'none'; form-action 'none'";
// The page's own scripts, after the one it vendors (js/vendor/README.md).
const VENDORED = ['js/vendor/mpegts.js'];
const SCRIPTS = ['js/util.js', 'js/secrets.js', 'js/embed.js', 'js/flvplayer.js', 'js/hlsplayer.js',
  'js/webrtcplayer.js', 'js/tile.js', 'js/onvif.js', 'js/dashboard.js'];

const attr = (tag, name) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? m[1] : null;
};

test('index.html has no inline script, <style>, style attribute or event handler attribute', () => {
  assert.ok(tags.length > 50, `only ${tags.length} tags found`);
  const scripts = tags.filter((t) => /^<script\b/i.test(t));
  assert.deepEqual(scripts.filter((t) => attr(t, 'src') === null), [], 'a <script> without src');
  assert.doesNotMatch(html, /<script\b[^>]*>[^<]+<\/script>/i, 'a <script src> with a body');
  assert.deepEqual(tags.filter((t) => /^<style\b/i.test(t)), [], '<style> element');
  assert.deepEqual(tags.filter((t) => /\sstyle\s*=/i.test(t)), [], 'style="" attribute');
  assert.deepEqual(tags.filter((t) => /\son[a-z]+\s*=/i.test(t)), [], 'on...="" event handler');
  assert.deepEqual(tags.filter((t) => /(href|src)\s*=\s*"\s*javascript:/i.test(t)), [], 'javascript: URL');
});

test('the content security policy is a <meta> before anything it governs is loaded', () => {
  const metas = tags.filter((t) => /^<meta\b/i.test(t) && /http-equiv="Content-Security-Policy"/i.test(t));
  assert.equal(metas.length, 1);
  assert.equal(attr(metas[0], 'content'), CSP);
  const at = html.indexOf(metas[0]);
  for (const loader of tags.filter((t) => /^<(script|link)\b/i.test(t))) {
    assert.ok(html.indexOf(loader) > at, `${loader} comes before the policy`);
  }
});

test('the page loads the stylesheet, mpegts.js and its nine classic scripts in order, and every one exists', () => {
  const scripts = tags.filter((t) => /^<script\b/i.test(t));
  assert.deepEqual(scripts.map((t) => attr(t, 'src')), [...VENDORED, ...SCRIPTS]);
  for (const t of scripts) {
    assert.equal(attr(t, 'type'), null, `${t}: a module or other type (must stay a classic script)`);
    assert.doesNotMatch(t, /\s(async|defer)\b/, `${t}: async or defer changes the order they run in`);
  }
  const sheets = tags.filter((t) => /^<link\b/i.test(t) && attr(t, 'rel') === 'stylesheet').map((t) => attr(t, 'href'));
  assert.deepEqual(sheets, ['css/camstream.css']);
  for (const file of [...VENDORED, ...SCRIPTS, ...sheets]) {
    // relative, so it loads from disk too; a plain name under css/, js/ or js/vendor/, as
    // camstream serves
    assert.match(file, /^(css\/[A-Za-z0-9_.-]+\.css|js\/(vendor\/)?[A-Za-z0-9_.-]+\.js)$/);
    assert.ok(existsSync(path.join(WEB, file)), `${file} is missing`);
  }
});

// mpegts.js is not held to this: its bundler's `new Function("return this")` runs only where
// globalThis is missing, never in a browser that has MediaSource.
test("the page's own scripts use nothing the policy forbids: no eval, no HTML or style strings put into the page", () => {
  for (const file of SCRIPTS) {
    const code = readWeb(file);
    assert.doesNotMatch(code, /\beval\s*\(|new\s+Function\b|set(Timeout|Interval)\s*\(\s*['"`]/, `${file}: code from a string`);
    assert.doesNotMatch(code, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/, `${file}: HTML from a string`);
    assert.doesNotMatch(code, /setAttribute\(\s*['"](style|on[a-z]+)['"]/, `${file}: a style or handler attribute`);
    assert.match(code, /^'use strict';\n/, `${file}: not strict`);
  }
});

test('the stylesheet loads nothing from elsewhere', () => {
  const css = readWeb('css/camstream.css');
  assert.ok(css.length > 1000, 'the stylesheet is nearly empty');
  assert.doesNotMatch(css, /@import|url\(/, 'the stylesheet loads another file');
  assert.doesNotMatch(css, /expression\(|behavior:/i);
});
