// Browser test: camstream's WebRTC (WHEP, issue 14) in Debian's headless Chromium, with no
// library: the page makes an RTCPeerConnection with video and audio recvonly, POSTs its offer
// to camstream, applies the answer and shows the stream in a muted <video>. Played means:
// getStats() of the inbound video shows framesDecoded growing, the camera's frameWidth and
// frameHeight and the H.264 codec, and the <video>'s currentTime advances. Sources: the
// gst-rtsp-server fixture (640x360 at 25 fps) by URL (/whep?rtsp_url=) and by name
// (/api/streams/{name}/whep), and an ffmpeg RTMP publish. DELETE of the Location ends the
// session: camstream_webrtc_sessions in /metrics drops and no picture comes any more.
// A page of another origin (a site embedding a player) must be able to POST too and read the
// Location (CORS, Access-Control-Expose-Headers). Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/whep.test.mjs

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  STATE_TIMEOUT_MS, assert, assertNoPageErrors, closePage, diag, launchBrowser, newPage,
  onCleanup, run, servePage, sleep, startCamstream, startRtspServer, test,
} from './helpers.mjs';

const RUN_TIMEOUT_MS = 170000;
const FIRST_PICTURE_MS = 20000;  // camera start + answer + ICE + DTLS + first decoded picture
const MORE_FRAMES = 40;          // decoded within PLAY_MS after the first pictures (25 fps)
const PLAY_MS = 4000;
const SIZE = { width: 640, height: 360 };
const FFMPEG = '/usr/bin/ffmpeg';
// camstream announces 127.0.0.1 in the tests. Chromium reaches it from its candidate on another
// interface too, but on a machine with loopback alone it would gather no candidate without it.
const WEBRTC_ARGS = ['--allow-loopback-in-peer-connection'];

let server = null;
let rtsp = null;
let publisher = null;
const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
  publisher ? `ffmpeg output (last lines):\n${publisher.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

async function metric(name) {
  const r = await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert(r.status === 200, `/metrics answered ${r.status}`);
  const text = await r.text();
  let sum = null;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum = (sum || 0) + Number(m[3]);
  }
  assert(sum !== null, `no ${name} in /metrics`);
  return sum;
}

/** Polls @name until @predicate(value): the last value; fails after @timeoutMs. */
async function waitMetric(name, predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let value = await metric(name);
  while (!predicate(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: ${name} is ${value} after ${timeoutMs} ms`);
    await sleep(100);
    value = await metric(name);
  }
  return value;
}

/** In the page: offer (video + audio recvonly), POST to @url, apply the answer. */
function startWhep(url) {
  return (async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.appendChild(video);
    pc.ontrack = (e) => {
      if (e.track.kind !== 'video') return;
      video.srcObject = new MediaStream([e.track]);
      video.play().catch(() => {});
    };
    await pc.setLocalDescription(await pc.createOffer());
    let r;
    try {
      r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' },
        body: pc.localDescription.sdp });
    } catch (err) {
      pc.close();
      return { failed: `fetch: ${err}` };
    }
    const body = await r.text();
    if (r.status !== 201) {
      pc.close();
      return { status: r.status, body };
    }
    const location = r.headers.get('Location');
    window.__whep = { pc, video, location: location && new URL(location, url).href };
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    return { status: r.status, location, type: r.headers.get('Content-Type'), answer: body };
  })();
}

/** In the page: what getStats() and the <video> say. */
function whepState() {
  return (async () => {
    const { pc, video } = window.__whep;
    const stats = await pc.getStats();
    let inbound = null;
    const codecs = {};
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
      if (s.type === 'codec') codecs[s.id] = s.mimeType;
    });
    return {
      connection: pc.connectionState, ice: pc.iceConnectionState,
      framesDecoded: inbound ? inbound.framesDecoded : 0,
      frameWidth: inbound ? inbound.frameWidth : null,
      frameHeight: inbound ? inbound.frameHeight : null,
      packetsLost: inbound ? inbound.packetsLost : null,
      nackCount: inbound ? inbound.nackCount : null,
      codec: inbound ? codecs[inbound.codecId] : null,
      time: video.currentTime, videoWidth: video.videoWidth, videoHeight: video.videoHeight,
    };
  })();
}

/** Polls the page's state until @predicate(state) holds; the state. */
async function waitState(page, predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let state = await page.evaluate(whepState);
  while (!predicate(state)) {
    if (Date.now() > deadline || state.connection === 'failed') {
      throw new Error(`${what} within ${timeoutMs} ms: ${JSON.stringify(state)}`);
    }
    await sleep(100);
    state = await page.evaluate(whepState);
  }
  return state;
}

/**
 * A page at @pageUrl plays @whepUrl over WebRTC, then hangs up with DELETE: checks the answer,
 * the decoded frames and size, the <video>, and that camstream's session count drops.
 */
async function assertPlaysAndHangsUp(pageUrl, whepUrl) {
  const page = await newPage();
  // camstream has no favicon: the 404 of the one Chromium asks for is no page error (no
  // page.route to answer it: Playwright's interception answers CORS preflights itself)
  const notFound = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /status of 404/.test(m.text())) notFound.push(m.location().url);
  });
  await page.goto(pageUrl, { timeout: STATE_TIMEOUT_MS });
  const sessions0 = await metric('camstream_webrtc_sessions');
  const started = await page.evaluate(startWhep, whepUrl);
  assert(started.status === 201, `POST ${whepUrl}: ${JSON.stringify(started)}`);
  // the session names its source too, for a balancer hashing on it (docs/DEPLOY.md)
  assert(/^\/whep\/session\/[0-9a-f]{32}(\?(name|rtsp_url)=[^&]+)?$/.test(started.location || ''),
    `Location ${JSON.stringify(started.location)} (a page of another origin reads it only if ` +
    'camstream exposes it)');
  assert((started.type || '').startsWith('application/sdp'), `Content-Type ${started.type}`);
  assert(/^a=ice-lite\r?$/m.test(started.answer), `no a=ice-lite:\n${started.answer}`);
  const first = await waitState(page, (s) => s.framesDecoded >= 5 && s.time > 0,
    FIRST_PICTURE_MS, 'no first pictures');
  assert(await metric('camstream_webrtc_sessions') === sessions0 + 1, 'camstream_webrtc_sessions');
  const last = await waitState(page, (s) => s.framesDecoded >= first.framesDecoded + MORE_FRAMES &&
    s.time >= first.time + 1, PLAY_MS + 4000, `the video did not play on from ${JSON.stringify(first)}`);
  const info = JSON.stringify(last);
  assert(last.frameWidth === SIZE.width && last.frameHeight === SIZE.height, `frame size: ${info}`);
  assert(last.videoWidth === SIZE.width && last.videoHeight === SIZE.height, `<video> size: ${info}`);
  assert(/^video\/H264$/i.test(last.codec || ''), `codec: ${info}`);
  assert(last.connection === 'connected', `connection: ${info}`);
  diag(`${whepUrl.replace(/\?.*/, '?…')}: first pictures after POST, then ${last.framesDecoded} ` +
    `decoded, ${last.frameWidth}x${last.frameHeight} ${last.codec}, video at ${last.time.toFixed(2)} s, ` +
    `lost ${last.packetsLost}, NACKs ${last.nackCount}`);

  // hang up: DELETE from the page, as a player does
  const deleted = await page.evaluate(async () => {
    const r = await fetch(window.__whep.location, { method: 'DELETE' });
    return { status: r.status, body: await r.text() };
  });
  assert(deleted.status === 200, `DELETE: ${JSON.stringify(deleted)}`);
  assert(JSON.parse(deleted.body).ok === true, `DELETE: ${JSON.stringify(deleted)}`);
  await waitMetric('camstream_webrtc_sessions', (v) => v === sessions0, STATE_TIMEOUT_MS,
    'after DELETE');
  const sent = await metric('camstream_webrtc_packets_sent_total');
  // what Chromium's jitter buffer held still comes out; then the pictures stop (no new one in
  // 600 ms, when 15 would come at 25 fps), within 3 s
  const deadline = Date.now() + 3000;
  let prev = await page.evaluate(whepState);
  for (;;) {
    await sleep(600);
    const now = await page.evaluate(whepState);
    if (now.framesDecoded === prev.framesDecoded) break;
    assert(Date.now() < deadline, `pictures still decoded 3 s after DELETE: ${JSON.stringify(now)}`);
    prev = now;
  }
  assert(await metric('camstream_webrtc_packets_sent_total') === sent, 'packets sent after DELETE');
  // camstream said goodbye (RTCP BYE, DTLS close_notify): the page's DTLS transport is closed
  // at once, not left to its consent checks failing (Chromium calls the connection
  // "disconnected" then, and "failed" 30 s later)
  const closedBy = Date.now() + 3000;
  const dtlsState = () => page.evaluate(() => {
    const t = window.__whep.pc.getReceivers()[0].transport;
    return t ? t.state : 'none';
  });
  let dtls = await dtlsState();
  while (dtls !== 'closed') {
    assert(Date.now() < closedBy, `the page's DTLS transport is ${dtls} 3 s after the DELETE`);
    await sleep(100);
    dtls = await dtlsState();
  }
  await page.evaluate(() => window.__whep.pc.close());
  const only404sOfTheFavicon = notFound.length > 0 && notFound.every((u) => /\/favicon\.ico$/.test(u));
  assertNoPageErrors(page, only404sOfTheFavicon ? [/status of 404 \(Not Found\)$/] : []);
  await closePage(page);
}

/** ffmpeg publishes lavfi's testsrc2 (640x360, 25 fps, libx264) to @url until the run ends. */
function startPublisher(url) {
  const argv = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'warning', '-re', '-f', 'lavfi',
    '-i', `testsrc2=size=${SIZE.width}x${SIZE.height}:rate=25`, '-t', '120', '-c:v', 'libx264',
    '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-f', 'flv',
    url];
  const proc = spawn(FFMPEG, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = [];
  proc.stderr.on('data', (d) => { log.push(...String(d).split('\n').filter(Boolean)); });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  onCleanup(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  });
  return { proc, log };
}

/** Polls POST @whepUrl (from node, with a throw-away offer) until the stream is live. */
async function waitLive(whepUrl, offer, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    const r = await fetch(whepUrl, { method: 'POST', headers: { 'Content-Type': 'application/sdp' },
      body: offer, signal: AbortSignal.timeout(10000) });
    last = `${r.status} ${await r.text()}`;
    if (r.status === 201) {
      const loc = r.headers.get('Location');
      await fetch(new URL(loc, whepUrl), { method: 'DELETE', signal: AbortSignal.timeout(5000) });
      return;
    }
    await sleep(300);
  }
  throw new Error(`${whepUrl} not live within ${timeoutMs} ms: ${last}`);
}

async function main() {
  rtsp = await startRtspServer(0, { ...SIZE, fps: 25 });
  const dir = mkdtempSync(path.join(tmpdir(), 'camstream-whep-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'streams.json');
  writeFileSync(config, JSON.stringify({ streams: [{ name: 'cam1', rtsp_url: rtsp.url('h264') }] }));
  server = await startCamstream(['--config', config, '--webrtc-port', '0', '--rtmp-port', '0']);
  diag(`camstream on port ${server.port} (webrtc udp ${server.webrtcPort}, rtmp ${server.rtmpPort}), ` +
    `rtsp_server.py on ${rtsp.port}`);
  await launchBrowser(WEBRTC_ARGS);
  const same = `${server.base}/api/health`; // a document of camstream's own origin
  const q = encodeURIComponent(rtsp.url('h264'));

  await test('Chromium plays a camera URL over WHEP (/whep?rtsp_url=) and DELETE hangs up', () =>
    assertPlaysAndHangsUp(same, `${server.base}/whep?rtsp_url=${q}`), logs);
  await test('Chromium plays a named stream over WHEP (/api/streams/cam1/whep)', () =>
    assertPlaysAndHangsUp(same, `${server.base}/api/streams/cam1/whep`), logs);
  await test('Chromium plays an RTMP publish over WHEP (/api/streams/k1/whep)', async () => {
    publisher = startPublisher(`rtmp://127.0.0.1:${server.rtmpPort}/live/k1`);
    const page = await newPage();
    await page.goto(same, { timeout: STATE_TIMEOUT_MS });
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      const o = await pc.createOffer();
      pc.close();
      return o.sdp;
    });
    await closePage(page);
    await waitLive(`${server.base}/api/streams/k1/whep`, offer, 20000);
    await waitMetric('camstream_webrtc_sessions', (v) => v === 0, STATE_TIMEOUT_MS, 'probe gone');
    await assertPlaysAndHangsUp(same, `${server.base}/api/streams/k1/whep`);
  }, logs);
  // POST with application/sdp and DELETE are not "simple" requests: a page of another origin
  // (what Access-Control-Expose-Headers: Location in the contract is for) needs camstream to
  // answer the CORS preflight (OPTIONS) for /whep and /whep/session/{id}
  await test('a page of another origin plays over WHEP and reads the Location (CORS)', async () => {
    const other = await servePage('<!DOCTYPE html><title>player</title><link rel="icon" href="data:,">');
    await assertPlaysAndHangsUp(`${other}/`, `${server.base}/whep?rtsp_url=${q}`);
  }, logs);
}

await run(main, RUN_TIMEOUT_MS);
