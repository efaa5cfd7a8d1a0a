// Browser test: the dashboard (web/index.html) in Debian's headless Chromium against a real
// camstream and the gst-rtsp-server fixture (tests/integration/rtsp_server.py): RTSP tiles,
// named streams from --config, camera passwords, losing and regaining the camera, memory
// over time, and the 4-tile screenshot the README shows. Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required), and
//   CAMSTREAM_SOAK_SECONDS   how long the memory test watches one 25 fps demo tile (default
//                            20). The hour-long check is a manual run of this file with
//                            CAMSTREAM_SOAK_SECONDS=3600 (it then needs no other change: the
//                            per-test and whole-run time limits grow with it).
//   CAMSTREAM_UPDATE_DOCS    set to 1 to also copy the 4-tile screenshot to
//                            docs/screenshot-dashboard.png (a test run never writes to the
//                            source tree otherwise).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/dashboard.test.mjs

import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ARTIFACTS, LIVE_TIMEOUT_MS, STATE_TIMEOUT_MS, addNamed, addTile, assert, assertMovingPicture,
  assertNoPageErrors, closePage, counters, diag, launchBrowser, newPage, onCleanup, run, sleep,
  startCamstream, startRtspServer, test, tileSel, tileStat, tileState, tileStatus, waitTileDrawn,
  waitTileState,
} from './helpers.mjs';

const SOAK_SECONDS = Number(process.env.CAMSTREAM_SOAK_SECONDS || 20);
const RUN_TIMEOUT_MS = 150000 + SOAK_SECONDS * 1000;
// Bytes the JS heap may grow, after a GC, over the soak. What it does grow by is V8's compiled
// code and Chromium's (bounded) performance timeline, ~0.2 MB in the first half minute, then flat.
const HEAP_GROWTH_LIMIT = 1024 * 1024;
const DOCS_SCREENSHOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs',
  'screenshot-dashboard.png');
// Short timings so the reconnect tests fit in seconds; the defaults are in web/js/util.js.
const FAST = { backoffFirstMs: 500, backoffMaxMs: 2000, stallMs: 2000, statusPollMs: 1000 };

let server = null;
let rtsp = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

async function openServed(options) {
  const page = await newPage(options);
  await page.goto(server.base + '/', { timeout: STATE_TIMEOUT_MS });
  return page;
}

async function storedLayout(page) {
  return page.evaluate(() => localStorage.getItem('camstream.dashboard.v1') || '');
}

/** The sockets tile-by-URL fragment @needle opened so far. */
async function socketsFor(page, needle) {
  return (await counters(page)).sockets.filter((s) => s.url.includes(needle));
}

/** Proportional set size in kB of every Chromium process this test started (informational). */
function chromiumPssKb() {
  const parents = new Map();
  const pss = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      parents.set(pid, /PPid:\s+(\d+)/.exec(status)[1]);
      const m = /Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) pss.set(pid, Number(m[1]));
    } catch (err) { /* gone meanwhile */ }
  }
  const mine = (pid) => {
    for (let p = pid, n = 0; p && p !== '1' && n < 20; p = parents.get(p), n++) {
      if (p === String(process.pid)) return true;
    }
    return false;
  };
  let total = 0;
  for (const [pid, kb] of pss) if (pid !== String(process.pid) && mine(pid)) total += kb;
  return total;
}

async function main() {
  rtsp = await startRtspServer(0, { width: 640, height: 360, fps: 25 });
  diag(`rtsp_server.py on port ${rtsp.port} (secure ${rtsp.info.secure_port})`);
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-dashboard-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({ streams: [{ name: 'cam1', rtsp_url: rtsp.url('smpte') }] }));
  server = await startCamstream(['--config', config]);
  diag(`camstream on port ${server.port} with named stream cam1 -> ${rtsp.url('smpte')}`);
  await launchBrowser();

  await test('the named-stream picker lists /api/streams; picking cam1 shows its moving picture', async () => {
    const page = await openServed();
    await page.waitForSelector('#named-field', { state: 'visible', timeout: STATE_TIMEOUT_MS });
    const options = await page.$$eval('#named option', (els) => els.map((o) => o.value));
    assert(options.length === 1 && options[0] === 'cam1', `picker offers ${options.join(', ')}`);
    await page.click('#add-named');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(page, 0, 5);
    await assertMovingPicture(page, 0);
    const url = (await counters(page)).sockets[0].url;
    assert(url.endsWith('/ws/stream?name=cam1'), `the tile asked ${url}`);
    assert((await tileStat(page, 0, 'resolution')) === '640×360', 'size of the named stream');
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('an RTSP URL from the test server shows a moving picture', async () => {
    const page = await openServed();
    await addTile(page, rtsp.url('smpte'), { width: 320 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(page, 0, 5);
    const { second } = await assertMovingPicture(page, 0);
    assert(second.width === 320 && second.height === 180, `canvas ${second.width}x${second.height}`);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('camera passwords stay out of storage unless Remember is ticked; after a reload the tile asks for them', async () => {
    const secure = `rtsp://viewer:s3cr3tPass@127.0.0.1:${rtsp.info.secure_port}/secure`;
    const page = await openServed();
    await addTile(page, secure, { width: 320 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    let stored = await storedLayout(page);
    assert(stored.includes('/secure') && !stored.includes('s3cr3tPass') && !stored.includes('viewer'),
      `stored layout: ${stored}`);
    assert(!(await page.textContent(tileSel(0))).includes('s3cr3tPass'), 'the tile shows the password');

    await page.reload({ timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, 0, ['credentials']);
    assert((await counters(page)).sockets.length === 0, 'the tile connected without credentials');
    await page.fill(`${tileSel(0)} [data-role="user"]`, 'viewer');
    await page.fill(`${tileSel(0)} [data-role="password"]`, 's3cr3tPass');
    await page.press(`${tileSel(0)} [data-role="password"]`, 'Enter');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    assert(!(await storedLayout(page)).includes('s3cr3tPass'), 'typed password was stored');

    await page.check('#remember');
    stored = await storedLayout(page);
    assert(stored.includes('viewer:s3cr3tPass@'), `with Remember ticked the layout is ${stored}`);
    await page.reload({ timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await page.uncheck('#remember'); // and unticking forgets it at once
    assert(!(await storedLayout(page)).includes('s3cr3tPass'), 'unticking Remember kept the password');
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('a wrong camera password makes the tile ask for credentials instead of retrying', async () => {
    const page = await openServed({ tuning: FAST });
    await addTile(page, `rtsp://viewer:wrong@127.0.0.1:${rtsp.info.secure_port}/secure`);
    await waitTileState(page, 0, ['credentials'], LIVE_TIMEOUT_MS);
    const text = await tileStatus(page, 0);
    assert(text.includes('[unauthorized]'), `status "${text}"`);
    assert(!text.includes('wrong'), `status shows the password: "${text}"`);
    await sleep(2000);
    const sockets = (await counters(page)).sockets.length;
    assert(sockets === 1, `${sockets} attempts with a refused password`);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  let page = null; // one page through losing and regaining the camera
  await test('RTSP server killed: the URL tile reconnects with backoff and says why; the named tile says the camera is offline', async () => {
    page = await openServed({ tuning: FAST });
    await addNamed(page, 'cam1');
    await addTile(page, rtsp.url('h264'), { width: 320 });
    await waitTileDrawn(page, 0, 5);
    await waitTileDrawn(page, 1, 5);
    const port = rtsp.port;
    await rtsp.stop('SIGKILL');
    const killedAt = Date.now();

    await waitTileState(page, 1, ['reconnecting']);
    const urlText = await tileStatus(page, 1);
    assert(/\[(source_ended|open_failed|timeout)\] \(close 1011\)/.test(urlText), `URL tile: "${urlText}"`);
    assert(/Reconnecting (in \d+ s|now)/.test(urlText), `URL tile has no countdown: "${urlText}"`);

    await page.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el.dataset.state === 'stalled' && /camstream is reconnecting it/.test(el.textContent);
    }, tileSel(0), { timeout: STATE_TIMEOUT_MS }).catch(async () => {
      throw new Error(`named tile: ${await tileState(page, 0)} "${await tileStatus(page, 0)}"`);
    });
    diag(`named tile: ${await tileStatus(page, 0)}`);
    await sleep(Math.max(0, 4000 - (Date.now() - killedAt)));
    // Backoff 0.5, 1, 2, 2 s (each 50-100 %): a handful of attempts in 4 s, not dozens.
    const attempts = (await socketsFor(page, 'rtsp_url=')).length - 1;
    assert(attempts >= 1 && attempts <= 8, `${attempts} reconnect attempts in ${Date.now() - killedAt} ms`);
    diag(`${attempts} reconnect attempts while the camera was down`);
    rtsp.port = port;
  }, logs);

  await test('RTSP server back on the same port: the named tile moves again on the same socket, the URL tile reconnects', async () => {
    assert(page, 'no page from the test before');
    rtsp = await startRtspServer(rtsp.port, { width: 640, height: 360, fps: 25 });
    await waitTileState(page, 0, ['live'], 30000); // camstream's own backoff for cam1
    await assertMovingPicture(page, 0);
    const named = await socketsFor(page, 'name=cam1');
    assert(named.length === 1, `the named tile opened ${named.length} sockets; it should have stayed connected`);
    await waitTileState(page, 1, ['live'], LIVE_TIMEOUT_MS);
    await assertMovingPicture(page, 1, { minColours: 2 }); // the white ball on black
    assertNoPageErrors(page);
    await closePage(page);
    page = null;
  }, logs);

  // The hour-long version of this is a manual run with CAMSTREAM_SOAK_SECONDS=3600.
  await test(`memory: one demo tile at 25 fps for ${SOAK_SECONDS} s grows neither the JS heap nor the DOM, and leaks no ImageBitmap or object URL`, async () => {
    const soak = await openServed();
    const cdp = await soak.context().newCDPSession(soak);
    // Live objects of a class after a GC, found through its prototype (DevTools' queryObjects).
    const live = async (className) => {
      const proto = await cdp.send('Runtime.evaluate', { expression: `${className}.prototype` });
      const { objects } = await cdp.send('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
      const { result } = await cdp.send('Runtime.callFunctionOn',
        { objectId: objects.objectId, functionDeclaration: 'function () { return this.length; }', returnByValue: true });
      await cdp.send('Runtime.releaseObject', { objectId: objects.objectId });
      await cdp.send('Runtime.releaseObject', { objectId: proto.result.objectId });
      return result.value;
    };
    const measure = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      const dom = await cdp.send('Memory.getDOMCounters');
      const c = await counters(soak);
      const el = await soak.$eval(tileSel(0), (t) => ({ frames: Number(t.dataset.frames), drawn: Number(t.dataset.drawn) }));
      return {
        heap: usedSize, nodes: dom.nodes, listeners: dom.jsEventListeners, blobs: await live('Blob'),
        bitmaps: await live('ImageBitmap'), open: c.bitmaps - c.closed, urls: c.urls - c.revoked, ...el,
        pss: chromiumPssKb(),
      };
    };
    await addTile(soak, 'demo:'); // 1280x720, 25 fps, no options
    await waitTileDrawn(soak, 0, 50);
    const start = await measure();
    const samples = [start];
    for (let t = 0; t < SOAK_SECONDS;) {
      const step = Math.min(5, SOAK_SECONDS - t);
      await sleep(step * 1000);
      t += step;
      const now = await measure();
      samples.push(now);
      assert(now.open <= 1, `${now.open} ImageBitmaps open at ${t} s`);
      assert(now.urls === 0, `${now.urls} object URLs not revoked at ${t} s`);
      // The newest frame (kept for snapshots) and one being decoded; never one per frame.
      assert(now.blobs <= 4, `${now.blobs} Blobs alive after a GC at ${t} s`);
      assert(now.bitmaps <= 2, `${now.bitmaps} ImageBitmap objects alive after a GC at ${t} s`);
    }
    const end = samples[samples.length - 1];
    for (const s of samples) {
      diag(`frames ${s.frames}, drawn ${s.drawn}: JS heap ${(s.heap / 1024).toFixed(0)} kB, DOM nodes ${s.nodes}, ` +
        `listeners ${s.listeners}, Blobs ${s.blobs}, ImageBitmaps ${s.bitmaps}, Chromium PSS ${(s.pss / 1024).toFixed(0)} MB`);
    }
    const received = end.frames - start.frames;
    assert(received >= SOAK_SECONDS * 25 * 0.6, `only ${received} frames in ${SOAK_SECONDS} s`);
    assert(end.drawn - start.drawn >= received * 0.6, `drew ${end.drawn - start.drawn} of ${received} frames`);
    const growth = end.heap - start.heap;
    assert(growth < HEAP_GROWTH_LIMIT, `JS heap grew by ${growth} bytes in ${SOAK_SECONDS} s`);
    assert(end.nodes <= start.nodes + 50, `DOM nodes ${start.nodes} -> ${end.nodes}`);
    assert(end.listeners <= start.listeners, `event listeners ${start.listeners} -> ${end.listeners}`);
    assertNoPageErrors(soak);
    await closePage(soak);
  }, logs, 60000 + SOAK_SECONDS * 1000);

  await test('a 4-tile dashboard, one tile in FLV, is saved as dashboard-4.png', async () => {
    const shot = await openServed({ viewport: { width: 1180, height: 900 } });
    await addTile(shot, 'demo:', { width: 960 });
    await addTile(shot, 'demo:', { width: 640, fps: 10, quality: 60 });
    await addNamed(shot, 'cam1');
    await addTile(shot, rtsp.url('h264'), { width: 640 });
    for (let i = 0; i < 4; i++) await waitTileDrawn(shot, i, 10);
    await shot.click(`${tileSel(2)} [data-mode="flv"]`); // cam1's KB/s next to the JPEG tiles'
    await waitTileState(shot, 2, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(shot, 2, 10);
    await shot.$eval('#add-form details', (d) => { d.open = false; });
    await shot.evaluate(() => document.activeElement.blur());
    await shot.waitForTimeout(1200); // a full second of stats
    const file = path.join(ARTIFACTS, 'dashboard-4.png');
    await shot.screenshot({ path: file, fullPage: true });
    assert(statSync(file).size > 50000, `${file} is only ${statSync(file).size} bytes`);
    diag(`screenshot: ${file}`);
    if (process.env.CAMSTREAM_UPDATE_DOCS === '1') {
      copyFileSync(file, DOCS_SCREENSHOT);
      diag(`copied to ${DOCS_SCREENSHOT}`);
    }
    assertNoPageErrors(shot);
    await closePage(shot);
  }, logs);

  await test('a named stream stopped through the API ends the tile (1000) with a Retry button, and is not retried by itself', async () => {
    const api = (method, url, body) => fetch(server.base + url, {
      method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const created = await api('POST', '/api/streams', { name: 'lab', rtsp_url: 'demo:' });
    assert(created.status === 201, `POST /api/streams answered ${created.status}`);
    const ended = await openServed();
    await addNamed(ended, 'lab', { width: 320 });
    await waitTileState(ended, 0, ['live'], LIVE_TIMEOUT_MS);
    assert((await api('POST', '/api/streams/lab/stop')).ok, 'stop failed');
    await waitTileState(ended, 0, ['ended']);
    const text = await tileStatus(ended, 0);
    assert(text.includes('[source_ended] (close 1000)'), `status "${text}"`);
    await sleep(1500);
    assert((await socketsFor(ended, 'name=lab')).length === 1, 'an ended stream was retried');
    assert((await api('POST', '/api/streams/lab/start')).ok, 'start failed');
    await ended.click(`${tileSel(0)} [data-action="retry"]`);
    await waitTileState(ended, 0, ['live'], LIVE_TIMEOUT_MS);
    assertNoPageErrors(ended);
    await closePage(ended);
  }, logs);
}

await run(main, RUN_TIMEOUT_MS);
