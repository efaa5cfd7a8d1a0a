'use strict';

/*
 * camstream page, 1 of 9: util.js, secrets.js, embed.js, flvplayer.js, hlsplayer.js,
 * webrtcplayer.js, tile.js, onvif.js, dashboard.js, classic scripts loaded in this order by
 * index.html after js/vendor/mpegts.js (the FLV player, global `mpegts`); they share their
 * top-level names.
 *
 * Timings, the server's addresses, the URLs and file names the page makes, text helpers, the
 * share-link format and small page helpers. Nothing here touches the page while the file
 * loads (the helpers at the end need a document only when called), so the node unit tests
 * (tests/web) run this file bare.
 */

// Tests may shorten the timings by defining window.camstreamTuning before the scripts run.
const TUNING = Object.freeze({
  backoffFirstMs: 1000,  // first reconnect delay; doubles per failed attempt
  backoffMaxMs: 30000,   // the delay never exceeds this
  stallMs: 3000,         // no picture for this long (or 3 frame intervals): say so
  deadAfterMs: 20000,    // no picture for this long on a healthy source: reconnect
  statusPollMs: 2000,    // named stream without pictures: ask /api/streams/{name} this often
  hiddenCloseMs: 60000,  // hidden tab: close the sockets after this long
  statsMs: 500,          // how often the numbers under each tile are refreshed
  serverCheckMs: 5000,   // the server does not answer: ask /api/health again this often
  ...(globalThis.camstreamTuning || {}),
});

const STORAGE_KEY = 'camstream.dashboard.v1';
const OPTION_NAMES = ['fps', 'width', 'quality', 'transport'];
const AGE_SANE_MIN_MS = -1000;  // a picture "from the future" beyond this: clocks differ
const AGE_SANE_MAX_MS = 60000;

/* ---------- the server's addresses ---------- */

/** Served by camstream: talk to the same origin. Opened from disk: the usual local server. */
function defaultServer() {
  if (location.protocol === 'https:') return 'wss://' + location.host;
  if (location.protocol === 'http:') return 'ws://' + location.host;
  return 'ws://127.0.0.1:8000';
}

/** Accepts "ws://h:p", "http://h:p" or a bare "h:p"; returns the ws(s) base without "/" at the end. */
function wsBase(text) {
  let s = (text || '').trim().replace(/\/+$/, '') || defaultServer();
  if (/^https:\/\//i.test(s)) s = 'wss://' + s.slice(8);
  else if (/^http:\/\//i.test(s)) s = 'ws://' + s.slice(7);
  else if (!/^wss?:\/\//i.test(s)) s = (location.protocol === 'https:' ? 'wss://' : 'ws://') + s;
  return s;
}

function httpBase(text) {
  return wsBase(text).replace(/^ws/i, 'http');
}

/** "fps=10&width=640" for the options that are set ('' for none). */
function optionsQuery(options) {
  return OPTION_NAMES.filter((name) => options[name] !== undefined && options[name] !== '')
    .map((name) => name + '=' + encodeURIComponent(options[name])).join('&');
}

/** The query of /ws/stream, /mjpeg and /snapshot for a source ({url} or {name}) and its options. */
function streamQuery(source, options) {
  const query = source.name !== undefined
    ? 'name=' + encodeURIComponent(source.name)
    : 'rtsp_url=' + encodeURIComponent(source.url);
  const more = optionsQuery(options);
  return more ? `${query}&${more}` : query;
}

/**
 * The query of /ws/flv for a source and its options: the camera's own video is copied, so of
 * the options only the RTSP transport applies (size, rate and quality are the JPEG path's).
 */
function flvQuery(source, options) {
  return streamQuery(source, options.transport ? { transport: options.transport } : {});
}

/**
 * The playlist of @source ({name} or {url}) with @options on the server at @http: a name's
 * /live/{name}.m3u8, a camera URL's /hls/index.m3u8 (of the options only the RTSP transport
 * applies, as for FLV). @token, when given, is added as ?token= (a <video> sends no header);
 * the playlist's segments need none.
 */
function hlsUrl(http, source, options, token = '') {
  const url = source.name !== undefined
    ? `${http}/live/${encodeURIComponent(source.name)}.m3u8`
    : `${http}/hls/index.m3u8?${flvQuery(source, options)}`;
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

/**
 * Where a WebRTC tile POSTs its offer (WHEP) for @source ({name} or {url}) with @options on the
 * server at @http: a name's /api/streams/{name}/whep, a camera URL's /whep?rtsp_url= (of the
 * options only the RTSP transport applies: the camera's own video is sent). @token, when
 * given, is added as ?token=, as for HLS; the session's Location needs none.
 */
function whepUrl(http, source, options, token = '') {
  const url = source.name !== undefined
    ? `${http}/api/streams/${encodeURIComponent(source.name)}/whep`
    : `${http}/whep?${flvQuery(source, options)}`;
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

/** One JPEG of @source ({url} or {name}) with @options, from the server at @http. */
function snapshotUrl(http, source, options) {
  if (source.name !== undefined) {
    const query = optionsQuery(options);
    return `${http}/api/streams/${encodeURIComponent(source.name)}/snapshot${query ? '?' + query : ''}`;
  }
  return `${http}/snapshot?${streamQuery(source, options)}`;
}

/** The file name of a snapshot of the tile titled @label, taken at @date. */
function snapshotName(label, date) {
  const stamp = date.toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  const base = label.replace(/[^a-z0-9_.-]+/gi, '_').slice(0, 60);
  return `${base}-${stamp}.jpg`;
}

/** "#layout=<base64url of the JSON of @layout>", for share links (the caller leaves secrets out). */
function layoutHash(layout) {
  const bytes = new TextEncoder().encode(JSON.stringify(layout));
  const base64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return '#layout=' + base64;
}

/** The layout in a "#layout=..." hash; null when there is none or it is damaged. */
function readLayoutHash(hash) {
  const m = /^#layout=([A-Za-z0-9_-]+)/.exec(hash);
  if (!m) return null;
  try {
    const binary = atob(m[1].replace(/-/g, '+').replace(/_/g, '/'));
    const layout = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return layout && Array.isArray(layout.tiles) ? layout : null;
  } catch (err) {
    return null;
  }
}

/* ---------- small helpers ---------- */

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset || {});
  for (const child of children) node.append(child);
  return node;
}

function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A JavaScript string literal that is also safe inside <script>. */
function jsString(text) {
  return JSON.stringify(text).replace(/</g, '\\u003c');
}

function formatAge(ms) {
  if (ms < AGE_SANE_MIN_MS || ms > AGE_SANE_MAX_MS) return null;
  const shown = Math.max(0, ms);
  return shown < 1000 ? `${Math.round(shown)} ms` : `${(shown / 1000).toFixed(1)} s`;
}

function closeReason(code) {
  const known = {
    1000: 'the stream ended', 1001: 'the server is shutting down', 1006: 'the connection was lost',
    1008: 'the request was refused', 1011: 'the source failed', 1013: 'the server is busy',
  };
  return known[code] || 'the connection closed';
}

/** Reads the capture time in the JPEG's comment: {t: ms since the epoch, seq} or null. */
async function readTiming(blob) {
  try {
    const bytes = new Uint8Array(await blob.slice(0, 64).arrayBuffer());
    if (bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff || bytes[3] !== 0xfe) return null;
    const length = (bytes[4] << 8) | bytes[5];
    const text = String.fromCharCode(...bytes.subarray(6, Math.min(bytes.length, 4 + length)));
    const m = /^camstream t=(\d{16}) seq=(\d{10})/.exec(text);
    return m ? { t: Number(m[1]) / 1000, seq: Number(m[2]) } : null;
  } catch (err) {
    return null;
  }
}

/** Copies @text; falls back to selecting @field when the clipboard is not allowed. */
async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    field.focus();
    field.select();
    return document.execCommand && document.execCommand('copy');
  }
}

/** Fields for fps, width, quality and transport; inputs carry data-option="name". */
function optionFields(values = {}) {
  const number = (name, text, min, max, step) => el('label', { className: 'field' }, [
    text,
    el('input', { type: 'number', min, max, step, value: values[name] || '', inputMode: 'decimal',
      placeholder: 'default' }),
  ]);
  const fields = [
    number('fps', 'Max fps', 0.1, 240, 'any'),
    number('width', 'Width (px)', 16, 8192, 1),
    number('quality', 'JPEG quality', 1, 100, 1),
  ];
  const select = el('select', {}, ['', 'tcp', 'udp', 'auto'].map((v) =>
    el('option', { value: v, textContent: v || 'default' })));
  select.value = values.transport || '';
  fields.push(el('label', { className: 'field' }, ['RTSP transport', select]));
  const names = ['fps', 'width', 'quality', 'transport'];
  fields.forEach((label, i) => { label.querySelector('input, select').dataset.option = names[i]; });
  return fields;
}

function readOptionFields(container) {
  const options = {};
  for (const input of container.querySelectorAll('[data-option]')) {
    const value = input.value.trim();
    if (value !== '') options[input.dataset.option] = value;
  }
  return options;
}

function pageHidden() {
  return document.visibilityState === 'hidden';
}
