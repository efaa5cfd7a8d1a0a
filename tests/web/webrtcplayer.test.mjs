// web/js/webrtcplayer.js: a tile's WebRTC mode (WHEP), with stand-ins for RTCPeerConnection,
// MediaStream, fetch() and the <video>: what the player POSTs, how it takes the answer and
// reports, that it DELETEs the session whenever it lets go (and only then), how camstream's
// refusals read, and the figures it takes from getStats().
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain } from './load.mjs';

const URL_NAMED = 'http://cams.lan:8000/api/streams/cam1/whep';
const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n';
const ANSWER = 'v=0\r\no=camstream 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=video 8189 UDP/TLS/RTP/SAVPF 102\r\n';
const SESSION = '/whep/session/0123456789abcdef0123456789abcdef';
const tick = () => new Promise((resolve) => setImmediate(resolve));
const settle = async () => { for (let i = 0; i < 10; i++) await tick(); };

/** A stand-in RTCPeerConnection: records what the player does; @answerError makes setRemoteDescription fail. */
function fakePeerClass(made, order, { answerError = null, stats = [] } = {}) {
  return class {
    constructor(config) {
      Object.assign(this, { config, transceivers: [], local: null, remote: null, closed: false, order,
        connectionState: 'new', ontrack: null, onconnectionstatechange: null });
      made.push(this);
    }
    addTransceiver(kind, init) { this.transceivers.push([kind, init.direction]); }
    async createOffer() { return { type: 'offer', sdp: OFFER }; }
    async setLocalDescription(d) { this.local = d; }
    async setRemoteDescription(d) {
      if (answerError) throw new Error(answerError);
      this.remote = d;
    }
    async getStats() { return new Map(stats.map((s, i) => [String(i), s])); }
    /** One bundled DTLS transport, as a max-bundle connection has. */
    getReceivers() {
      if (!this.transport) this.transport = { state: 'new', onstatechange: null };
      return [{ transport: this.transport }];
    }
    close() { this.closed = true; this.order.push('close'); }
    /** What the browser does: the state changes and the handler is called. */
    become(state) {
      this.connectionState = state;
      if (this.onconnectionstatechange) this.onconnectionstatechange();
    }
  };
}

class FakeStream {
  constructor() { this.tracks = []; }
  addTrack(t) { this.tracks.push(t); }
  getTracks() { return this.tracks; }
}

function fakeVideo() {
  return { srcObject: null, plays: 0, play() { this.plays += 1; return Promise.resolve(); } };
}

/**
 * webrtcplayer.js (after util.js, flvplayer.js and hlsplayer.js, as in index.html) and a
 * player of @url whose fetch() answers the POST with @answer ({status, body, location}, an
 * Error to throw, or a promise of either) and every DELETE with 200.
 */
function setup(answer, { url = URL_NAMED, peer = {} } = {}) {
  const fetches = [];
  const order = []; // DELETEs answered and peer connections closed, in turn
  const fetch = async (what, init = {}) => {
    fetches.push({ url: what, method: init.method || 'GET', init });
    if (init.method === 'DELETE') await tick();
    if (init.method === 'DELETE') order.push('DELETE answered');
    if (init.method === 'DELETE') return { ok: true, status: 200, headers: { get: () => null }, text: async () => '{"ok":true}' };
    const a = await answer;
    if (a instanceof Error) throw a;
    return {
      ok: a.status >= 200 && a.status < 300, status: a.status,
      headers: { get: (name) => (name.toLowerCase() === 'location' ? a.location || null : null) },
      text: async () => a.body,
    };
  };
  const made = [];
  const scope = { RTCPeerConnection: fakePeerClass(made, order, peer), MediaStream: FakeStream, fetch, setTimeout, clearTimeout };
  const { get } = load(['util.js', 'flvplayer.js', 'hlsplayer.js', 'webrtcplayer.js'], { AbortController, URL });
  const video = fakeVideo();
  const reports = [];
  const player = new (get('WhepPlayer'))(video, url, (kind, detail) => reports.push([kind, plain(detail)]), scope);
  return { player, video, reports, fetches, made, get, order, deletes: () => fetches.filter((f) => f.method === 'DELETE') };
}

const { context } = load(['util.js', 'flvplayer.js', 'hlsplayer.js', 'webrtcplayer.js'], { URL });

test('an offer to receive video and audio is POSTed as application/sdp; the answer is taken; the tracks play', async () => {
  const { player, video, reports, fetches, made, deletes, order } = setup({ status: 201, body: ANSWER, location: SESSION });
  await player.start();
  const pc = made[0];
  assert.deepEqual(plain(pc.config), { bundlePolicy: 'max-bundle' });
  assert.deepEqual(plain(pc.transceivers), [['video', 'recvonly'], ['audio', 'recvonly']]);
  assert.equal(fetches.length, 1);
  assert.equal(fetches[0].url, URL_NAMED);
  assert.equal(fetches[0].method, 'POST');
  assert.equal(fetches[0].init.headers['Content-Type'], 'application/sdp');
  assert.equal(fetches[0].init.body, OFFER);
  assert.deepEqual(plain(pc.remote), { type: 'answer', sdp: ANSWER });
  assert.deepEqual(reports, [['answer', undefined]]);
  pc.ontrack({ track: { kind: 'video', stop() { this.stopped = true; } } });
  pc.ontrack({ track: { kind: 'audio', stop() {} } });
  assert.equal(video.srcObject.tracks.length, 2, 'one stream holds both tracks');
  assert.equal(video.plays, 1);
  pc.become('connecting');
  pc.become('connected');
  pc.become('connected');
  assert.deepEqual(reports.map((r) => r[0]), ['answer', 'connected']);
  assert.equal(deletes().length, 0, 'hung up while playing');
  const track = video.srcObject.tracks[0];
  player.destroy();
  assert.ok(track.stopped);
  assert.equal(video.srcObject, null);
  assert.ok(!pc.closed, 'closed before the DELETE was answered (its close_notify would end the session first)');
  await settle();
  assert.deepEqual(order, ['DELETE answered', 'close']);
  assert.deepEqual(deletes().map((d) => [d.url, d.init.keepalive]), [[`http://cams.lan:8000${SESSION}`, true]]);
  player.destroy();
  pc.become('failed');
  assert.equal(deletes().length, 1, 'a second DELETE');
  assert.deepEqual(reports.map((r) => r[0]), ['answer', 'connected'], 'reported after destroy()');
});

test('a refusal (JSON error) is reported with its status and code; nothing to hang up', async () => {
  const { player, reports, made, deletes } = setup({ status: 404, body: '{"error":{"code":"not_found","message":"no stream named \\"x\\""}}' });
  await player.start();
  assert.deepEqual(reports, [['refused', { status: 404, error: 'no stream named "x"', code: 'not_found' }]]);
  assert.ok(made[0].closed);
  assert.equal(deletes().length, 0);
});

test('camstream\'s flat {"error","code"} form and a body that is not JSON read as in the HLS mode', async () => {
  let s = setup({ status: 415, body: '{"error":"H.265 cannot go to a browser over WebRTC","code":"unsupported_codec"}' });
  await s.player.start();
  assert.deepEqual(s.reports, [['refused', { status: 415, error: 'H.265 cannot go to a browser over WebRTC', code: 'unsupported_codec' }]]);
  s = setup({ status: 502, body: 'Bad Gateway' });
  await s.player.start();
  assert.deepEqual(s.reports, [['refused', { status: 502, error: 'Bad Gateway', code: '' }]]);
});

test('a network failure is a refusal of status 0', async () => {
  const { player, reports } = setup(new TypeError('Failed to fetch'));
  await player.start();
  assert.deepEqual(reports, [['refused', { status: 0, error: 'Failed to fetch', code: '' }]]);
});

test('201 without an SDP answer is refused, and the session it made is hung up', async () => {
  const { player, reports, deletes } = setup({ status: 201, body: '<html>', location: SESSION });
  await player.start();
  assert.equal(reports[0][0], 'refused');
  assert.match(reports[0][1].error, /did not send an SDP answer/);
  assert.equal(deletes().length, 1);
});

test('an answer the browser refuses fails without retrying, and hangs up', async () => {
  const { player, reports, deletes } = setup({ status: 201, body: ANSWER, location: SESSION }, { peer: { answerError: 'no codec in common' } });
  await player.start();
  assert.deepEqual(reports, [['failed', { why: 'the answer was refused (no codec in common)', retry: false }]]);
  assert.equal(deletes().length, 1);
});

test('a connection that fails is retried (before and after it was up), and hangs up', async () => {
  for (const up of [false, true]) {
    const { player, reports, made, deletes } = setup({ status: 201, body: ANSWER, location: SESSION });
    await player.start();
    if (up) made[0].become('connected');
    made[0].become('failed');
    const last = reports[reports.length - 1];
    assert.equal(last[0], 'failed');
    assert.equal(last[1].retry, true);
    assert.match(last[1].why, up ? /was lost/ : /no WebRTC connection/);
    assert.equal(deletes().length, 1);
    await settle();
    assert.ok(made[0].closed);
  }
});

test('camstream ending the session (its close_notify closes the DTLS transport) is retried at once, with no DELETE', async () => {
  const { player, reports, made, deletes } = setup({ status: 201, body: ANSWER, location: SESSION });
  await player.start();
  made[0].become('connected');
  const t = made[0].transport;
  assert.ok(t && typeof t.onstatechange === 'function', 'the transport is not watched');
  t.state = 'connected';
  t.onstatechange();
  assert.deepEqual(reports.map((r) => r[0]), ['answer', 'connected']);
  t.state = 'closed';
  t.onstatechange();
  assert.deepEqual(reports[reports.length - 1], ['failed', { why: 'the server ended the session', retry: true }]);
  assert.equal(deletes().length, 0, 'a DELETE of a session camstream ended');
  assert.equal(t.onstatechange, null, 'still watched after the end');
  await settle();
  assert.ok(made[0].closed);
});

test('a DELETE that is never answered: the peer connection is closed after WHEP_CLOSE_WAIT_MS all the same', async () => {
  const { player, made, get } = setup({ status: 201, body: ANSWER, location: SESSION });
  await player.start();
  const scope = player.scope;
  scope.fetch = () => new Promise(() => {});
  const timers = [];
  scope.setTimeout = (fn, ms) => { timers.push([fn, ms]); return timers.length; };
  scope.clearTimeout = () => {};
  player.destroy();
  await settle();
  assert.ok(!made[0].closed);
  assert.deepEqual(timers.map((t) => t[1]), [get('WHEP_CLOSE_WAIT_MS')]);
  timers[0][0]();
  assert.ok(made[0].closed);
});

test('destroyed while the POST runs: nothing is reported, and a session that was made is hung up', async () => {
  let answer;
  const pending = new Promise((resolve) => { answer = resolve; });
  const { player, reports, deletes } = setup(pending);
  const started = player.start();
  await settle();
  player.destroy();
  answer({ status: 201, body: ANSWER, location: SESSION });
  await started;
  await settle();
  assert.deepEqual(reports, []);
  assert.deepEqual(deletes().map((d) => d.url), [`http://cams.lan:8000${SESSION}`]);
});

test('whepSession: the Location read against the POSTed URL', () => {
  const { whepSession } = context;
  assert.equal(whepSession(SESSION, URL_NAMED), `http://cams.lan:8000${SESSION}`);
  assert.equal(whepSession('http://other:1/s/1', URL_NAMED), 'http://other:1/s/1');
  assert.equal(whepSession(null, URL_NAMED), null);
  assert.equal(whepSession('', URL_NAMED), null);
  assert.equal(whepSession('http://[bad', URL_NAMED), null);
});

test('whepVerdict: refusals as in the HLS mode; failures retried or not', () => {
  const { whepVerdict } = context;
  const http = 'http://h:1';
  const v = (kind, detail, named = false) => plain(whepVerdict(kind, detail, { http, named }));
  assert.deepEqual(v('refused', { status: 404, error: 'no stream named "x"', code: 'not_found' }, true),
    { state: 'error', message: 'Error: no stream named "x" [not_found] (HTTP 404)' });
  assert.deepEqual(v('refused', { status: 415, error: 'H.265', code: 'unsupported_codec' }),
    { state: 'error', message: 'Error: H.265 [unsupported_codec] (HTTP 415)' });
  assert.deepEqual(v('refused', { status: 503, error: 'busy', code: 'server_busy' }),
    { state: 'reconnecting', message: 'Lost: busy [server_busy] (HTTP 503)' });
  assert.equal(v('refused', { status: 502, error: 'camera', code: 'unsupported_codec' }).state, 'error');
  assert.equal(v('refused', { status: 401, error: 'refused', code: 'unauthorized' }).state, 'credentials');
  assert.equal(v('refused', { status: 401, error: 'refused', code: 'unauthorized' }, true).state, 'error');
  assert.deepEqual(v('refused', { status: 0, error: 'Failed to fetch', code: '' }),
    { state: 'reconnecting', message: 'Cannot reach http://h:1 (Failed to fetch)' });
  assert.deepEqual(v('failed', { why: 'the WebRTC connection was lost', retry: true }),
    { state: 'reconnecting', message: 'Lost: the WebRTC connection was lost' });
  assert.deepEqual(v('failed', { why: 'no codec', retry: false }),
    { state: 'error', message: 'Error: this browser cannot play the WebRTC stream: no codec' });
});

test('whepInbound and whepRates: bytes per second and the jitter buffer\'s wait from two readings', () => {
  const { whepInbound, whepRates } = context;
  const report = new Map([
    ['a', { type: 'inbound-rtp', kind: 'audio', bytesReceived: 5 }],
    ['v', { type: 'inbound-rtp', kind: 'video', bytesReceived: 1000, jitterBufferDelay: 2.0, jitterBufferEmittedCount: 100 }],
  ]);
  assert.deepEqual(plain(whepInbound(report, 500)), { t: 500, bytes: 1000, delay: 2.0, emitted: 100 });
  assert.equal(whepInbound(new Map([['a', { type: 'inbound-rtp', kind: 'audio' }]]), 1), null);
  assert.deepEqual(plain(whepInbound([{ type: 'inbound-rtp', mediaType: 'video' }], 7)), { t: 7, bytes: 0, delay: 0, emitted: 0 });
  const before = { t: 0, bytes: 1000, delay: 2.0, emitted: 100 };
  const after = { t: 500, bytes: 51000, delay: 2.5, emitted: 125 };
  assert.deepEqual(plain(whepRates(before, after)), { bytesPerSecond: 100000, jitterMs: 20 });
  assert.deepEqual(plain(whepRates(before, { ...after, emitted: 100 })), { bytesPerSecond: 100000, jitterMs: null });
  assert.deepEqual(plain(whepRates(null, after)), { bytesPerSecond: null, jitterMs: null });
  assert.deepEqual(plain(whepRates(after, after)), { bytesPerSecond: null, jitterMs: null });
});

test('stats(): the <video>\'s figures, with the rates of the last two getStats() readings', async () => {
  const stats = [{ type: 'inbound-rtp', kind: 'video', bytesReceived: 0, jitterBufferDelay: 0, jitterBufferEmittedCount: 0 }];
  const { player } = setup({ status: 201, body: ANSWER, location: SESSION }, { peer: { stats } });
  player.video.getVideoPlaybackQuality = () => ({ totalVideoFrames: 10 });
  player.video.currentTime = 1;
  player.video.videoWidth = 640;
  player.video.videoHeight = 360;
  await player.start();
  let s = player.stats(0);
  assert.equal(s.bytesPerSecond, null);
  assert.equal(s.width, 640);
  await settle();
  Object.assign(stats[0], { bytesReceived: 25000, jitterBufferDelay: 0.5, jitterBufferEmittedCount: 25 });
  player.stats(1000);
  await settle();
  s = player.stats(1500);
  assert.equal(s.bytesPerSecond, 25000);
  assert.equal(s.behindMs, 20);
  player.destroy();
});
