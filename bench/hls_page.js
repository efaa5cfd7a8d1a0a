// The HLS benchmark's page script (bench/hls_page.html; driven by bench/hls_page.mjs).
//
// Query: src=URL of the media playlist, ll=1 for hls.js' lowLatencyMode (camstream's LL-HLS),
// ll=0 for hls.js' default configuration (ffmpeg's plain HLS); debug=1 for hls.js' log.
// On every requestVideoFrameCallback the <video>'s top rows are drawn into a canvas and the
// test camera's barcode read (bench/hls_barcode.js): a sample is
//   [wall clock now in us (Date.now() * 1000), the frame's stamp in us or 0, mediaTime s,
//    seconds buffered ahead of the playhead]
// and its latency is now - stamp. window.bench holds everything the driver reads.

(function () {
  'use strict';
  const q = new URLSearchParams(location.search);
  const src = q.get('src');
  const ll = q.get('ll') === '1';
  const video = document.getElementById('v');
  const B = {
    navStartMs: performance.timeOrigin,   // wall clock of the navigation's start
    loadSourceMs: null,                   // when hls.loadSource was called
    manifestMs: null,                     // first playlist parsed
    firstFragMs: null,                    // first media (part or segment) buffered
    firstFrameMs: null,                   // first frame presented (first video frame callback)
    firstStampMs: null,                   // first frame whose barcode was read
    samples: [],
    misreads: 0,
    frames: 0,
    errors: [],
    waiting: 0,                           // 'waiting' events after the first frame (stalls)
    waitingAt: [],                        // their wall clock times (ms), and when play resumed
    playingAt: [],
    partsLoaded: 0,
    fragsLoaded: 0,
    level: null,
    pdt: {},                              // sn -> [its PROGRAM-DATE-TIME ms, EXTINF s, seen at ms]
  };
  window.bench = B;

  const canvas = document.createElement('canvas');
  let ctx = null;

  function onFrame(now, meta) {
    const t = Date.now();
    if (B.firstFrameMs === null) B.firstFrameMs = t;
    B.frames++;
    const w = video.videoWidth;
    if (w > 0) {
      const h = Math.min(video.videoHeight, hlsBarcode.stripHeight(w));
      if (!ctx || canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
        ctx = canvas.getContext('2d', { willReadFrequently: true });
      }
      ctx.drawImage(video, 0, 0, w, h, 0, 0, w, h);
      const stamp = hlsBarcode.readStamp(ctx.getImageData(0, 0, w, h).data, w, h);
      if (stamp === null) B.misreads++;
      else if (B.firstStampMs === null) B.firstStampMs = t;
      const b = video.buffered;
      const ahead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
      B.samples.push([t * 1000, stamp || 0, meta.mediaTime, Math.round(ahead * 1000) / 1000]);
    }
    video.requestVideoFrameCallback(onFrame);
  }
  video.requestVideoFrameCallback(onFrame);
  video.addEventListener('waiting', () => {
    if (B.firstFrameMs === null) return;
    B.waiting++;
    if (B.waitingAt.length < 100) B.waitingAt.push(Date.now());
  });
  video.addEventListener('playing', () => {
    if (B.firstFrameMs !== null && B.playingAt.length < 100) B.playingAt.push(Date.now());
  });

  B.stats = function () {
    const out = {
      currentTime: video.currentTime,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      buffered_end: video.buffered.length ? video.buffered.end(video.buffered.length - 1) : null,
    };
    const pq = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    if (pq) {
      out.decoded = pq.totalVideoFrames;
      out.dropped = pq.droppedVideoFrames;
    }
    if (window.hls) {
      out.hls_latency = window.hls.latency;            // hls.js' own estimate (s)
      out.hls_target_latency = window.hls.targetLatency;
      out.hls_live_sync = window.hls.liveSyncPosition;
      out.playback_rate = video.playbackRate;
    }
    return out;
  };

  if (!window.Hls || !Hls.isSupported()) {
    B.errors.push('hls.js is not supported here');
    return;
  }
  // lowLatencyMode is hls.js' default too: with ll=0 the config is hls.js' default, which
  // plays a playlist without parts as plain HLS (3 target durations behind the live edge).
  const config = ll ? { lowLatencyMode: true } : {};
  if (q.get('debug') === '1') config.debug = true;   // hls.js' log on the console
  const hls = new Hls(config);
  window.hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, () => { if (B.manifestMs === null) B.manifestMs = Date.now(); });
  hls.on(Hls.Events.FRAG_BUFFERED, (ev, data) => {
    if (B.firstFragMs === null) B.firstFragMs = Date.now();
    if (data.part) B.partsLoaded++;
    else B.fragsLoaded++;
  });
  hls.on(Hls.Events.LEVEL_UPDATED, (ev, data) => {
    const d = data.details;
    B.level = { live: d.live, partTarget: d.partTarget || null, partHoldBack: d.partHoldBack || null,
      canBlockReload: d.canBlockReload || false, targetduration: d.targetduration };
  });
  hls.on(Hls.Events.LEVEL_LOADED, (ev, data) => {
    // complete segments only (the one in progress is not in fragments)
    for (const f of data.details.fragments) {
      if (f.rawProgramDateTime && B.pdt[f.sn] === undefined) {
        B.pdt[f.sn] = [Date.parse(f.rawProgramDateTime), f.duration, Date.now()];
      }
    }
  });
  hls.on(Hls.Events.ERROR, (ev, data) => {
    if (B.errors.length < 50) {
      B.errors.push(`${Math.round(Date.now())} ${data.fatal ? 'FATAL ' : ''}${data.type} ${data.details}` +
        (data.response && data.response.code ? ` ${data.response.code}` : ''));
    }
  });
  hls.attachMedia(video);
  B.loadSourceMs = Date.now();
  hls.loadSource(src);
  video.play().catch(() => {});
})();
