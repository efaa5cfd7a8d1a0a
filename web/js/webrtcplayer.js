'use strict';

/*
 * camstream page, 6 of 9: a tile's WebRTC mode. The browser receives the camera's own H.264
 * over WebRTC, asked for per WHEP (the IETF's WebRTC-HTTP egress protocol): the page makes an
 * offer to receive video and audio, POSTs it to /whep?rtsp_url=... or
 * /api/streams/{name}/whep, and gets back the answer and the session's address (Location).
 * camstream is an ICE-lite agent whose candidates are in its answer: nothing is trickled, and
 * the browser's own candidates are not needed (camstream learns the browser's address from
 * the browser's connectivity checks), so the offer goes as soon as it is made. Closing the
 * tile, another mode, a retry or leaving the page DELETEs the session, so camstream stops
 * sending at once instead of after 30 s without consent.
 *
 * No library: RTCPeerConnection is the browser's own. The page's content security policy
 * needs nothing more: the POST and the DELETE are fetch()es (connect-src), the media come over
 * UDP, which no directive governs, and a MediaStream in srcObject is no URL (media-src).
 *
 * A refusal comes before any media, as camstream's JSON error with an HTTP status, and reads
 * as in the HLS mode (hlsVerdict). Nothing here runs while the file loads, so the node unit
 * tests (tests/web) load it bare.
 */

const WHEP_CLOSE_WAIT_MS = 2000; // the peer connection waits this long at most for the DELETE's answer

/**
 * What a tile does when its WhepPlayer reports @kind ('refused' or 'failed') with @detail, for
 * the server at @http and a named stream or not (@named): {state, message}, as hlsVerdict.
 * A refusal is read as the HLS mode's (the same statuses, codes and words); a connection
 * that failed after the answer is retried, a browser that cannot take the answer is not.
 */
function whepVerdict(kind, detail, { http, named }) {
  if (kind === 'failed') {
    return detail.retry ? { state: 'reconnecting', message: `Lost: ${detail.why}` }
      : { state: 'error', message: `Error: this browser cannot play the WebRTC stream: ${detail.why}` };
  }
  return hlsVerdict('refused', detail, { http, named });
}

/** The session's address: the answer's Location (@location) read against the URL POSTed to (@url); null if none or not a URL. */
function whepSession(location, url) {
  if (!location) return null;
  try {
    return new URL(location, url).href;
  } catch (err) {
    return null;
  }
}

/**
 * From two getStats() readings of the inbound video (@before, @after: {t ms, bytes,
 * delay s, emitted}, either null): {bytesPerSecond, jitterMs}, where jitterMs is how long the
 * pictures emitted between the two waited in the browser's jitter buffer (null if none were).
 */
function whepRates(before, after) {
  if (!before || !after || after.t <= before.t) return { bytesPerSecond: null, jitterMs: null };
  const emitted = after.emitted - before.emitted;
  return {
    bytesPerSecond: Math.max(0, ((after.bytes - before.bytes) * 1000) / (after.t - before.t)),
    jitterMs: emitted > 0 ? Math.max(0, ((after.delay - before.delay) * 1000) / emitted) : null,
  };
}

/** The inbound video's figures in a getStats() @report (an RTCStatsReport or any iterable of stats), or null. */
function whepInbound(report, t) {
  for (const s of report.values ? report.values() : report) {
    if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'video') {
      return { t, bytes: s.bytesReceived || 0, delay: s.jitterBufferDelay || 0, emitted: s.jitterBufferEmittedCount || 0 };
    }
  }
  return null;
}

class WhepPlayer {
  /**
   * Plays the WHEP endpoint @url in @video (a muted <video>). @report(kind, detail) tells the
   * tile, at most once for each kind and never after destroy():
   *   'answer'     camstream answered; the media are being connected
   *   'connected'  ICE and DTLS are up: pictures are coming
   *   'refused'    {status, error, code}: camstream said no (status 0: the network failed)
   *   'failed'     {why, retry}: the browser could not take the answer (retry false) or the
   *                connection failed after it (retry true)
   * After 'refused' or 'failed' the player has stopped and hung up. One player per attempt:
   * start() it once, destroy() it when the tile lets go. @scope holds RTCPeerConnection,
   * MediaStream and fetch (tests give stand-ins).
   */
  constructor(video, url, report, scope = globalThis) {
    this.video = video;
    this.url = url;
    this.report = report;
    this.scope = scope;
    this.pc = null;
    this.stream = null;     // what the <video> plays: the tracks the browser receives
    this.aborter = null;    // the POST, while it runs
    this.session = null;    // the session's URL, to DELETE
    this.done = false;      // stopped: nothing more is reported
    this.connected = false;
    this.samples = [];      // for videoStats
    this.readings = [];     // the last two getStats() readings of the inbound video
    this.statsBusy = false;
  }

  /** Makes the offer, POSTs it, takes the answer. */
  async start() {
    const scope = this.scope;
    let pc;
    try {
      pc = new scope.RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    } catch (err) {
      this.finish('failed', { why: `no peer connection (${messageOf(err)})`, retry: false });
      return;
    }
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (event) => this.onTrack(event);
    pc.onconnectionstatechange = () => this.onConnectionState();
    let offer;
    try {
      offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
    } catch (err) {
      if (!this.done) this.finish('failed', { why: `no offer (${messageOf(err)})`, retry: false });
      return;
    }
    if (this.done) return;
    let response;
    let text;
    this.aborter = new AbortController();
    try {
      response = await scope.fetch(this.url, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer.sdp,
        cache: 'no-store', signal: this.aborter.signal,
      });
      // the session is camstream's from here on: hang it up whatever comes next
      if (response.status === 201) this.session = whepSession(response.headers.get('Location'), this.url);
      text = await response.text();
    } catch (err) {
      if (!this.done) this.finish('refused', { status: 0, error: messageOf(err), code: '' });
      else this.hangUp();
      return;
    }
    this.aborter = null;
    if (this.done) {
      this.hangUp();
      return;
    }
    if (!response.ok) {
      this.finish('refused', readHttpError(response.status, text));
      return;
    }
    if (!/^v=0\r?\n/.test(text)) {
      this.finish('refused', { status: response.status, error: 'the server did not send an SDP answer', code: '' });
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: text });
    } catch (err) {
      if (!this.done) this.finish('failed', { why: `the answer was refused (${messageOf(err)})`, retry: false });
      return;
    }
    if (this.done) return;
    this.watchTransport(pc);
    this.report('answer');
  }

  /**
   * camstream says when it ends a session (its stream ended or was removed, another client
   * DELETEd it, it shuts down): DTLS's close_notify closes the transport. The connection
   * itself would only turn 'disconnected', and 'failed' 30 s later, so the transport is
   * watched: closed, the attempt is over and retried, with no DELETE (nothing is left).
   */
  watchTransport(pc) {
    const receiver = pc.getReceivers ? pc.getReceivers()[0] : null;
    const transport = receiver ? receiver.transport : null;
    if (!transport) return;
    transport.onstatechange = () => {
      if (this.done || this.pc !== pc || transport.state !== 'closed') return;
      this.session = null;
      this.finish('failed', { why: 'the server ended the session', retry: true });
    };
  }

  onTrack(event) {
    if (this.done) return;
    if (!this.stream) {
      this.stream = new this.scope.MediaStream();
      this.video.srcObject = this.stream;
      const playing = this.video.play();
      if (playing && playing.catch) playing.catch(() => {}); // the muted autoplay starts it anyway
    }
    this.stream.addTrack(event.track);
  }

  /** 'failed' (ICE or DTLS gave up; consent lost) ends the attempt; 'disconnected' may pass. */
  onConnectionState() {
    if (this.done) return;
    const state = this.pc.connectionState;
    if (state === 'connected' && !this.connected) {
      this.connected = true;
      this.report('connected');
    } else if (state === 'failed' || state === 'closed') {
      this.finish('failed', {
        why: this.connected ? 'the WebRTC connection was lost' : 'no WebRTC connection (UDP to the server\'s WebRTC port blocked?)',
        retry: true,
      });
    }
  }

  /**
   * videoStats() of the <video>, and from the browser's WebRTC statistics (read in the
   * background, one call behind) the bytes received per second and, as behindMs, how long
   * pictures wait in the jitter buffer: the part of the delay this side adds.
   */
  stats(now) {
    const s = videoStats(this.video, this.samples, now);
    const rates = whepRates(this.readings[0] || null, this.readings[1] || null);
    s.bytesPerSecond = rates.bytesPerSecond;
    s.behindMs = rates.jitterMs;
    if (this.pc && !this.statsBusy && !this.done) {
      this.statsBusy = true;
      this.pc.getStats().then((report) => {
        const reading = whepInbound(report, now);
        if (reading) {
          this.readings.push(reading);
          if (this.readings.length > 2) this.readings.shift();
        }
      }).catch(() => {}).finally(() => { this.statsBusy = false; });
    }
    return s;
  }

  finish(kind, detail) {
    if (this.done) return;
    this.destroy();
    this.report(kind, detail);
  }

  /**
   * DELETE on the session, once; sent even as the page goes away (keepalive). A promise that
   * settles when camstream answered (or the request failed), or null when there is no session.
   */
  hangUp() {
    const session = this.session;
    this.session = null;
    if (!session) return null;
    try {
      return this.scope.fetch(session, { method: 'DELETE', keepalive: true, cache: 'no-store' }).catch(() => {});
    } catch (err) {
      return null; // camstream ends the session itself once the browser's checks stop
    }
  }

  /**
   * Stops the POST or the media, hangs up, and lets go of the <video>'s stream. The peer
   * connection is closed once camstream answered the DELETE (at most WHEP_CLOSE_WAIT_MS later):
   * closed first, its DTLS close_notify would end the session before the DELETE came.
   */
  destroy() {
    if (this.done) return;
    this.done = true;
    if (this.aborter) this.aborter.abort();
    this.aborter = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      const receiver = pc.getReceivers ? pc.getReceivers()[0] : null;
      if (receiver && receiver.transport) receiver.transport.onstatechange = null;
    }
    const hungUp = this.hangUp();
    if (pc && hungUp && this.scope.setTimeout) {
      let closed = false;
      const close = () => { if (!closed) pc.close(); closed = true; };
      const timer = this.scope.setTimeout(close, WHEP_CLOSE_WAIT_MS);
      hungUp.then(() => { this.scope.clearTimeout(timer); close(); });
    } else if (pc) {
      pc.close();
    }
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      if (this.video.srcObject === this.stream) this.video.srcObject = null;
      this.stream = null;
    }
  }
}

function messageOf(err) {
  return err && err.message ? err.message : String(err);
}
