// Shared by the browser tests (page.test.mjs, dashboard.test.mjs): TAP output, the processes
// under test (camstream, the gst-rtsp-server fixture), Chromium, and helpers that read the
// dashboard's tiles. Not a test itself.
//
//   CAMSTREAM_BIN        the camstream binary (required)
//   CAMSTREAM_WEB_ROOT   folder holding index.html (default: ../../web from here)
//   CAMSTREAM_ARTIFACTS  where screenshots go (default: a new temp dir)
//   CHROMIUM             the browser (default: /usr/bin/chromium); never downloaded

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.log('Bail out! playwright-core is missing: run npm ci --prefix tests/browser');
  process.exit(1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.CAMSTREAM_BIN;
export const WEB_ROOT = path.resolve(process.env.CAMSTREAM_WEB_ROOT || path.join(here, '..', '..', 'web'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.CAMSTREAM_ARTIFACTS ||
  mkdtempSync(path.join(tmpdir(), 'camstream-artifacts-'));
export const RTSP_SERVER = path.join(here, '..', 'integration', 'rtsp_server.py');
export const GI_PYTHON = '/usr/bin/python3'; // the Debian python that has python3-gi

export const START_TIMEOUT_MS = 15000;   // camstream or the fixture says it listens
export const LIVE_TIMEOUT_MS = 15000;    // first picture on a canvas
export const STATE_TIMEOUT_MS = 10000;   // any other change the page shows
const TEST_TIMEOUT_MS = 60000;           // one test, all included
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/* ---------- TAP ---------- */

let count = 0;
let failures = 0;
const cleanups = []; // run at the end, last registered first

export function diag(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One TAP test; @logs() returns process output worth showing when it fails. */
export async function test(name, fn, logs = () => '', timeoutMs = TEST_TIMEOUT_MS) {
  count += 1;
  const started = Date.now();
  try {
    await withTimeout(fn(), timeoutMs, name);
    diag(`${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`ok ${count} - ${name}`);
  } catch (err) {
    failures += 1;
    console.log(`not ok ${count} - ${name}`);
    diag(err && err.stack ? err.stack : err);
    const text = logs();
    if (text) diag(text);
    // meson's --print-errorlogs (what CI shows) prints stderr only
    console.error(`not ok ${count} - ${name}\n${err && err.stack ? err.stack : err}`);
    if (text) console.error(text);
  }
}

export function onCleanup(fn) {
  cleanups.push(fn);
}

/**
 * Runs @main with a watchdog of @runTimeoutMs, prints the plan, cleans up and exits with
 * the TAP result.
 */
export async function run(main, runTimeoutMs) {
  const watchdog = setTimeout(async () => {
    console.log(`Bail out! the browser test ran for more than ${runTimeoutMs / 1000} s`);
    await runCleanups();
    process.exit(1);
  }, runTimeoutMs);
  let exitCode = 0;
  try {
    if (!BIN) throw new Error('CAMSTREAM_BIN is not set (path of the camstream binary)');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    diag(`artifacts: ${ARTIFACTS}`);
    await main();
    console.log(`1..${count}`);
  } catch (err) {
    console.log(`Bail out! ${String(err && err.message ? err.message : err).split('\n')[0]}`);
    diag(err && err.stack ? err.stack : err);
    exitCode = 1;
  } finally {
    if (!(await runCleanups())) exitCode = 1;
    clearTimeout(watchdog);
  }
  process.exit(failures > 0 ? 1 : exitCode);
}

async function runCleanups() {
  let ok = true;
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (err) {
      diag(`cleanup: ${err.message}`);
      ok = false;
    }
  }
  return ok;
}

/* ---------- processes ---------- */

/** Spawns @argv, keeps the last output lines, resolves with the first match of @ready. */
function spawnAndWait(argv, ready, what) {
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const keep = (line) => { log.push(line); if (log.length > 200) log.shift(); };
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: proc.stderr }).on('line', keep);
  const matched = new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      keep(line);
      const m = ready.exec(line);
      if (m) resolve(m);
    });
    proc.on('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`${what} exited before it was ready (code ${code}, signal ${signal}):\n` +
        log.slice(-10).join('\n'))));
  });
  const handle = { proc, log, exited };
  handle.running = () => proc.exitCode === null && proc.signalCode === null;
  /** Sends @signal and waits; SIGKILL after 10 s. Resolves with {code, signal}. */
  handle.stop = async (signal = 'SIGTERM') => {
    if (!handle.running()) return exited;
    proc.kill(signal);
    try {
      return await withTimeout(exited, 10000, `${what} exit after ${signal}`);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
  };
  onCleanup(() => handle.stop());
  return withTimeout(matched, START_TIMEOUT_MS, `${what} start`)
    .then((m) => ({ handle, m }))
    .catch((err) => { if (handle.running()) proc.kill('SIGKILL'); throw err; });
}

/** Serves @html at / on 127.0.0.1 (404 elsewhere) until the run ends; resolves with its base
 * URL. A page of another origin than camstream's, as a site embedding a player is. */
export async function servePage(html) {
  const http = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' });
    res.end(req.url === '/' ? html : '');
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  onCleanup(() => new Promise((resolve) => { http.closeAllConnections(); http.close(resolve); }));
  return `http://127.0.0.1:${http.address().port}`;
}

/** Waits until a line of @handle's output (the last 200 kept) matches @regex: the match. */
export async function waitLine(handle, regex, timeoutMs = START_TIMEOUT_MS, what = String(regex)) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of handle.log) {
      const m = regex.exec(line);
      if (m) return m;
    }
    if (!handle.running()) throw new Error(`exited before printing ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${handle.log.slice(-10).join('\n')}`);
    await sleep(20);
  }
}

const chosen = (args, option) => args.includes(option) && args[args.indexOf(option) + 1] !== 'off';

/**
 * camstream on 127.0.0.1 (port 0 = any free port) serving WEB_ROOT, plus @args; no RTMP
 * ingest unless @args give --rtmp-port (servers running side by side must not race for 1935),
 * no WebRTC unless they give --webrtc-port (UDP 8189 likewise; 0 = any free port).
 * Returns {proc, port, log, exited, stop(signal), running(), base, ws}, and rtmpPort or
 * webrtcPort when those were asked for.
 */
export async function startCamstream(args = [], port = 0) {
  const rtmp = args.includes('--rtmp-port') ? [] : ['--rtmp-port', 'off'];
  const webrtc = args.includes('--webrtc-port') ? [] : ['--webrtc-port', 'off'];
  const { handle, m } = await spawnAndWait(
    [BIN, '--port', String(port), '--host', '127.0.0.1', '--web-root', WEB_ROOT, ...rtmp,
      ...webrtc, ...args],
    /camstream listening on http:\/\/([^\s/]+):(\d+)/, 'camstream');
  handle.port = Number(m[2]);
  handle.base = `http://127.0.0.1:${handle.port}`;
  handle.ws = `ws://127.0.0.1:${handle.port}`;
  if (chosen(args, '--rtmp-port')) {
    handle.rtmpPort = Number((await waitLine(handle, /^camstream rtmp on rtmp:\/\/\S+:(\d+)\/live\/$/,
      START_TIMEOUT_MS, 'the rtmp line'))[1]);
  }
  if (chosen(args, '--webrtc-port')) {
    handle.webrtcPort = Number((await waitLine(handle, /^camstream webrtc on udp:\/\/\S+:(\d+)$/,
      START_TIMEOUT_MS, 'the webrtc line'))[1]);
  }
  return handle;
}

/**
 * The gst-rtsp-server fixture (tests/integration/rtsp_server.py) on @port (0 = any free
 * one). Returns the process handle plus {port, controlPort, url(mount), info}.
 */
export async function startRtspServer(port = 0, { width = 320, height = 240, fps = 25 } = {}) {
  const { handle, m } = await spawnAndWait(
    [GI_PYTHON, RTSP_SERVER, '--port', String(port), '--width', String(width),
      '--height', String(height), '--fps', String(fps)],
    /^READY rtsp_port=(\d+) control_port=(\d+)$/, 'rtsp_server.py');
  handle.port = Number(m[1]);
  handle.controlPort = Number(m[2]);
  handle.url = (mount) => `rtsp://127.0.0.1:${handle.port}/${mount}`;
  const info = await fetch(`http://127.0.0.1:${handle.controlPort}/info`,
    { signal: AbortSignal.timeout(5000) });
  handle.info = await info.json();
  return handle;
}

/* ---------- the browser ---------- */

let browser = null;

/** Chromium with the usual flags plus @extraArgs (e.g. --allow-loopback-in-peer-connection). */
export async function launchBrowser(extraArgs = []) {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs] });
  onCleanup(() => browser.close());
  return browser;
}

// Runs in every page before its own script: counts ImageBitmaps, object URLs and WebSockets,
// so a test can see that the page closes every bitmap, leaks no URL and does not retry, and
// keeps what the page's content security policy blocked.
function instrumentPage(tuning) {
  if (tuning) window.camstreamTuning = tuning;
  const counts = { bitmaps: 0, closed: 0, urls: 0, revoked: 0, sockets: [], violations: [] };
  window.__camstreamTest = counts;
  window.addEventListener('securitypolicyviolation', (e) => {
    counts.violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}` +
      `${e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ''}`);
  });
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
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      counts.sockets.push({ url: String(url), at: Date.now() });
    }
  };
}

/**
 * A page in a fresh context (its own storage); @tuning becomes window.camstreamTuning.
 * Uncaught page errors are collected in page.errors.
 */
export async function newPage({ viewport = { width: 1400, height: 1000 }, tuning = null, context = null } = {}) {
  const ctx = context || await browser.newContext({ viewport, acceptDownloads: true });
  if (!context) await ctx.addInitScript(instrumentPage, tuning);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err && err.stack ? err.stack : err)));
  page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(msg.text()); });
  return page;
}

export async function closePage(page) {
  await page.context().close();
}

export function assertNoPageErrors(page, allow = []) {
  const errors = page.errors.filter((e) => !allow.some((re) => re.test(e)));
  assert(errors.length === 0, `page errors:\n${errors.join('\n')}`);
}

/* ---------- the dashboard ---------- */

export const tileSel = (i) => `#grid > .tile:nth-child(${i + 1})`;

export async function tileCount(page) {
  return page.$$eval('#grid > .tile', (tiles) => tiles.length);
}

export async function tileState(page, i) {
  return page.$eval(tileSel(i), (el) => el.dataset.state);
}

export async function tileStatus(page, i) {
  return page.$eval(`${tileSel(i)} .status`, (el) => el.textContent);
}

export async function tileStat(page, i, name) {
  return page.$eval(`${tileSel(i)} [data-stat="${name}"]`, (el) => el.textContent);
}

/** What tile @i's <video> says: {src, time, frames, width, height, hidden, error}. */
export async function videoOf(page, i) {
  return page.$eval(`${tileSel(i)} video`, (v) => ({
    src: v.getAttribute('src'), time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames,
    width: v.videoWidth, height: v.videoHeight, hidden: v.hidden,
    error: v.error ? `${v.error.code} ${v.error.message}` : null,
  }));
}

/** Waits until tile @i's <video> has played @seconds more and decoded @frames more. */
export async function waitVideoPlays(page, i, seconds, frames, timeout = LIVE_TIMEOUT_MS) {
  const from = await videoOf(page, i);
  try {
    await page.waitForFunction(({ sel, time, want }) => {
      const v = document.querySelector(sel);
      return v.currentTime >= time && v.getVideoPlaybackQuality().totalVideoFrames >= want;
    }, { sel: `${tileSel(i)} video`, time: from.time + seconds, want: from.frames + frames },
    { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`tile ${i}: the video did not play on from ${JSON.stringify(from)}: ` +
      `${JSON.stringify(await videoOf(page, i))}, "${await tileStatus(page, i)}"`);
  }
  return videoOf(page, i);
}

/** Waits until tile @i has one of @states; its status text is in the error. */
export async function waitTileState(page, i, states, timeout = STATE_TIMEOUT_MS) {
  try {
    await page.waitForFunction(({ sel, wanted }) => {
      const el = document.querySelector(sel);
      return el && wanted.includes(el.dataset.state);
    }, { sel: tileSel(i), wanted: states }, { timeout, polling: 50 });
  } catch (err) {
    const now = await page.$eval(tileSel(i), (el) => `${el.dataset.state}: ${el.querySelector('.status').textContent}`)
      .catch(() => 'no such tile');
    throw new Error(`tile ${i}: waiting for ${states.join('|')}, now "${now}"`);
  }
}

/** Waits until tile @i has drawn at least @n pictures (its data-drawn counter). */
export async function waitTileDrawn(page, i, n, timeout = LIVE_TIMEOUT_MS) {
  await page.waitForFunction(({ sel, want }) => {
    const el = document.querySelector(sel);
    return el && Number(el.dataset.drawn || 0) >= want;
  }, { sel: tileSel(i), want: n }, { timeout, polling: 50 });
}

/** Sets every option of the add form (they stay as the last tile left them). */
async function setAddOptions(page, options) {
  await page.$eval('#add-form details', (d) => { d.open = true; });
  for (const name of ['fps', 'width', 'quality']) {
    await page.fill(`#add-options [data-option="${name}"]`, options[name] ? String(options[name]) : '');
  }
  await page.selectOption('#add-options [data-option="transport"]', options.transport || '');
}

async function waitNewTile(page, before) {
  await page.waitForFunction((n) => document.querySelectorAll('#grid > .tile').length > n, before,
    { timeout: STATE_TIMEOUT_MS });
  return before;
}

/** Types a URL (and options) into the add form and presses Add; returns the new tile's index. */
export async function addTile(page, url, options = {}) {
  const before = await tileCount(page);
  await setAddOptions(page, options);
  await page.fill('#url', url);
  await page.click('#add-url');
  return waitNewTile(page, before);
}

/** Picks the named stream @name (once the picker shows) and adds it; returns the tile's index. */
export async function addNamed(page, name, options = {}) {
  const before = await tileCount(page);
  await page.waitForSelector('#named-field', { state: 'visible', timeout: STATE_TIMEOUT_MS });
  await setAddOptions(page, options);
  await page.selectOption('#named', name);
  await page.click('#add-named');
  return waitNewTile(page, before);
}

/** A 64x36 grid of RGB samples of tile @i's canvas. */
export async function sampleCanvas(page, i) {
  return page.$eval(`${tileSel(i)} canvas`, (canvas) => {
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const pixels = [];
    for (let y = 0; y < 36; y++) {
      for (let x = 0; x < 64; x++) {
        const px = Math.floor(((x + 0.5) * width) / 64);
        const py = Math.floor(((y + 0.5) * height) / 36);
        const k = (py * width + px) * 4;
        pixels.push([data[k], data[k + 1], data[k + 2]]);
      }
    }
    return { width, height, pixels };
  });
}

/** Not blank: at least @minColours distinct colours (the fixture's white ball on black has 2). */
export function assertNotBlank(sample, label, minColours = 4) {
  const colours = new Set(sample.pixels.map(([r, g, b]) => `${r >> 4},${g >> 4},${b >> 4}`));
  const brightest = Math.max(...sample.pixels.map(([r, g, b]) => Math.max(r, g, b)));
  assert(colours.size >= minColours, `${label}: canvas looks blank (${colours.size} distinct colours)`);
  assert(brightest > 64, `${label}: canvas is nearly black (brightest channel ${brightest})`);
}

/** The picture of tile @i moves: two samples ~1 s apart differ in a visible number of places. */
export async function assertMovingPicture(page, i, { minColours = 4 } = {}) {
  const first = await sampleCanvas(page, i);
  assertNotBlank(first, `tile ${i} first sample`, minColours);
  await page.waitForTimeout(1000);
  const second = await sampleCanvas(page, i);
  assertNotBlank(second, `tile ${i} second sample`, minColours);
  let changed = 0;
  for (let k = 0; k < first.pixels.length; k++) {
    const a = first.pixels[k];
    const b = second.pixels[k];
    if (Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2])) > 24) changed += 1;
  }
  assert(changed >= 5, `tile ${i}: picture did not move in 1 s (${changed} of ${first.pixels.length} samples changed)`);
  return { first, second, changed };
}

export async function counters(page) {
  return page.evaluate(() => window.__camstreamTest);
}
