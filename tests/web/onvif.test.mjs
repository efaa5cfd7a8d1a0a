// web/js/onvif.js: the "Find cameras" panel's pure parts (after util.js and secrets.js, as in
// index.html): the device and profile rows read from camstream's answers, the probe's body,
// the password put back into a profile's stream definition, the tile's camera URL and the
// text a person reads for each of camstream's refusals.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain } from './load.mjs';

const { get } = load(['util.js', 'secrets.js', 'embed.js', 'flvplayer.js', 'hlsplayer.js', 'webrtcplayer.js',
  'tile.js', 'onvif.js']);
const call = (name) => (...args) => plain(get(name)(...args));
const deviceRows = call('deviceRows');
const discoverSummary = get('discoverSummary');
const deviceFacts = call('deviceFacts');
const profileRows = call('profileRows');
const probeBody = call('probeBody');
const streamWithPassword = call('streamWithPassword');
const profileTileUrl = get('profileTileUrl');
const profileTileOptions = call('profileTileOptions');
const onvifErrorText = get('onvifErrorText');

// As the contract's examples (onvif-contract.md)
const DISCOVERED = {
  devices: [
    { endpoint: 'urn:uuid:1', xaddrs: ['http://10.0.0.5/onvif/device_service'], host: '10.0.0.5', port: 80,
      types: 'dn:NetworkVideoTransmitter tds:Device', name: 'IPC', hardware: 'DS-2CD', location: 'office',
      scopes: ['onvif://www.onvif.org/name/IPC'], from: '10.0.0.5' },
    { endpoint: 'urn:uuid:2', xaddrs: ['http://[fd00::7]:8080/onvif/device_service'], host: 'fd00::7', port: 8080,
      scopes: [], from: 'fd00::7' },
  ],
  interfaces: ['127.0.0.1'], timeout: 2, refused: 1,
};

const MAIN = {
  name: 'MainStream', token: 'Profile_1', encoding: 'H264', width: 1920, height: 1080, fps: 25,
  uri: 'rtsp://192.168.1.5:554/Streaming/Channels/101',
  stream: { name: '192.168.1.5-MainStream', rtsp_url: 'rtsp://192.168.1.5:554/Streaming/Channels/101',
    username: 'admin', password: '***', transport: 'tcp' },
};
const BAD = { name: 'Bad', token: 't', encoding: 'H264', width: 640, height: 360, fps: 10, uri: null,
  error: { code: 'host_not_allowed', error: 'the camera\'s address 10.9.9.9 is not allowed (--allow-hosts)' } };
const PROBED = {
  device: { xaddr: 'http://192.168.1.5/onvif/device_service', manufacturer: 'HIKVISION', model: 'DS-2CD2042',
    firmware: 'V5.4', serial: 'X123', hardware: '88' },
  clock_offset: 3600, auth: 'ws-security', media: 'media2', profiles: [MAIN, BAD],
};

test('onvif.js loads without a page after the other scripts and defines OnvifPanel', () => {
  assert.equal(get('typeof OnvifPanel'), 'function');
});

test('a discovered device is a row of its name, hardware, location and host:port, with its device service URL', () => {
  const rows = deviceRows(DISCOVERED);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], {
    name: 'IPC', hardware: 'DS-2CD', location: 'office', address: '10.0.0.5:80', host: '10.0.0.5', port: 80,
    xaddr: 'http://10.0.0.5/onvif/device_service', label: 'IPC · DS-2CD · office · 10.0.0.5:80',
  });
});

test('a device without a name is called "ONVIF device"; an IPv6 host is bracketed', () => {
  const row = deviceRows(DISCOVERED)[1];
  assert.equal(row.name, 'ONVIF device');
  assert.equal(row.address, '[fd00::7]:8080');
  assert.equal(row.label, 'ONVIF device · [fd00::7]:8080');
});

test('devices without any address and answers without a device list give no rows', () => {
  assert.deepEqual(deviceRows({ devices: [{ endpoint: 'urn:uuid:3', xaddrs: [] }, null, 'x'] }), []);
  assert.deepEqual(deviceRows(null), []);
  assert.deepEqual(deviceRows({ error: 'x' }), []);
});

test('the search summary counts the cameras found and the ones --allow-hosts left out', () => {
  assert.equal(discoverSummary(DISCOVERED),
    'Found 2 cameras. 1 more answered from addresses camstream may not use (--allow-hosts).');
  assert.equal(discoverSummary({ devices: [DISCOVERED.devices[0]], refused: 0 }), 'Found 1 camera.');
  assert.match(discoverSummary({ devices: [] }), /^No camera answered\. Type its address below\.$/);
});

test('a profile is a row of its name, encoding, size and rate, with its URI and its stream definition', () => {
  const [row] = profileRows(PROBED);
  assert.equal(row.name, 'MainStream');
  assert.equal(row.summary, 'H264 · 1920×1080 · 25 fps');
  assert.equal(row.uri, 'rtsp://192.168.1.5:554/Streaming/Channels/101');
  assert.equal(row.error, null);
  assert.equal(row.addable, true);
  assert.deepEqual(row.stream, MAIN.stream);
});

test('a profile with an error shows it and cannot be added', () => {
  const row = profileRows(PROBED)[1];
  assert.equal(row.addable, false);
  assert.equal(row.stream, null);
  assert.equal(row.error, 'the camera\'s address 10.9.9.9 is not allowed (--allow-hosts)');
  assert.equal(row.summary, 'H264 · 640×360 · 10 fps');
});

test('a profile without a URI and without an error cannot be added either', () => {
  const [row] = profileRows({ profiles: [{ name: 'Odd', encoding: 'JPEG' }] });
  assert.equal(row.addable, false);
  assert.equal(row.error, 'this profile has no stream address');
  assert.equal(row.summary, 'JPEG');
});

test('a URI the camera gave with credentials is shown as camstream redacted it, never with a password', () => {
  const [row] = profileRows({ profiles: [{ ...MAIN, uri: 'rtsp://admin:***@192.168.1.5/ch1?password=***' }] });
  assert.equal(row.uri, 'rtsp://***@192.168.1.5/ch1?password=***');
});

test('the device facts: make and model, firmware, serial, service, login, media and a clock that differs', () => {
  assert.deepEqual(deviceFacts(PROBED), [
    ['Camera', 'HIKVISION DS-2CD2042'], ['Firmware', 'V5.4'], ['Serial number', 'X123'], ['Hardware', '88'],
    ['Device service', 'http://192.168.1.5/onvif/device_service'], ['Login', 'WS-Security'],
    ['Media service', 'Media2'], ['Camera clock', '3600 s ahead of camstream\'s'],
  ]);
  const facts = deviceFacts({ device: { model: 'M' }, clock_offset: -2, auth: 'none', media: 'media1' });
  assert.deepEqual(facts, [['Camera', 'M'], ['Login', 'none'], ['Media service', 'Media (version 1)']]);
});

test('the probe body of a host, port and credentials', () => {
  assert.deepEqual(probeBody({ host: ' 192.168.1.5 ', port: '8000', username: 'admin', password: 's3cret' }),
    { body: { host: '192.168.1.5', port: 8000, username: 'admin', password: 's3cret' } });
});

test('the probe body of a device service URL is sent as xaddr, without the port', () => {
  assert.deepEqual(probeBody({ host: 'http://10.0.0.5/onvif/device_service', port: '80', username: 'u', password: '' }),
    { body: { xaddr: 'http://10.0.0.5/onvif/device_service', username: 'u' } });
});

test('the probe body without credentials or port: port 80, no username or password', () => {
  assert.deepEqual(probeBody({ host: 'cam.lan', port: '', username: '', password: '' }),
    { body: { host: 'cam.lan', port: 80 } });
  assert.deepEqual(probeBody({ host: '[fd00::7]', port: '80' }), { body: { host: 'fd00::7', port: 80 } });
});

test('the probe body is refused without an address, with a bad port or with a path in the host', () => {
  assert.match(probeBody({ host: '  ', port: '80' }).error, /Enter the camera's address/);
  for (const port of ['0', '65536', '8.5', 'x']) {
    assert.match(probeBody({ host: 'cam', port }).error, /port is a number from 1 to 65535/, port);
  }
  assert.match(probeBody({ host: 'cam/onvif', port: '80' }).error, /not a host name/);
});

test('the stream definition gets the typed password in place of "***", and nothing else changes', () => {
  const out = streamWithPassword(MAIN.stream, 'p@ss:w/rd');
  assert.deepEqual(out, { ...MAIN.stream, password: 'p@ss:w/rd' });
  assert.equal(MAIN.stream.password, '***', 'the profile\'s own object was changed');
});

test('the stream definition may get another name; without a typed password it has no password', () => {
  assert.deepEqual(streamWithPassword(MAIN.stream, 'x', 'gate'), { ...MAIN.stream, name: 'gate', password: 'x' });
  const bare = streamWithPassword(MAIN.stream, '');
  assert.equal('password' in bare, false);
  const noAuth = { name: 'h-Main', rtsp_url: 'rtsp://h/1', transport: 'tcp' };
  assert.deepEqual(streamWithPassword(noAuth, ''), noAuth);
});

test('a tile\'s camera URL carries the typed credentials in its userinfo, percent-encoded', () => {
  assert.equal(profileTileUrl(MAIN.uri, 'admin', 'p@ss:w/rd'),
    'rtsp://admin:p%40ss%3Aw%2Frd@192.168.1.5:554/Streaming/Channels/101');
  assert.equal(profileTileUrl(MAIN.uri, '', ''), MAIN.uri);
  assert.equal(profileTileUrl(MAIN.uri, 'viewer', ''), 'rtsp://viewer@192.168.1.5:554/Streaming/Channels/101');
});

test('a tile\'s camera URL replaces the camera\'s redacted credentials with the typed ones', () => {
  assert.equal(profileTileUrl('rtsp://admin:***@10.0.0.5/ch1', 'admin', 'pw'), 'rtsp://admin:pw@10.0.0.5/ch1');
  assert.equal(profileTileUrl('rtsp://10.0.0.5/ch1?user=***&password=***&channel=1', 'admin', 'pw'),
    'rtsp://admin:pw@10.0.0.5/ch1?user=admin&password=pw&channel=1');
});

test('the tile\'s password stays out of its title and what the layout stores without "Remember"', () => {
  const url = profileTileUrl(MAIN.uri, 'admin', 'secret');
  assert.doesNotMatch(get('shortUrl')(url), /secret|admin/);
  assert.doesNotMatch(get('stripSecrets')(url), /secret/);
});

test('a tile of a profile keeps the RTSP transport camstream suggests', () => {
  assert.deepEqual(profileTileOptions(MAIN.stream), { transport: 'tcp' });
  assert.deepEqual(profileTileOptions(null), {});
  assert.deepEqual(profileTileOptions({ transport: 'bogus' }), {});
});

test('camstream\'s refusals as a person reads them', () => {
  const cases = [
    [401, { error: 'the device refused these credentials', code: 'unauthorized' }, 'wrong user name or password'],
    [504, { error: 'deadline', code: 'timeout' }, 'timeout: the camera did not answer in time'],
    [504, null, 'timeout: the camera did not answer in time'],
    [403, { error: 'host 10.9.9.9 is not allowed', code: 'host_not_allowed' }, 'host 10.9.9.9 is not allowed'],
    [404, { error: 'ONVIF discovery is off (--onvif-discovery off)', code: 'not_found' },
      'ONVIF discovery is off (--onvif-discovery off)'],
    [401, { error: 'missing or wrong token', code: 'invalid_token' },
      'camstream asks for its access token (--token), which this page does not send'],
    [502, { error: 'connection refused', code: 'open_failed' }, 'connection refused [open_failed] (HTTP 502)'],
    [409, { error: 'stream gate already exists', code: 'already_exists' },
      'stream gate already exists [already_exists] (HTTP 409)'],
    [409, { error: 'this server is instance 2 of a cluster of 3: ...', code: 'cluster_config' },
      get('clusterConfigText')('')],
    [404, null, 'this camstream has no ONVIF support (HTTP 404)'],
    [500, null, 'camstream answered HTTP 500'],
  ];
  for (const [status, body, want] of cases) assert.equal(onvifErrorText(status, body), want, `${status} ${JSON.stringify(body)}`);
});

test('a profile\'s own error reads as the same refusal would', () => {
  const [row] = profileRows({ profiles: [{ name: 'P', uri: null, error: { code: 'unauthorized', error: 'NotAuthorized' } }] });
  assert.equal(row.error, 'wrong user name or password');
  const [other] = profileRows({ profiles: [{ name: 'P', uri: null, error: { code: 'open_failed', error: 'SOAP fault' } }] });
  assert.equal(other.error, 'SOAP fault [open_failed]');
});
