'use strict';

/*
 * camstream page, 9 of 9: the dashboard (add form, layout storage, share links, named
 * streams, whether the server answers, hidden tab), and the start of it all.
 */

/* ---------- the dashboard ---------- */

class Dashboard {
  constructor() {
    this.tiles = [];
    this.grid = document.getElementById('grid');
    this.serverInput = document.getElementById('server');
    this.remember = document.getElementById('remember');
    this.hiddenTimer = 0;
    this.server = '';
    this.serverChecks = 0;   // checks started; only the newest one's answer counts
    this.serverTimer = 0;    // the next check while the server does not answer
    this.serverDown = false;
    this.cluster = null;     // {self, size} when GET /api/streams says the server is one of a cluster
    this.onvif = new OnvifPanel(this); // the "Find cameras" panel (onvif.js)
  }

  start() {
    const stored = this.load();
    const shared = this.readShareLink();
    this.remember.checked = Boolean(stored && stored.rememberCredentials);
    this.server = (shared && shared.server) || (stored && stored.server) || defaultServer();
    this.serverInput.value = this.server;
    const layout = shared || stored;
    for (const spec of (layout && Array.isArray(layout.tiles) ? layout.tiles : [])) {
      if (spec && (typeof spec.url === 'string' || typeof spec.name === 'string')) this.add(spec, spec.options || {}, false);
    }
    if (shared) {
      history.replaceState(null, '', location.pathname + location.search);
      this.save();
      this.note(`Opened a shared layout of ${this.tiles.length} camera${this.tiles.length === 1 ? '' : 's'}.`);
    }
    this.renderSummary();
    this.wire();
    this.loadNamedStreams();
    this.checkServer();
    setInterval(() => {
      const now = performance.now();
      for (const tile of this.tiles) tile.tick(now);
    }, TUNING.statsMs);
  }

  wire() {
    const addOptions = document.getElementById('add-options');
    addOptions.append(...optionFields());
    document.getElementById('add-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = document.getElementById('url');
      const url = input.value.trim();
      if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
        this.note('Enter a camera URL such as rtsp://192.168.1.10:554/stream1, rtmp://… or demo:');
        input.focus();
        return;
      }
      this.add({ url }, readOptionFields(addOptions));
      input.value = '';
      this.note('');
    });
    document.getElementById('add-demo').addEventListener('click', () => {
      this.add({ url: 'demo:' }, readOptionFields(addOptions));
    });
    document.getElementById('add-named').addEventListener('click', () => {
      const name = document.getElementById('named').value;
      if (name) this.add({ name }, readOptionFields(addOptions));
    });
    this.serverInput.addEventListener('change', () => {
      this.server = wsBase(this.serverInput.value);
      this.serverInput.value = this.server;
      this.save();
      for (const tile of this.tiles) tile.restart();
      this.loadNamedStreams();
      this.checkServer();
    });
    this.remember.addEventListener('change', () => this.save());
    document.getElementById('share').addEventListener('click', () => this.share());
    this.onvif.wire();
    document.addEventListener('visibilitychange', () => this.onVisibility());
    window.addEventListener('pagehide', () => { for (const tile of this.tiles) tile.disconnect(); });
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) for (const tile of this.tiles) tile.restart();
    });
    document.addEventListener('fullscreenchange', () => {
      for (const tile of this.tiles) {
        tile.el.querySelector('[data-action="fullscreen"]')
          .setAttribute('aria-pressed', String(document.fullscreenElement === tile.el));
      }
    });
  }

  add(spec, options, save = true) {
    const tile = new Tile(this, spec, options);
    this.tiles.push(tile);
    this.grid.append(tile.el);
    tile.connect();
    if (save) this.save();
    this.renderSummary();
    return tile;
  }

  remove(tile) {
    const index = this.tiles.indexOf(tile);
    if (index < 0) return;
    const next = this.tiles[index + 1] || this.tiles[index - 1];
    this.tiles.splice(index, 1);
    tile.destroy();
    this.save();
    this.renderSummary();
    // keep the keyboard somewhere sensible
    (next ? next.el.querySelector('[data-action="close"]') : document.getElementById('url')).focus();
  }

  renderSummary() {
    document.getElementById('empty').hidden = this.tiles.length > 0;
    const live = this.tiles.filter((t) => t.state === 'live').length;
    const text = this.tiles.length ? `${live} of ${this.tiles.length} live` : '';
    const summary = document.getElementById('summary');
    if (summary.textContent !== text) summary.textContent = text;
  }

  note(text) {
    document.getElementById('add-note').textContent = text;
  }

  /* ----- layout storage and sharing ----- */

  load() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
    } catch (err) {
      return null;
    }
  }

  /** Saves the layout; camera passwords only when the person ticked "Remember". */
  save() {
    const layout = {
      server: this.server === defaultServer() ? undefined : this.server,
      rememberCredentials: this.remember.checked,
      tiles: this.tiles.map((t) => t.spec(this.remember.checked)),
    };
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(layout));
    } catch (err) {
      this.note('This browser does not let the page save its layout.');
    }
  }

  /** This page's address with #layout=... of the tiles and server: never with secrets. */
  shareLink() {
    const layout = { tiles: this.tiles.map((t) => t.spec(false)) };
    if (this.server !== defaultServer()) layout.server = this.server;
    return location.href.replace(/#.*$/, '') + layoutHash(layout);
  }

  readShareLink() {
    return readLayoutHash(location.hash);
  }

  async share() {
    const link = this.shareLink();
    const field = document.getElementById('share-link');
    document.getElementById('share-row').hidden = false;
    field.value = link;
    const ok = await copyText(link, field);
    document.getElementById('share-note').textContent = ok
      ? 'Copied. The link leaves passwords out; whoever opens it is asked for them.'
      : 'Select the link and copy it.';
  }

  /* ----- named streams ----- */

  /**
   * Fills the picker from GET /api/streams; hides it when the server has none or no API. Its
   * "cluster" tells the embed panels that names come from the config file there.
   */
  async loadNamedStreams() {
    const select = document.getElementById('named');
    let streams = [];
    let cluster = null;
    try {
      const response = await fetch(httpBase(this.server) + '/api/streams',
        { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
      if (response.ok) {
        const body = await response.json();
        streams = Array.isArray(body.streams) ? body.streams : [];
        cluster = body.cluster && typeof body.cluster === 'object' ? body.cluster : null;
      }
    } catch (err) {
      streams = []; // no such API, or the server is not reachable from here: URLs still work
    }
    if (Boolean(cluster) !== Boolean(this.cluster)) {
      this.cluster = cluster;
      for (const tile of this.tiles) tile.renderNamedOffer();
    }
    select.replaceChildren(...streams.map((s) => el('option', {
      value: s.name,
      textContent: `${s.name}${s.width ? ` (${s.width}×${s.height})` : ''}${s.enabled === false ? ' (disabled)' : ''}`,
    })));
    for (const id of ['named-field', 'named-or', 'add-named']) {
      document.getElementById(id).hidden = streams.length === 0;
    }
  }

  /* ----- is the server there? ----- */

  /**
   * Asks the server's /api/health whether it answers at all (no-cors: any answer will do).
   * When it does not, the page says so above the add form (the tiles still say what they
   * met) and asks again every TUNING.serverCheckMs while the tab is visible; once it
   * answers, the tiles waiting to reconnect try at once and the named streams are loaded.
   */
  async checkServer() {
    clearTimeout(this.serverTimer);
    this.serverTimer = 0;
    const check = ++this.serverChecks;
    const url = httpBase(this.server) + '/api/health';
    let failure = null;
    try {
      await fetch(url, { mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(5000) });
    } catch (err) {
      failure = err && err.name === 'TimeoutError' ? 'no answer in 5 s' : 'the connection failed';
    }
    if (check !== this.serverChecks) return; // the address changed meanwhile
    const wasDown = this.serverDown;
    this.serverDown = failure !== null;
    this.renderServerProblem(failure && { server: wsBase(this.server), url, failure });
    if (this.serverDown) {
      this.serverTimer = setTimeout(() => { if (!pageHidden()) this.checkServer(); }, TUNING.serverCheckMs);
    } else if (wasDown) {
      for (const tile of this.tiles) if (tile.state === 'reconnecting') tile.restart();
      this.loadNamedStreams();
    }
  }

  /** @problem {server, url, failure}, or null when the server answers. */
  renderServerProblem(problem) {
    const box = document.getElementById('server-problem');
    box.dataset.state = problem ? 'down' : 'ok';
    box.hidden = !problem;
    if (!problem) return;
    document.getElementById('server-tried').textContent = problem.server;
    document.getElementById('server-failure').textContent = `(GET ${problem.url}: ${problem.failure})`;
  }

  /* ----- hidden tab ----- */

  onVisibility() {
    clearTimeout(this.hiddenTimer);
    if (pageHidden()) {
      this.hiddenTimer = setTimeout(() => { for (const tile of this.tiles) tile.suspend(); }, TUNING.hiddenCloseMs);
    } else {
      for (const tile of this.tiles) tile.resume();
      this.loadNamedStreams();
      if (this.serverDown) this.checkServer();
    }
  }
}

const dashboard = new Dashboard();
dashboard.start();
