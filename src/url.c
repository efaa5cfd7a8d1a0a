/* url: the camera URL a client asked for. Validation with uriparser and the scheme policy;
 * credential redaction is in url_redact.c, and url_internal.h holds what the two share.
 * Pure functions, no mutable statics: safe on any thread.
 *
 * How a URL is cut. FFmpeg opens @text as given, so we cut it the way FFmpeg 5.1 does
 * (av_url_split, checked with ffprobe against a fake RTSP server): the authority ends at the
 * first of "/?#", and the userinfo ends at the LAST '@' inside it. "rtsp://u:p@ss@host/x"
 * therefore connects to "host" and sends user "u", password "p@ss" (FFmpeg also
 * percent-decodes the userinfo, so "p%40ss" sends the same). uriparser rejects the raw '@',
 * so it parses a copy whose userinfo, path, query and fragment are percent-encoded where
 * RFC 3986 wants it; scheme, host and port are checked exactly as given.
 *
 * A password holding '/', '?' or '#' is cut short by FFmpeg ("rtsp://u:12/34@host/s" goes to
 * host "u"), so an '@' after the authority is taken as the end of a mangled userinfo:
 * url_parse refuses the URL, and redaction hides everything up to that '@'. The one
 * exception is an '@' in the value of a secret-named pair such as a DVR path's
 * "password=Admin@123", which redaction hides anyway. An e-mail address in a camera URL's
 * query must therefore be percent-encoded (%40).
 */
#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uriparser/Uri.h>

#include "url_internal.h"

/* The sources that are always allowed. */
static const char *const builtin_schemes[] = { "rtsp", "rtsps", "rtmp", "rtmps" };

/* Network schemes FFmpeg reads live video from; --allow-schemes may add these. HLS has no
 * scheme of its own: FFmpeg's hls demuxer reads .m3u8 playlists over http/https. */
static const char *const allowable_schemes[] = {
	"http", "https", "srt", "udp", "rtp", "srtp", "tcp", "tls", "rist", "mmsh", "mmst",
	"rtmpt", "rtmpe", "rtmpts", "rtmpte",
};

/* Schemes that read local files or devices, or wrap another URL (which could be file:).
 * "hls" is FFmpeg's deprecated "hls+<url>" wrapper; ipfs/ipns read the local gateway
 * configuration; httpproxy and ffrtmp* are FFmpeg's internal plumbing. */
static const char *const never_schemes[] = {
	"file", "concat", "concatf", "subfile", "pipe", "data", "fd", "crypto", "cache", "async",
	"tee", "unix", "md5", "hls", "ffrtmpcrypt", "ffrtmphttp", "httpproxy", "bluray",
	"android_content", "ipfs", "ipns",
};


static const struct {
	const char *scheme;
	int port;
} default_ports[] = {
	{ "rtsp", 554 }, { "rtsps", 322 }, { "rtmp", 1935 }, { "rtmps", 443 },
	{ "http", 80 }, { "https", 443 },
};


static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || to_lower(a[i]) != to_lower(b[i]))
			return false;
	return b[alen] == '\0';
}

static bool in_list(const char *name, size_t len, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (eq_nocase(name, len, list[i]))
			return true;
	return false;
}

static bool is_builtin(const char *s, size_t n)
{
	return in_list(s, n, builtin_schemes, N_ELEM(builtin_schemes));
}
static bool is_allowable(const char *s, size_t n)
{
	return in_list(s, n, allowable_schemes, N_ELEM(allowable_schemes));
}
static bool is_never(const char *s, size_t n)
{
	return in_list(s, n, never_schemes, N_ELEM(never_schemes));
}
bool url_scheme_is_known(const char *s, size_t n)
{
	return is_builtin(s, n) || is_allowable(s, n) || is_never(s, n) || eq_nocase(s, n, "demo");
}

static bool is_scheme_name(const char *s)
{
	if (!is_alpha(*s))
		return false;
	for (s++; *s; s++)
		if (!is_alnum(*s) && *s != '+' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* See url_internal.h. */
bool url_split(const char *text, struct parts *p)
{
	const char *s = text, *auth, *auth_end, *at = NULL, *q;

	memset(p, 0, sizeof(*p));
	if (!is_alpha(*s))
		return false;
	while (is_alnum(*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	if (*s != ':')
		return false;
	p->scheme = text;
	p->scheme_len = (size_t)(s - text);
	if (strncmp(s + 1, "//", 2) != 0) {
		p->rest = s + 1;
		return true;
	}
	p->has_authority = true;
	auth = s + 3;
	auth_end = auth + strcspn(auth, "/?#");
	for (q = auth; q < auth_end; q++)
		if (*q == '@')
			at = q;
	url_redact_last_at(auth_end, &at);
	if (at) {
		p->userinfo = auth;
		p->userinfo_len = (size_t)(at - auth);
		p->at_past_authority = at >= auth_end;
		p->hostport = at + 1;
	} else {
		p->hostport = auth;
	}
	p->hostport_len = strcspn(p->hostport, "/?#");
	p->rest = p->hostport + p->hostport_len;
	return true;
}

/* Appends @n bytes of @s, percent-encoding what RFC 3986 does not allow there: bytes other
 * than unreserved, sub-delims and @extra, and a '%' that does not start an escape. */
static void put_encoded(struct sbuf *b, const char *s, size_t n, const char *extra)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		char esc[3] = { '%', hex[(unsigned char)c >> 4], hex[(unsigned char)c & 15] };

		if (c == '%' && i + 2 < n && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0)
			sb_putc(b, c);
		else if (c != '%' && (is_alnum(c) || strchr("-._~!$&'()*+,;=", c) ||
				strchr(extra, c)))
			sb_putc(b, c);
		else
			sb_putn(b, esc, sizeof(esc));
	}
}

/* What uriparser sees; @host_off is where the host starts in it. */
static void put_parse_copy(struct sbuf *b, const struct parts *p, size_t *host_off)
{
	const char *rest = p->rest;
	size_t n;

	sb_putn(b, p->scheme, p->scheme_len);
	sb_puts(b, "://");
	if (p->userinfo) {
		put_encoded(b, p->userinfo, p->userinfo_len, ":");
		sb_putc(b, '@');
	}
	*host_off = b->len;
	sb_putn(b, p->hostport, p->hostport_len);
	n = strcspn(rest, "?#");
	put_encoded(b, rest, n, ":@/");
	rest += n;
	if (*rest == '?') {
		n = strcspn(rest + 1, "#");
		sb_putc(b, '?');
		put_encoded(b, rest + 1, n, ":@/?");
		rest += 1 + n;
	}
	if (*rest == '#') {
		sb_putc(b, '#');
		put_encoded(b, rest + 1, strlen(rest + 1), ":@/?");
	}
}

static char *make_parse_copy(const struct parts *p, size_t *host_off)
{
	struct sbuf b = { NULL, 0, 0 };
	char *copy;

	put_parse_copy(&b, p, host_off);
	copy = malloc(b.len + 1);
	if (!copy)
		return NULL;
	b = (struct sbuf){ copy, b.len + 1, 0 };
	put_parse_copy(&b, p, host_off);
	sb_end(&b);
	return copy;
}


/* Stops at the NUL of either string. */
static bool starts_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (to_lower(*s) != *prefix)
			return false;
	return true;
}

/* "demo:" and "demo://" in any case. Anything after them is refused rather than ignored, so
 * that "demo:foo" cannot look as if it picked something. */
bool url_is_demo(const char *text)
{
	return eq_nocase(text, strlen(text), "demo:") || eq_nocase(text, strlen(text), "demo://");
}


bool url_policy_allows(const struct url_policy *p, const char *scheme)
{
	size_t n;
	int i;

	if (!scheme)
		return false;
	n = strlen(scheme);
	if (is_never(scheme, n))
		return false; /* even if someone filled @p by hand */
	if (is_builtin(scheme, n))
		return true;
	if (n >= sizeof(p->extra[0]))
		return false; /* cannot be in extra[], whose rows may lack a NUL when full */
	for (i = 0; p && i < p->n_extra && i < (int)N_ELEM(p->extra); i++)
		if (eq_nocase(scheme, n, p->extra[i]))
			return true;
	return false;
}

bool url_policy_allow(struct url_policy *p, const char *scheme, char *err, size_t errlen)
{
	char list[256];
	struct sbuf b = { list, sizeof(list), 0 };
	size_t n, i;

	if (!p || !scheme || !*scheme) {
		cs_err_set(err, errlen, "empty scheme name");
		return false;
	}
	n = strlen(scheme);
	if (!is_scheme_name(scheme)) {
		cs_err_set(err, errlen, "\"%.24s\" is not a scheme name", scheme);
		return false;
	}
	if (eq_nocase(scheme, n, "hls")) {
		cs_err_set(err, errlen, "scheme \"hls\" can never be allowed: it wraps another URL; "
			"allow http or https to play HLS playlists (.m3u8)");
		return false;
	}
	if (is_never(scheme, n)) {
		cs_err_set(err, errlen, "scheme \"%.24s\" can never be allowed: it reads local files "
			"or wraps another URL", scheme);
		return false;
	}
	if (is_builtin(scheme, n) || url_policy_allows(p, scheme))
		return true;
	if (!is_allowable(scheme, n)) {
		for (i = 0; i < N_ELEM(allowable_schemes); i++) {
			sb_puts(&b, i ? ", " : "");
			sb_puts(&b, allowable_schemes[i]);
		}
		sb_end(&b);
		cs_err_set(err, errlen, "unknown scheme \"%.24s\": schemes that can be allowed are %s",
			scheme, list);
		return false;
	}
	if (p->n_extra < 0 || p->n_extra >= (int)N_ELEM(p->extra)) {
		cs_err_set(err, errlen, "too many allowed schemes (at most %zu)", N_ELEM(p->extra));
		return false;
	}
	/* Allowable names are short, so they fit extra[] (checked by the loop bound). */
	for (i = 0; i < n && i < sizeof(p->extra[0]) - 1; i++)
		p->extra[p->n_extra][i] = to_lower(scheme[i]);
	p->extra[p->n_extra][i] = '\0';
	p->n_extra++;
	return true;
}

static enum cs_err check_text(const char *text, char *err, size_t errlen)
{
	size_t len, i;

	if (!text || !*text) {
		cs_err_set(err, errlen, "the camera URL is empty");
		return CS_BAD_REQUEST;
	}
	len = strnlen(text, URL_MAX_LEN + 1);
	if (len > URL_MAX_LEN) {
		cs_err_set(err, errlen, "the camera URL is longer than %d bytes", URL_MAX_LEN);
		return CS_BAD_REQUEST;
	}
	for (i = 0; i < len; i++) {
		if (text[i] == ' ') {
			/* The usual cause: lws turns an unencoded '+' of the query into a space. */
			cs_err_set(err, errlen, "the camera URL contains a space (an unencoded '+' becomes "
				"a space): percent-encode the camera URL (encodeURIComponent)");
			return CS_BAD_REQUEST;
		}
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			cs_err_set(err, errlen, "the camera URL contains a control character");
			return CS_BAD_REQUEST;
		}
	}
	return CS_OK;
}

/* @p->scheme is known to be well-formed; it is only echoed when it cannot be a user name
 * ("admin:secret@host" has no "//", so "admin" is not shown). */
static enum cs_err check_scheme(const struct parts *p, const char *scheme,
	const struct url_policy *policy, char *err, size_t errlen)
{
	if (is_never(scheme, p->scheme_len)) {
		cs_err_set(err, errlen, "scheme \"%s\" can never be allowed", scheme);
		return CS_SCHEME_NOT_ALLOWED;
	}
	if (url_policy_allows(policy, scheme))
		return CS_OK;
	if (is_allowable(scheme, p->scheme_len)) {
		cs_err_set(err, errlen, "scheme \"%s\" is not allowed; start camstream with "
			"--allow-schemes=%s to allow it", scheme, scheme);
		return CS_SCHEME_NOT_ALLOWED;
	}
	if (!p->has_authority) {
		cs_err_set(err, errlen, "the camera URL must start with a scheme, e.g. rtsp://host/path");
		return CS_BAD_REQUEST;
	}
	cs_err_set(err, errlen, "unknown scheme \"%.24s\": use rtsp, rtsps, rtmp or rtmps "
		"(or see --allow-schemes)", scheme);
	return CS_SCHEME_NOT_ALLOWED;
}

static enum cs_err syntax_error(const struct parts *p, size_t host_off, size_t at, char *err,
	size_t errlen)
{
	const char *colon = memchr(p->hostport, ':', p->hostport_len);

	if (at < host_off || at > host_off + p->hostport_len) {
		cs_err_set(err, errlen, "the camera URL is not a valid URL");
	} else if (colon && memchr(colon + 1, ':', p->hostport_len - (size_t)(colon + 1 -
			p->hostport)) && p->hostport[0] != '[') {
		cs_err_set(err, errlen, "the host of the camera URL is not valid: write an IPv6 "
			"address in brackets, e.g. rtsp://[fe80::1]:554/path");
	} else if (!p->userinfo && colon) {
		/* Maybe "user:pass" cut at a '/', '?' or '#' in the password. */
		cs_err_set(err, errlen, "the host or port of the camera URL is not valid (a '/', '?' "
			"or '#' in a password must be percent-encoded)");
	} else {
		cs_err_set(err, errlen, "the host or port of the camera URL is not valid");
	}
	return CS_BAD_REQUEST;
}

/* Host and port from uriparser's view of the copy. */
static enum cs_err take_host_port(const UriUriA *uri, struct cam_url *out, char *err,
	size_t errlen)
{
	const char *h = uri->hostText.first, *q;
	size_t hlen = h ? (size_t)(uri->hostText.afterLast - h) : 0;
	long port = 0;
	size_t i;

	if (uri->hostData.ipFuture.first) {
		cs_err_set(err, errlen, "the host of the camera URL is not an address camstream knows");
		return CS_BAD_REQUEST;
	}
	if (!hlen) {
		cs_err_set(err, errlen, "the camera URL has no host");
		return CS_BAD_REQUEST;
	}
	out->host = strndup(h, hlen);
	if (!out->host) {
		cs_err_set(err, errlen, "out of memory");
		return CS_BAD_REQUEST;
	}
	for (i = 0; i < N_ELEM(default_ports); i++)
		if (strcmp(out->scheme, default_ports[i].scheme) == 0)
			out->port = default_ports[i].port;
	/* An empty port ("host:/") means the default, as in RFC 3986 and FFmpeg. */
	if (uri->portText.first && uri->portText.afterLast > uri->portText.first) {
		for (q = uri->portText.first; q < uri->portText.afterLast && port <= 65535; q++)
			port = port * 10 + (*q - '0'); /* uriparser allows digits only */
		if (port < 1 || port > 65535) {
			/* Not echoed: "rtsp://admin:123456/x@host" puts a password here. */
			cs_err_set(err, errlen, "the port of the camera URL must be from 1 to 65535");
			return CS_BAD_REQUEST;
		}
		out->port = (int)port;
	}
	return CS_OK;
}

static enum cs_err parse_demo(const char *text, struct cam_url *out, char *err,
	size_t errlen)
{
	if (!url_is_demo(text)) {
		cs_err_set(err, errlen, "the demo source is written \"demo:\" with nothing after it");
		return CS_BAD_REQUEST;
	}
	out->text = strdup(text);
	out->redacted = strdup(text);
	out->scheme = strdup("demo");
	out->host = strdup("");
	if (!out->text || !out->redacted || !out->scheme || !out->host) {
		url_free(out);
		cs_err_set(err, errlen, "out of memory");
		return CS_BAD_REQUEST;
	}
	out->is_demo = true;
	return CS_OK;
}

enum cs_err url_parse(const char *text, const struct url_policy *policy, struct cam_url *out,
	char *err, size_t errlen)
{
	struct parts p;
	UriUriA uri;
	const char *errpos = NULL;
	char *copy;
	size_t host_off = 0, i;
	enum cs_err rc;
	int urc;

	cs_err_set(err, errlen, "%s", "");
	if (!out) {
		cs_err_set(err, errlen, "no place for the parsed URL");
		return CS_BAD_REQUEST;
	}
	memset(out, 0, sizeof(*out));
	rc = check_text(text, err, errlen);
	if (rc != CS_OK)
		return rc;
	if (starts_nocase(text, "demo:"))
		return parse_demo(text, out, err, errlen);
	if (!url_split(text, &p)) {
		cs_err_set(err, errlen, "the camera URL must start with a scheme, e.g. rtsp://host/path");
		return CS_BAD_REQUEST;
	}

	out->scheme = strndup(p.scheme, p.scheme_len);
	if (!out->scheme)
		goto oom;
	for (i = 0; i < p.scheme_len; i++)
		out->scheme[i] = to_lower(out->scheme[i]);
	rc = check_scheme(&p, out->scheme, policy, err, errlen);
	if (rc != CS_OK)
		goto fail;
	if (!p.has_authority) {
		cs_err_set(err, errlen, "the camera URL needs a host: %s://host/path", out->scheme);
		rc = CS_BAD_REQUEST;
		goto fail;
	}
	if (p.at_past_authority) {
		cs_err_set(err, errlen, "the camera URL has an '@' after the host: percent-encode '/', "
			"'?' and '#' in a user name or password (%%2F, %%3F, %%23), and '@' elsewhere "
			"(%%40)");
		rc = CS_BAD_REQUEST;
		goto fail;
	}

	copy = make_parse_copy(&p, &host_off);
	if (!copy)
		goto oom;
	urc = uriParseSingleUriA(&uri, copy, &errpos);
	if (urc == URI_ERROR_MALLOC) {
		free(copy);
		goto oom;
	}
	if (urc != URI_SUCCESS) {
		rc = syntax_error(&p, host_off, errpos ? (size_t)(errpos - copy) : 0, err, errlen);
		free(copy);
		goto fail;
	}
	rc = take_host_port(&uri, out, err, errlen);
	uriFreeUriMembersA(&uri);
	free(copy);
	if (rc != CS_OK)
		goto fail;

	out->text = strdup(text);
	if (!out->text)
		goto oom;
	out->redacted = url_redact_parts(&p);
	if (!out->redacted)
		goto oom;
	out->has_credentials = p.userinfo_len > 0;
	return CS_OK;

oom:
	cs_err_set(err, errlen, "out of memory");
	rc = CS_BAD_REQUEST;
fail:
	url_free(out);
	return rc;
}

void url_free(struct cam_url *u)
{
	if (!u)
		return;
	free(u->text);
	free(u->redacted);
	free(u->scheme);
	free(u->host);
	memset(u, 0, sizeof(*u));
}

char *url_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}
