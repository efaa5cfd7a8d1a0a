'use strict';

/*
 * camstream page, 3 of 9: the embed panel's snippets, text for another page. No page access;
 * the node unit tests (tests/web) run this file bare and run the snippets they make.
 */

/**
 * What the embed panel offers for showing a camera in another page: {img, ws, snapshot, hls},
 * an <img> of /mjpeg, a <canvas> fed by /ws/stream, the /snapshot URL, and a <video> of the HLS
 * playlist (for browsers that play HLS themselves; others need hls.js). @source is {name} or
 * {url} with the camera URL as the snippets should show it (placeholders or not); @http and
 * @ws are the server's bases, @title the <img>'s alt text. Only text, for another page: the
 * snippets may have the <script> and style="" this page itself may not.
 */
function embedSnippets({ http, ws, source, options, title }) {
  const named = source.name !== undefined;
  const query = streamQuery(source, options);
  const more = optionsQuery(options);
  const address = named
    ? jsString(`${ws}/ws/stream?${query}`)
    : `${jsString(`${ws}/ws/stream?rtsp_url=`)} + encodeURIComponent(camera)${more ? ` + ${jsString('&' + more)}` : ''}`;
  const script = [
    '<canvas id="camera" style="max-width:100%"></canvas>',
    '<script>',
    ...(named ? [] : [`  const camera = ${jsString(source.url)};`]),
    `  const ws = new WebSocket(${address});`,
    '  const ctx = document.getElementById("camera").getContext("2d");',
    '  let busy = false; // drop pictures that arrive while one is drawn',
    '  ws.onmessage = async (ev) => {',
    '    if (typeof ev.data === "string") return console.error(JSON.parse(ev.data));',
    '    if (busy) return;',
    '    busy = true;',
    '    try {',
    '      const bmp = await createImageBitmap(ev.data);',
    '      ctx.canvas.width = bmp.width; ctx.canvas.height = bmp.height;',
    '      ctx.drawImage(bmp, 0, 0); bmp.close();',
    '    } finally { busy = false; }',
    '  };',
    '  ws.onclose = (ev) => console.log("camera closed", ev.code, ev.reason);',
    '<\/script>',
  ].join('\n');
  return {
    img: `<img src="${escapeHtml(`${http}/mjpeg?${query}`)}" alt="${escapeHtml(title)}">`,
    ws: script,
    snapshot: snapshotUrl(http, source, options),
    hls: `<video src="${escapeHtml(hlsUrl(http, source, options))}" controls autoplay muted playsinline></video>`,
  };
}

/* ---------- an ad-hoc camera's tile offers to become a named stream ---------- */

/** The rule of camstream's stream names: '' when @name keeps it, else what is wrong. */
function streamNameProblem(name) {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || /^\.+$/.test(name)) {
    return 'A stream name has 1 to 64 of A-Z a-z 0-9 _ . - (not only dots).';
  }
  return '';
}

/**
 * A name to start from for the camera at @url: its host and path (no credentials, no port,
 * no query, no path part that looks like name=value, of an RTMP URL only the app, not the
 * key), in the characters a name may have; "demo" for demo:, "camera" when nothing is left.
 */
function suggestStreamName(url) {
  const text = String(url || '');
  const m = /^([a-z][a-z0-9+.-]*):(\/\/)?(.*)$/is.exec(text);
  let name;
  if (!m) {
    name = text;
  } else if (!m[2]) {
    name = m[3] ? `${m[1]}-${m[3].replace(/[?#].*$/s, '')}` : m[1]; // demo:, demo:bars
  } else {
    const rest = m[3].replace(/[?#].*$/s, '');
    const slash = rest.indexOf('/');
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? '' : rest.slice(slash);
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    const bracketed = /^\[([^\]]*)\]/.exec(hostPort); // an IPv6 address
    const host = bracketed ? bracketed[1] : hostPort.replace(/:\d*$/, '');
    let parts = path.split('/').filter((p) => p && !p.includes('='));
    if (/^rtmps?$/i.test(m[1])) parts = parts.slice(0, 1); // rtmp://host/app/KEY: a stream key is a secret
    name = [host, ...parts].join('-');
  }
  name = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64).replace(/[-.]+$/, '');
  return name && !streamNameProblem(name) ? name : 'camera';
}

/**
 * The body of POST /api/streams that makes the camera at @url (credentials and all: they go to
 * the server, which never shows them back) the stream @name; the tile's RTSP transport, when
 * one is chosen in @options, becomes the stream's. The other options stay the viewer's.
 */
function namedStreamBody(name, url, options) {
  const body = { name, rtsp_url: url };
  if (options && ['tcp', 'udp', 'auto'].includes(options.transport)) body.transport = options.transport;
  return body;
}

/** What a person reads when the streams of camstream come from its config file (a cluster). */
function clusterConfigText(name) {
  const which = name ? `"${name}"` : 'the stream';
  return 'This camstream is one instance of a cluster: there, named streams come from the config file '
    + `(the same file on every instance), not from this page. Add ${which} to that file and restart the instances.`;
}

/**
 * What a person reads for camstream's refusal of POST /api/streams for @name: @status is the
 * HTTP status, @body its JSON ({error, code}, or {error: {code, message}}; null when not JSON).
 */
function streamSaveErrorText(status, body, name) {
  const inner = body && body.error && typeof body.error === 'object' ? body.error : body;
  const code = inner && typeof inner.code === 'string' ? inner.code : '';
  const message = inner && typeof inner.error === 'string' ? inner.error
    : (inner && typeof inner.message === 'string' ? inner.message : '');
  if (code === 'cluster_config') return clusterConfigText(name);
  if (code === 'already_exists') return `camstream already has a stream named "${name}": choose another name.`;
  if (code === 'invalid_token') return 'camstream asks for its access token (--token), which this page does not send.';
  if (message) return `${message}${code ? ` [${code}]` : ''} (HTTP ${status})`;
  if (status === 404 || status === 405) return `this camstream has no streams API (HTTP ${status})`;
  return `camstream answered HTTP ${status}`;
}
