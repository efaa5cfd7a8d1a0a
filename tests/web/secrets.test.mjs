// web/js/secrets.js: which query names are secret, and how camera URLs lose, hide and get
// back their credentials. Run: node --test tests/web/
import assert from 'node:assert/strict';
import test from 'node:test';
import { load, plain, readWeb } from './load.mjs';

// The server's lists (url_redact.c); a C unit test compares secrets.js with them too.
const SERVER_WORDS = ['user', 'username', 'password', 'pass', 'pwd', 'passwd', 'passphrase',
  'token', 'auth', 'key', 'secret', 'signature', 'sig'];
const SERVER_PARTS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey'];

const { get } = load(['secrets.js']);
const isSecretName = get('isSecretName');
const secretsOf = (url) => plain(get('secretsOf')(url));
const stripSecrets = get('stripSecrets');
const fillSecrets = get('fillSecrets');
const displayUrl = get('displayUrl');
const placeholderUrl = get('placeholderUrl');
const shortUrl = get('shortUrl');

/** The two arrays as a simple scanner reads them: one statement of single-quoted strings. */
function scanList(source, name) {
  const m = new RegExp(`^const ${name} = \\[([^\\]]*)\\];`, 'm').exec(source);
  assert.ok(m, `no "const ${name} = [ ... ];" statement`);
  const items = [];
  const rest = m[1].replace(/'([^'\\\n]*)'/g, (whole, item) => { items.push(item); return ''; });
  assert.match(rest, /^[\s,]*$/, `${name} holds more than single-quoted strings: ${rest.trim()}`);
  return items;
}

test('SECRET_WORDS and SECRET_PARTS are the server\'s lists, written so a simple scanner reads them', () => {
  const source = readWeb('js/secrets.js');
  assert.deepEqual(scanList(source, 'SECRET_WORDS'), SERVER_WORDS);
  assert.deepEqual(scanList(source, 'SECRET_PARTS'), SERVER_PARTS);
  // and what the scanner read is what the script has
  assert.deepEqual(plain(get('SECRET_WORDS')), SERVER_WORDS);
  assert.deepEqual(plain(get('SECRET_PARTS')), SERVER_PARTS);
});

test('isSecretName: the words alone or after "_", "-" or ".", any name holding a part, in any case', () => {
  for (const name of ['user', 'password', 'PASSWORD', 'Pwd', 'sig', 'key', 'auth',
    'access_token', 'x-auth', 'api.key', 'db_pass', 'mypassword', 'x_apikey_y', 'clientsecretvalue',
    'pass%77ord', 'access%5Ftoken', 'a'.repeat(64)]) {
    assert.equal(isSecretName(name), true, name);
  }
  for (const name of ['channel', 'subtype', 'monkey', 'design', 'keyframe', 'username2',
    'authority', 'passage', '%zz', 'a'.repeat(63)]) {
    assert.equal(isSecretName(name), false, name);
  }
});

test('secretsOf finds the userinfo (up to the last "@" before the path) and secret parameters, in order', () => {
  assert.deepEqual(secretsOf('rtsp://admin:p@ss&word@127.0.0.1:9/cam?token=abc&channel=1'),
    [{ kind: 'userinfo', name: '' }, { kind: 'param', name: 'token' }]);
  // some DVRs put them in the path
  assert.deepEqual(secretsOf('rtsp://10.0.0.1/user=admin&password=x&channel=1'),
    [{ kind: 'param', name: 'user' }, { kind: 'param', name: 'password' }]);
  assert.deepEqual(secretsOf('rtsp://cam.local/live?mail=a@b.c'), []); // "@" after the authority
  assert.deepEqual(secretsOf('demo:'), []);
  assert.deepEqual(secretsOf('no scheme user=x'), []);
});

test('stripSecrets removes the userinfo and empties secret values; displayUrl and placeholderUrl mask them', () => {
  const url = 'rtsp://admin:p@ss&word@127.0.0.1:9/cam?token=abc&channel=1';
  assert.equal(stripSecrets(url), 'rtsp://127.0.0.1:9/cam?token=&channel=1');
  assert.equal(displayUrl(url), 'rtsp://***@127.0.0.1:9/cam?token=***&channel=1');
  assert.equal(placeholderUrl(url), 'rtsp://USER:PASSWORD@127.0.0.1:9/cam?token=SECRET&channel=1');
  assert.equal(stripSecrets('rtsp://10.0.0.1/user=admin&password=x&channel=1'),
    'rtsp://10.0.0.1/user=&password=&channel=1');
  assert.equal(stripSecrets('rtmp://live.example/app/key'), 'rtmp://live.example/app/key');
  // the query's first pair is judged like the others (its name does not include the "?")
  assert.equal(stripSecrets('rtsp://cam/x?pass=hunter2&channel=1'), 'rtsp://cam/x?pass=&channel=1');
  assert.equal(displayUrl('rtsp://cam/x?channel=1&sig=f00'), 'rtsp://cam/x?channel=1&sig=***');
});

test('fillSecrets puts typed values back, percent-encoded, into a stripped URL', () => {
  const url = 'rtsp://viewer:s3cr3t@127.0.0.1:8554/secure?token=abc&channel=2';
  const secrets = get('secretsOf')(url);
  const filled = fillSecrets(stripSecrets(url), secrets,
    [{ user: 'viewer', password: 'p@ss word' }, 'a&b']);
  assert.equal(filled, 'rtsp://viewer:p%40ss%20word@127.0.0.1:8554/secure?token=a%26b&channel=2');
  assert.equal(fillSecrets(stripSecrets(url), secrets, [{ user: 'viewer', password: 's3cr3t' }, 'abc']), url);
  // a user without a password, and nothing typed at all
  const user = [{ kind: 'userinfo', name: '' }];
  assert.equal(fillSecrets('rtsp://cam/x', user, [{ user: 'ann', password: '' }]), 'rtsp://ann@cam/x');
  assert.equal(fillSecrets('rtsp://cam/x', user, [{ user: '', password: '' }]), 'rtsp://cam/x');
});

test('shortUrl, a tile\'s title: no rtsp://, no userinfo, secret values as ***', () => {
  assert.equal(shortUrl('rtsp://viewer:s3cr3tPass@127.0.0.1:9/secure?channel=2'), '127.0.0.1:9/secure?channel=2');
  assert.equal(shortUrl('RTSP://cam/x?pwd=1&a=2'), 'cam/x?pwd=***&a=2');
  assert.equal(shortUrl('rtmp://u:p@live/app'), 'rtmp://live/app');
  assert.equal(shortUrl('demo:'), 'demo:');
});
