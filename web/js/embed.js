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
