// web/js/util.js: timings, the server's addresses, the URLs and names the page makes, text
// helpers, the JPEG timing comment and share links. Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { fakeLocation, load, plain } from './load.mjs';

// What util.js uses from a browser when it is called (never while it loads).
const web = { TextEncoder, TextDecoder, btoa, atob };

/** util.js in a page opened at @href. */
function utilAt(href, extra = {}) {
  return load(['util.js'], { ...web, location: fakeLocation(href), ...extra });
}

const { context, get } = utilAt('file:///home/ann/camstream/web/index.html');

test('TUNING: the defaults, frozen; window.camstreamTuning set before the script overrides them', () => {
  const tuning = plain(get('TUNING'));
  assert.equal(tuning.backoffFirstMs, 1000);
  assert.equal(tuning.statsMs, 500);
  assert.equal(Object.isFrozen(get('TUNING')), true);
  const tuned = load(['util.js'], { camstreamTuning: { statsMs: 50, hiddenCloseMs: 1500 } }).get('TUNING');
  assert.equal(tuned.statsMs, 50);
  assert.equal(tuned.hiddenCloseMs, 1500);
  assert.equal(tuned.backoffMaxMs, tuning.backoffMaxMs);
});

test('defaultServer: the page\'s own origin when served, the local camstream when opened from disk', () => {
  assert.equal(context.defaultServer(), 'ws://127.0.0.1:8000');
  assert.equal(utilAt('http://cams.lan:8080/').context.defaultServer(), 'ws://cams.lan:8080');
  assert.equal(utilAt('https://cams.example/index.html').context.defaultServer(), 'wss://cams.example');
});

test('wsBase and httpBase accept ws(s)://, http(s):// or a bare host:port and drop trailing slashes', () => {
  const { wsBase, httpBase } = context;
  assert.equal(wsBase(''), 'ws://127.0.0.1:8000');
  assert.equal(wsBase('   '), 'ws://127.0.0.1:8000');
  assert.equal(wsBase(' http://h:1// '), 'ws://h:1');
  assert.equal(wsBase('HTTPS://h'), 'wss://h');
  assert.equal(wsBase('wss://h:9/'), 'wss://h:9');
  assert.equal(wsBase('h:2'), 'ws://h:2');
  assert.equal(utilAt('https://cams.example/').context.wsBase('h:2'), 'wss://h:2');
  assert.equal(httpBase('ws://h:1'), 'http://h:1');
  assert.equal(httpBase('wss://h'), 'https://h');
  assert.equal(httpBase(''), 'http://127.0.0.1:8000');
});

test('optionsQuery and streamQuery: known options in a fixed order, empty ones left out, all encoded', () => {
  const { optionsQuery, streamQuery } = context;
  assert.equal(optionsQuery({}), '');
  assert.equal(optionsQuery({ transport: 'tcp', quality: '', fps: '2.5', width: '640', color: 'red' }),
    'fps=2.5&width=640&transport=tcp');
  assert.equal(optionsQuery({ fps: 'a&b' }), 'fps=a%26b');
  assert.equal(streamQuery({ url: 'rtsp://u:p@h/x?a=1&b=2' }, {}), 'rtsp_url=rtsp%3A%2F%2Fu%3Ap%40h%2Fx%3Fa%3D1%26b%3D2');
  assert.equal(streamQuery({ name: 'door cam' }, { width: '320' }), 'name=door%20cam&width=320');
  assert.equal(streamQuery({ url: 'demo:' }, { fps: '10', width: '320' }), 'rtsp_url=demo%3A&fps=10&width=320');
});

test('flvQuery: the source as for /ws/stream, and of the options only the RTSP transport', () => {
  const { flvQuery } = context;
  assert.equal(flvQuery({ url: 'rtsp://u:p@h/x?a=1' }, { fps: '5', width: '320', quality: '60', transport: 'tcp' }),
    'rtsp_url=rtsp%3A%2F%2Fu%3Ap%40h%2Fx%3Fa%3D1&transport=tcp');
  assert.equal(flvQuery({ name: 'door cam' }, { width: '320' }), 'name=door%20cam');
});

test('hlsUrl: /live/{name}.m3u8 for a name, /hls/index.m3u8 with the camera URL and transport, ?token= when given', () => {
  const { hlsUrl, flvQuery } = context;
  const camera = 'rtsp://u:p@h/x?a=1&b=2';
  const options = { fps: '5', width: '320', quality: '60', transport: 'tcp' };
  assert.equal(hlsUrl('http://h:1', { name: 'cam1' }, options), 'http://h:1/live/cam1.m3u8');
  assert.equal(hlsUrl('https://h', { name: 'door cam/2' }, {}), 'https://h/live/door%20cam%2F2.m3u8');
  assert.equal(hlsUrl('http://h:1', { url: camera }, options), `http://h:1/hls/index.m3u8?${flvQuery({ url: camera }, options)}`);
  assert.equal(new URL(hlsUrl('http://h:1', { url: camera }, {})).searchParams.get('rtsp_url'), camera);
  assert.equal(hlsUrl('http://h:1', { name: 'cam1' }, {}, 'a&b c'), 'http://h:1/live/cam1.m3u8?token=a%26b%20c');
  const adHoc = new URL(hlsUrl('http://h:1', { url: camera }, { transport: 'udp' }, 's3cret'));
  assert.deepEqual([...adHoc.searchParams.keys()], ['rtsp_url', 'transport', 'token']);
  assert.equal(adHoc.searchParams.get('token'), 's3cret');
  assert.equal(hlsUrl('http://h:1', { name: 'cam1' }, {}, ''), 'http://h:1/live/cam1.m3u8');
});

test('whepUrl: /api/streams/{name}/whep for a name, /whep with the camera URL and transport, ?token= when given', () => {
  const { whepUrl, flvQuery } = context;
  const camera = 'rtsp://u:p@h/x?a=1&b=2';
  const options = { fps: '5', width: '320', quality: '60', transport: 'tcp' };
  assert.equal(whepUrl('http://h:1', { name: 'cam1' }, options), 'http://h:1/api/streams/cam1/whep');
  assert.equal(whepUrl('https://h', { name: 'door cam/2' }, {}), 'https://h/api/streams/door%20cam%2F2/whep');
  assert.equal(whepUrl('http://h:1', { url: camera }, options), `http://h:1/whep?${flvQuery({ url: camera }, options)}`);
  const adHoc = new URL(whepUrl('http://h:1', { url: camera }, { transport: 'udp', fps: '2' }, 's3cret'));
  assert.equal(adHoc.pathname, '/whep');
  assert.deepEqual([...adHoc.searchParams.keys()], ['rtsp_url', 'transport', 'token']);
  assert.equal(adHoc.searchParams.get('rtsp_url'), camera);
  assert.equal(adHoc.searchParams.get('token'), 's3cret');
  assert.equal(whepUrl('http://h:1', { name: 'cam1' }, {}, 'a&b'), 'http://h:1/api/streams/cam1/whep?token=a%26b');
});

test('snapshotUrl and snapshotName: /snapshot for a URL, /api/streams/{name}/snapshot for a named stream', () => {
  const { snapshotUrl, snapshotName } = context;
  assert.equal(snapshotUrl('http://h:1', { url: 'demo:' }, { width: '320' }), 'http://h:1/snapshot?rtsp_url=demo%3A&width=320');
  assert.equal(snapshotUrl('http://h:1', { name: 'a/b' }, {}), 'http://h:1/api/streams/a%2Fb/snapshot');
  assert.equal(snapshotUrl('https://h', { name: 'cam1' }, { fps: '5' }), 'https://h/api/streams/cam1/snapshot?fps=5');
  const at = new Date('2026-01-02T03:04:05.678Z');
  assert.equal(snapshotName('demo:', at), 'demo_-2026-01-02T03-04-05.jpg');
  assert.equal(snapshotName('10.0.0.7:554/Streaming/Channels/101', at), '10.0.0.7_554_Streaming_Channels_101-2026-01-02T03-04-05.jpg');
  assert.equal(snapshotName('x'.repeat(100), at), `${'x'.repeat(60)}-2026-01-02T03-04-05.jpg`);
});

test('escapeHtml and jsString make text safe in an attribute and inside <script>', () => {
  const { escapeHtml, jsString } = context;
  assert.equal(escapeHtml('<a href="x">&amp;</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt;');
  for (const text of ['plain', 'it\'s "quoted" \\ back', '</script><script>alert(1)</script>', 'line\nbreak\u2028']) {
    const literal = jsString(text);
    assert.doesNotMatch(literal, /</, literal);
    assert.equal(new Function(`return ${literal};`)(), text); // eslint-disable-line no-new-func
  }
});

test('formatAge: ms below a second, seconds above; null when the clocks clearly differ', () => {
  const { formatAge } = context;
  assert.equal(formatAge(0), '0 ms');
  assert.equal(formatAge(42.4), '42 ms');
  assert.equal(formatAge(999.4), '999 ms');
  assert.equal(formatAge(1000), '1.0 s');
  assert.equal(formatAge(1549), '1.5 s');
  assert.equal(formatAge(60000), '60.0 s');
  assert.equal(formatAge(-999), '0 ms'); // a little "from the future": shown as 0
  assert.equal(formatAge(-1001), null);
  assert.equal(formatAge(60001), null);
});

test('closeReason names the close codes camstream uses', () => {
  const { closeReason } = context;
  assert.equal(closeReason(1000), 'the stream ended');
  assert.equal(closeReason(1001), 'the server is shutting down');
  assert.equal(closeReason(1006), 'the connection was lost');
  assert.equal(closeReason(1008), 'the request was refused');
  assert.equal(closeReason(1011), 'the source failed');
  assert.equal(closeReason(1013), 'the server is busy');
  assert.equal(closeReason(4000), 'the connection closed');
});

/** A JPEG that starts with a COM segment holding @comment, then a few more bytes. */
function jpegWithComment(comment) {
  const text = Buffer.from(comment, 'latin1');
  const length = text.length + 2;
  return new Blob([Buffer.from([0xff, 0xd8, 0xff, 0xfe, length >> 8, length & 255]), text,
    Buffer.from([0xff, 0xdb, 0, 4, 0, 0])]);
}

test('readTiming reads "camstream t=<us> seq=<n>" from the JPEG comment, and null from anything else', async () => {
  const { readTiming } = load(['util.js'], { Blob }).context;
  const timing = await readTiming(jpegWithComment('camstream t=1767322445678901 seq=0000000042'));
  assert.deepEqual(plain(timing), { t: 1767322445678.901, seq: 42 });
  assert.equal(await readTiming(jpegWithComment('Lavc60.31.102')), null);
  assert.equal(await readTiming(jpegWithComment('camstream t=17 seq=1')), null);
  assert.equal(await readTiming(new Blob([Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0, 4])])), null);
  assert.equal(await readTiming(new Blob([])), null);
  assert.equal(await readTiming({ slice() { throw new Error('not a blob'); } }), null);
});

test('layoutHash and readLayoutHash: a layout survives the link, in base64url, any text included', () => {
  const { layoutHash, readLayoutHash } = context;
  const layout = {
    server: 'ws://192.168.1.5:8000',
    tiles: [{ name: 'Küche 📷', options: { fps: '5' } },
      { url: 'rtsp://10.0.0.7/x?token=&a=>>>???', secrets: [{ kind: 'param', name: 'token' }], options: {} }],
  };
  const hash = layoutHash(layout);
  assert.match(hash, /^#layout=[A-Za-z0-9_-]+$/);
  assert.deepEqual(plain(readLayoutHash(hash)), layout);
  assert.deepEqual(plain(readLayoutHash(hash + '&more')), layout); // what follows is ignored
  assert.equal(readLayoutHash(''), null);
  assert.equal(readLayoutHash('#other=1'), null);
  assert.equal(readLayoutHash('#layout=!!!'), null);
  assert.equal(readLayoutHash('#layout=bm90IGpzb24'), null);                        // "not json"
  assert.equal(readLayoutHash(layoutHash({ server: 'ws://h' })), null);            // no tiles
  assert.equal(readLayoutHash(layoutHash({ tiles: 'none' })), null);
});
