// web/js/embed.js and web/js/tile.js: they load without a page (after util.js, secrets.js,
// flvplayer.js, hlsplayer.js and webrtcplayer.js, as in index.html), the embed snippets a tile offers work in
// another page, and the layout keeps the mode a tile was asked for.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import vm from 'node:vm';
import { load, plain } from './load.mjs';

const { context, get } = load(['util.js', 'secrets.js', 'embed.js', 'flvplayer.js', 'hlsplayer.js', 'webrtcplayer.js', 'tile.js'],
  { TextEncoder, TextDecoder, btoa, atob });
const HTTP = 'http://cams.lan:8000';
const WS = 'ws://cams.lan:8000';

/** Runs the WebSocket snippet's script with a stand-in WebSocket; returns the URL it opened. */
function openedBy(snippet) {
  const m = /^<canvas id="camera"[^>]*><\/canvas>\n<script>\n([\s\S]*)\n<\/script>$/.exec(snippet);
  assert.ok(m, `not a <canvas> and one <script>:\n${snippet}`);
  const opened = [];
  const sandbox = {
    WebSocket: class { constructor(url) { opened.push(url); } },
    document: { getElementById: (id) => (id === 'camera' ? { getContext: () => ({ canvas: {} }) } : null) },
    console,
  };
  vm.runInNewContext(m[1], sandbox);
  assert.equal(opened.length, 1);
  return opened[0];
}

/** The src of the <img> snippet, as a browser reads the attribute. */
function imgSrc(snippet) {
  const m = /^<img src="([^"]*)" alt="[^"]*">$/.exec(snippet);
  assert.ok(m, `not one <img>: ${snippet}`);
  return m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

test('embed.js and tile.js load without window or document, and define embedSnippets and Tile', () => {
  assert.equal(get('typeof Tile'), 'function');
  assert.equal(typeof context.embedSnippets, 'function');
  assert.equal(get('Tile.count'), 0);
});

test('embed snippets for a camera URL: <img> of /mjpeg, a <canvas> fed by /ws/stream, the /snapshot URL', () => {
  const camera = get('placeholderUrl')('rtsp://admin:p@ss&word@10.0.0.7:554/cam?token=abc&channel=1');
  const options = { fps: '10', width: '320' };
  const s = plain(context.embedSnippets({ http: HTTP, ws: WS, source: { url: camera }, options, title: 'Gate <east>' }));
  const src = new URL(imgSrc(s.img));
  assert.equal(src.origin + src.pathname, `${HTTP}/mjpeg`);
  assert.equal(src.searchParams.get('rtsp_url'), 'rtsp://USER:PASSWORD@10.0.0.7:554/cam?token=SECRET&channel=1');
  assert.equal(src.searchParams.get('fps'), '10');
  assert.match(s.img, /alt="Gate &lt;east&gt;"/);
  assert.doesNotMatch(s.img + s.ws + s.snapshot, /p@ss|abc/);

  const opened = new URL(openedBy(s.ws));
  assert.equal(opened.origin + opened.pathname, `${WS}/ws/stream`);
  assert.equal(opened.searchParams.get('rtsp_url'), camera);
  assert.equal(opened.search, `?${context.streamQuery({ url: camera }, options)}`);
  assert.equal(s.snapshot, `${HTTP}/snapshot?${context.streamQuery({ url: camera }, options)}`);
});

test('a camera URL that could break out of the snippet stays inside its string', () => {
  const camera = 'rtsp://cam/x?note=</script><script>alert("x")</script>&a=\'b\\';
  const s = context.embedSnippets({ http: HTTP, ws: WS, source: { url: camera }, options: {}, title: camera });
  assert.equal(s.ws.match(/<\/script/gi).length, 1, 'the snippet holds another </script>');
  assert.equal(new URL(openedBy(s.ws)).searchParams.get('rtsp_url'), camera);
  assert.equal(new URL(imgSrc(s.img)).searchParams.get('rtsp_url'), camera);
  assert.equal(s.img.match(/</g).length, 1, 'the <img> holds another tag');
});

test('embed snippets for a named stream address it by name, without a camera URL', () => {
  const s = context.embedSnippets({ http: HTTP, ws: WS, source: { name: 'door cam' }, options: { fps: '5' }, title: 'door cam' });
  assert.equal(imgSrc(s.img), `${HTTP}/mjpeg?name=door%20cam&fps=5`);
  assert.equal(openedBy(s.ws), `${WS}/ws/stream?name=door%20cam&fps=5`);
  assert.doesNotMatch(s.ws, /const camera/);
  assert.equal(s.snapshot, `${HTTP}/api/streams/door%20cam/snapshot?fps=5`);
});

/** The src of the <video> snippet, as a browser reads the attribute. */
function videoSrc(snippet) {
  const m = /^<video src="([^"]*)" controls autoplay muted playsinline><\/video>$/.exec(snippet);
  assert.ok(m, `not one <video>: ${snippet}`);
  return m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

test('the HLS snippet of a named stream is a <video> of /live/{name}.m3u8, nothing else', () => {
  const s = context.embedSnippets({ http: HTTP, ws: WS, source: { name: 'door cam' }, options: { fps: '5', transport: 'tcp' }, title: 'door cam' });
  assert.equal(videoSrc(s.hls), `${HTTP}/live/door%20cam.m3u8`);
});

test('the HLS snippet of a camera URL has its placeholders, never the password, and the transport only', () => {
  const camera = 'rtsp://admin:p@ss&word@10.0.0.7:554/cam?token=abc&channel=1';
  const shown = get('placeholderUrl')(camera);
  const s = context.embedSnippets({ http: HTTP, ws: WS, source: { url: shown }, options: { fps: '10', transport: 'udp' }, title: 'x' });
  const src = new URL(videoSrc(s.hls));
  assert.equal(src.origin + src.pathname, `${HTTP}/hls/index.m3u8`);
  assert.equal(src.searchParams.get('rtsp_url'), 'rtsp://USER:PASSWORD@10.0.0.7:554/cam?token=SECRET&channel=1');
  assert.deepEqual([...src.searchParams.keys()], ['rtsp_url', 'transport']);
  assert.doesNotMatch(s.hls, /p@ss|abc/);
  assert.equal(s.hls.match(/</g).length, 2, 'the <video> holds another tag');
});

/** What a tile with these fields stores (Tile.prototype.spec, without a page). */
function specOf(fields, withSecrets = false) {
  const tile = Object.assign(Object.create(get('Tile').prototype), { missing: null, options: {} }, fields);
  return plain(tile.spec(withSecrets));
}

test('the layout keeps mode hls, and a share link brings it back as HLS where HLS plays', () => {
  const spec = specOf({ source: { name: 'cam1' }, wanted: 'hls', mode: 'hls' });
  assert.deepEqual(spec, { name: 'cam1', mode: 'hls', options: {} });
  const back = plain(context.readLayoutHash(context.layoutHash({ tiles: [spec] }))).tiles[0];
  assert.deepEqual(back, spec);
  assert.equal(context.playableMode(back.mode, { mse: false, hls: true }), 'hls');
  assert.equal(context.playableMode(back.mode, { mse: true, hls: false }), 'flv');
});

test('a tile asked for FLV that plays as HLS (no MSE) is stored as FLV; JPEG stores no mode', () => {
  assert.deepEqual(specOf({ source: { name: 'cam1' }, wanted: 'flv', mode: 'hls' }), { name: 'cam1', mode: 'flv', options: {} });
  assert.deepEqual(specOf({ source: { url: 'rtsp://u:p@h/x' }, wanted: 'hls', mode: 'hls' }),
    { url: 'rtsp://h/x', secrets: [{ kind: 'userinfo', name: '' }], mode: 'hls', options: {} });
  assert.deepEqual(specOf({ source: { url: 'demo:' }, wanted: 'jpeg', mode: 'jpeg' }), { url: 'demo:', options: {} });
});

test('the layout keeps mode webrtc; where WebRTC cannot play the tile plays what FLV would', () => {
  const spec = specOf({ source: { name: 'cam1' }, wanted: 'webrtc', mode: 'webrtc' });
  assert.deepEqual(spec, { name: 'cam1', mode: 'webrtc', options: {} });
  const back = plain(context.readLayoutHash(context.layoutHash({ tiles: [spec] }))).tiles[0];
  assert.deepEqual(back, spec);
  assert.equal(context.playableMode(back.mode, { mse: true, hls: false, webrtc: true }), 'webrtc');
  assert.equal(context.playableMode(back.mode, { mse: true, hls: false, webrtc: false }), 'flv');
  assert.deepEqual(specOf({ source: { url: 'rtsp://h/x' }, wanted: 'webrtc', mode: 'flv' }), { url: 'rtsp://h/x', mode: 'webrtc', options: {} });
});
