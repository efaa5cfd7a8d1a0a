#include "http_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "error.h"
#include "http_media.h"
#include "http_reply.h"
#include "http_streams.h"
#include "metrics.h"
#include "log.h"
#include "server.h"

#define HEALTH_JSON "{\"status\":\"ok\",\"message\":\"Video Streaming Server is running.\"}"
/* an 8 KB camera URL plus the other options, as lws decoded them */
#define URI_MAX (8192 + 1024)

/* Per-transaction data: which room took the request, and that room's state.
 * lws allocates it zeroed for each HTTP transaction and frees it after. */
enum http_kind { KIND_NONE = 0, KIND_MEDIA, KIND_STREAMS };
struct http_session {
	enum http_kind kind;
	struct media_req media;
	struct api_req api;
};

size_t http_api_session_size(void)
{
	return sizeof(struct http_session);
}

static bool has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

/* The q value given to @type in an Accept header: 0 when absent, 1 by default. */
static double accept_q(const char *accept, const char *type)
{
	size_t tlen = strlen(type);
	for (const char *p = accept; p && *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		size_t mlen = strcspn(p, ";,");
		while (mlen && (p[mlen - 1] == ' ' || p[mlen - 1] == '\t'))
			mlen--;
		if (mlen == tlen && !strncasecmp(p, type, tlen)) {
			const char *q = strstr(p, "q=");
			if (q && q < p + len)
				return strtod(q + 2, NULL);
			return 1.0;
		}
		p += len;
	}
	return 0.0;
}

/* Browsers list text/html explicitly; curl, fetch() and scripts send * / * or JSON. */
static bool prefers_html(struct lws *wsi)
{
	char accept[1024];
	if (lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) <= 0)
		return false;
	double html = accept_q(accept, "text/html");
	return html > 0 && html >= accept_q(accept, "application/json");
}

/* The page's own files: index.html and what it loads (css/, js/, images). Served from the
 * web root by lws, which streams the file; only known types, and only plain names: lws has
 * already collapsed "/../" in the path, the check below is a second guard. */
static const struct {
	const char *ext, *type;
} web_types[] = {
	{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" }, { ".png", "image/png" },
	{ ".svg", "image/svg+xml" }, { ".ico", "image/x-icon" },
};

static const char *web_type(const char *path)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < sizeof(web_types) / sizeof(web_types[0]); i++) {
		size_t n = strlen(web_types[i].ext);
		if (len > n && !strcmp(path + len - n, web_types[i].ext))
			return web_types[i].type;
	}
	return NULL;
}

static bool plain_path(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") || strstr(path, "//"))
		return false;
	for (const char *p = path; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Serves @rel ("/index.html", "/js/tile.js") from the web root; 404 JSON when it is not one
 * of the page's files. */
static int serve_file(struct lws *wsi, const char *rel)
{
	struct server_state *st = server_get(wsi);
	const char *type = plain_path(rel) ? web_type(rel) : NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s%s", st->cfg->web_root, rel);
	if (!type || access(path, R_OK)) {
		if (!strcmp(rel, "/index.html"))
			log_warn("cannot open %s", path);
		return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND,
			!strcmp(rel, "/index.html") ? "the viewer page is not installed (see "
			"--web-root)" : "no such path");
	}
	int n = lws_serve_http_file(wsi, path, type, NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* /api/streams/{name}/snapshot is a picture: it is served like /snapshot. */
static bool named_snapshot(const char *path, char *name, size_t cap)
{
	const char *prefix = "/api/streams/", *suffix = "/snapshot";
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path);
	if (len <= plen + slen || strncmp(path, prefix, plen) || strcmp(path + len - slen, suffix))
		return false;
	size_t nlen = len - plen - slen;
	if (nlen >= cap || memchr(path + plen, '/', nlen))
		return false;
	memcpy(name, path + plen, nlen);
	name[nlen] = '\0';
	return true;
}

/* Refusals every protected request shares: 414 for a request line over the limit, 401
 * without the access token. Returns the reason, or CS_OK. */
static enum cs_err gate(struct lws *wsi, const struct server_state *st)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (len > URI_MAX)
		return CS_URI_TOO_LONG;
	if (!access_token_ok(wsi, st->cfg))
		return CS_INVALID_TOKEN;
	return CS_OK;
}

static int refuse(struct lws *wsi, enum cs_err e, bool complete)
{
	const char *msg = e == CS_URI_TOO_LONG ? "the request is too long (camera URLs up to 8 KB)"
		: e == CS_INVALID_TOKEN ? "a valid access token is required: Authorization: Bearer "
			"<token>, or ?token=<token>"
		: e == CS_ORIGIN_NOT_ALLOWED ? "WebSockets from this page's origin are not allowed "
			"(see --allow-origin)"
		: "WebSockets are served at /ws/stream only";
	if (complete)
		return http_reply_error(wsi, 0, e, msg);
	/* lws ends the transaction itself when CONFIRM_UPGRADE returns non-zero */
	char *text = cs_err_json(e, msg);
	struct http_header bearer = { "www-authenticate:", "Bearer" };
	if (text)
		http_write_response(wsi, (unsigned int)cs_err_http_status(e), "application/json",
			text, strlen(text), &bearer, e == CS_INVALID_TOKEN);
	free(text);
	return 1;
}

static bool is_protected(const char *path)
{
	return has_prefix(path, "/api/streams") || has_prefix(path, "/api/config") ||
		!strcmp(path, "/snapshot") || !strcmp(path, "/mjpeg") || !strcmp(path, "/metrics");
}

static int on_http(struct lws *wsi, struct http_session *hs, const char *path)
{
	hs->kind = KIND_NONE; /* a kept-alive connection may have served another request */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0 ||
		lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) {
		/* a HEAD reply must carry no body: answer and close rather than confuse the
		 * connection's next response */
		http_write_response(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "application/json", "", 0,
			NULL, 0);
		return -1;
	}
	if (is_protected(path)) {
		enum cs_err e = gate(wsi, server_get(wsi));
		if (e != CS_OK)
			return refuse(wsi, e, true);
	}
	if (has_prefix(path, "/api/streams") || has_prefix(path, "/api/config")) {
		char name[128];
		if (named_snapshot(path, name, sizeof(name)) &&
			lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
			hs->kind = KIND_MEDIA;
			return http_media_snapshot_named(wsi, &hs->media, name);
		}
		hs->kind = KIND_STREAMS;
		return http_streams_request(wsi, &hs->api, path);
	}
	if (!strcmp(path, "/snapshot") || !strcmp(path, "/mjpeg")) {
		hs->kind = KIND_MEDIA;
		return http_media_request(wsi, &hs->media, path);
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return http_reply_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
	if (!strcmp(path, "/"))
		return prefers_html(wsi) ? serve_file(wsi, "/index.html")
			: http_reply_json(wsi, HTTP_STATUS_OK, HEALTH_JSON);
	if (!strcmp(path, "/api/health"))
		return http_reply_json(wsi, HTTP_STATUS_OK, HEALTH_JSON);
	if (!strcmp(path, "/metrics"))
		return metrics_reply(wsi);
	if (!strncmp(path, "/css/", 5) || !strncmp(path, "/js/", 4) || !strcmp(path, "/index.html"))
		return serve_file(wsi, path);
	if (!strcmp(path, "/ws/stream"))
		return http_reply_error(wsi, HTTP_STATUS_BAD_REQUEST, CS_BAD_REQUEST,
			"/ws/stream is a WebSocket endpoint: connect with ws:// or wss://");
	return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
}

/* Only /ws/stream takes WebSockets, and only from allowed pages with the token: anything
 * else is answered with an HTTP status before the upgrade, so no source is ever opened. */
int http_api_confirm_upgrade(struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char uri[64];
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		strcmp(uri, "/ws/stream"))
		return refuse(wsi, CS_NOT_FOUND, false);
	enum cs_err e = gate(wsi, st);
	if (e == CS_OK && !access_origin_ok(wsi, st->cfg))
		e = CS_ORIGIN_NOT_ALLOWED;
	return e == CS_OK ? 0 : refuse(wsi, e, false);
}

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct http_session *hs = user;

	if (reason == LWS_CALLBACK_HTTP && hs)
		return on_http(wsi, hs, in ? (const char *)in : "/");
	if (hs && hs->kind == KIND_MEDIA)
		return http_media_callback(wsi, reason, &hs->media, in, len);
	if (hs && hs->kind == KIND_STREAMS)
		return http_streams_callback(wsi, reason, &hs->api, in, len);

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return http_api_confirm_upgrade(wsi);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
