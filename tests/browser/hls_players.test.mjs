// Browser test: camstream's HLS (issue 13) in hls.js (npm, a test-only devDependency pinned in
// package.json) in Debian's headless Chromium, against a real camstream and the
// gst-rtsp-server fixture (tests/integration/rtsp_server.py, 640x360 at 25 fps):
//   /live/{name}.m3u8 of a named stream (config file), /hls/index.m3u8?rtsp_url= of a camera
//   URL, and a named camera with AAC audio, each with lowLatencyMode: true.
// Playing means: the <video>'s currentTime advances, its decoded frames grow, its size is the
// camera's, hls.js reports no fatal error, and hls.js really played it as LL-HLS (it asked for
// blocking reloads with _HLS_msn and loaded parts). As in flv_players.test.mjs the page holds
// only a <video>, with the library added as a script, and is served by this test on another
// port of 127.0.0.1 (another origin, so camstream's CORS header counts). Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/hls_players.test.mjs

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  STATE_TIMEOUT_MS, assert, assertNoPageErrors, closePage, diag, launchBrowser, newPage,
  onCleanup, run, startCamstream, startRtspServer, test,
} from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN_TIMEOUT_MS = 240000;
const HLSJS = path.join(here, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
const FIRST_PICTURE_MS = 20000;  // camera start + one segment + hls.js start-up
const PLAYED_SECONDS = 2;        // of video, after the first picture
const PLAYED_FRAMES = 30;        // decoded in that time (25 fps: 50)
const PLAYER_PAGE = '<!DOCTYPE html><title>player</title><link rel="icon" href="data:,"><video id="v" muted autoplay playsinline></video>';

let server = null;
let pageBase = null;
let rtsp = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

/** Serves PLAYER_PAGE at / on 127.0.0.1; resolves with its base URL. */
async function startPageServer() {
  const http = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' });
    res.end(req.url === '/' ? PLAYER_PAGE : '');
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  onCleanup(() => new Promise((resolve) => { http.closeAllConnections(); http.close(resolve); }));
  return `http://127.0.0.1:${http.address().port}`;
}

/**
 * Plays @url with hls.js in low-latency mode and checks that the video plays; @audio: the
 * stream has AAC (hls.js must find an mp4a codec and Chromium decode audio bytes).
 */
async function assertPlays(url, { audio = false } = {}) {
  const page = await newPage();
  await page.goto(pageBase + '/', { timeout: STATE_TIMEOUT_MS });
  await page.addScriptTag({ path: HLSJS });
  const supported = await page.evaluate(() => window.Hls && window.Hls.isSupported());
  assert(supported, 'hls.js says MSE is not supported in this Chromium');
  await page.evaluate((url) => {
    const video = document.getElementById('v');
    const hls = new window.Hls({ lowLatencyMode: true, enableWorker: false, debug: false });
    window.__fatal = [];
    window.__errors = [];
    window.__codecs = {};
    window.__parts = 0;
    window.__hls = hls;
    window.__failed = () => window.__fatal.length > 0 || video.error !== null;
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      const text = `${data.type} ${data.details}${data.response ? ` (HTTP ${data.response.code})` : ''}`;
      (data.fatal ? window.__fatal : window.__errors).push(text);
    });
    hls.on(window.Hls.Events.BUFFER_CODECS, (_, data) => {
      for (const [kind, track] of Object.entries(data)) window.__codecs[kind] = track.codec;
    });
    hls.on(window.Hls.Events.FRAG_LOADED, (_, data) => { if (data.part) window.__parts += 1; });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {}); // autoplay of a muted video starts it too
  }, url);

  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    const hls = window.__hls;
    const requests = performance.getEntriesByType('resource').map((e) => e.name);
    return {
      time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames,
      width: v.videoWidth, height: v.videoHeight, fatal: window.__fatal,
      errors: window.__errors.slice(0, 10), codecs: window.__codecs, parts: window.__parts,
      audioBytes: v.webkitAudioDecodedByteCount,
      mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
      latency: hls.latency, lowLatency: hls.lowLatencyMode,
      blocking: requests.filter((n) => n.includes('_HLS_msn=')).length,
      partTarget: hls.levels && hls.levels[0] && hls.levels[0].details
        ? hls.levels[0].details.partTarget : null,
    };
  });
  const waitFor = async (what, predicate, arg, timeout) => {
    try {
      await page.waitForFunction(predicate, arg, { timeout, polling: 100 });
    } catch (err) {
      throw new Error(`hls.js ${url}: ${what}; the video: ${JSON.stringify(await state())}`);
    }
  };
  await waitFor('no first picture', () => {
    const v = document.getElementById('v');
    return window.__failed() || (v.currentTime > 0 && v.videoWidth > 0);
  }, undefined, FIRST_PICTURE_MS);
  const first = await state();
  assert(first.fatal.length === 0 && !first.mediaError, `hls.js ${url}: ${JSON.stringify(first)}`);
  await waitFor(`the video did not play on (${PLAYED_SECONDS} s, ${PLAYED_FRAMES} frames)`, ({ time, frames }) => {
    const v = document.getElementById('v');
    return window.__failed() || (v.currentTime >= time && v.getVideoPlaybackQuality().totalVideoFrames >= frames);
  }, { time: first.time + PLAYED_SECONDS, frames: first.frames + PLAYED_FRAMES }, STATE_TIMEOUT_MS);
  const last = await state();
  const info = JSON.stringify(last);
  assert(last.fatal.length === 0 && !last.mediaError, `hls.js ${url}: fatal: ${info}`);
  const want = `${rtsp.info.width}x${rtsp.info.height}`;
  assert(`${last.width}x${last.height}` === want, `hls.js ${url}: video ${last.width}x${last.height}, camera ${want}`);
  assert(last.lowLatency && last.partTarget > 0, `hls.js ${url}: not played as LL-HLS (no PART-TARGET): ${info}`);
  assert(last.blocking > 0, `hls.js ${url}: no blocking reload (_HLS_msn) was asked for: ${info}`);
  assert(last.parts > 0, `hls.js ${url}: no part was loaded: ${info}`);
  // muxed fMP4 (video and audio tracks in one file) goes to one 'audiovideo' SourceBuffer
  const codecs = [last.codecs.video, last.codecs.audio, last.codecs.audiovideo]
    .filter(Boolean).join(',').split(',').map((c) => c.trim());
  assert(codecs.some((c) => /^(avc1|hvc1)\./.test(c)), `hls.js ${url}: video codec ${info}`);
  if (audio) {
    assert(codecs.some((c) => /^mp4a\./.test(c)), `hls.js ${url}: no AAC track: ${info}`);
    if (last.audioBytes !== undefined) {
      assert(last.audioBytes > 0, `hls.js ${url}: no audio decoded: ${info}`);
    }
  } else {
    assert(!codecs.some((c) => /^mp4a\./.test(c)), `hls.js ${url}: an audio track in a video-only stream: ${info}`);
  }
  diag(`hls.js ${url.replace(/\?.*/, '?…')}: ${last.time.toFixed(2)} s played, ${last.frames} frames, ` +
    `${last.width}x${last.height}, latency ${Number(last.latency).toFixed(2)} s, ${last.parts} parts, ` +
    `${last.blocking} blocking reloads, codecs ${JSON.stringify(last.codecs)}` +
    (last.errors.length ? `, non-fatal errors ${JSON.stringify(last.errors)}` : ''));
  await page.evaluate(() => window.__hls.destroy());
  assertNoPageErrors(page);
  await closePage(page);
  return last;
}

async function main() {
  if (!existsSync(HLSJS)) throw new Error(`hls.js: ${HLSJS} is missing (npm ci --prefix tests/browser)`);
  rtsp = await startRtspServer(0, { width: 640, height: 360, fps: 25 });
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-hls-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({
    streams: [{ name: 'cam1', rtsp_url: rtsp.url('h264') }, { name: 'withaudio', rtsp_url: rtsp.url('h264-aac') }],
  }));
  server = await startCamstream(['--config', config]);
  pageBase = await startPageServer();
  diag(`camstream on port ${server.port}, rtsp_server.py on ${rtsp.port}`);
  await launchBrowser();
  const q = encodeURIComponent(rtsp.url('h264'));

  await test('hls.js (low latency) plays a named stream: /live/cam1.m3u8', () =>
    assertPlays(`${server.base}/live/cam1.m3u8`), logs);
  await test('hls.js (low latency) plays a camera URL: /hls/index.m3u8?rtsp_url=', () =>
    assertPlays(`${server.base}/hls/index.m3u8?rtsp_url=${q}`), logs);
  await test('hls.js (low latency) plays a camera with AAC audio: /live/withaudio.m3u8', () =>
    assertPlays(`${server.base}/live/withaudio.m3u8`, { audio: true }), logs);
}

await run(main, RUN_TIMEOUT_MS);
