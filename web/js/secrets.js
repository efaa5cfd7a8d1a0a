'use strict';

/*
 * camstream page, 2 of 9: camera URLs and their secrets. No page access; the node unit tests
 * (tests/web) run this file bare, and a C unit test compares SECRET_WORDS and SECRET_PARTS
 * with the server's own lists (keep each one statement of single-quoted strings).
 */

// Parameter names whose values are secrets, as camstream's url_redact.c judges them: one of
// SECRET_WORDS alone or after "_", "-" or "." (access_token), or containing a SECRET_PART.
const SECRET_WORDS = ['user', 'username', 'password', 'pass', 'pwd', 'passwd', 'passphrase',
  'token', 'auth', 'key', 'secret', 'signature', 'sig'];
const SECRET_PARTS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey'];

function isSecretName(name) {
  let low = name;
  try { low = decodeURIComponent(name); } catch (err) { /* keep it as written */ }
  low = low.toLowerCase();
  if (low.length > 63) return true;
  return SECRET_WORDS.some((w) => low === w ||
      (low.endsWith(w) && '_-.'.includes(low.charAt(low.length - w.length - 1)))) ||
    SECRET_PARTS.some((p) => low.includes(p));
}

/**
 * Rewrites the secrets of a camera URL, cut the way camstream (and FFmpeg) cut it: the
 * authority ends at the first of "/?#" and the userinfo at the last "@" inside it; secret-named
 * "name=value" pairs count in the path (some DVRs: /user=admin&password=x) and in the query.
 * @replace({kind: 'userinfo'|'param', name, value}) returns what takes the secret's place;
 * for the userinfo, '' removes it with its "@".
 */
function mapSecrets(url, replace) {
  const head = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(url);
  if (!head) return url;
  let out = head[0];
  let rest = url.slice(out.length);
  if (head[1]) {
    const authorityEnd = rest.search(/[/?#]|$/);
    const at = rest.lastIndexOf('@', authorityEnd - 1);
    if (authorityEnd > 0 && at >= 0) {
      const text = replace({ kind: 'userinfo', name: '', value: rest.slice(0, at) });
      out += text ? text + '@' : '';
      rest = rest.slice(at + 1);
    }
  }
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q);
  const pair = (sep, name, value) =>
    isSecretName(name) ? `${sep}${name}=${replace({ kind: 'param', name, value })}` : `${sep}${name}=${value}`;
  return out + path.replace(/(^|[/&])([^/&=]+)=([^/&]*)/g, (m, s, n, v) => pair(s, n, v)) +
    query.replace(/([?&])([^&#=]+)=([^&#]*)/g, (m, s, n, v) => pair(s, n, v));
}

/** The secrets of @url, in order: [{kind, name}]. */
function secretsOf(url) {
  const found = [];
  mapSecrets(url, (s) => { found.push({ kind: s.kind, name: s.name }); return s.value; });
  return found;
}

/** @url with every secret removed (the userinfo) or emptied (parameter values). */
function stripSecrets(url) {
  return mapSecrets(url, () => '');
}

/** Puts @values (one per secret of @secrets, in order) into a URL stripSecrets made. */
function fillSecrets(stripped, secrets, values) {
  let url = stripped;
  let i = 0;
  if (secrets.length && secrets[0].kind === 'userinfo') {
    const { user, password } = values[0];
    const userinfo = encodeURIComponent(user) + (password ? ':' + encodeURIComponent(password) : '');
    if (userinfo) url = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${userinfo}@`);
    i = 1;
  }
  return mapSecrets(url, (s) => (s.kind === 'param' && i < values.length
    ? encodeURIComponent(values[i++]) : s.value));
}

/** What may be shown of a camera URL: the userinfo and secret values as "***". */
function displayUrl(url) {
  return mapSecrets(url, () => '***');
}

/** A camera's address for a tile's title: no "rtsp://", no userinfo, secret values as "***". */
function shortUrl(url) {
  return mapSecrets(url, (s) => (s.kind === 'userinfo' ? '' : '***')).replace(/^rtsp:\/\//i, '');
}

/** The URL for an embed snippet: the person's own secrets replaced by placeholders. */
function placeholderUrl(url) {
  return mapSecrets(url, (s) => (s.kind === 'userinfo' ? 'USER:PASSWORD' : 'SECRET'));
}
