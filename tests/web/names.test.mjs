// web/js/embed.js, the offer of a camera URL's embed panel to make it a named stream: the name
// it starts from, the body of POST /api/streams and what a person reads for camstream's
// refusals (a cluster's above all, where names come from the config file).
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain } from './load.mjs';

const { get } = load(['util.js', 'secrets.js', 'embed.js']);
const suggestStreamName = get('suggestStreamName');
const streamNameProblem = get('streamNameProblem');
const namedStreamBody = (...args) => plain(get('namedStreamBody')(...args));
const streamSaveErrorText = get('streamSaveErrorText');

test('a suggested name is the camera\'s host and path, without credentials, port or query', () => {
  assert.equal(suggestStreamName('rtsp://admin:p@ss&word@127.0.0.1:9/cam?token=abc&channel=1'), '127.0.0.1-cam');
  assert.equal(suggestStreamName('rtsp://192.168.1.108:554/cam/realmonitor?channel=1&subtype=0'), '192.168.1.108-cam-realmonitor');
  assert.equal(suggestStreamName('http://cam.lan/'), 'cam.lan');
  assert.equal(suggestStreamName('rtsp://[fe80::1]:554/Streaming/Channels/101'), 'fe80-1-Streaming-Channels-101');
});

test('a suggested name holds no secret: name=value path parts and an RTMP stream key are left out', () => {
  assert.equal(suggestStreamName('rtsp://10.0.0.5/user=admin&password=x/ch1'), '10.0.0.5-ch1');
  assert.equal(suggestStreamName('rtmp://media.lan/live/s3cr3t-key'), 'media.lan-live');
  assert.equal(suggestStreamName('rtsp://u:secretpass@cam/x'), 'cam-x');
});

test('demo: suggests "demo"; nothing usable suggests "camera"; a name is never longer than 64', () => {
  assert.equal(suggestStreamName('demo:'), 'demo');
  assert.equal(suggestStreamName('rtsp://.../'), 'camera');
  assert.equal(suggestStreamName(''), 'camera');
  const long = suggestStreamName(`rtsp://${'a'.repeat(40)}/${'b'.repeat(40)}`);
  assert.equal(long.length <= 64, true);
  assert.equal(streamNameProblem(long), '');
});

test('every suggestion keeps camstream\'s name rule', () => {
  for (const url of ['rtsp://x/-.-/', 'rtsp://h/ü/ñ', 'demo:bars?x=1', 'file:///tmp/a b.mp4', 'rtsp://h:1/a.//b']) {
    assert.equal(streamNameProblem(suggestStreamName(url)), '', url);
  }
});

test('the name rule: 1 to 64 of A-Z a-z 0-9 _ . -, not only dots', () => {
  for (const ok of ['gate', 'a.b-c_D9', 'x'.repeat(64), '.hidden']) assert.equal(streamNameProblem(ok), '', ok);
  for (const bad of ['', 'x'.repeat(65), 'a b', 'a/b', '..', 'ü']) assert.notEqual(streamNameProblem(bad), '', bad);
});

test('the body of POST /api/streams carries the URL as the tile has it and the tile\'s RTSP transport', () => {
  const url = 'rtsp://admin:secret@10.0.0.7/stream1';
  assert.deepEqual(namedStreamBody('lab', url, { fps: '5', width: '640', transport: 'udp' }),
    { name: 'lab', rtsp_url: url, transport: 'udp' });
  assert.deepEqual(namedStreamBody('lab', url, { transport: '' }), { name: 'lab', rtsp_url: url });
  assert.deepEqual(namedStreamBody('lab', url, {}), { name: 'lab', rtsp_url: url });
});

test('a cluster\'s 409 cluster_config reads as words, with the name, and no code', () => {
  const said = 'this server is instance 2 of a cluster of 3: its streams come from the config file, '
    + 'the same on every instance; change the file and restart the instances';
  for (const body of [{ error: said, code: 'cluster_config' }, { error: { code: 'cluster_config', message: said } }]) {
    const text = streamSaveErrorText(409, body, 'gate');
    assert.match(text, /cluster/);
    assert.match(text, /config file/);
    assert.match(text, /"gate"/);
    assert.doesNotMatch(text, /cluster_config|409/);
  }
});

test('other refusals: a name taken, a token wanted, camstream\'s own message, no JSON', () => {
  assert.equal(streamSaveErrorText(409, { error: 'stream "lab" already exists', code: 'already_exists' }, 'lab'),
    'camstream already has a stream named "lab": choose another name.');
  assert.match(streamSaveErrorText(401, { error: 'token', code: 'invalid_token' }, 'x'), /--token/);
  assert.equal(streamSaveErrorText(400, { error: 'stream "x": rtsp_url: scheme not allowed', code: 'bad_request' }, 'x'),
    'stream "x": rtsp_url: scheme not allowed [bad_request] (HTTP 400)');
  assert.equal(streamSaveErrorText(502, null, 'x'), 'camstream answered HTTP 502');
  assert.match(streamSaveErrorText(404, null, 'x'), /no streams API/);
});
