// Browser test: web/index.html in Debian's headless Chromium, driven by playwright-core,
// against a real camstream. Prints TAP for meson.
//
//   CAMSTREAM_BIN        the camstream binary (required)
//   CAMSTREAM_WEB_ROOT   folder holding index.html (default: ../../web from here)
//   CAMSTREAM_ARTIFACTS  where screenshots go (default: a new temp dir)
//   CHROMIUM             the browser (default: /usr/bin/chromium); never downloaded
//
// Run: npm ci --prefix tests/browser && CAMSTREAM_BIN=build/src/camstream node tests/browser/page.test.mjs

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.log('Bail out! playwright-core is missing: run npm ci --prefix tests/browser');
  process.exit(1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.CAMSTREAM_BIN;
const WEB_ROOT = path.resolve(process.env.CAMSTREAM_WEB_ROOT || path.join(here, '..', '..', 'web'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.CAMSTREAM_ARTIFACTS ||
  mkdtempSync(path.join(tmpdir(), 'camstream-artifacts-'));

const START_TIMEOUT_MS = 15000;   // camstream prints its listening line
const LIVE_TIMEOUT_MS = 15000;    // first picture on the canvas
const STATE_TIMEOUT_MS = 10000;   // any other change the page shows
const TEST_TIMEOUT_MS = 60000;    // one test, all included
const RUN_TIMEOUT_MS = 240000;    // the whole file
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/* ---------- TAP ---------- */

let count = 0;
let failures = 0;

function diag(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function test(name, fn) {
  count += 1;
  try {
    await withTimeout(fn(), TEST_TIMEOUT_MS, name);
    console.log(`ok ${count} - ${name}`);
  } catch (err) {
    failures += 1;
    console.log(`not ok ${count} - ${name}`);
    diag(err && err.stack ? err.stack : err);
    diag(`camstream stderr (last lines):\n${server ? server.log.slice(-15).join('\n') : '-'}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/* ---------- camstream ---------- */

let server = null; // {proc, port, log, exited}

/** Starts camstream on a free port and resolves once it prints where it listens. */
function startCamstream() {
  const proc = spawn(BIN, ['--port', '0', '--host', '127.0.0.1', '--web-root', WEB_ROOT],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const keep = (line) => { log.push(line); if (log.length > 200) log.shift(); };
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: proc.stderr }).on('line', keep);
  const listening = new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      keep(line);
      const m = /camstream listening on http:\/\/([^\s/]+):(\d+)/.exec(line);
      if (m) resolve(Number(m[2]));
    });
    proc.on('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`camstream exited before listening (code ${code}, signal ${signal})`)));
  });
  return withTimeout(listening, START_TIMEOUT_MS, 'camstream start')
    .then((port) => ({ proc, port, log, exited }));
}

async function stopCamstream() {
  if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill('SIGTERM');
  try {
    await withTimeout(server.exited, 10000, 'camstream exit after SIGTERM');
  } catch (err) {
    server.proc.kill('SIGKILL');
    throw err;
  }
}

/* ---------- page helpers ---------- */

// Runs in every page before its own script: counts ImageBitmaps and object URLs so a test can
// see that the page closes every bitmap and leaks no URL.
function instrumentPage() {
  const counts = { bitmaps: 0, closed: 0, urls: 0, revoked: 0 };
  window.__camstreamTest = counts;
  const create = window.createImageBitmap.bind(window);
  window.createImageBitmap = async (...args) => {
    const bitmap = await create(...args);
    counts.bitmaps += 1;
    return bitmap;
  };
  const close = ImageBitmap.prototype.close;
  ImageBitmap.prototype.close = function () { counts.closed += 1; return close.call(this); };
  const createURL = URL.createObjectURL;
  URL.createObjectURL = function (obj) { counts.urls += 1; return createURL.call(URL, obj); };
  const revokeURL = URL.revokeObjectURL;
  URL.revokeObjectURL = function (url) { counts.revoked += 1; return revokeURL.call(URL, url); };
}

let browser = null;

/** A fresh context and page; uncaught page errors fail the test through page.errors. */
async function newPage(viewport = { width: 1400, height: 1000 }) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript(instrumentPage);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(msg.text()); });
  return page;
}

async function closePage(page) {
  await page.context().close();
}

const httpBase = () => `http://127.0.0.1:${server.port}`;
const wsBase = () => `ws://127.0.0.1:${server.port}`;

async function state(page) {
  return page.$eval('#status', (el) => el.dataset.state);
}

async function statusText(page) {
  return page.$eval('#status', (el) => el.textContent);
}

/** Waits until #status has one of @states; the page's own status text is in the error. */
async function waitForState(page, states, timeout = STATE_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      (wanted) => wanted.includes(document.querySelector('#status').dataset.state),
      states, { timeout, polling: 50 });
  } catch (err) {
    throw new Error(`waiting for state ${states.join('|')}: now "${await state(page)}", ` +
      `status "${await statusText(page)}"`);
  }
}

async function stat(page, name) {
  return page.$eval(`#stats [data-stat="${name}"]`, (el) => el.textContent);
}

/** Waits until the page has received at least @n frames. */
async function waitForFrames(page, n, timeout = STATE_TIMEOUT_MS) {
  await page.waitForFunction(
    (want) => Number(document.querySelector('#stats [data-stat="frames"]').textContent) >= want,
    n, { timeout, polling: 50 });
}

/** A 64x36 grid of RGB samples of the canvas. */
async function sampleCanvas(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('canvas');
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const cols = 64;
    const rows = 36;
    const pixels = [];
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const px = Math.floor(((x + 0.5) * width) / cols);
        const py = Math.floor(((y + 0.5) * height) / rows);
        const i = (py * width + px) * 4;
        pixels.push([data[i], data[i + 1], data[i + 2]]);
      }
    }
    return { width, height, pixels };
  });
}

function assertNotBlank(sample, label) {
  const colours = new Set(sample.pixels.map(([r, g, b]) => `${r >> 4},${g >> 4},${b >> 4}`));
  const brightest = Math.max(...sample.pixels.map(([r, g, b]) => Math.max(r, g, b)));
  assert(colours.size >= 8, `${label}: canvas looks blank (${colours.size} distinct colours)`);
  assert(brightest > 64, `${label}: canvas is nearly black (brightest channel ${brightest})`);
}

/** The picture moves: two samples ~1 s apart differ in a visible number of places. */
async function assertMovingPicture(page) {
  const first = await sampleCanvas(page);
  assertNotBlank(first, 'first sample');
  await page.waitForTimeout(1000);
  const second = await sampleCanvas(page);
  assertNotBlank(second, 'second sample');
  let changed = 0;
  for (let i = 0; i < first.pixels.length; i++) {
    const a = first.pixels[i];
    const b = second.pixels[i];
    if (Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2])) > 24) {
      changed += 1;
    }
  }
  assert(changed >= 5, `picture did not move in 1 s (${changed} of ${first.pixels.length} samples changed)`);
  return { first, second, changed };
}

/** The demo source is a 1280x720 picture; the canvas takes the picture's size. */
async function assertDemoPicture(page) {
  const { second } = await assertMovingPicture(page);
  assert(second.width === 1280 && second.height === 720,
    `canvas is ${second.width}x${second.height}, expected 1280x720`);
  const resolution = await stat(page, 'resolution');
  assert(resolution === '1280×720', `stats resolution "${resolution}"`);
  const fps = Number(await stat(page, 'fps'));
  assert(fps > 0, `stats fps is ${fps}`);
  const kbps = Number(await stat(page, 'kbps'));
  assert(kbps > 0, `stats KB/s is ${kbps}`);
}

function assertNoPageErrors(page) {
  assert(page.errors.length === 0, `page errors:\n${page.errors.join('\n')}`);
}

/* ---------- the tests ---------- */

async function main() {
  if (!BIN) {
    console.log('Bail out! CAMSTREAM_BIN is not set (path of the camstream binary)');
    process.exit(1);
  }
  if (!existsSync(CHROMIUM)) {
    console.log(`Bail out! ${CHROMIUM} not found (apt-get install chromium)`);
    process.exit(1);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  diag(`artifacts: ${ARTIFACTS}`);

  server = await startCamstream();
  diag(`camstream on port ${server.port}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  await test('GET / for a browser serves the page, whose controls all have labels', async () => {
    const page = await newPage();
    const response = await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    assert(response.status() === 200, `status ${response.status()}`);
    const type = response.headers()['content-type'] || '';
    assert(type.startsWith('text/html'), `content-type "${type}"`);
    assert((await state(page)) === 'idle', `initial state "${await state(page)}"`);
    const server_ = await page.inputValue('#server');
    assert(server_ === wsBase(), `server field "${server_}", expected its own origin ${wsBase()}`);
    assert((await page.inputValue('#url')) === 'demo:', 'url field defaults to demo:');
    const unlabelled = await page.$$eval('input, select',
      (els) => els.filter((el) => el.labels.length === 0).map((el) => el.id));
    assert(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);
    assertNoPageErrors(page);
    await closePage(page);
  });

  await test('page served by camstream shows the demo: source as a moving picture', async () => {
    const page = await newPage();
    await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    await page.click('#connect');
    await waitForState(page, ['live'], LIVE_TIMEOUT_MS);
    await assertDemoPicture(page);
    assertNoPageErrors(page);
    await closePage(page);
  });

  await test('page opened from file:// shows the demo: source with the server field set', async () => {
    const page = await newPage();
    await page.goto(pathToFileURL(path.join(WEB_ROOT, 'index.html')).href,
      { timeout: STATE_TIMEOUT_MS });
    const preset = await page.inputValue('#server');
    assert(preset === 'ws://127.0.0.1:8000', `file:// default server "${preset}"`);
    await page.fill('#server', wsBase());
    await page.press('#url', 'Enter'); // Enter in the URL box connects
    await waitForState(page, ['live'], LIVE_TIMEOUT_MS);
    await assertDemoPicture(page);
    assertNoPageErrors(page);
    await closePage(page);
  });

  await test('a refused URL shows the server error text, scheme_not_allowed and close 1008', async () => {
    const page = await newPage();
    await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    const badUrl = 'file:/etc/passwd';
    // What the server itself says, read with a bare WebSocket in the same browser.
    const wire = await page.evaluate(({ base, url }) => new Promise((resolve) => {
      const ws = new WebSocket(`${base}/ws/stream?rtsp_url=${encodeURIComponent(url)}`);
      const texts = [];
      ws.onmessage = (e) => { if (typeof e.data === 'string') texts.push(e.data); };
      ws.onclose = (e) => resolve({ texts, code: e.code });
      setTimeout(() => resolve({ texts, code: 'no close within 8 s' }), 8000);
    }), { base: wsBase(), url: badUrl });
    assert(wire.code === 1008, `server closed with ${wire.code}, expected 1008`);
    assert(wire.texts.length === 1, `server sent ${wire.texts.length} text messages`);
    const message = JSON.parse(wire.texts[0]);
    assert(message.code === 'scheme_not_allowed', `server code "${message.code}"`);
    assert(typeof message.error === 'string' && message.error.length > 0, 'server error text');

    await page.fill('#url', badUrl);
    await page.click('#connect');
    await waitForState(page, ['error', 'closed']);
    await page.waitForFunction(() => /closed \(1008/.test(document.querySelector('#status').textContent),
      null, { timeout: STATE_TIMEOUT_MS });
    const text = await statusText(page);
    assert(text.includes(message.error), `#status "${text}" lacks the server's text "${message.error}"`);
    assert(text.includes('scheme_not_allowed'), `#status "${text}" lacks the code`);
    assert((await state(page)) === 'error', `state "${await state(page)}" after a server error`);
    assert((await page.isDisabled('#disconnect')), 'Disconnect stays enabled after the close');
    assertNoPageErrors(page);
    await closePage(page);
  });

  await test('Disconnect stops the stream and every ImageBitmap is closed', async () => {
    const page = await newPage();
    await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    await page.focus('#connect');
    await page.keyboard.press('Enter'); // the buttons work from the keyboard
    await waitForState(page, ['live'], LIVE_TIMEOUT_MS);
    await waitForFrames(page, 10);
    await page.focus('#disconnect');
    await page.keyboard.press('Space');
    await waitForState(page, ['closed']);
    const frames = await stat(page, 'frames');
    await page.waitForFunction(() => {
      const c = window.__camstreamTest;
      return c.bitmaps > 0 && c.bitmaps === c.closed;
    }, null, { timeout: STATE_TIMEOUT_MS, polling: 50 }).catch(async () => {
      const c = await page.evaluate(() => window.__camstreamTest);
      throw new Error(`ImageBitmaps created ${c.bitmaps}, closed ${c.closed}`);
    });
    await page.waitForTimeout(500);
    assert((await stat(page, 'frames')) === frames, 'frames still counted after Disconnect');
    const c = await page.evaluate(() => window.__camstreamTest);
    assert(c.urls === c.revoked, `object URLs created ${c.urls}, revoked ${c.revoked}`);
    assertNoPageErrors(page);
    await closePage(page);
  });

  await test('page fits a phone-width screen while live', async () => {
    const page = await newPage({ width: 360, height: 740 });
    await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    await page.click('#connect');
    await waitForState(page, ['live'], LIVE_TIMEOUT_MS);
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
      canvas: document.getElementById('canvas').getBoundingClientRect().width,
    }));
    assert(layout.scroll <= layout.inner, `page scrolls sideways (${layout.scroll} > ${layout.inner})`);
    assert(layout.canvas <= layout.inner, `canvas is ${layout.canvas}px wide on a ${layout.inner}px screen`);
    await waitForFrames(page, 5);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-phone.png'), fullPage: true });
    assertNoPageErrors(page);
    await closePage(page);
  });

  let livePage = null; // kept open for the shutdown test
  await test('screenshot of the page with live demo video is saved as page-demo.png', async () => {
    const page = await newPage({ width: 1400, height: 1000 });
    livePage = page;
    await page.goto(httpBase() + '/', { timeout: STATE_TIMEOUT_MS });
    await page.click('#connect');
    await waitForState(page, ['live'], LIVE_TIMEOUT_MS);
    await waitForFrames(page, 30); // a second or so, so the stats have settled
    const file = path.join(ARTIFACTS, 'page-demo.png');
    await page.screenshot({ path: file, fullPage: true });
    assert(statSync(file).size > 20000, `${file} is only ${statSync(file).size} bytes`);
    diag(`screenshot: ${file}`);
    assertNoPageErrors(page);
  });

  await test('server shutdown (SIGTERM) shows closed (1001) and camstream exits 0', async () => {
    assert(livePage && (await state(livePage)) === 'live', 'no live page left from the test before');
    server.proc.kill('SIGTERM');
    await waitForState(livePage, ['closed']);
    const text = await statusText(livePage);
    assert(text.includes('closed (1001'), `#status "${text}"`);
    const { code, signal } = await withTimeout(server.exited, 10000, 'camstream exit');
    assert(code === 0, `camstream exited with code ${code}, signal ${signal}`);
    await closePage(livePage);
  });

  console.log(`1..${count}`);
}

const watchdog = setTimeout(() => {
  console.log(`Bail out! the browser test ran for more than ${RUN_TIMEOUT_MS / 1000} s`);
  if (server) server.proc.kill('SIGKILL');
  process.exit(1);
}, RUN_TIMEOUT_MS);

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.log(`Bail out! ${String(err && err.message ? err.message : err).split('\n')[0]}`);
  diag(err && err.stack ? err.stack : err);
  if (server) diag(`camstream output:\n${server.log.slice(-20).join('\n')}`);
  exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopCamstream().catch((err) => { diag(err.message); exitCode = 1; });
  clearTimeout(watchdog);
}
process.exit(failures > 0 ? 1 : exitCode);
