// Browser test: the dashboard's per-tile JPEG / FLV choice (web/js/flvplayer.js, mpegts.js) in
// Debian's headless Chromium, served by a real camstream, with the gst-rtsp-server fixture
// (tests/integration/rtsp_server.py: /h264 and /h265, 640x360 at 25 fps) behind named streams:
// a tile switched to FLV plays the camera's video and shows what it costs next to JPEG, keeps
// its mode, shows /ws/flv's refusals as the JPEG mode does, says when this browser cannot play
// the stream, offers no FLV where there is no MSE, and plays on when a named stream's camera
// comes back. Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/flv_dashboard.test.mjs

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LIVE_TIMEOUT_MS, STATE_TIMEOUT_MS, addNamed, assert, assertMovingPicture, assertNoPageErrors,
  closePage, counters, diag, launchBrowser, newPage, onCleanup, run, startCamstream,
  startRtspServer, test, tileSel, tileStat, tileStatus, waitTileDrawn, waitTileState,
  videoOf, waitVideoPlays,
} from './helpers.mjs';

const RUN_TIMEOUT_MS = 240000;
// Short timings so the stall shows in seconds; the defaults are in web/js/util.js.
const FAST = { stallMs: 2000, statusPollMs: 1000 };
const MEASURE_MS = 2000; // the KB/s figure is read over this long (it is the last second's)

let server = null;
let rtsp = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

/** The dashboard served by camstream; @hashLayout opens it as a share link of that layout. */
async function openServed({ hashLayout = null, init = null, tuning = null } = {}) {
  const page = await newPage({ tuning });
  if (init) await page.addInitScript(init);
  const hash = hashLayout ? '#layout=' + Buffer.from(JSON.stringify(hashLayout)).toString('base64url') : '';
  await page.goto(server.base + '/' + hash, { timeout: STATE_TIMEOUT_MS });
  return page;
}

/** Tile @i's KB/s figure, read every 250 ms for MEASURE_MS; the median. */
async function measuredKbps(page, i) {
  const readings = await page.evaluate(({ sel, ms }) => new Promise((resolve) => {
    const seen = [];
    const timer = setInterval(() => {
      seen.push(Number(document.querySelector(sel).textContent));
      if (seen.length * 250 >= ms) {
        clearInterval(timer);
        resolve(seen);
      }
    }, 250);
  }), { sel: `${tileSel(i)} [data-stat="kbps"]`, ms: MEASURE_MS });
  readings.sort((a, b) => a - b);
  return readings[Math.floor(readings.length / 2)];
}

async function lastSocket(page) {
  const { sockets } = await counters(page);
  return sockets.length ? sockets[sockets.length - 1].url : '';
}

async function assertNoViolations(page) {
  const { violations } = await counters(page);
  assert(violations.length === 0, `CSP violations (camstream's header must allow media-src blob:):\n${violations.join('\n')}`);
}

async function main() {
  rtsp = await startRtspServer(0, { width: 640, height: 360, fps: 25 });
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-flv-dashboard-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({ streams: [
    { name: 'cam1', rtsp_url: rtsp.url('h264') }, { name: 'cam265', rtsp_url: rtsp.url('h265') },
  ] }));
  server = await startCamstream(['--config', config]);
  diag(`camstream on port ${server.port}, rtsp_server.py on ${rtsp.port}: cam1 (H.264), cam265 (H.265)`);
  await launchBrowser();

  let page = null; // one page through JPEG, FLV, a reload and back
  await test('a tile switched to FLV plays the camera\'s video in a <video>, at fewer KB/s than in JPEG', async () => {
    page = await openServed();
    await addNamed(page, 'cam1');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(page, 0, 40); // a full second and more of pictures
    const jpeg = await measuredKbps(page, 0);

    await page.click(`${tileSel(0)} [data-mode="flv"]`);
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.mode === 'flv', tileSel(0),
      { timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    const url = await lastSocket(page);
    assert(url.endsWith('/ws/flv?name=cam1'), `the FLV tile asked ${url}`);
    const played = await waitVideoPlays(page, 0, 1.5, 25);
    assert(!played.hidden && await page.$eval(`${tileSel(0)} canvas`, (c) => c.hidden), 'the <video> is not the one shown');
    assert(played.width === 640 && played.height === 360, `video ${played.width}x${played.height}`);
    await waitTileDrawn(page, 0, played.frames); // data-drawn counts the video's frames
    assert((await tileStat(page, 0, 'resolution')) === '640×360', 'size of the FLV tile');
    const fps = Number(await tileStat(page, 0, 'fps'));
    assert(fps >= 15 && fps <= 35, `the FLV tile shows ${fps} fps for a 25 fps camera`);
    const flv = await measuredKbps(page, 0);
    diag(`cam1 (640x360, 25 fps): JPEG ${jpeg} KB/s, FLV ${flv} KB/s`);
    assert(flv > 0 && jpeg > 0, `KB/s: JPEG ${jpeg}, FLV ${flv}`);
    assert(flv < jpeg, `FLV costs ${flv} KB/s, JPEG ${jpeg} KB/s`);
    const pressed = await page.$$eval(`${tileSel(0)} [data-action="mode"]`,
      (els) => els.map((b) => `${b.dataset.mode}=${b.getAttribute('aria-pressed')}`).join(' '));
    assert(pressed === 'jpeg=false flv=true webrtc=false hls=false', `mode buttons: ${pressed}`);
    await assertNoViolations(page);
    assertNoPageErrors(page);
  }, logs);

  await test('the FLV mode survives a reload; switched back to JPEG the canvas moves again', async () => {
    assert(page, 'no page from the test before');
    assert((await page.evaluate(() => localStorage.getItem('camstream.dashboard.v1'))).includes('"mode":"flv"'),
      'the layout does not keep the mode');
    await page.reload({ timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    assert((await lastSocket(page)).endsWith('/ws/flv?name=cam1'), 'after a reload the tile is not FLV');
    await waitVideoPlays(page, 0, 1, 15);
    await page.click(`${tileSel(0)} [data-mode="jpeg"]`);
    await waitTileDrawn(page, 0, 5);
    assert((await lastSocket(page)).endsWith('/ws/stream?name=cam1'), 'back to JPEG, the tile asked elsewhere');
    assert(await page.$eval(`${tileSel(0)} video`, (v) => v.hidden && !v.getAttribute('src')),
      'the <video> is still shown or holds its MediaSource');
    await assertMovingPicture(page, 0, { minColours: 2 }); // the white ball on black
    await assertNoViolations(page);
    assertNoPageErrors(page);
    await closePage(page);
    page = null;
  }, logs);

  await test('a /ws/flv refusal (an unknown stream name) shows in the tile exactly as in the JPEG mode', async () => {
    const shared = await openServed({ hashLayout: { tiles: [
      { name: 'nope', options: {} }, { name: 'nope', mode: 'flv', options: {} },
    ] } });
    await waitTileState(shared, 0, ['error']);
    await waitTileState(shared, 1, ['error']);
    const jpeg = await tileStatus(shared, 0);
    const flv = await tileStatus(shared, 1);
    assert(flv === jpeg, `FLV tile: "${flv}", JPEG tile: "${jpeg}"`);
    assert(/\[not_found\] \(close 1008\)/.test(flv), `status "${flv}"`);
    const urls = (await counters(shared)).sockets.map((s) => s.url.replace(/^ws:\/\/[^/]+/, ''));
    assert(urls.sort().join(' ') === '/ws/flv?name=nope /ws/stream?name=nope', `sockets: ${urls.join(' ')}`);
    assertNoPageErrors(shared, [/WebSocket connection to .* failed/]);
    await closePage(shared);
  }, logs);

  await test('demo: in FLV (no H.264 to copy) says unsupported_codec and is not retried', async () => {
    const demo = await openServed({ hashLayout: { tiles: [{ url: 'demo:', mode: 'flv', options: {} }] } });
    await waitTileState(demo, 0, ['error']);
    const text = await tileStatus(demo, 0);
    assert(/\[unsupported_codec\] \(close 1011\)/.test(text), `status "${text}"`);
    assert(await demo.$eval(`${tileSel(0)} [data-action="retry"]`, (b) => !b.hidden), 'no Retry button');
    assert((await counters(demo)).sockets.length === 1, 'the tile retried');
    assertNoPageErrors(demo);
    await closePage(demo);
  }, logs);

  await test('an H.265 camera in FLV: plays where this browser\'s MSE takes HEVC, else the tile says it cannot', async () => {
    const hevc = await openServed({ hashLayout: { tiles: [{ name: 'cam265', mode: 'flv', options: {} }] } });
    const supported = await hevc.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'));
    diag(`this Chromium's MSE ${supported ? 'takes' : 'does not take'} HEVC`);
    if (supported) {
      await waitTileState(hevc, 0, ['live'], LIVE_TIMEOUT_MS);
      await waitVideoPlays(hevc, 0, 1, 15);
    } else {
      await waitTileState(hevc, 0, ['error'], LIVE_TIMEOUT_MS);
      const text = await tileStatus(hevc, 0);
      diag(`the tile says: ${text}`);
      assert(text.startsWith('Error: this browser cannot play the FLV stream: '), `status "${text}"`);
      assert((await counters(hevc)).sockets.length === 1, 'the tile retried');
    }
    assertNoPageErrors(hevc, [/mpegts\.js|MSEController|MSE|SourceBuffer/i]);
    await closePage(hevc);
  }, logs);

  // Where HLS plays natively an FLV tile without MSE plays HLS instead (hls_dashboard.test.mjs).
  await test('without Media Source Extensions or native HLS the FLV choice is disabled with a tooltip, and FLV tiles open in JPEG', async () => {
    const noMse = await openServed({
      hashLayout: { tiles: [{ name: 'cam1', mode: 'flv', options: {} }] },
      init: () => {
        delete window.MediaSource;
        delete window.ManagedMediaSource;
        const canPlayType = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
          return /mpegurl/i.test(type) ? '' : canPlayType.call(this, type);
        };
      },
    });
    await waitTileState(noMse, 0, ['live'], LIVE_TIMEOUT_MS);
    const button = await noMse.$eval(`${tileSel(0)} [data-mode="flv"]`, (b) => ({ disabled: b.disabled, title: b.title }));
    assert(button.disabled && /Media Source Extensions/.test(button.title), `FLV button: ${JSON.stringify(button)}`);
    assert((await lastSocket(noMse)).endsWith('/ws/stream?name=cam1'), 'the tile did not fall back to JPEG');
    await waitTileDrawn(noMse, 0, 5);
    assertNoPageErrors(noMse);
    await closePage(noMse);
  }, logs);

  // Last: it stops the RTSP server.
  await test('a named FLV tile whose camera is lost says so, and plays again on the same socket when it is back', async () => {
    const lost = await openServed({ hashLayout: { tiles: [{ name: 'cam1', mode: 'flv', options: {} }] }, tuning: FAST });
    await waitTileState(lost, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitVideoPlays(lost, 0, 1, 15);
    const port = rtsp.port;
    await rtsp.stop('SIGKILL');
    await lost.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el.dataset.state === 'stalled' && /camstream is reconnecting it/.test(el.textContent);
    }, tileSel(0), { timeout: STATE_TIMEOUT_MS }).catch(async () => {
      throw new Error(`FLV tile: "${await tileStatus(lost, 0)}"`);
    });
    rtsp = await startRtspServer(port, { width: 640, height: 360, fps: 25 });
    await waitTileState(lost, 0, ['live'], 30000); // camstream's own backoff for cam1
    await waitVideoPlays(lost, 0, 1, 15);
    const sockets = (await counters(lost)).sockets.length;
    assert(sockets === 1, `the FLV tile opened ${sockets} sockets; it should have stayed connected`);
    assertNoPageErrors(lost);
    await closePage(lost);
  }, logs);
}

await run(main, RUN_TIMEOUT_MS);
