'use strict';

/*
 * camstream page, 4 of 9: a tile's FLV mode. The tile opens /ws/flv itself, as it opens
 * /ws/stream, so a refusal (one JSON text message, then the close code) shows the same way in
 * both modes; it hands every binary message to an FlvPlayer. Message boundaries mean nothing:
 * the messages are one FLV byte stream, which mpegts.js (js/vendor/mpegts.js, loaded before
 * this file) turns into Media Source Extensions buffers for the tile's <video>.
 *
 * Nothing here runs while the file loads, and mpegts.js is first used when the first bytes
 * come, so the node unit tests (tests/web) load this file bare and give it a stand-in.
 */

/** Whether FLV can play here: mpegts.js needs Media Source Extensions (JPEG does not). */
function mseAvailable(scope = globalThis) {
  return Boolean(scope.MediaSource || scope.ManagedMediaSource);
}

/** The tracks an FLV header announces, {audio, video}, from @bytes (9 or more); null if not FLV. */
function readFlvHeader(bytes) {
  if (bytes.length < 9 || bytes[0] !== 0x46 || bytes[1] !== 0x4c || bytes[2] !== 0x56) return null;
  return { audio: (bytes[4] & 0x04) !== 0, video: (bytes[4] & 0x01) !== 0 };
}

/**
 * What a tile shows of @video at performance.now() @now, in both video modes (FLV here, HLS in
 * hlsplayer.js): {frames} decoded so far, whether that grew since the last call ({decoding}),
 * {fps} over the last second, the picture's {width, height}, and {behindMs}: how far the
 * playhead is behind the newest video received (null before any). Without
 * getVideoPlaybackQuality() it is decoding while the playhead moves. @samples is the caller's
 * array, kept between calls: {t, frames, time} of the last second.
 */
function videoStats(video, samples, now) {
  const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
  const frames = quality ? quality.totalVideoFrames : 0;
  const previous = samples.length ? samples[samples.length - 1] : { frames: 0, time: 0 };
  samples.push({ t: now, frames, time: video.currentTime });
  while (samples.length > 2 && now - samples[1].t >= 1000) samples.shift();
  const first = samples[0];
  const fps = now > first.t ? ((frames - first.frames) * 1000) / (now - first.t) : 0;
  const b = video.buffered;
  const behindMs = b && b.length ? Math.max(0, (b.end(b.length - 1) - video.currentTime) * 1000) : null;
  return {
    frames, decoding: quality ? frames > previous.frames : video.currentTime > previous.time, fps, width: video.videoWidth || 0, height: video.videoHeight || 0, behindMs,
  };
}

// How a tile's player runs: live, no stash (lowest latency), catching up when it falls behind,
// no worker (the page's policy has no worker-src), and at most ~30 s of video kept behind the
// playhead, so a tile can play all day.
const FLV_CONFIG = Object.freeze({
  enableWorker: false, enableStashBuffer: false, liveBufferLatencyChasing: true,
  autoCleanupSourceBuffer: true, autoCleanupMaxBackwardDuration: 30, autoCleanupMinBackwardDuration: 10,
});

class FlvPlayer {
  /**
   * Plays what push() is given in @video (a muted <video>). @onFailure(text) is called once
   * when the bytes are not FLV or this browser cannot play them; the caller closes the socket.
   * One player per connection: destroy() it with the socket.
   */
  constructor(video, onFailure) {
    this.video = video;
    this.onFailure = onFailure;
    this.player = null;   // mpegts.js's, made when the header says which tracks come
    this.head = null;     // the first bytes while they are fewer than a header
    this.loader = null;   // mpegts.js's loader (ours), once it is open: it takes the bytes
    this.opened = false;
    this.waiting = [];    // bytes that came before it opened (the MediaSource opens first)
    this.received = 0;    // bytes handed over: the loader's positions in the stream
    this.done = false;    // failed or destroyed: nothing more is taken
    this.samples = [];    // {t, frames} of the last second, for the frame rate
    // the <video> itself may refuse (a policy without media-src blob:, a decoder error)
    this.onVideoError = () => {
      const e = this.video.error;
      this.fail(`the <video> failed${e ? ` (${e.code}${e.message ? `: ${e.message}` : ''})` : ''}`);
    };
  }

  /** One binary message of /ws/flv (an ArrayBuffer). */
  push(buffer) {
    if (this.done) return;
    if (!this.player) {
      let bytes = new Uint8Array(buffer);
      if (this.head) {
        const joined = new Uint8Array(this.head.length + bytes.length);
        joined.set(this.head);
        joined.set(bytes, this.head.length);
        bytes = joined;
      }
      if (bytes.length < 9) {
        this.head = bytes;
        return;
      }
      this.head = null;
      const header = readFlvHeader(bytes);
      if (!header) {
        this.fail('the server did not send FLV');
        return;
      }
      this.start(header);
      buffer = bytes.buffer;
    }
    if (this.loader) this.deliver(buffer);
    else if (!this.opened) this.waiting.push(buffer);
    // else mpegts.js closed its loader (it is stopping): the bytes have nowhere to go
  }

  start(header) {
    const feed = this;
    // mpegts.js makes its loader from this class and opens it after the MediaSource opens;
    // the bytes come from the tile's socket, not from a connection of its own.
    class PushLoader extends mpegts.BaseLoader {
      constructor() { super('camstream-ws-flv'); }
      open() {
        this._status = mpegts.LoaderStatus.kBuffering;
        feed.attach(this);
      }
      abort() {
        this._status = mpegts.LoaderStatus.kComplete;
        if (feed.loader === this) feed.loader = null;
      }
    }
    mpegts.LoggingControl.applyConfig({ enableDebug: false, enableVerbose: false, enableInfo: false });
    this.player = mpegts.createPlayer(
      { type: 'flv', isLive: true, hasAudio: header.audio, hasVideo: header.video },
      { ...FLV_CONFIG, customLoader: PushLoader });
    this.player.on(mpegts.Events.ERROR, (type, detail, info) => {
      this.fail(`${type}, ${detail}${info && info.msg ? `: ${info.msg}` : ''}`);
    });
    this.player.attachMediaElement(this.video);
    this.video.addEventListener('error', this.onVideoError);
    this.player.load();
    const playing = this.player.play();
    if (playing && playing.catch) playing.catch(() => {}); // the muted autoplay starts it anyway
  }

  attach(loader) {
    this.loader = loader;
    this.opened = true;
    const waiting = this.waiting;
    this.waiting = [];
    for (const buffer of waiting) if (this.loader === loader) this.deliver(buffer);
  }

  deliver(buffer) {
    const start = this.received;
    this.received += buffer.byteLength;
    try {
      this.loader.onDataArrival(buffer, start, this.received);
    } catch (err) {
      this.fail(err && err.message ? err.message : String(err));
    }
  }

  /** What the tile shows: videoStats() of this player's <video>. */
  stats(now) {
    return videoStats(this.video, this.samples, now);
  }

  /** Once: stops, then tells the tile, after mpegts.js's own call that said it has returned. */
  fail(why) {
    if (this.done) return;
    this.done = true;
    queueMicrotask(() => {
      this.destroy();
      this.onFailure(why);
    });
  }

  /** Stops playing and lets go of the MediaSource; the <video> is left empty. */
  destroy() {
    this.done = true;
    this.waiting = [];
    this.loader = null;
    const player = this.player;
    this.player = null;
    if (!player) return;
    this.video.removeEventListener('error', this.onVideoError);
    try {
      player.destroy(); // unloads, and detaches from the <video>
    } catch (err) {
      this.video.removeAttribute('src'); // a player that failed half-way: at least let go
    }
  }
}
