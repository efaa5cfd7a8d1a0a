/* url: the camera URL a client asked for. Validation with uriparser (under the scheme policy
 * of schemes.c), how a URL is cut (split.c), redaction (redact.c). Pure functions, no mutable
 * statics: safe on any thread.
 *
 * uriparser rejects the raw '@' that FFmpeg accepts in a password, so it parses a copy whose
 * userinfo, path, query and fragment are percent-encoded where RFC 3986 wants it; scheme, host
 * and port are checked exactly as given.
 */
#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uriparser/Uri.h>

#include "redact.h"
#include "schemes.h"
#include "split.h"
#include "strbuf.h"
#include "text.h"

/* Appends @n bytes of @s, percent-encoding what RFC 3986 does not allow there: bytes other
 * than unreserved, sub-delims and @extra, and a '%' that does not start an escape. */
static void put_encoded(struct strbuf *b, const char *s, size_t n, const char *extra)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		char esc[3] = { '%', hex[(unsigned char)c >> 4], hex[(unsigned char)c & 15] };

		if (c == '%' && i + 2 < n && ascii_hex_val(s[i + 1]) >= 0 && ascii_hex_val(s[i + 2]) >= 0)
			sb_putc(b, c);
		else if (c != '%' && (ascii_is_alnum(c) || strchr("-._~!$&'()*+,;=", c) ||
				strchr(extra, c)))
			sb_putc(b, c);
		else
			sb_add(b, esc, sizeof(esc));
	}
}

/* What uriparser sees; @host_off is where the host starts in it. */
static void put_parse_copy(struct strbuf *b, const struct url_parts *p, size_t *host_off)
{
	const char *rest = p->rest;
	size_t n;

	sb_add(b, p->scheme, p->scheme_len);
	sb_puts(b, "://");
	if (p->userinfo) {
		put_encoded(b, p->userinfo, p->userinfo_len, ":");
		sb_putc(b, '@');
	}
	*host_off = b->len;
	sb_add(b, p->hostport, p->hostport_len);
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

static char *make_parse_copy(const struct url_parts *p, size_t *host_off)
{
	struct strbuf b = STRBUF_INIT;
	put_parse_copy(&b, p, host_off);
	return sb_take(&b);
}


static enum cs_err check_text(const char *text, struct cs_error *err)
{
	if (!text || !*text)
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL is empty");
	size_t len = strnlen(text, URL_MAX_LEN + 1);
	if (len > URL_MAX_LEN)
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL is longer than %d bytes",
			URL_MAX_LEN);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ')
			/* The usual cause: lws turns an unencoded '+' of the query into a space. */
			return cs_fail(err, CS_BAD_REQUEST, "the camera URL contains a space (an "
				"unencoded '+' becomes a space): percent-encode the camera URL "
				"(encodeURIComponent)");
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return cs_fail(err, CS_BAD_REQUEST, "the camera URL contains a control character");
	}
	return CS_OK;
}

/* @p->scheme is known to be well-formed; it is only echoed when it cannot be a user name
 * ("admin:secret@host" has no "//", so "admin" is not shown). */
static enum cs_err check_scheme(const struct url_parts *p, const char *scheme,
	const struct url_policy *policy, struct cs_error *err)
{
	if (url_scheme_never(scheme, p->scheme_len))
		return cs_fail(err, CS_SCHEME_NOT_ALLOWED, "scheme \"%s\" can never be allowed",
			scheme);
	if (url_policy_allows(policy, scheme))
		return CS_OK;
	if (url_scheme_allowable(scheme, p->scheme_len))
		return cs_fail(err, CS_SCHEME_NOT_ALLOWED, "scheme \"%s\" is not allowed; start "
			"camstream with --allow-schemes=%s to allow it", scheme, scheme);
	if (!p->has_authority)
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL must start with a scheme, e.g. "
			"rtsp://host/path");
	return cs_fail(err, CS_SCHEME_NOT_ALLOWED, "unknown scheme \"%.24s\": use rtsp, rtsps, "
		"rtmp or rtmps (or see --allow-schemes)", scheme);
}

static enum cs_err syntax_error(const struct url_parts *p, size_t host_off, size_t at,
	struct cs_error *err)
{
	const char *colon = memchr(p->hostport, ':', p->hostport_len);

	if (at < host_off || at > host_off + p->hostport_len)
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL is not a valid URL");
	if (colon && memchr(colon + 1, ':', p->hostport_len - (size_t)(colon + 1 -
			p->hostport)) && p->hostport[0] != '[')
		return cs_fail(err, CS_BAD_REQUEST, "the host of the camera URL is not valid: write "
			"an IPv6 address in brackets, e.g. rtsp://[fe80::1]:554/path");
	if (!p->userinfo && colon)
		/* Maybe "user:pass" cut at a '/', '?' or '#' in the password. */
		return cs_fail(err, CS_BAD_REQUEST, "the host or port of the camera URL is not valid "
			"(a '/', '?' or '#' in a password must be percent-encoded)");
	return cs_fail(err, CS_BAD_REQUEST, "the host or port of the camera URL is not valid");
}

/* Host and port from uriparser's view of the copy. */
static enum cs_err take_host_port(const UriUriA *uri, struct cam_url *out,
	struct cs_error *err)
{
	const char *h = uri->hostText.first;
	size_t hlen = h ? (size_t)(uri->hostText.afterLast - h) : 0;
	long port = 0;

	if (uri->hostData.ipFuture.first)
		return cs_fail(err, CS_BAD_REQUEST, "the host of the camera URL is not an address "
			"camstream knows");
	if (!hlen)
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL has no host");
	out->host = strndup(h, hlen);
	if (!out->host)
		return cs_fail_oom(err);
	out->port = url_scheme_default_port(out->scheme);
	/* An empty port ("host:/") means the default, as in RFC 3986 and FFmpeg. */
	if (uri->portText.first && uri->portText.afterLast > uri->portText.first) {
		for (const char *q = uri->portText.first; q < uri->portText.afterLast &&
			port <= 65535; q++)
			port = port * 10 + (*q - '0'); /* uriparser allows digits only */
		if (port < 1 || port > 65535)
			/* Not echoed: "rtsp://admin:123456/x@host" puts a password here. */
			return cs_fail(err, CS_BAD_REQUEST, "the port of the camera URL must be from 1 "
				"to 65535");
		out->port = (int)port;
	}
	return CS_OK;
}

static enum cs_err parse_demo(const char *text, struct cam_url *out, struct cs_error *err)
{
	if (!url_is_demo(text))
		return cs_fail(err, CS_BAD_REQUEST, "the demo source is written \"demo:\" with "
			"nothing after it");
	out->text = strdup(text);
	out->redacted = strdup(text);
	out->scheme = strdup("demo");
	out->host = strdup("");
	if (!out->text || !out->redacted || !out->scheme || !out->host) {
		url_free(out);
		return cs_fail_oom(err);
	}
	out->is_demo = true;
	return CS_OK;
}

enum cs_err url_parse(const char *text, const struct url_policy *policy, struct cam_url *out,
	struct cs_error *err)
{
	struct url_parts p;
	UriUriA uri;
	const char *errpos = NULL;
	size_t host_off = 0;

	if (err)
		cs_error_clear(err);
	memset(out, 0, sizeof(*out));
	enum cs_err rc = check_text(text, err);
	if (rc != CS_OK)
		return rc;
	if (!strncasecmp(text, "demo:", 5))
		return parse_demo(text, out, err);
	if (!url_split(text, &p))
		return cs_fail(err, CS_BAD_REQUEST, "the camera URL must start with a scheme, e.g. "
			"rtsp://host/path");

	out->scheme = strndup(p.scheme, p.scheme_len);
	if (!out->scheme)
		goto oom;
	for (size_t i = 0; i < p.scheme_len; i++)
		out->scheme[i] = ascii_lower(out->scheme[i]);
	rc = check_scheme(&p, out->scheme, policy, err);
	if (rc != CS_OK)
		goto fail;
	if (!p.has_authority) {
		rc = cs_fail(err, CS_BAD_REQUEST, "the camera URL needs a host: %s://host/path",
			out->scheme);
		goto fail;
	}
	if (p.at_past_authority) {
		rc = cs_fail(err, CS_BAD_REQUEST, "the camera URL has an '@' after the host: "
			"percent-encode '/', '?' and '#' in a user name or password (%%2F, %%3F, %%23), "
			"and '@' elsewhere (%%40)");
		goto fail;
	}

	char *copy = make_parse_copy(&p, &host_off);
	if (!copy)
		goto oom;
	int urc = uriParseSingleUriA(&uri, copy, &errpos);
	if (urc == URI_ERROR_MALLOC) {
		free(copy);
		goto oom;
	}
	if (urc != URI_SUCCESS) {
		rc = syntax_error(&p, host_off, errpos ? (size_t)(errpos - copy) : 0, err);
		free(copy);
		goto fail;
	}
	rc = take_host_port(&uri, out, err);
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
	rc = cs_fail_oom(err);
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

char *url_with_userinfo(const char *text, const char *user, const char *pass)
{
	struct url_parts p;
	if (!url_split(text, &p) || !p.has_authority)
		return NULL;
	struct strbuf b = STRBUF_INIT;
	if (!user) { /* none at all */
		sb_add(&b, text, (size_t)(p.hostport - text) - (p.userinfo ? p.userinfo_len + 1 : 0));
		sb_puts(&b, p.hostport);
		return sb_take(&b);
	}
	char *u = url_percent_encode(user), *w = pass ? url_percent_encode(pass) : NULL;
	if (u && (w || !pass)) {
		sb_add(&b, text, (size_t)(p.hostport - text) - (p.userinfo ? p.userinfo_len + 1 : 0));
		sb_puts(&b, u);
		if (w) {
			sb_putc(&b, ':');
			sb_puts(&b, w);
		}
		sb_putc(&b, '@');
		sb_puts(&b, p.hostport);
	} else {
		b.failed = true;
	}
	free(u);
	free(w);
	return sb_take(&b);
}

char *url_with_host(const char *text, const char *host)
{
	struct url_parts p;
	if (!url_split(text, &p) || !p.has_authority)
		return NULL;
	/* the port (if any) follows the host: a bracketed IPv6 literal ends at its ']' */
	const char *port = p.hostport[0] == '[' ? memchr(p.hostport, ']', p.hostport_len)
		: memchr(p.hostport, ':', p.hostport_len);
	if (port && *port == ']')
		port = port + 1 < p.hostport + p.hostport_len ? port + 1 : NULL;
	bool v6 = strchr(host, ':') != NULL;
	struct strbuf b = STRBUF_INIT;
	sb_add(&b, text, (size_t)(p.hostport - text));
	sb_puts(&b, v6 ? "[" : "");
	sb_puts(&b, host);
	sb_puts(&b, v6 ? "]" : "");
	if (port)
		sb_add(&b, port, (size_t)(p.hostport + p.hostport_len - port));
	sb_puts(&b, p.rest);
	return sb_take(&b);
}
