'use strict';

/*
 * camstream page, 7 of 9: one camera tile. The dashboard is a grid of them, each with its own
 * WebSocket: to /ws/stream in the JPEG mode (below), to /ws/flv in the FLV mode, where the
 * camera's own video comes as an FLV byte stream that a <video> plays (flvplayer.js): far fewer
 * bytes, and nothing decoded on the server. Where FLV cannot play (no MSE) and the browser
 * plays HLS itself, the HLS mode gives the <video> the stream's playlist (hlsplayer.js). In the
 * WebRTC mode the tile asks camstream for a WebRTC session (WHEP, webrtcplayer.js) and the
 * <video> plays the camera's own video at the lowest delay of all. The person picks the mode
 * per tile; the numbers under the tile say what each costs. All modes share one life:
 * states, errors, reconnecting.
 *
 * The server sends every picture as one binary message holding a JPEG whose first segment is
 * a comment "camstream t=<µs since the epoch> seq=<n>", and on failure one text message
 * {"error", "code"} before it closes. A tile decodes with createImageBitmap, draws, and closes
 * the bitmap at once; while one picture is being decoded only the newest arrival is kept. The
 * page keeps no per-frame objects alive, so it can stay open all day.
 *
 * Hidden tab: drawing stops at once (frames still arrive but are not decoded; the newest is
 * kept for snapshots), and after TUNING.hiddenCloseMs the sockets are closed too, so a
 * forgotten background tab does not keep cameras and the server encoding for nobody. Coming
 * back draws the newest picture at once, or reconnects.
 */

/*
 * States (data-state on the tile, text in its status line):
 *   connecting    socket opening, or open and waiting for the first picture
 *   live          pictures arriving
 *   stalled       open but no picture for a while (a named stream's camera may be down;
 *                 camstream reconnects it and the pictures resume on the same socket)
 *   reconnecting  closed by a drop or a source failure; a new attempt after a backoff
 *   error         refused (1008, an HTTP 4xx for HLS and WebRTC), or video that cannot be (unsupported_codec,
 *                 or this browser cannot play it): not retried until the person presses Retry
 *   ended         the stream ended (1000, the HLS playlist's end): Retry is offered, nothing
 *                 automatic
 *   credentials   the URL needs a user name and password that this browser does not have
 *   paused        the tab was hidden long enough to close the socket
 */
class Tile {
  static count = 0; // for unique element ids

  /**
   * @spec {url, secrets?, mode?} or {name, mode?}; @options {fps, width, quality, transport}
   * (strings). A URL with secrets stripped (from storage or a shared link) lists them in
   * spec.secrets and waits for the person to type them. spec.mode 'flv', 'hls' or 'webrtc'
   * is the mode that plays here of those (playableMode); anything else is JPEG.
   */
  constructor(dashboard, spec, options) {
    this.dashboard = dashboard;
    this.source = spec.name !== undefined ? { name: spec.name } : { url: spec.url };
    this.missing = spec.secrets && spec.secrets.length ? spec.secrets : null;
    this.options = { ...options };
    this.can = videoCapabilities();
    // the layout keeps the mode asked for: an FLV tile that plays as HLS on an iPhone is FLV again on a desktop
    this.wanted = ['flv', 'hls', 'webrtc'].includes(spec.mode) ? spec.mode : 'jpeg';
    this.mode = playableMode(this.wanted, this.can);
    this.flv = null;          // FLV mode: the FlvPlayer of the open socket
    this.hls = null;          // HLS mode: the HlsPlayer of this attempt
    this.whep = null;         // WebRTC mode: the WhepPlayer of this attempt
    this.ws = null;
    this.state = 'connecting';
    this.attempt = 0;         // failed attempts since the last picture
    this.retryTimer = 0;
    this.retryAt = 0;
    this.serverError = null;  // {error, code} of the text message before a close
    this.pending = null;      // newest picture not yet decoded: {blob, at}
    this.drawing = false;
    this.lastJpeg = null;     // newest picture received (for snapshots)
    this.lastFrameAt = 0;     // performance.now() of the newest picture
    this.openedAt = 0;
    this.arrivals = [];       // {t, bytes} of the last second
    this.frames = 0;
    this.drawn = 0;
    this.dropped = 0;
    this.age = null;
    this.width = 0;
    this.height = 0;
    this.sourceStatus = null; // named streams: the server's view, while pictures are missing
    this.statusPolledAt = 0;
    this.statusBusy = false;
    this.removed = false;
    this.saving = false;      // "Save as named stream" is waiting for camstream
    this.build();
  }

  get isNamed() { return this.source.name !== undefined; }

  /** A name or the camera's address without scheme and credentials. */
  get title() {
    return this.isNamed ? this.source.name : shortUrl(this.source.url);
  }

  get subtitle() {
    const parts = [this.isNamed ? 'named stream' : ''];
    const o = this.options;
    if (o.width) parts.push(`${o.width} px`);
    if (o.fps) parts.push(`${o.fps} fps`);
    if (o.quality) parts.push(`q${o.quality}`);
    if (o.transport) parts.push(o.transport);
    return parts.filter(Boolean).join(' · ');
  }

  /** What the layout stores: secrets only if @withSecrets; the mode asked for when it is not JPEG. */
  spec(withSecrets) {
    const options = { ...this.options };
    const mode = this.wanted !== 'jpeg' ? { mode: this.wanted } : {};
    if (this.isNamed) return { name: this.source.name, ...mode, options };
    if (this.missing) return { url: this.source.url, secrets: this.missing, ...mode, options };
    const secrets = secretsOf(this.source.url);
    if (withSecrets || !secrets.length) return { url: this.source.url, ...mode, options };
    return { url: stripSecrets(this.source.url), secrets, ...mode, options };
  }

  /* ----- DOM ----- */

  build() {
    const root = document.getElementById('tile-template').content.firstElementChild.cloneNode(true);
    this.el = root;
    this.canvas = root.querySelector('canvas');
    this.ctx = this.canvas.getContext('2d');
    this.video = root.querySelector('video');
    this.video.muted = true; // autoplay needs it, whatever the attribute was parsed as
    this.statusEl = root.querySelector('.status');
    this.messageEl = root.querySelector('.message');
    this.countdownEl = root.querySelector('.countdown');
    this.retryButton = root.querySelector('.retry');
    this.credentialsForm = root.querySelector('.credentials');
    this.embedPanel = root.querySelector('.embed-panel');
    this.settingsPanel = root.querySelector('.settings-panel');
    this.stats = {};
    for (const dd of root.querySelectorAll('[data-stat]')) this.stats[dd.dataset.stat] = dd;

    const id = 'tile-' + (++Tile.count);
    root.id = id;
    const title = root.querySelector('.tile-title');
    title.id = id + '-title';
    root.setAttribute('aria-labelledby', title.id);
    for (const label of root.querySelectorAll('label[data-for]')) {
      const area = root.querySelector(`[data-snippet="${label.dataset.for}"]`);
      area.id = `${id}-${label.dataset.for}`;
      label.htmlFor = area.id;
    }
    // the tile has one live region (its status line): the name field's description is the
    // save's outcome, read out when the field gets the focus back after a refusal
    const saveNote = root.querySelector('.embed-save-note');
    saveNote.id = `${id}-save-note`;
    root.querySelector('[data-role="stream-name"]').setAttribute('aria-describedby', saveNote.id);
    this.settingsPanel.querySelector('.options').append(...optionFields(this.options));
    if (!this.can.mse) {
      const flv = root.querySelector('[data-mode="flv"]');
      flv.disabled = true;
      flv.title = 'FLV cannot play in this browser: it has no Media Source Extensions (MediaSource)';
    }
    if (!this.can.webrtc) {
      const webrtc = root.querySelector('[data-mode="webrtc"]');
      webrtc.disabled = true;
      webrtc.title = 'WebRTC cannot play in this browser: it has no RTCPeerConnection';
    }
    root.querySelector('[data-mode="hls"]').hidden = !this.can.hls;
    this.ageTitle = this.stats.age.parentElement.title;
    this.kbpsTitle = this.stats.kbps.parentElement.title;
    this.renderTitle();
    this.renderMode();

    root.addEventListener('click', (event) => {
      const button = event.target.closest('[data-action], [data-copy]');
      if (!button || !root.contains(button)) return;
      if (button.dataset.copy) this.copySnippet(button);
      else this.act(button.dataset.action, button);
    });
    root.querySelector('[data-role="embed-secret"]').addEventListener('change', () => this.renderEmbed());
    root.querySelector('[data-role="stream-name"]').addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      this.saveNamed(root.querySelector('[data-action="save-named"]'));
    });
    this.credentialsForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitCredentials();
    });
    this.settingsPanel.addEventListener('submit', (event) => {
      event.preventDefault();
      this.options = readOptionFields(this.settingsPanel);
      this.renderTitle();
      this.dashboard.save();
      this.restart();
    });
  }

  renderTitle() {
    const title = this.el.querySelector('.tile-title');
    title.textContent = this.title;
    title.title = this.isNamed ? this.source.name : displayUrl(this.source.url);
    this.el.querySelector('.tile-sub').textContent = this.subtitle;
    this.canvas.setAttribute('aria-label', `Picture of ${this.title}`);
    this.video.setAttribute('aria-label', `Video of ${this.title}`);
    for (const button of this.el.querySelectorAll('.actions button')) {
      button.setAttribute('aria-label', `${button.title} (${this.title})`);
    }
  }

  act(action, button) {
    switch (action) {
      case 'snapshot': this.snapshot(); break;
      case 'fullscreen': this.toggleFullscreen(); break;
      case 'embed': this.togglePanel(this.embedPanel, button, () => this.renderEmbed()); break;
      case 'settings': this.togglePanel(this.settingsPanel, button); break;
      case 'close': this.dashboard.remove(this); break;
      case 'retry': this.attempt = 0; this.connect(); break;
      case 'mode': this.setMode(button.dataset.mode); break;
      case 'save-named': this.saveNamed(button); break;
      default: break;
    }
  }

  /** 'jpeg', 'flv', 'hls' or 'webrtc' where this browser plays it: says so, saves, connects anew. */
  setMode(mode) {
    if (mode === this.mode || playableMode(mode, this.can) !== mode) return;
    this.mode = mode;
    this.wanted = mode;
    // the numbers start over for the new mode; the last JPEG would not be this mode's picture
    Object.assign(this, { arrivals: [], frames: 0, drawn: 0, dropped: 0, age: null, lastJpeg: null });
    Object.assign(this, { width: 0, height: 0 });
    this.renderMode();
    this.dashboard.save();
    this.restart();
    this.tick(performance.now()); // show the zeros now, not at the next tick
  }

  renderMode() {
    const video = this.mode !== 'jpeg';
    this.el.dataset.mode = this.mode;
    for (const button of this.el.querySelectorAll('[data-action="mode"]')) {
      button.setAttribute('aria-pressed', String(button.dataset.mode === this.mode));
    }
    this.canvas.hidden = video;
    this.video.hidden = !video;
    this.stats.age.parentElement.title = {
      flv: 'How far the video plays behind the newest received: the player\'s buffer (FLV has no capture time to compare with)',
      hls: 'How old the picture is where this browser tells the playlist\'s clock (EXT-X-PROGRAM-DATE-TIME, Safari), '
        + 'else how far the video plays behind the newest received',
      webrtc: 'How long pictures wait in this browser\'s jitter buffer before they are shown '
        + '(WebRTC gives the page no capture time to compare with)',
    }[this.mode] || this.ageTitle;
    this.stats.kbps.parentElement.title = {
      hls: 'Not known in HLS: the browser fetches the video itself',
      webrtc: 'What this tile receives per second, from the browser\'s WebRTC statistics',
    }[this.mode] || this.kbpsTitle;
  }

  togglePanel(panel, button, onOpen) {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open && onOpen) onOpen();
  }

  /** @state and the text of the status line; @countdown shows "in N s" until retryAt. */
  setState(state, message) {
    this.state = state;
    this.el.dataset.state = state;
    this.el.querySelector('.badge').textContent = {
      connecting: 'connecting', live: 'live', stalled: 'no picture', reconnecting: 'reconnecting',
      error: 'error', ended: 'ended', credentials: 'login', paused: 'paused',
    }[state] || state;
    this.messageEl.textContent = message;
    this.countdownEl.textContent = '';
    this.retryButton.hidden = !['reconnecting', 'error', 'ended'].includes(state);
    this.retryButton.textContent = state === 'reconnecting' ? 'Retry now' : 'Retry';
    this.credentialsForm.hidden = state !== 'credentials';
    this.dashboard.renderSummary();
  }

  /* ----- the connection ----- */

  address() {
    if (this.mode === 'flv') return wsBase(this.dashboard.server) + '/ws/flv?' + flvQuery(this.source, this.options);
    return wsBase(this.dashboard.server) + '/ws/stream?' + streamQuery(this.source, this.options);
  }

  connect() {
    this.disconnect();
    if (this.removed) return;
    if (this.missing) {
      this.askCredentials('This camera needs its user name and password; they are not saved in this browser.');
      return;
    }
    if (this.mode === 'hls') {
      const http = httpBase(this.dashboard.server);
      this.hls = new HlsPlayer(this.video, hlsUrl(http, this.source, this.options), (kind, detail) => this.onHls(kind, detail));
      this.begin(http);
      this.hls.start();
      return;
    }
    if (this.mode === 'webrtc') {
      const http = httpBase(this.dashboard.server);
      this.whep = new WhepPlayer(this.video, whepUrl(http, this.source, this.options), (kind, detail) => this.onWhep(kind, detail));
      this.begin(http);
      this.whep.start();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this.address());
    } catch (err) {
      this.setState('error', `Bad server address "${this.dashboard.server}": ${err.message}`);
      return;
    }
    ws.binaryType = this.mode === 'flv' ? 'arraybuffer' : 'blob';
    this.ws = ws;
    if (this.mode === 'flv') this.flv = new FlvPlayer(this.video, (why) => this.onFlvFailure(why));
    this.begin(wsBase(this.dashboard.server));
    ws.onopen = () => {
      if (ws === this.ws) this.messageEl.textContent = 'Connected, waiting for the first picture…';
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      if (typeof event.data === 'string') this.onText(event.data);
      else if (this.flv) this.onBytes(event.data);
      else this.onFrame(event.data);
    };
    ws.onclose = (event) => { if (ws === this.ws) this.onClose(event); };
    ws.onerror = () => {}; // always followed by a close event, which has the code
  }

  /** The start of every attempt, to @server. */
  begin(server) {
    if (this.mode !== 'jpeg') this.drawn = 0; // what this attempt's <video> decoded
    this.serverError = null;
    this.openedAt = performance.now();
    this.lastFrameAt = 0;
    this.sourceStatus = null;
    this.setState('connecting', `Connecting to ${server}…`);
  }

  /** Closes the socket without reporting it; the caller sets the next state. */
  disconnect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    this.retryAt = 0;
    const ws = this.ws;
    this.ws = null;
    this.pending = null;
    this.stopVideo();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'viewer closed');
  }

  stopVideo() {
    if (this.flv) this.flv.destroy();
    if (this.hls) this.hls.destroy();
    if (this.whep) this.whep.destroy(); // hangs up: DELETE on the session
    this.flv = null;
    this.hls = null;
    this.whep = null;
  }

  restart() {
    this.attempt = 0;
    this.connect();
  }

  onText(text) {
    let message = null;
    try { message = JSON.parse(text); } catch (err) { /* shown as it came */ }
    this.serverError = {
      error: message && typeof message.error === 'string' ? message.error : text,
      code: message && typeof message.code === 'string' ? message.code : '',
    };
  }

  onClose(event) {
    this.ws = null;
    this.pending = null;
    this.stopVideo();
    const err = this.serverError;
    const said = err ? `${err.error}${err.code ? ` [${err.code}]` : ''}` : closeReason(event.code);
    const closed = `(close ${event.code})`;
    if (err && err.code === 'unauthorized' && !this.isNamed) {
      this.needCredentials(`${said} ${closed}`);
    } else if (event.code === 1008 || (this.mode === 'flv' && err && err.code === 'unsupported_codec')) {
      // FLV of a source that is not H.264/H.265 (demo:, MJPEG): JPEG shows it, retrying would not
      this.setState('error', `Error: ${said} ${closed}`);
    } else if (event.code === 1000) {
      this.setState('ended', `Ended: ${said} ${closed}`);
    } else {
      const why = this.frames === 0 && event.code === 1006 && !err
        ? `Cannot reach ${wsBase(this.dashboard.server)}` : `Lost: ${said}`;
      this.scheduleReconnect(`${why} ${closed}`);
    }
  }

  /** HLS mode: what the HlsPlayer reports (hlsplayer.js); as onClose for the other modes. */
  onHls(kind, detail) {
    if (kind === 'playlist') {
      this.messageEl.textContent = 'Playing the playlist, waiting for the first picture…';
      return;
    }
    this.hls = null;
    const next = hlsVerdict(kind, detail, { http: httpBase(this.dashboard.server), named: this.isNamed });
    if (next.state === 'credentials') this.needCredentials(next.message);
    else if (next.state === 'reconnecting') this.scheduleReconnect(next.message);
    else this.setState(next.state, next.message);
  }

  /** WebRTC mode: what the WhepPlayer reports (webrtcplayer.js); as onHls. */
  onWhep(kind, detail) {
    if (kind === 'answer' || kind === 'connected') {
      if (this.state === 'connecting') {
        this.messageEl.textContent = kind === 'answer' ? 'Answered, connecting the video…' : 'Connected, waiting for the first picture…';
      }
      return;
    }
    this.whep = null;
    const next = whepVerdict(kind, detail, { http: httpBase(this.dashboard.server), named: this.isNamed });
    if (next.state === 'credentials') this.needCredentials(next.message);
    else if (next.state === 'reconnecting') this.scheduleReconnect(next.message);
    else this.setState(next.state, next.message);
  }

  /** Exponential backoff with jitter: 1, 2, 4 ... s, capped, each scaled by 0.5-1. */
  scheduleReconnect(why) {
    const ceiling = Math.min(TUNING.backoffMaxMs, TUNING.backoffFirstMs * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.retryAt = performance.now() + delay;
    this.setState('reconnecting', `${why}. Reconnecting`);
    this.renderCountdown(performance.now());
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  renderCountdown(now) {
    if (this.state !== 'reconnecting' || !this.retryAt) return;
    const seconds = Math.max(0, Math.ceil((this.retryAt - now) / 1000));
    this.countdownEl.textContent = seconds > 0 ? ` in ${seconds} s…` : ' now…';
  }

  /** The tab was hidden for long: let go of the socket, come back on resume(). */
  suspend() {
    if (!this.ws && !this.hls && !this.whep && this.state !== 'reconnecting') return;
    this.disconnect();
    this.setState('paused', 'Paused while this tab is hidden');
  }

  resume() {
    if (this.state === 'paused') {
      this.restart();
    } else if (this.lastJpeg && this.ws) {
      this.queue(this.lastJpeg); // show the newest picture at once
    }
  }

  destroy() {
    this.removed = true;
    this.disconnect();
    this.lastJpeg = null;
    if (document.fullscreenElement === this.el) document.exitFullscreen().catch(() => {});
    this.el.remove();
  }

  /* ----- credentials ----- */

  /** The camera refused us: ask for credentials, and forget the ones we had. */
  needCredentials(why) {
    const url = this.source.url;
    const secrets = secretsOf(url);
    this.missing = secrets.length ? secrets : [{ kind: 'userinfo', name: '' }];
    this.source = { url: stripSecrets(url) };
    this.askCredentials(`The camera refused the credentials: ${why}`);
  }

  askCredentials(message) {
    const box = this.credentialsForm.querySelector('.credential-fields');
    box.replaceChildren();
    const input = (label, type, role) => el('label', { className: 'field' }, [label,
      el('input', { type, autocomplete: 'off', spellcheck: false, dataset: { role } })]);
    for (const secret of this.missing) {
      if (secret.kind === 'userinfo') {
        box.append(input('User name', 'text', 'user'), input('Password', 'password', 'password'));
      } else {
        box.append(input(secret.name, 'password', 'param'));
      }
    }
    this.setState('credentials', message);
  }

  submitCredentials() {
    const values = [];
    const inputs = [...this.credentialsForm.querySelectorAll('[data-role]')];
    for (const secret of this.missing) {
      if (secret.kind === 'userinfo') {
        values.push({ user: inputs.shift().value, password: inputs.shift().value });
      } else {
        values.push(inputs.shift().value);
      }
    }
    this.source = { url: fillSecrets(this.source.url, this.missing, values) };
    this.missing = null;
    this.dashboard.save();
    this.restart();
  }

  /* ----- pictures ----- */

  /** FLV mode: a piece of the byte stream; pieces of one 50 ms count as one arrival. */
  onBytes(buffer) {
    const now = performance.now();
    const last = this.arrivals[this.arrivals.length - 1];
    if (last && now - last.t < 50) last.bytes += buffer.byteLength;
    else this.arrivals.push({ t: now, bytes: buffer.byteLength });
    this.frames += 1;
    this.lastFrameAt = now;
    this.attempt = 0;
    this.flv.push(buffer);
  }

  /** The bytes came but this browser cannot play them: retrying would not help. */
  onFlvFailure(why) {
    this.disconnect();
    this.setState('error', `Error: this browser cannot play the FLV stream: ${why}`);
  }

  onFrame(blob) {
    const now = performance.now();
    this.frames += 1;
    this.arrivals.push({ t: now, bytes: blob.size });
    if (this.arrivals.length > 512) this.arrivals.shift();
    this.lastFrameAt = now;
    this.lastJpeg = blob;
    this.attempt = 0;
    if (this.state !== 'live') {
      this.sourceStatus = null;
      this.setState('live', 'Live');
    }
    if (pageHidden()) return; // not decoded; resume() draws the newest
    this.queue(blob);
  }

  queue(blob) {
    if (this.pending) this.dropped += 1;
    this.pending = blob;
    if (!this.drawing) this.drawLoop();
  }

  /** Decodes and draws the newest pending picture until none is left. One loop per tile. */
  async drawLoop() {
    this.drawing = true;
    try {
      while (this.pending && !this.removed && !pageHidden()) {
        const blob = this.pending;
        this.pending = null;
        const timing = readTiming(blob);
        let bitmap;
        try {
          bitmap = await createImageBitmap(blob);
        } catch (err) {
          this.dropped += 1; // not a picture this browser can decode; wait for the next
          continue;
        }
        try {
          // the tab may have been hidden while the picture was decoding: drop it
          if (this.removed || pageHidden()) break;
          if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
            this.canvas.width = bitmap.width;
            this.canvas.height = bitmap.height;
          }
          this.ctx.drawImage(bitmap, 0, 0);
          this.width = bitmap.width;
          this.height = bitmap.height;
          this.drawn += 1;
        } finally {
          bitmap.close();
        }
        const t = await timing;
        this.age = t ? Date.now() - t.t : null;
      }
    } finally {
      this.drawing = false;
    }
  }

  /* ----- stats, stalls and the named stream's status (every TUNING.statsMs) ----- */

  tick(now) {
    while (this.arrivals.length && now - this.arrivals[0].t > 1000) this.arrivals.shift();
    const bytes = this.arrivals.reduce((sum, a) => sum + a.bytes, 0);
    const player = this.flv && this.flv.player ? this.flv : (this.hls || this.whep);
    const video = player ? player.stats(now) : null;
    if (video) this.tickVideo(video, now);
    this.stats.fps.textContent = String(video ? Math.round(video.fps) : this.arrivals.length);
    let kbps = String(Math.round(bytes / 1024));
    if (this.mode === 'hls') kbps = '–';
    else if (this.mode === 'webrtc') kbps = video && video.bytesPerSecond !== null ? String(Math.round(video.bytesPerSecond / 1024)) : '0';
    this.stats.kbps.textContent = kbps;
    this.stats.resolution.textContent = this.width ? `${this.width}×${this.height}` : '–';
    const age = this.age === null || this.state !== 'live' ? null : formatAge(this.age);
    this.stats.age.textContent = age || '–';
    this.stats.age.title = this.age !== null && !age
      ? `The server's clock and this computer's differ (by about ${Math.round(this.age / 1000)} s)` : '';
    this.el.dataset.frames = String(this.frames);
    this.el.dataset.drawn = String(this.drawn);
    this.renderCountdown(now);
    if (this.hls || this.whep || (this.ws && this.ws.readyState === WebSocket.OPEN)) this.watch(now);
  }

  /**
   * FLV, HLS and WebRTC modes: live while the <video> decodes pictures; its numbers for the
   * stats. In HLS and WebRTC they are all the page sees of the stream: a picture decoded is a
   * picture received.
   */
  tickVideo(video, now) {
    const own = this.hls || this.whep; // the browser receives the video itself
    if (own && video.decoding) {
      this.frames = video.frames;
      this.attempt = 0;
    }
    // a hidden tab's <video> may stop decoding: no stall is counted until it is shown again
    if (own && (video.decoding || pageHidden())) this.lastFrameAt = now;
    if (video.decoding && (this.ws || own) && this.state !== 'live') {
      this.sourceStatus = null;
      this.setState('live', 'Live');
    }
    this.drawn = video.frames;
    this.width = video.width;
    this.height = video.height;
    this.age = video.behindMs;
  }

  /**
   * An open socket without pictures: say so, ask the server why (named streams), and start
   * over when it looks dead. A URL tile that is still connecting is left alone: camstream
   * itself answers within its --open-timeout.
   */
  watch(now) {
    const fps = Number(this.options.fps) || 0;
    const stallMs = Math.max(TUNING.stallMs, fps ? 3000 / fps : 0);
    const silent = now - (this.lastFrameAt || this.openedAt);
    if (silent < stallMs) return;
    if (this.isNamed && !this.statusBusy && now - this.statusPolledAt >= TUNING.statusPollMs) {
      this.pollStatus(now);
    }
    const status = this.sourceStatus;
    const sourceDown = Boolean(status && status.state !== 'playing');
    if (silent > TUNING.deadAfterMs && !sourceDown) {
      // The socket may be half-open (a laptop that slept, a NAT that forgot us): start over.
      this.disconnect();
      this.scheduleReconnect(`No picture for ${Math.round(silent / 1000)} s`);
      return;
    }
    if (this.state === 'connecting' && !sourceDown) return;
    let message = 'No picture';
    if (sourceDown) {
      message = status.error
        ? `Camera offline, camstream is reconnecting it: ${status.error}${status.error_code ? ` [${status.error_code}]` : ''}`
        : `Camera ${status.state}, waiting for pictures`;
    }
    // Only a new message is announced; the running seconds are not (aria-hidden countdown).
    if (this.state !== 'stalled' || this.messageEl.textContent !== message) this.setState('stalled', message);
    this.countdownEl.textContent = ` (none for ${Math.round(silent / 1000)} s)`;
  }

  async pollStatus(now) {
    this.statusBusy = true;
    this.statusPolledAt = now;
    try {
      const response = await fetch(`${httpBase(this.dashboard.server)}/api/streams/${encodeURIComponent(this.source.name)}`,
        { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
      const body = await response.json();
      if (this.lastFrameAt < now) this.sourceStatus = response.ok ? body : null;
    } catch (err) {
      this.sourceStatus = null; // the API is not there: the stall text stays generic
    } finally {
      this.statusBusy = false;
    }
  }

  /* ----- snapshot, fullscreen, embed ----- */

  /** Downloads the newest JPEG received; before any, asks the server for one. */
  snapshot() {
    const link = el('a', { download: snapshotName(this.title, new Date()) });
    let objectUrl = null;
    if (this.lastJpeg) {
      objectUrl = URL.createObjectURL(this.lastJpeg);
      link.href = objectUrl;
    } else {
      link.href = snapshotUrl(httpBase(this.dashboard.server), this.source, this.options);
      link.target = '_blank';
      link.rel = 'noopener';
    }
    document.body.append(link);
    link.click();
    link.remove();
    if (objectUrl) setTimeout(() => URL.revokeObjectURL(objectUrl), 1000);
  }

  toggleFullscreen() {
    if (document.fullscreenElement === this.el) {
      document.exitFullscreen().catch(() => {});
    } else if (this.el.requestFullscreen) {
      this.el.requestFullscreen().catch((err) => {
        this.dashboard.note(`Fullscreen is not available: ${err.message}`);
      });
    }
  }

  renderEmbed() {
    this.sayEmbed('');
    this.renderNamedOffer();
    const secrets = !this.isNamed && !this.missing ? secretsOf(this.source.url) : [];
    const secretBox = this.el.querySelector('.embed-secret');
    secretBox.hidden = secrets.length === 0;
    const include = secrets.length > 0 && this.el.querySelector('[data-role="embed-secret"]').checked;
    const source = this.isNamed ? this.source
      : { url: include ? this.source.url : placeholderUrl(this.source.url) };
    const snippets = embedSnippets({
      http: httpBase(this.dashboard.server), ws: wsBase(this.dashboard.server),
      source, options: this.options, title: this.title,
    });
    for (const kind of ['img', 'ws', 'snapshot', 'hls']) {
      this.embedPanel.querySelector(`[data-snippet="${kind}"]`).value = snippets[kind];
    }
    this.embedPanel.querySelector('.embed-note').textContent = secrets.length && !include
      ? 'USER, PASSWORD and SECRET stand for the camera\'s credentials (percent-encode them). '
        + 'Anyone who can read the page can read them.'
      : (include ? 'These snippets contain the camera\'s password.' : '');
  }

  /**
   * A camera URL's embed panel says why a named stream is better for another page, and offers
   * to save this camera as one; where camstream is one instance of a cluster (the dashboard
   * read it from GET /api/streams) it says where names come from there instead.
   */
  renderNamedOffer() {
    const offer = this.embedPanel.querySelector('.embed-named');
    offer.hidden = this.isNamed;
    if (this.isNamed) return;
    const input = offer.querySelector('[data-role="stream-name"]');
    if (!input.value) input.value = suggestStreamName(this.source.url);
    const cluster = Boolean(this.dashboard.cluster);
    offer.querySelector('.embed-save').hidden = cluster;
    offer.querySelector('.embed-how').hidden = cluster;
    const where = offer.querySelector('.embed-cluster');
    where.hidden = !cluster;
    where.textContent = cluster ? clusterConfigText('') : '';
  }

  /** The line under the offer (the name field's description): @kind '' (progress, done) or 'error'. */
  sayEmbed(text, kind = '') {
    const note = this.embedPanel.querySelector('.embed-save-note');
    note.textContent = text;
    note.dataset.kind = kind;
  }

  /**
   * "Save as named stream": POST /api/streams with this tile's camera URL (its credentials go
   * to camstream, which keeps them and never shows them back), then this tile, its snippets
   * and the stored layout use the name.
   */
  async saveNamed(button) {
    if (this.isNamed || this.saving) return;
    const input = this.embedPanel.querySelector('[data-role="stream-name"]');
    const name = input.value.trim();
    const problem = streamNameProblem(name);
    if (problem) {
      this.sayEmbed(problem, 'error');
      input.focus();
      return;
    }
    if (this.missing) {
      this.sayEmbed('This tile does not have the camera\'s user name and password yet: enter them in the tile, then save.', 'error');
      input.focus();
      return;
    }
    const url = this.source.url;
    const http = httpBase(this.dashboard.server);
    this.saving = true;
    button.disabled = true;
    this.sayEmbed('Saving…');
    let answer;
    try {
      const response = await fetch(`${http}/api/streams`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify(namedStreamBody(name, url, this.options)),
        signal: AbortSignal.timeout(10000),
      });
      let body = null;
      try { body = await response.json(); } catch (err) { body = null; }
      answer = { ok: response.ok, status: response.status, body };
    } catch (err) {
      answer = { error: err && err.name === 'TimeoutError' ? 'camstream did not answer in time' : `cannot reach camstream at ${http}` };
    } finally {
      this.saving = false;
      button.disabled = false;
    }
    if (this.removed || this.isNamed || this.source.url !== url) return;
    if (answer.error || !answer.ok) {
      this.sayEmbed(answer.error || streamSaveErrorText(answer.status, answer.body, name), 'error');
      input.focus();
      return;
    }
    this.source = { name };
    this.renderTitle();
    this.dashboard.save();
    this.restart();
    this.renderEmbed();
    this.dashboard.loadNamedStreams();
    this.sayEmbed(`Saved as "${name}": this tile and the snippets now use the name.`);
    // the button went with the offer: keep the keyboard in the panel
    this.embedPanel.querySelector('[data-copy="img"]').focus();
  }

  async copySnippet(button) {
    const area = this.embedPanel.querySelector(`[data-snippet="${button.dataset.copy}"]`);
    const ok = await copyText(area.value, area);
    button.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  }
}
