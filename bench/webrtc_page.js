// The WebRTC benchmark's page script (bench/webrtc_page.html; driven by bench/webrtc_page.mjs).
//
// Query: kind=webrtc|jpeg|flv, cam=the camera's RTSP URL. The page plays the camera through
// the camstream that serves it (same origin):
//   webrtc  POST /whep?rtsp_url=cam (a recvonly video offer), the answer, the <video> plays the
//           track; no library
//   flv     mpegts.js on ws://HOST/ws/flv?rtsp_url=cam with the dashboard's settings (no
//           worker, no stash, latency chasing)
//   jpeg    ws://HOST/ws/stream?rtsp_url=cam: each picture decoded (createImageBitmap) and
//           drawn into a canvas, the newest kept while one decodes, as the dashboard does
// A picture is shown when the <video> presents it (requestVideoFrameCallback) or, for JPEG,
// at the animation frame after it was drawn (when a canvas change reaches the screen). Then
// the top rows are read for the test camera's barcode (bench/hls_barcode.js): a sample is
//   [wall clock in us (Date.now() * 1000), the picture's stamp in us or 0]
// and its latency is the difference. window.bench holds everything the driver reads.

(function () {
  'use strict';
  const q = new URLSearchParams(location.search);
  const kind = q.get('kind');
  const cam = q.get('cam');
  const video = document.getElementById('v');
  const shown = document.getElementById('c');
  const B = {
    kind,
    navStartMs: performance.timeOrigin,
    answerMs: null,        // webrtc: the answer came; others: the socket opened
    firstFrameMs: null,
    firstStampMs: null,
    samples: [],
    misreads: 0,
    frames: 0,
    dropped: 0,            // jpeg: pictures replaced by a newer one before they were decoded
    errors: [],
  };
  window.bench = B;
  const fail = (text) => { if (B.errors.length < 50) B.errors.push(`${Date.now()} ${text}`); };

  const reader = document.createElement('canvas');
  let rctx = null;

  /** Reads the barcode in the top rows of @source (@w x @h), stamped at wall clock @t ms. */
  function sample(source, w, h, t) {
    if (B.firstFrameMs === null) B.firstFrameMs = t;
    B.frames++;
    const rows = Math.min(h, hlsBarcode.stripHeight(w));
    if (!rctx || reader.width !== w || reader.height !== rows) {
      reader.width = w;
      reader.height = rows;
      rctx = reader.getContext('2d', { willReadFrequently: true });
    }
    rctx.drawImage(source, 0, 0, w, rows, 0, 0, w, rows);
    const stamp = hlsBarcode.readStamp(rctx.getImageData(0, 0, w, rows).data, w, rows);
    if (stamp === null) B.misreads++;
    else if (B.firstStampMs === null) B.firstStampMs = t;
    B.samples.push([t * 1000, stamp || 0]);
  }

  function onVideoFrame() {
    const t = Date.now();
    if (video.videoWidth > 0) sample(video, video.videoWidth, video.videoHeight, t);
    video.requestVideoFrameCallback(onVideoFrame);
  }

  const ws = (path) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}?rtsp_url=${encodeURIComponent(cam)}`;

  async function playWebrtc() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    window.pc = pc;
    const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
    // ?hint=0: Chromium's jitter buffer asked to play pictures as soon as they are decoded
    if (q.get('hint') === '0') {
      const r = transceiver.receiver;
      if ('jitterBufferTarget' in r) r.jitterBufferTarget = 0;
      if ('playoutDelayHint' in r) r.playoutDelayHint = 0;
      B.hint = { jitterBufferTarget: 'jitterBufferTarget' in r, playoutDelayHint: 'playoutDelayHint' in r };
    }
    pc.ontrack = (e) => {
      video.srcObject = new MediaStream([e.track]);
      video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (['failed', 'closed'].includes(pc.connectionState)) fail(`connection ${pc.connectionState}`);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const response = await fetch(`/whep?rtsp_url=${encodeURIComponent(cam)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer.sdp,
    });
    const text = await response.text();
    if (response.status !== 201) {
      fail(`POST /whep: ${response.status} ${text.slice(0, 300)}`);
      return;
    }
    B.session = response.headers.get('Location');
    B.answerMs = Date.now();
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
  }

  /** webrtc: what getStats says of the inbound video. */
  B.rtcStats = async function () {
    if (!window.pc) return null;
    const report = await window.pc.getStats();
    for (const s of report.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        return {
          framesDecoded: s.framesDecoded, framesDropped: s.framesDropped, framesReceived: s.framesReceived,
          frameWidth: s.frameWidth, frameHeight: s.frameHeight, packetsLost: s.packetsLost,
          packetsReceived: s.packetsReceived, nackCount: s.nackCount, pliCount: s.pliCount,
          jitterBufferMs: s.jitterBufferEmittedCount ? (1000 * s.jitterBufferDelay) / s.jitterBufferEmittedCount : null,
          decodeMsPerFrame: s.framesDecoded ? (1000 * s.totalDecodeTime) / s.framesDecoded : null,
          decoder: s.decoderImplementation || null,
        };
      }
    }
    return null;
  };

  function playFlv() {
    if (!window.mpegts || !mpegts.getFeatureList().mseLivePlayback) {
      fail('mpegts.js cannot play here');
      return;
    }
    const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: ws('/ws/flv') }, {
      enableWorker: false, enableStashBuffer: false, liveBufferLatencyChasing: true,
      autoCleanupSourceBuffer: true,
    });
    window.player = player;
    player.on(mpegts.Events.ERROR, (type, detail) => fail(`mpegts.js: ${type} ${detail}`));
    player.attachMediaElement(video);
    player.load();
    B.answerMs = Date.now();
    const playing = player.play();
    if (playing && playing.catch) playing.catch(() => {});
  }

  function playJpeg() {
    const socket = new WebSocket(ws('/ws/stream'));
    socket.binaryType = 'blob';
    const ctx = shown.getContext('2d');
    let pending = null;
    let busy = false;
    async function drawLoop() {
      busy = true;
      while (pending) {
        const blob = pending;
        pending = null;
        let bitmap;
        try {
          bitmap = await createImageBitmap(blob);
        } catch (err) {
          B.misreads++;
          continue;
        }
        if (shown.width !== bitmap.width || shown.height !== bitmap.height) {
          shown.width = bitmap.width;
          shown.height = bitmap.height;
        }
        ctx.drawImage(bitmap, 0, 0);
        bitmap.close();
        // on the screen with the next animation frame
        await new Promise((resolve) => requestAnimationFrame(() => {
          sample(shown, shown.width, shown.height, Date.now());
          resolve();
        }));
      }
      busy = false;
    }
    socket.onopen = () => { B.answerMs = Date.now(); };
    socket.onmessage = (e) => {
      if (typeof e.data === 'string') {
        fail(`server: ${e.data.slice(0, 300)}`);
        return;
      }
      if (pending) B.dropped++;
      pending = e.data;
      if (!busy) drawLoop();
    };
    socket.onclose = (e) => fail(`socket closed ${e.code}`);
  }

  video.requestVideoFrameCallback(onVideoFrame);
  if (kind === 'webrtc') playWebrtc().catch((e) => fail(`webrtc: ${e && e.message ? e.message : e}`));
  else if (kind === 'flv') playFlv();
  else if (kind === 'jpeg') playJpeg();
  else fail(`unknown kind ${kind}`);
})();
