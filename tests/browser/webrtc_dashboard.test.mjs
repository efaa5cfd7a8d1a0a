// Browser test: the dashboard's WebRTC tile mode (web/js/webrtcplayer.js, WHEP) in Debian's
// headless Chromium, served by a real camstream (--webrtc-port 0), with the gst-rtsp-server
// fixture (tests/integration/rtsp_server.py: /h264 and /h265, 640x360 at 25 fps) behind named
// streams: a tile switched to WebRTC POSTs its offer to /api/streams/{name}/whep and plays the
// camera's video (frames advance, the right size and rate); closing it or switching it to
// another mode DELETEs the session and camstream's camstream_webrtc_sessions drops; a camera
// URL's tile asks /whep?rtsp_url=; camstream's refusals (unknown name, H.265, demo: without
// H.264) show as in the other modes and are not retried; a browser without RTCPeerConnection
// gets the button disabled. Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/webrtc_dashboard.test.mjs

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  LIVE_TIMEOUT_MS, STATE_TIMEOUT_MS, WEB_ROOT, addNamed, assert, assertNoPageErrors, closePage, counters,
  diag, launchBrowser, newPage, onCleanup, run, sleep, startCamstream, startRtspServer, test,
  tileSel, tileStat, tileStatus, waitTileState, videoOf, waitVideoPlays,
} from './helpers.mjs';

const RUN_TIMEOUT_MS = 240000;
// a session's URL names its source too, for a balancer hashing on it (docs/DEPLOY.md)
const SESSION_PATH = /^\/whep\/session\/[0-9a-f]{32}(\?(name|rtsp_url)=[^&]+)?$/;

let server = null;
let rtsp = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

/**
 * The dashboard served by camstream (or from disk, @disk: another origin than camstream's);
 * @layout opens it as a share link of that layout.
 */
async function openServed({ layout = null, init = null, disk = false } = {}) {
  const page = await newPage();
  if (init) await page.addInitScript(init);
  // every WHEP request and its answer: [method, path, status]
  page.whep = [];
  page.sessions = []; // the Location of each session made
  page.on('response', (response) => {
    const request = response.request();
    const url = new URL(request.url());
    if (/\/whep/.test(url.pathname)) page.whep.push([request.method(), url.pathname + url.search, response.status()]);
    if (/\/whep/.test(url.pathname) && response.status() === 201) page.sessions.push(response.headers().location);
  });
  const hash = layout ? '#layout=' + Buffer.from(JSON.stringify(layout)).toString('base64url') : '';
  const at = disk ? pathToFileURL(path.join(WEB_ROOT, 'index.html')).href : server.base + '/';
  await page.goto(at + hash, { timeout: STATE_TIMEOUT_MS });
  return page;
}

/** camstream's /metrics value of @name (no labels), or null. */
async function metric(name) {
  const text = await (await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function waitSessions(n, timeout = STATE_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let now = null;
  while (Date.now() < deadline) {
    now = await metric('camstream_webrtc_sessions');
    if (now === n) return;
    await sleep(100);
  }
  throw new Error(`camstream_webrtc_sessions is ${now}, not ${n}, after ${timeout} ms`);
}

/** Waits for a response of @method to a WHEP URL matching @re on @page; returns it. */
async function waitWhep(page, method, re, timeout = STATE_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const hit = page.whep.find(([m, url]) => m === method && re.test(url));
    if (hit) return hit;
    await sleep(50);
  }
  throw new Error(`no ${method} ${re} in ${JSON.stringify(page.whep)}`);
}

async function modeButtons(page, i) {
  return page.$$eval(`${tileSel(i)} [data-action="mode"]`, (els) => els.map((b) =>
    `${b.dataset.mode}=${b.getAttribute('aria-pressed')}${b.hidden ? ' hidden' : ''}${b.disabled ? ' disabled' : ''}`).join(', '));
}

async function assertNoViolations(page) {
  const { violations } = await counters(page);
  assert(violations.length === 0, `CSP violations:\n${violations.join('\n')}`);
}

async function main() {
  rtsp = await startRtspServer(0, { width: 640, height: 360, fps: 25 });
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-webrtc-dashboard-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({ streams: [
    { name: 'cam1', rtsp_url: rtsp.url('h264') }, { name: 'cam265', rtsp_url: rtsp.url('h265') },
  ] }));
  server = await startCamstream(['--config', config, '--webrtc-port', '0']);
  diag(`camstream on port ${server.port}, rtsp_server.py on ${rtsp.port}: cam1 (H.264), cam265 (H.265)`);
  await launchBrowser();

  let page = null; // one page from JPEG to WebRTC, a reload, back to JPEG, and closed
  await test('a tile switched to WebRTC POSTs its offer to /api/streams/cam1/whep and plays the camera\'s video', async () => {
    page = await openServed();
    await addNamed(page, 'cam1');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    assert(await metric('camstream_webrtc_sessions') === 0, 'a WebRTC session before the WebRTC mode');
    await page.click(`${tileSel(0)} [data-mode="webrtc"]`);
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.mode === 'webrtc', tileSel(0),
      { timeout: STATE_TIMEOUT_MS });
    const post = await waitWhep(page, 'POST', /^\/api\/streams\/cam1\/whep$/, LIVE_TIMEOUT_MS);
    assert(post[2] === 201, `POST answered ${post[2]}`);
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    const played = await waitVideoPlays(page, 0, 1.5, 25);
    assert(!played.hidden && await page.$eval(`${tileSel(0)} canvas`, (c) => c.hidden), 'the <video> is not the one shown');
    assert(played.width === 640 && played.height === 360, `video ${played.width}x${played.height}`);
    const more = await waitVideoPlays(page, 0, 1, 20);
    diag(`frames decoded: ${played.frames} then ${more.frames} a second later`);
    assert((await tileStat(page, 0, 'resolution')) === '640×360', 'size of the WebRTC tile');
    const fps = Number(await tileStat(page, 0, 'fps'));
    assert(fps >= 15 && fps <= 35, `the WebRTC tile shows ${fps} fps for a 25 fps camera`);
    const kbps = Number(await tileStat(page, 0, 'kbps'));
    diag(`the WebRTC tile: ${fps} fps, ${kbps} KB/s, age (jitter buffer) ${await tileStat(page, 0, 'age')}`);
    assert(kbps > 0, `the WebRTC tile shows ${kbps} KB/s`);
    assert(await metric('camstream_webrtc_sessions') === 1, 'camstream_webrtc_sessions is not 1');
    const buttons = await modeButtons(page, 0);
    assert(buttons === 'jpeg=false, flv=false, webrtc=true, hls=false hidden' ||
      buttons === 'jpeg=false, flv=false, webrtc=true, hls=false', `mode buttons: ${buttons}`);
    await assertNoViolations(page);
    assertNoPageErrors(page);
  }, logs);

  await test('a session camstream ends (hung up by another client) is retried at once: the tile plays again', async () => {
    assert(page, 'no page from the test before');
    await waitSessions(1);
    const location = page.sessions[page.sessions.length - 1];
    assert(location && SESSION_PATH.test(location), `the session's Location: ${location}`);
    page.whep.length = 0;
    const timeouts = await metric('camstream_webrtc_timeouts_total');
    const r = await fetch(server.base + location, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    assert(r.status === 200, `DELETE answered ${r.status}`);
    // camstream's close_notify closes the page's DTLS transport: a new offer within seconds,
    // not after the browser's own consent checks give up (30 s)
    const post = await waitWhep(page, 'POST', /^\/api\/streams\/cam1\/whep$/, STATE_TIMEOUT_MS);
    assert(post[2] === 201, `the new POST answered ${post[2]}`);
    assert(!page.whep.some(([m]) => m === 'DELETE'), `a DELETE of the ended session: ${JSON.stringify(page.whep)}`);
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitVideoPlays(page, 0, 1, 15);
    await waitSessions(1);
    assert(await metric('camstream_webrtc_timeouts_total') === timeouts, 'a session ended by a deadline');
    assertNoPageErrors(page);
  }, logs);

  await test('the WebRTC mode survives a reload (the old session is hung up); switched to JPEG the session is DELETEd', async () => {
    assert(page, 'no page from the test before');
    assert((await page.evaluate(() => localStorage.getItem('camstream.dashboard.v1'))).includes('"mode":"webrtc"'),
      'the layout does not keep the mode');
    await page.reload({ timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitVideoPlays(page, 0, 1, 15);
    // the page that went away DELETEd its session (pagehide, keepalive): one is left
    await waitSessions(1);
    page.whep.length = 0;
    await page.click(`${tileSel(0)} [data-mode="jpeg"]`);
    const del = await waitWhep(page, 'DELETE', SESSION_PATH);
    assert(del[2] === 200, `DELETE answered ${del[2]}`);
    await waitSessions(0);
    assert(await page.$eval(`${tileSel(0)} video`, (v) => v.hidden && v.srcObject === null),
      'the <video> is still shown or holds its stream');
    assertNoPageErrors(page);
  }, logs);

  await test('closing a WebRTC tile sends DELETE and camstream_webrtc_sessions drops', async () => {
    assert(page, 'no page from the test before');
    await page.click(`${tileSel(0)} [data-mode="webrtc"]`);
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitVideoPlays(page, 0, 1, 15);
    await waitSessions(1);
    const before = await metric('camstream_webrtc_sessions_total');
    page.whep.length = 0;
    await page.click(`${tileSel(0)} [data-action="close"]`);
    const del = await waitWhep(page, 'DELETE', SESSION_PATH);
    assert(del[2] === 200, `DELETE answered ${del[2]}`);
    await waitSessions(0, 3000); // at once, not after camstream's consent deadline
    assert(await metric('camstream_webrtc_timeouts_total') === 0, 'a session ended by a deadline');
    diag(`sessions made so far: ${before}`);
    assertNoPageErrors(page);
    await closePage(page);
    page = null;
  }, logs);

  await test('a camera URL\'s tile in WebRTC asks /whep?rtsp_url= and plays', async () => {
    const url = rtsp.url('h264');
    const adHoc = await openServed({ layout: { tiles: [{ url, mode: 'webrtc', options: { transport: 'tcp' } }] } });
    const post = await waitWhep(adHoc, 'POST', /^\/whep\?/, LIVE_TIMEOUT_MS);
    const query = new URLSearchParams(post[1].split('?')[1]);
    assert(query.get('rtsp_url') === url && query.get('transport') === 'tcp', `POST ${post[1]}`);
    assert(post[2] === 201, `POST answered ${post[2]}`);
    await waitTileState(adHoc, 0, ['live'], LIVE_TIMEOUT_MS);
    const v = await waitVideoPlays(adHoc, 0, 1, 15);
    assert(v.width === 640 && v.height === 360, `video ${v.width}x${v.height}`);
    assertNoPageErrors(adHoc);
    await closePage(adHoc);
    await waitSessions(0); // the closed page hung up (pagehide), or camstream's deadlines did
  }, logs);

  // WHEP from another origin: the POST of application/sdp and the DELETE are preflighted
  // (OPTIONS), as the WHEP draft expects a server to answer
  await test('the dashboard opened from disk (origin null) plays a WebRTC tile and DELETEs it on close', async () => {
    const disk = await openServed({ disk: true, layout: { server: server.ws, tiles: [{ name: 'cam1', mode: 'webrtc', options: {} }] } });
    await waitTileState(disk, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitVideoPlays(disk, 0, 1, 15);
    await waitSessions(1);
    disk.whep.length = 0;
    await disk.click(`${tileSel(0)} [data-action="close"]`);
    const del = await waitWhep(disk, 'DELETE', SESSION_PATH);
    assert(del[2] === 200, `DELETE answered ${del[2]}`);
    await waitSessions(0, 3000);
    assertNoPageErrors(disk);
    await closePage(disk);
  }, logs);

  /** Opens @tiles (WebRTC tiles that camstream refuses); each tile's status must match its @want; no retry. */
  async function refused(tiles, want) {
    const shared = await openServed({ layout: { tiles: tiles.map((t) => ({ ...t, mode: 'webrtc', options: {} })) } });
    for (let i = 0; i < want.length; i++) {
      await waitTileState(shared, i, ['error'], LIVE_TIMEOUT_MS);
      const text = await tileStatus(shared, i);
      diag(`tile ${i}: ${text}`);
      assert(text.startsWith('Error: ') && want[i].test(text), `tile ${i}: "${text}"`);
      assert(await shared.$eval(`${tileSel(i)} [data-action="retry"]`, (b) => !b.hidden), `tile ${i}: no Retry button`);
      assert((await videoOf(shared, i)).width === 0, `tile ${i}: the <video> shows something`);
    }
    await sleep(2500); // a retry would come after 0.5-1 s
    const posts = shared.whep.filter(([m]) => m === 'POST');
    assert(posts.length === tiles.length, `POSTs: ${JSON.stringify(posts)}`);
    assert(shared.whep.every(([m]) => m === 'POST'), `a DELETE without a session: ${JSON.stringify(shared.whep)}`);
    assert(await metric('camstream_webrtc_sessions') === 0, 'a refused tile left a session');
    assertNoPageErrors(shared, [/Failed to load resource: the server responded with a status of [45]\d\d/]);
    await closePage(shared);
  }

  await test('camstream\'s refusals show in the tile and are not retried: an unknown name (404), an H.265 camera (415)', async () => {
    await refused([{ name: 'nope' }, { name: 'cam265' }],
      [/\[not_found\] \(HTTP 404\)$/, /\[unsupported_codec\] \(HTTP 415\)$/]);
  }, logs);

  // as /ws/flv and /hls say at once for a source that has no coded pictures
  await test('demo: (pictures made by camstream, no H.264 to copy) is refused as unsupported_codec, not retried', async () => {
    await refused([{ url: 'demo:' }], [/\[unsupported_codec\] \(HTTP \d+\)$/]);
  }, logs);

  await test('without RTCPeerConnection the WebRTC choice is disabled with a tooltip, and a WebRTC tile plays as FLV', async () => {
    const old = await openServed({
      layout: { tiles: [{ name: 'cam1', mode: 'webrtc', options: {} }] },
      init: () => { delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection; },
    });
    await waitTileState(old, 0, ['live'], LIVE_TIMEOUT_MS);
    const button = await old.$eval(`${tileSel(0)} [data-mode="webrtc"]`, (b) => ({ disabled: b.disabled, title: b.title }));
    assert(button.disabled && /RTCPeerConnection/.test(button.title), `WebRTC button: ${JSON.stringify(button)}`);
    assert(await old.$eval(tileSel(0), (el) => el.dataset.mode) === 'flv', 'the tile did not fall back to FLV');
    assert(old.whep.length === 0, `WHEP requests: ${JSON.stringify(old.whep)}`);
    assert(JSON.parse(await old.evaluate(() => localStorage.getItem('camstream.dashboard.v1'))).tiles[0].mode === 'webrtc',
      'the layout no longer says WebRTC');
    assertNoPageErrors(old);
    await closePage(old);
  }, logs);
}

await run(main, RUN_TIMEOUT_MS);
