'use strict';

/*
 * camstream page, 8 of 9: the "Find cameras" panel (ONVIF), loaded after tile.js and before
 * dashboard.js. It asks camstream, never the camera: GET /api/onvif/discover lists the devices
 * that answer WS-Discovery, POST /api/onvif/probe reads one device's profiles and stream URIs,
 * and a profile becomes a tile (its RTSP URL with the credentials in the userinfo, as a tile of
 * a typed camera URL holds them) or a named stream (POST /api/streams, then a tile of ?name=).
 *
 * The credentials typed here stay in the password field and, after a probe, in this object's
 * memory (OnvifPanel.credentials): never in the page's text, its address or its storage. A tile
 * made from a profile keeps them as every tile does (tile.js; stored only with "Remember").
 *
 * The top half is pure (the node unit tests, tests/web/onvif.test.mjs, run it bare, after
 * util.js and secrets.js); OnvifPanel, below, touches the page only when built.
 */

const ONVIF_DISCOVER_S = 2;          // what "Search the network" asks camstream to wait
const ONVIF_PROBE_WAIT_MS = 35000;   // the page's own limit: camstream's probe ends within 30 s
const ONVIF_API_WAIT_MS = 10000;     // POST /api/streams

/* ---------- pure helpers ---------- */

/** "host:port" with an IPv6 address in brackets; the host alone when there is no port. */
function hostPort(host, port) {
  const h = String(host || '');
  const shown = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return port ? `${shown}:${port}` : shown;
}

/**
 * What a person reads for camstream's refusal of an ONVIF or streams call: @status is the HTTP
 * status, @body its JSON {error, code} (or null when it was not JSON).
 */
function onvifErrorText(status, body) {
  const code = body && typeof body.code === 'string' ? body.code : '';
  const message = body && typeof body.error === 'string' ? body.error : '';
  if (code === 'invalid_token') {
    return 'camstream asks for its access token (--token), which this page does not send';
  }
  if (status === 401 || code === 'unauthorized') return 'wrong user name or password';
  if (code === 'cluster_config') return clusterConfigText(''); // "Save as named stream" (embed.js)
  if (status === 504 || code === 'timeout') {
    return 'timeout: the camera did not answer in time';
  }
  // the message says which address and why (--allow-hosts); discovery switched off says so too
  if ((code === 'host_not_allowed' || code === 'not_found') && message) return message;
  if (message) return `${message}${code ? ` [${code}]` : ''} (HTTP ${status})`;
  if (status === 404) return 'this camstream has no ONVIF support (HTTP 404)';
  return `camstream answered HTTP ${status}`;
}

/** A profile's own failure ({code, error} in the probe's answer), as onvifErrorText. */
function profileErrorText(error) {
  if (!error || typeof error !== 'object') return 'this profile has no stream address';
  const status = { unauthorized: 401, host_not_allowed: 403, timeout: 504 }[error.code];
  if (status) return onvifErrorText(status, error);
  const code = typeof error.code === 'string' && error.code ? ` [${error.code}]` : '';
  return `${typeof error.error === 'string' ? error.error : 'failed'}${code}`;
}

/**
 * The rows of the device list from GET /api/onvif/discover's answer: [{name, hardware,
 * location, address, host, port, xaddr, label}], in the order camstream gave them; devices
 * without an address are left out.
 */
function deviceRows(answer) {
  const devices = answer && Array.isArray(answer.devices) ? answer.devices : [];
  const rows = [];
  for (const d of devices) {
    if (!d || typeof d !== 'object') continue;
    const xaddr = Array.isArray(d.xaddrs) && typeof d.xaddrs[0] === 'string' ? d.xaddrs[0] : '';
    const host = typeof d.host === 'string' ? d.host : '';
    if (!host && !xaddr) continue;
    const port = Number.isInteger(d.port) ? d.port : 80;
    const text = (v) => (typeof v === 'string' ? v : '');
    const row = {
      name: text(d.name) || 'ONVIF device',
      hardware: text(d.hardware),
      location: text(d.location),
      address: host ? hostPort(host, port) : xaddr,
      host, port, xaddr,
    };
    row.label = [row.name, row.hardware, row.location, row.address].filter(Boolean).join(' · ');
    rows.push(row);
  }
  return rows;
}

/** What the device list says under itself for @answer (how many, how many were refused). */
function discoverSummary(answer) {
  const n = deviceRows(answer).length;
  const refused = answer && Number.isInteger(answer.refused) ? answer.refused : 0;
  const found = n ? `Found ${n} camera${n === 1 ? '' : 's'}.` : 'No camera answered. Type its address below.';
  const left = refused ? ` ${refused} more answered from addresses camstream may not use (--allow-hosts).` : '';
  return found + left;
}

/** The device part of a probe's answer as [term, value] pairs for a <dl>. */
function deviceFacts(answer) {
  const d = (answer && answer.device) || {};
  const facts = [];
  const add = (term, value) => { if (value !== undefined && value !== null && value !== '') facts.push([term, String(value)]); };
  add('Camera', [d.manufacturer, d.model].filter(Boolean).join(' '));
  add('Firmware', d.firmware);
  add('Serial number', d.serial);
  add('Hardware', d.hardware);
  add('Device service', d.xaddr);
  add('Login', { 'ws-security': 'WS-Security', 'http-digest': 'HTTP Digest', none: 'none' }[answer && answer.auth]);
  add('Media service', { media2: 'Media2', media1: 'Media (version 1)' }[answer && answer.media]);
  const offset = answer && Number.isInteger(answer.clock_offset) ? answer.clock_offset : 0;
  if (Math.abs(offset) > 5) add('Camera clock', `${Math.abs(offset)} s ${offset > 0 ? 'ahead of' : 'behind'} camstream's`);
  return facts;
}

/**
 * The rows of the profile list from POST /api/onvif/probe's answer: [{name, summary, uri,
 * error, stream, addable}]. uri is as camstream shows it (credentials as ***); a profile with
 * an error shows it and cannot be added.
 */
function profileRows(answer) {
  const profiles = answer && Array.isArray(answer.profiles) ? answer.profiles : [];
  return profiles.filter((p) => p && typeof p === 'object').map((p, i) => {
    const size = Number.isInteger(p.width) && Number.isInteger(p.height) && p.width > 0 ? `${p.width}×${p.height}` : '';
    const fps = typeof p.fps === 'number' && p.fps > 0 ? `${p.fps} fps` : '';
    const uri = typeof p.uri === 'string' && p.uri ? p.uri : '';
    const stream = p.stream && typeof p.stream === 'object' && typeof p.stream.name === 'string' ? p.stream : null;
    const error = p.error || !uri ? profileErrorText(p.error) : null;
    return {
      index: i,
      name: typeof p.name === 'string' && p.name ? p.name : (p.token || `Profile ${i + 1}`),
      summary: [typeof p.encoding === 'string' ? p.encoding : '', size, fps].filter(Boolean).join(' · '),
      uri: uri ? displayUrl(uri) : '',
      rawUri: uri,
      error,
      stream: error ? null : stream,
      addable: !error,
    };
  });
}

/**
 * The body of POST /api/onvif/probe from the form's fields (strings): @host is a host name or
 * address, or a device service URL (sent as "xaddr", without port). Returns {body} or {error}.
 */
function probeBody({ host, port, username, password }) {
  const address = String(host || '').trim();
  if (!address) return { error: 'Enter the camera\'s address (or choose a camera found by the search).' };
  const body = {};
  if (/^https?:\/\//i.test(address)) {
    body.xaddr = address;
  } else {
    if (/[\s/?#@]/.test(address)) return { error: `"${address}" is not a host name or address.` };
    const text = String(port === undefined || port === null ? '' : port).trim();
    const number = text === '' ? 80 : Number(text);
    if (!Number.isInteger(number) || number < 1 || number > 65535) return { error: 'The port is a number from 1 to 65535.' };
    body.host = address.replace(/^\[(.*)\]$/, '$1');
    body.port = number;
  }
  if (username) body.username = String(username);
  if (password) body.password = String(password);
  return { body };
}

/**
 * The stream definition of a profile ready for POST /api/streams: a copy of @stream whose
 * "password" ("***" in camstream's answer) is @password, and left out when none was typed;
 * @name, when given, replaces the suggested name.
 */
function streamWithPassword(stream, password, name) {
  const copy = { ...stream };
  if (name) copy.name = name;
  if ('password' in copy) {
    if (password) copy.password = password;
    else delete copy.password;
  } else if (password && copy.username) {
    copy.password = password;
  }
  return copy;
}

/**
 * A tile's camera URL for a profile's @uri: the userinfo becomes @username:@password (or goes
 * when no user name was typed), and a secret parameter camstream showed as "***" gets the
 * password back (the user name for user/username).
 */
function profileTileUrl(uri, username, password) {
  const url = mapSecrets(uri, (s) => {
    if (s.kind === 'userinfo') return '';
    if (s.value !== '***') return s.value;
    return encodeURIComponent(/^(user|username)$/i.test(s.name) ? username || '' : password || '');
  });
  if (!username) return url;
  const userinfo = encodeURIComponent(username) + (password ? ':' + encodeURIComponent(password) : '');
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${userinfo}@`);
}

/** A tile's options for a profile: the RTSP transport camstream suggests, nothing else. */
function profileTileOptions(stream) {
  return stream && ['tcp', 'udp', 'auto'].includes(stream.transport) ? { transport: stream.transport } : {};
}

/* ---------- the panel ---------- */

/**
 * The panel in index.html (#onvif) and its button (#find-cameras). @dashboard gives the server
 * (dashboard.server), add(spec, options) and loadNamedStreams().
 */
class OnvifPanel {
  constructor(dashboard) {
    this.dashboard = dashboard;
    this.root = document.getElementById('onvif');
    this.opener = document.getElementById('find-cameras');
    this.searchButton = document.getElementById('onvif-search');
    this.searchNote = document.getElementById('onvif-search-note');
    this.deviceList = document.getElementById('onvif-devices');
    this.form = document.getElementById('onvif-probe');
    this.probeButton = document.getElementById('onvif-probe-btn');
    this.probeNote = document.getElementById('onvif-probe-note');
    this.result = document.getElementById('onvif-result');
    this.field = (name) => document.getElementById(`onvif-${name}`);
    this.credentials = null; // {username, password} of the probe shown: memory only
    this.searches = 0;       // only the newest search's and probe's answers count
    this.probes = 0;
  }

  wire() {
    this.opener.addEventListener('click', () => (this.root.hidden ? this.open() : this.close()));
    document.getElementById('onvif-close').addEventListener('click', () => this.close());
    this.root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.close();
      }
    });
    this.searchButton.addEventListener('click', () => this.search());
    // a device service URL names its port itself
    const host = this.field('host');
    host.addEventListener('input', () => { this.field('port').disabled = /^https?:\/\//i.test(host.value.trim()); });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.probe();
    });
  }

  open() {
    this.root.hidden = false;
    this.opener.setAttribute('aria-expanded', 'true');
    this.searchButton.focus();
  }

  /** Hides the panel and forgets the credentials of the last probe (the fields keep theirs). */
  close() {
    this.root.hidden = true;
    this.opener.setAttribute('aria-expanded', 'false');
    this.credentials = null;
    this.result.hidden = true;
    document.getElementById('onvif-profiles').replaceChildren();
    this.opener.focus();
  }

  /** @kind '' (progress, done) or 'error'. */
  say(note, text, kind = '') {
    note.textContent = text;
    note.dataset.kind = kind;
  }

  /** One call to camstream's API: {status, body} (body null when not JSON); throws when unreachable. */
  async call(method, path, body, waitMs) {
    const init = { method, headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(waitMs) };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(httpBase(this.dashboard.server) + path, init);
    let json = null;
    try { json = await response.json(); } catch (err) { json = null; }
    return { status: response.status, ok: response.ok, body: json };
  }

  unreachable(err) {
    return err && err.name === 'TimeoutError'
      ? 'camstream did not answer in time'
      : `cannot reach camstream at ${httpBase(this.dashboard.server)}`;
  }

  /* ----- discovery ----- */

  async search() {
    const search = ++this.searches;
    this.searchButton.disabled = true;
    this.say(this.searchNote, `Searching for ${ONVIF_DISCOVER_S} s…`);
    let answer;
    try {
      answer = await this.call('GET', `/api/onvif/discover?timeout=${ONVIF_DISCOVER_S}`, undefined,
        ONVIF_DISCOVER_S * 1000 + ONVIF_API_WAIT_MS);
    } catch (err) {
      answer = { error: this.unreachable(err) };
    }
    if (search !== this.searches) return;
    this.searchButton.disabled = false;
    if (answer.error || !answer.ok) {
      this.deviceList.replaceChildren();
      this.say(this.searchNote, answer.error || onvifErrorText(answer.status, answer.body), 'error');
      return;
    }
    const rows = deviceRows(answer.body);
    this.deviceList.replaceChildren(...rows.map((row) => this.deviceItem(row)));
    this.say(this.searchNote, discoverSummary(answer.body));
  }

  deviceItem(row) {
    const use = el('button', { type: 'button', className: 'secondary', textContent: 'Use' });
    use.setAttribute('aria-label', `Use ${row.name} at ${row.address}`);
    use.addEventListener('click', () => this.choose(row));
    return el('li', {}, [
      el('span', { className: 'onvif-device-text' }, [
        el('strong', { textContent: row.name }),
        ...[row.hardware, row.location, row.address].filter(Boolean).map((t) => el('span', { textContent: t })),
      ]),
      use,
    ]);
  }

  /** A device from the list: its device service URL (else host and port) into the form. */
  choose(row) {
    this.field('host').value = row.xaddr || row.host;
    this.field('port').value = String(row.port);
    this.field('port').disabled = Boolean(row.xaddr);
    this.say(this.probeNote, `${row.name}: enter its user name and password, then Probe.`);
    this.field('user').focus();
  }

  /* ----- probe ----- */

  async probe() {
    const username = this.field('user').value;
    const password = this.field('password').value;
    const made = probeBody({ host: this.field('host').value, port: this.field('port').value, username, password });
    if (made.error) {
      this.say(this.probeNote, made.error, 'error');
      this.field('host').focus();
      return;
    }
    const probe = ++this.probes;
    this.probeButton.disabled = true;
    this.credentials = null;
    this.result.hidden = true;
    this.say(this.probeNote, 'Asking the camera…');
    let answer;
    try {
      answer = await this.call('POST', '/api/onvif/probe', made.body, ONVIF_PROBE_WAIT_MS);
    } catch (err) {
      answer = { error: this.unreachable(err) };
    }
    if (probe !== this.probes) return;
    this.probeButton.disabled = false;
    if (answer.error || !answer.ok) {
      this.say(this.probeNote, answer.error || onvifErrorText(answer.status, answer.body), 'error');
      return;
    }
    this.credentials = { username, password };
    const rows = profileRows(answer.body);
    const dl = document.getElementById('onvif-device');
    dl.replaceChildren(...deviceFacts(answer.body).map(([term, value]) =>
      el('div', {}, [el('dt', { textContent: term }), el('dd', { textContent: value })])));
    document.getElementById('onvif-profiles').replaceChildren(...rows.map((row) => this.profileItem(row)));
    this.result.hidden = false;
    const usable = rows.filter((r) => r.addable).length;
    this.say(this.probeNote, `${rows.length} profile${rows.length === 1 ? '' : 's'}, ${usable} with a stream.`);
  }

  profileItem(row) {
    const item = el('li', { className: 'onvif-profile', dataset: { profile: String(row.index) } }, [
      el('div', { className: 'onvif-profile-text' }, [
        el('strong', { textContent: row.name }),
        el('span', { textContent: row.summary }),
        ...(row.uri ? [el('code', { textContent: row.uri })] : []),
      ]),
    ]);
    if (!row.addable) {
      item.append(el('p', { className: 'note', textContent: row.error, dataset: { kind: 'error' } }));
      return item;
    }
    const note = el('p', { className: 'note', role: 'status' });
    const tile = el('button', { type: 'button', textContent: 'Add as tile', dataset: { action: 'tile' } });
    tile.setAttribute('aria-label', `Add ${row.name} as a tile`);
    tile.addEventListener('click', () => this.addTile(row, note));
    const actions = el('div', { className: 'onvif-actions' }, [tile]);
    if (row.stream) {
      const id = `onvif-name-${row.index}`;
      const name = el('input', { type: 'text', id, value: row.stream.name, spellcheck: false, maxLength: 64 });
      const save = el('button', { type: 'button', className: 'secondary', textContent: 'Save as named stream', dataset: { action: 'save' } });
      save.setAttribute('aria-label', `Save ${row.name} as a named stream`);
      save.addEventListener('click', () => this.save(row, name, save, note));
      actions.append(el('div', { className: 'field' }, [el('label', { htmlFor: id, textContent: 'Stream name' }), name]), save);
    }
    item.append(actions, note);
    return item;
  }

  addTile(row, note) {
    if (!this.credentials) return;
    const { username, password } = this.credentials;
    this.dashboard.add({ url: profileTileUrl(row.rawUri, username, password) }, profileTileOptions(row.stream));
    this.say(note, `Added a tile for ${row.name}.`);
  }

  async save(row, nameInput, button, note) {
    if (!this.credentials) return;
    const name = nameInput.value.trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      this.say(note, 'A stream name has 1 to 64 of A-Z a-z 0-9 _ . -', 'error');
      nameInput.focus();
      return;
    }
    button.disabled = true;
    this.say(note, 'Saving…');
    let answer;
    try {
      answer = await this.call('POST', '/api/streams', streamWithPassword(row.stream, this.credentials.password, name),
        ONVIF_API_WAIT_MS);
    } catch (err) {
      answer = { error: this.unreachable(err) };
    }
    button.disabled = false;
    if (answer.error || !answer.ok) {
      this.say(note, answer.error || onvifErrorText(answer.status, answer.body), 'error');
      return;
    }
    this.dashboard.add({ name }, {});
    this.dashboard.loadNamedStreams();
    this.say(note, `Saved as ${name}, and added its tile.`);
  }
}
