// web/js/flvplayer.js: a tile's FLV mode, with a stand-in for mpegts.js that records what the
// page asks of it: when MSE counts as there, what an FLV header announces, and how the bytes
// of /ws/flv reach mpegts.js's loader. Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain } from './load.mjs';

/** A stand-in for mpegts.js: createPlayer() records its arguments; the test opens the loader. */
function fakeMpegts() {
  const made = [];
  class BaseLoader {
    constructor(type) { this._type = type; this._status = 0; this._onDataArrival = null; }
    get onDataArrival() { return this._onDataArrival; }
    set onDataArrival(fn) { this._onDataArrival = fn; }
  }
  const mpegts = {
    BaseLoader,
    LoaderStatus: { kIdle: 0, kConnecting: 1, kBuffering: 2, kError: 3, kComplete: 4 },
    Events: { ERROR: 'error' },
    LoggingControl: { applyConfig(config) { mpegts.logging = config; } },
    createPlayer(source, config) {
      const player = {
        source, config, listeners: {}, attached: null, loaded: false, destroyed: false, chunks: [],
        on(event, fn) { this.listeners[event] = fn; },
        attachMediaElement(video) { this.attached = video; },
        load() { this.loaded = true; },
        play() { return Promise.reject(new Error('not yet')); },
        destroy() { this.destroyed = true; },
        /** What mpegts.js does once its MediaSource is open: make the loader and open it. */
        open() {
          this.loader = new config.customLoader();
          this.loader.onDataArrival = (chunk, start, end) => this.chunks.push({ bytes: [...new Uint8Array(chunk)], start, end });
          this.loader.open({});
          return this.loader;
        },
      };
      made.push(player);
      return player;
    },
  };
  return { mpegts, made };
}

function setup() {
  const fake = fakeMpegts();
  const { context, get } = load(['flvplayer.js'], { mpegts: fake.mpegts, queueMicrotask });
  const failures = [];
  const video = {
    listeners: {}, error: null,
    addEventListener(type, fn) { this.listeners[type] = fn; },
    removeEventListener(type, fn) { if (this.listeners[type] === fn) delete this.listeners[type]; },
  };
  const player = new (get('FlvPlayer'))(video, (why) => failures.push(why));
  return { ...fake, context, player, video, failures };
}

const bytes = (...list) => Uint8Array.from(list).buffer;
const HEADER_AV = [0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9];
const HEADER_V = [0x46, 0x4c, 0x56, 0x01, 0x01, 0, 0, 0, 9];
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('mseAvailable: MediaSource or Apple\'s ManagedMediaSource; neither means no FLV', () => {
  const { context } = load(['flvplayer.js']);
  assert.equal(context.mseAvailable({ MediaSource: function MediaSource() {} }), true);
  assert.equal(context.mseAvailable({ ManagedMediaSource: function ManagedMediaSource() {} }), true);
  assert.equal(context.mseAvailable({}), false);
});

test('readFlvHeader: the audio and video flags of the 9-byte header; anything else is not FLV', () => {
  const { context } = load(['flvplayer.js']);
  assert.deepEqual(plain(context.readFlvHeader(Uint8Array.from(HEADER_AV))), { audio: true, video: true });
  assert.deepEqual(plain(context.readFlvHeader(Uint8Array.from(HEADER_V))), { audio: false, video: true });
  assert.equal(context.readFlvHeader(Uint8Array.from(HEADER_V.slice(0, 8))), null);
  assert.equal(context.readFlvHeader(new TextEncoder().encode('{"error":"x"}')), null);
});

test('the header may come in pieces: one player, made when it is whole, told the tracks it announces', () => {
  const { player, made, video } = setup();
  player.push(bytes(...HEADER_V.slice(0, 3)));
  assert.equal(made.length, 0);
  player.push(bytes(...HEADER_V.slice(3), 0, 0, 0, 0));
  assert.equal(made.length, 1);
  const p = made[0];
  assert.deepEqual(plain(p.source), { type: 'flv', isLive: true, hasAudio: false, hasVideo: true });
  assert.equal(p.config.enableStashBuffer, false);
  assert.equal(p.config.liveBufferLatencyChasing, true);
  assert.equal(p.config.enableWorker, false);
  assert.equal(p.config.autoCleanupSourceBuffer, true);
  assert.equal(p.attached, video);
  assert.equal(p.loaded, true);
  player.push(bytes(1, 2));
  assert.equal(made.length, 1);
});

test('a header that announces audio makes a player that waits for audio', () => {
  const { player, made } = setup();
  player.push(bytes(...HEADER_AV));
  assert.equal(made[0].source.hasAudio, true);
});

test('bytes before mpegts.js opens its loader wait, then go in order with their stream positions', () => {
  const { player, made } = setup();
  player.push(bytes(...HEADER_V, 0, 0, 0, 0));
  player.push(bytes(7, 8, 9));
  const p = made[0];
  assert.equal(p.chunks.length, 0);
  p.open();
  player.push(bytes(10));
  assert.deepEqual(p.chunks.map((c) => [c.start, c.end]), [[0, 13], [13, 16], [16, 17]]);
  assert.deepEqual(p.chunks.flatMap((c) => c.bytes).slice(9), [0, 0, 0, 0, 7, 8, 9, 10]);
});

test('bytes that are not FLV fail the player once, and no mpegts.js player is made', async () => {
  const { player, made, failures } = setup();
  player.push(new TextEncoder().encode('not an flv stream').buffer);
  player.push(bytes(...HEADER_V));
  await tick();
  assert.equal(made.length, 0);
  assert.deepEqual(failures, ['the server did not send FLV']);
});

test('an mpegts.js error (a codec this browser cannot play) stops the player and is told once', async () => {
  const { player, made, failures } = setup();
  player.push(bytes(...HEADER_V));
  made[0].open();
  made[0].listeners.error('MediaError', 'MediaMSEError', { msg: 'unsupported codec' });
  made[0].listeners.error('MediaError', 'MediaMSEError', { msg: 'again' });
  await tick();
  assert.deepEqual(failures, ['MediaError, MediaMSEError: unsupported codec']);
  assert.equal(made[0].destroyed, true);
  player.push(bytes(1));
  assert.equal(made[0].chunks.length, 1, 'bytes went on after the failure');
});

test('the <video> refusing (e.g. a policy without media-src blob:) fails the player with its reason', async () => {
  const { player, made, failures, video } = setup();
  player.push(bytes(...HEADER_V));
  assert.equal(typeof video.listeners.error, 'function');
  video.error = { code: 4, message: 'Media load rejected by URL safety check' };
  video.listeners.error();
  await tick();
  assert.deepEqual(failures, ['the <video> failed (4: Media load rejected by URL safety check)']);
  assert.equal(made[0].destroyed, true);
  assert.equal(video.listeners.error, undefined, 'the player still listens to the <video>');
});

test('destroy lets go of the player; later bytes are dropped', () => {
  const { player, made } = setup();
  player.push(bytes(...HEADER_V));
  made[0].open();
  player.destroy();
  assert.equal(made[0].destroyed, true);
  player.push(bytes(1, 2, 3));
  assert.equal(made[0].chunks.length, 1);
  player.destroy();
});

test('stats: decoded frames, whether they grew, the rate over the last second, size and buffer', () => {
  const { player, video } = setup();
  let frames = 0;
  Object.assign(video, {
    getVideoPlaybackQuality: () => ({ totalVideoFrames: frames }),
    videoWidth: 640, videoHeight: 360, currentTime: 4.75,
    buffered: { length: 1, end: () => 5 },
  });
  player.push(bytes(...HEADER_V));
  let s = player.stats(0);
  assert.equal(s.decoding, false);
  for (let t = 500; t <= 2000; t += 500) {
    frames += 12.5;
    s = player.stats(t);
  }
  assert.equal(s.decoding, true);
  assert.equal(s.frames, 50);
  assert.equal(s.fps, 25);
  assert.deepEqual([s.width, s.height, s.behindMs], [640, 360, 250]);
  assert.equal(player.stats(2500).decoding, false);
});
