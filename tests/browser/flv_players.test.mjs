// Browser test: camstream's FLV endpoints in the players people use, in Debian's headless
// Chromium, against a real camstream and the gst-rtsp-server fixture
// (tests/integration/rtsp_server.py, mount /h264, 640x360 at 25 fps):
//   mpegts.js (the copy the page vendors, web/js/vendor/mpegts.js) plays /flv?rtsp_url=,
//     /?cam_url=, /live/{name}.flv and /ws/flv (by URL and by name);
//   flv.js (npm, a test-only devDependency pinned in package.json) plays /flv?rtsp_url= and
//     /live/{name}.flv.
// Playing means: the <video>'s currentTime advances, its decoded frames grow, and its size is
// the camera's. Each player runs in a page that holds only a <video>, with the library added as
// a script, served by this test on another port of 127.0.0.1: another origin, as a player's
// page usually is (so camstream's CORS header counts), and a real server, as Chromium lets a
// page reach 127.0.0.1 only from its own address space (a page made up by playwright's route
// is refused WebSockets there: ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/flv_players.test.mjs

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  servePage,
  LIVE_TIMEOUT_MS, STATE_TIMEOUT_MS, WEB_ROOT, assert, assertNoPageErrors, closePage, diag,
  launchBrowser, newPage, onCleanup, run, startCamstream, startRtspServer, test,
} from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN_TIMEOUT_MS = 240000;
const LIBRARIES = {
  mpegts: { file: path.join(WEB_ROOT, 'js', 'vendor', 'mpegts.js'), global: 'mpegts' },
  flvjs: { file: path.join(here, 'node_modules', 'flv.js', 'dist', 'flv.js'), global: 'flvjs' },
};
const PLAYED_SECONDS = 1.5;   // of video, after the first picture
const PLAYED_FRAMES = 20;     // decoded in that time (25 fps: 37)
const PLAYER_PAGE = '<!DOCTYPE html><title>player</title><link rel="icon" href="data:,"><video id="v" muted autoplay playsinline></video>';

let server = null;
let pageBase = null; // the player page's server
let rtsp = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');


/** The player page, with @library's script added. */
async function playerPage(library) {
  const page = await newPage();
  await page.goto(pageBase + '/', { timeout: STATE_TIMEOUT_MS });
  await page.addScriptTag({ path: LIBRARIES[library].file });
  return page;
}

/**
 * Plays @url with @library ('mpegts' or 'flvjs') as people configure it for live FLV, and
 * checks that the video plays: returns what the <video> said.
 */
async function assertPlays(library, url) {
  const page = await playerPage(library);
  await page.evaluate(({ name, url }) => {
    const lib = window[name];
    const video = document.getElementById('v');
    const config = { enableWorker: false, enableStashBuffer: false };
    if (name === 'mpegts') config.liveBufferLatencyChasing = true;
    const player = lib.createPlayer({ type: 'flv', isLive: true, url }, config);
    window.__errors = [];
    window.__failed = () => window.__errors.length > 0 || video.error !== null;
    player.on(lib.Events.ERROR, (...info) => window.__errors.push(JSON.stringify(info)));
    player.attachMediaElement(video);
    player.load();
    video.play().catch(() => {}); // autoplay of a muted video starts it too
    window.__player = player;
  }, { name: LIBRARIES[library].global, url });

  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    return {
      time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames,
      width: v.videoWidth, height: v.videoHeight, errors: window.__errors,
      mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
    };
  });
  const waitFor = async (what, predicate, arg) => {
    try {
      await page.waitForFunction(predicate, arg, { timeout: LIVE_TIMEOUT_MS, polling: 100 });
    } catch (err) {
      throw new Error(`${library} ${url}: ${what}; the video: ${JSON.stringify(await state())}`);
    }
  };
  await waitFor('no first picture', () => {
    const v = document.getElementById('v');
    return window.__failed() || (v.currentTime > 0 && v.videoWidth > 0);
  });
  const first = await state();
  assert(first.errors.length === 0 && !first.mediaError, `${library} ${url}: ${JSON.stringify(first)}`);
  await waitFor(`the video did not play on (${PLAYED_SECONDS} s, ${PLAYED_FRAMES} frames)`, ({ time, frames }) => {
    const v = document.getElementById('v');
    return window.__failed() || (v.currentTime >= time && v.getVideoPlaybackQuality().totalVideoFrames >= frames);
  }, { time: first.time + PLAYED_SECONDS, frames: first.frames + PLAYED_FRAMES });
  const last = await state();
  assert(last.errors.length === 0 && !last.mediaError, `${library} ${url}: ${JSON.stringify(last)}`);
  const want = `${rtsp.info.width}x${rtsp.info.height}`;
  assert(`${last.width}x${last.height}` === want, `${library} ${url}: video ${last.width}x${last.height}, camera ${want}`);
  diag(`${library} ${url.replace(/\?.*/, '?…')}: ${last.time.toFixed(2)} s played, ` +
    `${last.frames} frames, ${last.width}x${last.height}`);
  await page.evaluate(() => window.__player.destroy());
  assertNoPageErrors(page);
  await closePage(page);
  return last;
}

async function main() {
  for (const [name, { file }] of Object.entries(LIBRARIES)) {
    if (!existsSync(file)) throw new Error(`${name}: ${file} is missing (npm ci --prefix tests/browser)`);
  }
  rtsp = await startRtspServer(0, { width: 640, height: 360, fps: 25 });
  const camera = rtsp.url('h264');
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-flv-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({ streams: [{ name: 'cam1', rtsp_url: camera }] }));
  server = await startCamstream(['--config', config]);
  pageBase = await servePage(PLAYER_PAGE);
  diag(`camstream on port ${server.port}, rtsp_server.py on ${rtsp.port}, named stream cam1 -> ${camera}`);
  const posted = await fetch(`${server.base}/api/streams`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'posted', rtsp_url: camera }), signal: AbortSignal.timeout(5000),
  });
  assert(posted.status === 201, `POST /api/streams answered ${posted.status}`);
  await launchBrowser();
  const q = encodeURIComponent(camera);

  await test('mpegts.js plays HTTP-FLV of a camera URL: /flv?rtsp_url=', () =>
    assertPlays('mpegts', `${server.base}/flv?rtsp_url=${q}`), logs);
  await test('mpegts.js plays the seed\'s URL: /?cam_url=', () =>
    assertPlays('mpegts', `${server.base}/?cam_url=${q}`), logs);
  await test('mpegts.js plays a named stream from the config file: /live/cam1.flv', () =>
    assertPlays('mpegts', `${server.base}/live/cam1.flv`), logs);
  await test('mpegts.js plays WS-FLV of a camera URL: /ws/flv?rtsp_url=', () =>
    assertPlays('mpegts', `${server.ws}/ws/flv?rtsp_url=${q}`), logs);
  await test('mpegts.js plays WS-FLV of a stream made by POST /api/streams: /ws/flv?name=posted', () =>
    assertPlays('mpegts', `${server.ws}/ws/flv?name=posted`), logs);
  await test('flv.js plays HTTP-FLV of a camera URL: /flv?rtsp_url=', () =>
    assertPlays('flvjs', `${server.base}/flv?rtsp_url=${q}`), logs);
  await test('flv.js plays a named stream made by POST /api/streams: /live/posted.flv', () =>
    assertPlays('flvjs', `${server.base}/live/posted.flv`), logs);
}

await run(main, RUN_TIMEOUT_MS);
