'use strict';

/*
 * camstream page, 5 of 9: a tile's HLS mode, for browsers that play HLS themselves (Safari on
 * iPhone, iPad and macOS; recent Chromium) and above all for those where the FLV mode cannot run
 * (no Media Source Extensions: iPhones before iOS 17.1). The tile's <video> is given the
 * stream's playlist, /live/{name}.m3u8 or /hls/index.m3u8?rtsp_url=..., and the browser fetches
 * the playlist, the init segment and the parts itself.
 *
 * hls.js is not vendored on purpose: a browser that has MSE, which hls.js needs, has the FLV
 * mode, which is lower latency (no segments, no playlist reloads).
 *
 * The first request for the playlist is a fetch() of the page's own: a refusal then comes back
 * as camstream's JSON error and shows as in the other modes (a <video> would only say "error
 * 4"). Once camstream answers with a playlist, the <video> gets the same URL; the HLS session
 * is the source's, so the second request costs no second session. A new session's first
 * playlist holds one segment; the page waits (blocking reloads, _HLS_msn) until it holds
 * HLS_START_SEGMENTS before the <video> gets it: RFC 8216bis 6.3.3 has a client start three
 * target durations from the end, and Chromium's own player (Chromium 156) fails with
 * DEMUXER_ERROR_COULD_NOT_PARSE on a live playlist of fewer. It costs a new session two more
 * segments (about 2 s at a GOP of 1 s) before the first picture, in every browser.
 *
 * Nothing here runs while the file loads, so the node unit tests (tests/web) load it bare.
 */

const HLS_TYPE = 'application/vnd.apple.mpegurl';
const HLS_START_SEGMENTS = 3; // complete segments a playlist holds before a <video> gets it
const HLS_START_WAITS = 5;    // blocking reloads asked for them at most (each held <= 3 target durations)

/** Whether @video (a <video>) plays HLS itself: canPlayType says 'maybe' or 'probably'. */
function nativeHlsAvailable(video) {
  return Boolean(video && video.canPlayType && video.canPlayType(HLS_TYPE) !== '');
}

/**
 * What this browser can play in a tile besides JPEG: {mse (FLV), hls (native HLS), webrtc
 * (RTCPeerConnection: the WebRTC mode, webrtcplayer.js)}.
 */
function videoCapabilities(scope = globalThis) {
  const probe = scope.document ? scope.document.createElement('video') : null;
  return { mse: mseAvailable(scope), hls: nativeHlsAvailable(probe), webrtc: Boolean(scope.RTCPeerConnection) };
}

/**
 * The mode that plays here for a tile asked for @wanted ('jpeg', 'flv', 'hls' or 'webrtc'),
 * given @can ({mse, hls, webrtc}): FLV, else HLS, for FLV; HLS, else FLV, for HLS; WebRTC,
 * else what FLV would be, for WebRTC; JPEG, which plays everywhere, when none can.
 */
function playableMode(wanted, can) {
  if (wanted === 'webrtc') return can.webrtc ? 'webrtc' : playableMode('flv', can);
  if (wanted === 'flv') return can.mse ? 'flv' : (can.hls ? 'hls' : 'jpeg');
  if (wanted === 'hls') return can.hls ? 'hls' : (can.mse ? 'flv' : 'jpeg');
  return 'jpeg';
}

/**
 * camstream's error in an HTTP answer of @status with the body @text: {status, error, code}.
 * camstream writes {"error": message, "code": code}; {"error": {"code", "message"}} is read as
 * well. A body that is not JSON is shown as it came (cut), or the status alone.
 */
function readHttpError(status, text) {
  let body = null;
  try { body = JSON.parse(text); } catch (err) { /* not JSON */ }
  let e = body && body.error;
  if (e && typeof e === 'object') e = { error: e.message, code: e.code };
  else e = { error: e, code: body && body.code };
  return {
    status,
    error: typeof e.error === 'string' ? e.error : (text.trim().slice(0, 200) || `HTTP ${status}`),
    code: typeof e.code === 'string' ? e.code : '',
  };
}

/**
 * Whether a playlist refused with @status and camstream's @code is worth asking for again: the
 * network failed (status 0), or camstream or the camera is busy or failing (408, 429, 5xx:
 * 502/504 camera errors, 503 server_busy). Any other refusal (400, 401, 403, 404) would come
 * again, and so would unsupported_codec whatever its status (a demo: or MJPEG camera: 502 or 415).
 */
function hlsRetries(status, code = '') {
  if (code === 'unsupported_codec') return false;
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * What a tile does when its HlsPlayer reports @kind ('refused', 'failed' or 'ended') with
 * @detail, for the server at @http and a named stream or not (@named): {state, message}, state
 * 'error' (not retried), 'reconnecting', 'ended' or 'credentials' (a camera URL's camera
 * refused the credentials). The messages read as the other modes' do.
 */
function hlsVerdict(kind, detail, { http, named }) {
  if (kind === 'ended') return { state: 'ended', message: 'Ended: the stream ended (the end of the playlist)' };
  if (kind === 'failed') {
    return detail.retry ? { state: 'reconnecting', message: `Lost: ${detail.why}` }
      : { state: 'error', message: `Error: this browser cannot play the HLS stream: ${detail.why}` };
  }
  if (!detail.status) return { state: 'reconnecting', message: `Cannot reach ${http} (${detail.error})` };
  const said = `${detail.error}${detail.code ? ` [${detail.code}]` : ''} (HTTP ${detail.status})`;
  if (detail.code === 'unauthorized' && !named) return { state: 'credentials', message: said };
  if (hlsRetries(detail.status, detail.code)) return { state: 'reconnecting', message: `Lost: ${said}` };
  return { state: 'error', message: `Error: ${said}` };
}

/**
 * The media sequence number to wait for (_HLS_msn) before a <video> gets the playlist @text:
 * null when it holds HLS_START_SEGMENTS complete segments or has ended, else the one that
 * makes them so.
 */
function hlsStartMsn(text) {
  if (/^#EXT-X-ENDLIST/m.test(text)) return null;
  const m = /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text);
  // a young playlist lists gaps (EXT-X-GAP) in front: they count in the media sequence, but
  // Chromium's own player fetches them like segments and then runs dry
  const gaps = (text.match(/^#EXT-X-GAP/gm) || []).length;
  const first = (m ? Number(m[1]) : 0) + gaps;
  const segments = (text.match(/^#EXTINF:/gm) || []).length - gaps;
  return segments >= HLS_START_SEGMENTS ? null : first + HLS_START_SEGMENTS - 1;
}

class HlsPlayer {
  /**
   * Plays the playlist at @url in @video (a muted <video>) once camstream answers for it.
   * @report(kind, detail) tells the tile, at most once for each kind and never after destroy():
   *   'playlist'  camstream answered with a playlist; the <video> has it now
   *   'refused'   {status, error, code}: camstream said no (status 0: the network failed)
   *   'failed'    {why, retry}: the <video> failed (retry: it was the network)
   *   'ended'     the playlist ended (EXT-X-ENDLIST: the camera is gone) and was played out
   * After 'refused', 'failed' or 'ended' the player has stopped. One player per attempt:
   * start() it once, destroy() it when the tile lets go.
   */
  constructor(video, url, report) {
    this.video = video;
    this.url = url;
    this.report = report;
    this.aborter = null;  // the first playlist's fetch, while it runs
    this.done = false;    // stopped: nothing more is reported
    this.playing = false; // the <video> has the playlist
    this.samples = [];    // for videoStats
    this.onVideoError = () => {
      const e = this.video.error;
      // MEDIA_ERR_ABORTED (1) and MEDIA_ERR_NETWORK (2) may pass; a decode error or a
      // stream this browser cannot play (3, 4) would come again
      this.finish('failed', {
        why: `the <video> failed${e ? ` (${e.code}${e.message ? `: ${e.message}` : ''})` : ''}`,
        retry: Boolean(e && e.code <= 2),
      });
    };
    this.onVideoEnded = () => this.finish('ended');
  }

  /** Asks for the playlist until it holds HLS_START_SEGMENTS segments, then plays it. */
  async start() {
    this.aborter = new AbortController();
    try {
      let response = await fetch(this.url, { cache: 'no-store', signal: this.aborter.signal });
      let text = await response.text();
      if (this.done) return;
      if (!response.ok) {
        this.finish('refused', readHttpError(response.status, text));
        return;
      }
      if (!text.startsWith('#EXTM3U')) {
        this.finish('refused', { status: response.status, error: 'the server did not send an HLS playlist', code: '' });
        return;
      }
      for (let waits = 0, msn = hlsStartMsn(text); msn !== null && waits < HLS_START_WAITS; waits++) {
        const url = `${this.url}${this.url.includes('?') ? '&' : '?'}_HLS_msn=${msn}`;
        response = await fetch(url, { cache: 'no-store', signal: this.aborter.signal });
        text = await response.text();
        if (this.done) return;
        if (!response.ok) break; // the <video> asks anew and meets what camstream says then
        msn = hlsStartMsn(text);
      }
      this.play();
    } catch (err) {
      if (!this.done) this.finish('refused', { status: 0, error: err && err.message ? err.message : String(err), code: '' });
    }
  }

  play() {
    this.aborter = null;
    this.playing = true;
    this.video.addEventListener('error', this.onVideoError);
    this.video.addEventListener('ended', this.onVideoEnded);
    this.video.src = this.url;
    const playing = this.video.play();
    if (playing && playing.catch) playing.catch(() => {}); // the muted autoplay starts it anyway
    this.report('playlist');
  }

  /**
   * videoStats() of the <video>; where the browser tells the date of the playlist's timeline
   * (Safari's getStartDate(), from EXT-X-PROGRAM-DATE-TIME: when camstream read the picture),
   * behindMs is the picture's age on this computer's clock and {clock} is true.
   */
  stats(now) {
    const s = videoStats(this.video, this.samples, now);
    const start = this.video.getStartDate ? this.video.getStartDate() : null;
    const t = start ? start.getTime() : NaN;
    if (Number.isFinite(t) && t > 0 && s.frames > 0) {
      s.behindMs = Date.now() - (t + this.video.currentTime * 1000);
      s.clock = true;
    }
    return s;
  }

  finish(kind, detail) {
    if (this.done) return;
    this.destroy();
    this.report(kind, detail);
  }

  /** Stops the fetch or the playing, and lets go of the <video>'s source. */
  destroy() {
    this.done = true;
    if (this.aborter) this.aborter.abort();
    this.aborter = null;
    if (!this.playing) return;
    this.playing = false;
    this.video.removeEventListener('error', this.onVideoError);
    this.video.removeEventListener('ended', this.onVideoEnded);
    this.video.removeAttribute('src');
    this.video.load(); // without it the element keeps the playlist and goes on fetching
  }
}
