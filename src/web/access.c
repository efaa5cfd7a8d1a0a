#include "access.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "app.h"
#include "forwarded.h"
#include "http_reply.h"
#include "text.h"

bool access_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* walk the longer one in full, so the time says nothing about the matching prefix */
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

static bool query_token_ok(struct lws *wsi, const char *token)
{
	struct query q;
	if (http_query(wsi, &q, NULL) != CS_OK)
		return false;
	const char *t = query_get(&q, "token");
	bool ok = t && access_equal(t, strlen(t), token, strlen(token));
	query_free(&q);
	return ok;
}

bool access_token_ok(struct lws *wsi, const struct config *cfg)
{
	if (!cfg->token[0])
		return true;
	char auth[512];
	int n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && !strncasecmp(auth, "Bearer ", 7)) {
		const char *t = auth + 7;
		while (*t == ' ')
			t++;
		return access_equal(t, strlen(t), cfg->token, strlen(cfg->token));
	}
	return query_token_ok(wsi, cfg->token);
}

/* The host part of "scheme://host[:port]" or of a Host header "host[:port]", lowercase. */
static void host_of(const char *s, char *out, size_t cap)
{
	const char *p = strstr(s, "://");
	p = p ? p + 3 : s;
	size_t n;
	if (*p == '[') {
		n = strcspn(p, "]");
		n += p[n] == ']';
	} else {
		n = strcspn(p, ":/");
	}
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	out[n] = '\0';
}

static bool listed(const char *list, const char *origin)
{
	size_t olen = strlen(origin);
	for (const char *p = list; *p;) {
		p += strspn(p, ", ");
		size_t n = strcspn(p, ", ");
		if (n && n == olen && !strncmp(p, origin, n))
			return true;
		p += n;
	}
	return false;
}

bool access_origin_ok(struct lws *wsi, const struct config *cfg)
{
	char origin[512];
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true; /* not a browser: wscat, curl, scripts */
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return false;
	if (cfg->allow_origin[0])
		return listed(cfg->allow_origin, origin);
	if (!strcmp(origin, "null"))
		return true; /* web/index.html opened from disk */
	char host[300], ohost[300], hdr[300];
	if (lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HOST) <= 0)
		return false;
	host_of(hdr, host, sizeof(host));
	host_of(origin, ohost, sizeof(ohost));
	return host[0] && !strcmp(host, ohost);
}

/* an 8 KB camera URL plus the other options, as lws decoded them */
#define URI_MAX (8192 + 1024)

/* Refusals every protected request shares: 414 for a query over the limit, 401 without the
 * access token. Returns the reason, or CS_OK. */
static enum cs_err gate(struct lws *wsi, const struct config *cfg)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > URI_MAX)
		return CS_URI_TOO_LONG;
	if (!access_token_ok(wsi, cfg))
		return CS_INVALID_TOKEN;
	return CS_OK;
}

static const char *refusal(enum cs_err e)
{
	switch (e) {
	case CS_URI_TOO_LONG:
		return "the request is too long (camera URLs up to 8 KB)";
	case CS_INVALID_TOKEN:
		return "a valid access token is required: Authorization: Bearer <token>, or "
			"?token=<token>";
	case CS_ORIGIN_NOT_ALLOWED:
		return "WebSockets from this page's origin are not allowed (see --allow-origin)";
	default:
		return "no such path";
	}
}

/* Writes the refusal (with WWW-Authenticate for a missing token); lws ends the transaction
 * itself after CONFIRM_UPGRADE, the caller after LWS_CALLBACK_HTTP. */
static int write_refusal(struct lws *wsi, enum cs_err e, const char *msg)
{
	char *text = http_error_json(e, msg ? msg : refusal(e));
	struct http_header bearer = { "www-authenticate:", "Bearer" };
	int rc = text ? http_write_response(wsi, (unsigned int)cs_err_http_status(e),
		"application/json", text, strlen(text), &bearer, e == CS_INVALID_TOKEN) : -1;
	free(text);
	return rc;
}

bool access_http_check(struct lws *wsi, bool protected, const char *exact, int *ret)
{
	char *uri;
	int uri_len;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0 ||
		lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) {
		/* answer and close rather than confuse the connection's next response */
		http_write_response(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "application/json", "", 0,
			NULL, 0);
		*ret = -1;
		return false;
	}
	if (exact && (lws_http_get_uri_and_method(wsi, &uri, &uri_len) < 0 || uri_len < 0 ||
		(size_t)uri_len != strlen(exact) || strncmp(uri, exact, (size_t)uri_len))) {
		*ret = http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
		return false;
	}
	if (!protected)
		return true;
	enum cs_err e = gate(wsi, app_of(wsi)->cfg);
	if (e == CS_OK)
		return true;
	*ret = write_refusal(wsi, e, NULL) || lws_http_transaction_completed(wsi) ? -1 : 0;
	return false;
}

int access_confirm_upgrade(struct lws *wsi, const char *const *paths, size_t n)
{
	const struct config *cfg = app_of(wsi)->cfg;
	char uri[64];
	bool known = false;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0)
		for (size_t i = 0; i < n && !known; i++)
			known = !strcmp(uri, paths[i]);
	enum cs_err e = known ? gate(wsi, cfg) : CS_NOT_FOUND;
	if (e == CS_OK && !access_origin_ok(wsi, cfg))
		e = CS_ORIGIN_NOT_ALLOWED;
	if (e == CS_OK)
		return 0;
	char msg[160] = "WebSockets are served at";
	for (size_t i = 0; i < n; i++)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s %s", i ? " and" : "",
			paths[i]);
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " only");
	write_refusal(wsi, e, e == CS_NOT_FOUND ? msg : NULL);
	return 1;
}

/* The connection's peer address into @peer ("" if unknown); whether it is a trusted proxy. */
static bool from_trusted_proxy(struct lws *wsi, const struct config *cfg, char *peer, size_t n)
{
	peer[0] = '\0';
	lws_get_peer_simple(wsi, peer, n);
	return peer[0] && forwarded_trusted(&cfg->trusted_proxy, peer);
}

void access_client_addr(struct lws *wsi, const struct config *cfg, char *out, size_t size)
{
	char peer[64];
	bool proxied = from_trusted_proxy(wsi, cfg, peer, sizeof(peer));
	str_copy(out, size, peer[0] ? peer : "-");
	if (!proxied)
		return;
	/* all of it, however long: a client must not hide behind a header too long to read */
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
	char *xff = total > 0 ? malloc((size_t)total + 1) : NULL;
	if (!xff || lws_hdr_copy(wsi, xff, total + 1, WSI_TOKEN_X_FORWARDED_FOR) <= 0) {
		if (total > 0)
			str_copy(out, size, "-"); /* a client behind the proxy, unknown */
		free(xff);
		return;
	}
	forwarded_client(&cfg->trusted_proxy, xff, out, size);
	free(xff);
}

bool access_client_tls(struct lws *wsi, const struct config *cfg)
{
	char peer[64];
	if (lws_is_ssl(wsi))
		return true;
	if (!from_trusted_proxy(wsi, cfg, peer, sizeof(peer)))
		return false;
	char proto[16];
	int n = lws_hdr_custom_copy(wsi, proto, sizeof(proto), "x-forwarded-proto:", 18);
	return n == 5 && !strncasecmp(proto, "https", 5);
}
