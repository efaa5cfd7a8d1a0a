// web/js/hlsplayer.js: a tile's HLS mode, with stand-ins for fetch() and the <video>: which mode
// a tile plays in for what this browser can do, how camstream's errors read, what a tile does
// about each, and how a player fetches the playlist, hands it to the <video> and lets go of it.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain } from './load.mjs';

const URL_NAMED = 'http://cams.lan:8000/live/cam1.m3u8';
/** A live playlist whose first segment is @first, with @complete segments and one part after them. */
function playlist(first, complete) {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:1', `#EXT-X-MEDIA-SEQUENCE:${first}`,
    '#EXT-X-MAP:URI="S/init1.mp4"'];
  for (let n = first; n < first + complete; n++) lines.push('#EXTINF:1.00000,', `S/seg${n}.m4s`);
  lines.push(`#EXT-X-PART:DURATION=0.20000,URI="S/part${first + complete}.0.m4s",INDEPENDENT=YES`);
  return lines.join('\n') + '\n';
}
const PLAYLIST = playlist(12, 3);
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A stand-in <video>: what the player sets, the listeners it holds, load() and play() calls. */
function fakeVideo(canPlay = '') {
  return {
    attributes: {}, listeners: {}, loads: 0, plays: 0, error: null,
    canPlayType: (type) => (type === 'application/vnd.apple.mpegurl' ? canPlay : ''),
    set src(value) { this.attributes.src = value; },
    get src() { return this.attributes.src || ''; },
    hasAttribute(name) { return name in this.attributes; },
    removeAttribute(name) { delete this.attributes[name]; },
    addEventListener(type, fn) { this.listeners[type] = fn; },
    removeEventListener(type, fn) { if (this.listeners[type] === fn) delete this.listeners[type]; },
    load() { this.loads += 1; },
    play() { this.plays += 1; return Promise.reject(new Error('autoplay')); },
  };
}

/**
 * hlsplayer.js (after util.js and flvplayer.js, as in index.html) with a fetch() that answers
 * @answers in turn (the last one again when they run out): {status, body} or an Error to
 * throw. Returns the player, its <video>, what it reported and the fetches made.
 */
function setup(answers, url = URL_NAMED) {
  const fetches = [];
  const list = [].concat(answers);
  const fetch = async (what, init) => {
    fetches.push({ url: what, init });
    const answer = list.length > 1 ? list.shift() : list[0];
    if (answer instanceof Error) throw answer;
    return { ok: answer.status >= 200 && answer.status < 300, status: answer.status, text: async () => answer.body };
  };
  const { get } = load(['util.js', 'flvplayer.js', 'hlsplayer.js'], { fetch, AbortController, Date });
  const video = fakeVideo('maybe');
  const reports = [];
  const player = new (get('HlsPlayer'))(video, url, (kind, detail) => reports.push([kind, plain(detail)]));
  return { player, video, reports, fetches, get };
}

const { context } = load(['util.js', 'flvplayer.js', 'hlsplayer.js']);

test('nativeHlsAvailable: a <video> whose canPlayType of HLS says maybe or probably', () => {
  const { nativeHlsAvailable } = context;
  assert.equal(nativeHlsAvailable(fakeVideo('maybe')), true);
  assert.equal(nativeHlsAvailable(fakeVideo('probably')), true);
  assert.equal(nativeHlsAvailable(fakeVideo('')), false);
  assert.equal(nativeHlsAvailable(null), false);
});

test('videoCapabilities: MSE from MediaSource or ManagedMediaSource, HLS from a probe <video>, WebRTC from RTCPeerConnection', () => {
  const { videoCapabilities } = context;
  const page = (canPlay, extra) => ({ document: { createElement: () => fakeVideo(canPlay) }, ...extra });
  const rtc = { RTCPeerConnection() {} };
  assert.deepEqual(plain(videoCapabilities(page('maybe', rtc))), { mse: false, hls: true, webrtc: true });           // old iPhone
  assert.deepEqual(plain(videoCapabilities(page('', { MediaSource() {}, ...rtc }))), { mse: true, hls: false, webrtc: true }); // Firefox
  assert.deepEqual(plain(videoCapabilities(page('maybe', { ManagedMediaSource() {} }))), { mse: true, hls: true, webrtc: false });
  assert.deepEqual(plain(videoCapabilities({})), { mse: false, hls: false, webrtc: false });
});

test('playableMode: FLV where MSE is, HLS where MSE is missing and HLS plays, JPEG when neither', () => {
  const { playableMode } = context;
  const can = (mse, hls, webrtc = false) => ({ mse, hls, webrtc });
  assert.equal(playableMode('flv', can(true, true)), 'flv');
  assert.equal(playableMode('flv', can(true, false)), 'flv');
  assert.equal(playableMode('flv', can(false, true)), 'hls');
  assert.equal(playableMode('flv', can(false, false)), 'jpeg');
  assert.equal(playableMode('hls', can(true, true)), 'hls');
  assert.equal(playableMode('hls', can(false, true)), 'hls');
  assert.equal(playableMode('hls', can(true, false)), 'flv');
  assert.equal(playableMode('hls', can(false, false)), 'jpeg');
  for (const wanted of ['jpeg', undefined, 'WebRTC', '']) assert.equal(playableMode(wanted, can(true, true, true)), 'jpeg');
});

test('playableMode: WebRTC where RTCPeerConnection is, else what FLV would be', () => {
  const { playableMode } = context;
  const can = (mse, hls, webrtc) => ({ mse, hls, webrtc });
  assert.equal(playableMode('webrtc', can(false, false, true)), 'webrtc');
  assert.equal(playableMode('webrtc', can(true, true, false)), 'flv');
  assert.equal(playableMode('webrtc', can(false, true, false)), 'hls');
  assert.equal(playableMode('webrtc', can(false, false, false)), 'jpeg');
  assert.equal(playableMode('flv', can(true, false, true)), 'flv');
  assert.equal(playableMode('hls', can(false, true, true)), 'hls');
});

test('readHttpError: camstream\'s {"error","code"}, the {"error":{"code","message"}} form, or the text', () => {
  const { readHttpError } = context;
  assert.deepEqual(plain(readHttpError(404, '{"error":"no stream named \\"x\\"","code":"not_found"}')),
    { status: 404, error: 'no stream named "x"', code: 'not_found' });
  assert.deepEqual(plain(readHttpError(415, '{"error":{"code":"unsupported_codec","message":"MJPEG"}}')),
    { status: 415, error: 'MJPEG', code: 'unsupported_codec' });
  assert.deepEqual(plain(readHttpError(502, 'Bad Gateway\n')), { status: 502, error: 'Bad Gateway', code: '' });
  assert.deepEqual(plain(readHttpError(500, '')), { status: 500, error: 'HTTP 500', code: '' });
  assert.deepEqual(plain(readHttpError(400, '{"code":"bad_request"}')), { status: 400, error: '{"code":"bad_request"}', code: 'bad_request' });
  assert.equal(readHttpError(500, 'x'.repeat(1000)).error.length, 200);
});

test('hlsRetries: the network, busy and camera errors are tried again; refusals are not', () => {
  const { hlsRetries } = context;
  for (const status of [0, 408, 429, 500, 502, 503, 504]) assert.equal(hlsRetries(status), true, String(status));
  for (const status of [400, 401, 403, 404, 415]) assert.equal(hlsRetries(status), false, String(status));
  assert.equal(hlsRetries(502, 'unsupported_codec'), false, 'a camera that is not H.264 or H.265');
  assert.equal(hlsRetries(502, 'open_failed'), true);
});

test('hlsVerdict: refusals read as in the other modes, with the HTTP status where they have the close code', () => {
  const { hlsVerdict } = context;
  const at = { http: 'http://cams.lan:8000', named: false };
  const v = (kind, detail, where = at) => plain(hlsVerdict(kind, detail, where));
  assert.deepEqual(v('refused', { status: 404, error: 'no stream named "x"', code: 'not_found' }),
    { state: 'error', message: 'Error: no stream named "x" [not_found] (HTTP 404)' });
  assert.deepEqual(v('refused', { status: 415, error: 'not H.264 or H.265', code: 'unsupported_codec' }),
    { state: 'error', message: 'Error: not H.264 or H.265 [unsupported_codec] (HTTP 415)' });
  assert.equal(v('refused', { status: 502, error: 'demo: is not H.264', code: 'unsupported_codec' }).state, 'error');
  assert.deepEqual(v('refused', { status: 504, error: 'camera timeout', code: 'timeout' }),
    { state: 'reconnecting', message: 'Lost: camera timeout [timeout] (HTTP 504)' });
  assert.deepEqual(v('refused', { status: 0, error: 'Failed to fetch', code: '' }),
    { state: 'reconnecting', message: 'Cannot reach http://cams.lan:8000 (Failed to fetch)' });
  assert.deepEqual(v('refused', { status: 401, error: 'camera said 401', code: 'unauthorized' }),
    { state: 'credentials', message: 'camera said 401 [unauthorized] (HTTP 401)' });
  assert.equal(v('refused', { status: 401, error: 'camera said 401', code: 'unauthorized' }, { ...at, named: true }).state, 'error');
  assert.equal(v('refused', { status: 401, error: 'token', code: 'invalid_token' }).state, 'error');
  assert.deepEqual(v('failed', { why: 'the <video> failed (2)', retry: true }),
    { state: 'reconnecting', message: 'Lost: the <video> failed (2)' });
  assert.deepEqual(v('failed', { why: 'the <video> failed (4)', retry: false }),
    { state: 'error', message: 'Error: this browser cannot play the HLS stream: the <video> failed (4)' });
  assert.deepEqual(v('ended'), { state: 'ended', message: 'Ended: the stream ended (the end of the playlist)' });
});

test('hlsStartMsn: a live playlist of fewer than 3 complete segments waits for the third; 3 or an end do not', () => {
  const { hlsStartMsn } = context;
  assert.equal(hlsStartMsn(playlist(12, 1)), 14);
  assert.equal(hlsStartMsn(playlist(12, 2)), 14);
  assert.equal(hlsStartMsn(playlist(0, 0)), 2);
  assert.equal(hlsStartMsn(playlist(12, 3)), null);
  assert.equal(hlsStartMsn(playlist(12, 7)), null);
  assert.equal(hlsStartMsn(`${playlist(12, 1)}#EXT-X-ENDLIST\n`), null);
  assert.equal(hlsStartMsn('#EXTM3U\n#EXTINF:1,\na.m4s\n'), 2, 'no EXT-X-MEDIA-SEQUENCE: it is 0');
  // a young playlist: two gaps (msn 0, 1) in front of its first segment (msn 2)
  const gap = '#EXT-X-GAP\n#EXTINF:1.00000,\nS/gap.mp4\n';
  const young = `#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n${gap}${gap}#EXTINF:1.00000,\nS/seg2.m4s\n`;
  assert.equal(hlsStartMsn(young), 4, 'gaps are not segments a <video> can start on');
  assert.equal(hlsStartMsn(young.replace(gap, '').replace(':0', ':1') + '#EXTINF:1,\nS/seg3.m4s\n'), 4);
});

test('a new session\'s playlist of one segment: the <video> gets it once a blocking reload has three', async () => {
  const { player, video, reports, fetches } = setup([
    { status: 200, body: playlist(0, 1) }, { status: 200, body: playlist(0, 3) },
  ], `${URL_NAMED}?token=t`);
  player.start();
  await tick();
  assert.deepEqual(fetches.map((f) => f.url), [`${URL_NAMED}?token=t`, `${URL_NAMED}?token=t&_HLS_msn=2`]);
  assert.equal(video.src, `${URL_NAMED}?token=t`);
  assert.deepEqual(reports, [['playlist', undefined]]);
});

test('the wait for three segments gives up after a few reloads, or when a reload is refused, and plays', async () => {
  const slow = setup({ status: 200, body: playlist(5, 1) });
  slow.player.start();
  await tick();
  assert.equal(slow.fetches.length, 6);
  assert.equal(slow.video.src, URL_NAMED);
  const refused = setup([{ status: 200, body: playlist(5, 1) }, { status: 400, body: '{"error":"x","code":"bad_request"}' }]);
  refused.player.start();
  await tick();
  assert.equal(refused.fetches.length, 2);
  assert.deepEqual(refused.reports, [['playlist', undefined]]);
});

test('a playlist from camstream goes to the <video>, which plays it; the first fetch is not cached', async () => {
  const { player, video, reports, fetches } = setup({ status: 200, body: PLAYLIST });
  player.start();
  assert.equal(video.src, '', 'the <video> had the URL before camstream answered');
  await tick();
  assert.deepEqual(fetches.map((f) => [f.url, f.init.cache]), [[URL_NAMED, 'no-store']]);
  assert.equal(video.src, URL_NAMED);
  assert.equal(video.plays, 1);
  assert.deepEqual(reports, [['playlist', undefined]]);
  assert.equal(typeof video.listeners.error, 'function');
  assert.equal(typeof video.listeners.ended, 'function');
});

test('camstream\'s JSON error is reported, and the <video> is never given the URL', async () => {
  const { player, video, reports } = setup({ status: 404, body: '{"error":"no stream named \\"nope\\"","code":"not_found"}' });
  player.start();
  await tick();
  assert.deepEqual(reports, [['refused', { status: 404, error: 'no stream named "nope"', code: 'not_found' }]]);
  assert.equal(video.hasAttribute('src'), false);
  assert.equal(video.loads, 0);
});

test('an answer that is not a playlist, or no answer, is a refusal', async () => {
  const html = setup({ status: 200, body: '<!DOCTYPE html>' });
  html.player.start();
  await tick();
  assert.deepEqual(html.reports, [['refused', { status: 200, error: 'the server did not send an HLS playlist', code: '' }]]);
  const down = setup(new TypeError('Failed to fetch'));
  down.player.start();
  await tick();
  assert.deepEqual(down.reports, [['refused', { status: 0, error: 'Failed to fetch', code: '' }]]);
});

test('destroy before camstream answers aborts the fetch and reports nothing', async () => {
  const { player, video, reports, fetches } = setup({ status: 200, body: PLAYLIST });
  player.start();
  player.destroy();
  assert.equal(fetches[0].init.signal.aborted, true);
  await tick();
  assert.deepEqual(reports, []);
  assert.equal(video.hasAttribute('src'), false);
});

test('destroy while playing lets go of the <video>: src removed, load() called, listeners gone', async () => {
  const { player, video, reports } = setup({ status: 200, body: PLAYLIST });
  player.start();
  await tick();
  player.destroy();
  assert.equal(video.hasAttribute('src'), false);
  assert.equal(video.loads, 1);
  assert.deepEqual(video.listeners, {});
  player.destroy();
  assert.equal(video.loads, 1, 'a second destroy touched the <video> again');
  assert.deepEqual(reports, [['playlist', undefined]]);
});

test('the <video> failing is reported once, retried for the network and not for a decode error', async () => {
  for (const [code, retry] of [[2, true], [3, false], [4, false]]) {
    const { player, video, reports } = setup({ status: 200, body: PLAYLIST });
    player.start();
    await tick();
    video.error = { code, message: 'why' };
    const onError = video.listeners.error;
    onError();
    onError();
    assert.deepEqual(reports.slice(1), [['failed', { why: `the <video> failed (${code}: why)`, retry }]]);
    assert.equal(video.hasAttribute('src'), false);
  }
});

test('the end of the playlist played out is reported as ended, and the <video> let go', async () => {
  const { player, video, reports } = setup({ status: 200, body: PLAYLIST });
  player.start();
  await tick();
  video.listeners.ended();
  assert.deepEqual(reports, [['playlist', undefined], ['ended', undefined]]);
  assert.equal(video.hasAttribute('src'), false);
});

test('stats: the picture\'s age from the playlist\'s clock where the <video> tells it, else the buffer', async () => {
  const { player, video } = setup({ status: 200, body: PLAYLIST });
  Object.assign(video, {
    getVideoPlaybackQuality: () => ({ totalVideoFrames: 50 }),
    videoWidth: 1280, videoHeight: 720, currentTime: 10,
    buffered: { length: 1, end: () => 10.5 },
  });
  let s = player.stats(0);
  assert.deepEqual([s.frames, s.width, s.height, s.behindMs, s.clock], [50, 1280, 720, 500, undefined]);
  video.getStartDate = () => new Date(NaN); // Safari without EXT-X-PROGRAM-DATE-TIME
  assert.equal(player.stats(500).behindMs, 500);
  video.getStartDate = () => new Date(Date.now() - 11500); // currentTime 10 s after it: 1.5 s old
  s = player.stats(1000);
  assert.equal(s.clock, true);
  assert.ok(Math.abs(s.behindMs - 1500) < 50, `behindMs ${s.behindMs}`);
});

test('stats without getVideoPlaybackQuality: decoding while the playhead moves', () => {
  const { player, video } = setup({ status: 200, body: PLAYLIST });
  video.currentTime = 0;
  assert.equal(player.stats(0).decoding, false);
  video.currentTime = 0.5;
  assert.equal(player.stats(500).decoding, true);
  assert.equal(player.stats(1000).decoding, false);
});
