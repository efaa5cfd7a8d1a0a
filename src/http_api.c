#include "http_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "server.h"

#define HEALTH_JSON "{\"status\":\"ok\",\"message\":\"Video Streaming Server is running.\"}"
#define PAGE_MAX (4 * 1024 * 1024)

size_t http_api_session_size(void)
{
	return 0;
}

/* Writes a complete small response: headers and body in one write. -1 on failure. */
static int write_response(struct lws *wsi, unsigned int status, const char *type,
	const void *body, size_t len)
{
	size_t cap = LWS_PRE + 1024 + len;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap - len;
	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
			(const unsigned char *)"no-store", 8, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
			(const unsigned char *)"*", 1, &p, end) ||
		lws_finalize_http_header(wsi, &p, end)) {
		free(buf);
		return -1;
	}
	memcpy(p, body, len);
	p += len;
	int n = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
	free(buf);
	return n < 0 ? -1 : 0;
}

/* Answers and ends the transaction; returns what the lws callback should return. */
static int reply(struct lws *wsi, unsigned int status, const char *type, const void *body,
	size_t len)
{
	if (write_response(wsi, status, type, body, len))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int reply_error(struct lws *wsi, unsigned int status, enum cs_err code,
	const char *msg)
{
	char *text = cs_err_json(code, msg);
	if (!text)
		return -1;
	int r = reply(wsi, status, "application/json", text, strlen(text));
	free(text);
	return r;
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

static int serve_page(struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char path[4200];
	snprintf(path, sizeof(path), "%s/index.html", st->cfg->web_root);
	FILE *f = fopen(path, "rb");
	if (!f) {
		log_warn("cannot open %s", path);
		return reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND,
			"the viewer page is not installed (see --web-root)");
	}
	char *body = malloc(PAGE_MAX);
	size_t len = body ? fread(body, 1, PAGE_MAX, f) : 0;
	fclose(f);
	if (!body)
		return -1;
	int r = reply(wsi, HTTP_STATUS_OK, "text/html; charset=utf-8", body, len);
	free(body);
	return r;
}

static int on_http(struct lws *wsi, const char *path)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return reply_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
	if (!strcmp(path, "/"))
		return prefers_html(wsi) ? serve_page(wsi)
			: reply(wsi, HTTP_STATUS_OK, "application/json", HEALTH_JSON,
				strlen(HEALTH_JSON));
	if (!strcmp(path, "/api/health"))
		return reply(wsi, HTTP_STATUS_OK, "application/json", HEALTH_JSON,
			strlen(HEALTH_JSON));
	if (!strcmp(path, "/index.html"))
		return serve_page(wsi);
	if (!strcmp(path, "/ws/stream"))
		return reply_error(wsi, HTTP_STATUS_BAD_REQUEST, CS_BAD_REQUEST,
			"/ws/stream is a WebSocket endpoint: connect with ws:// or wss://");
	return reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
}

/* Only /ws/stream takes WebSockets; any other path is answered before the upgrade. */
static int on_confirm_upgrade(struct lws *wsi)
{
	char uri[64];
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0 &&
		!strcmp(uri, "/ws/stream"))
		return 0;
	/* lws ends the transaction itself when this callback returns non-zero */
	char *text = cs_err_json(CS_NOT_FOUND, "WebSockets are served at /ws/stream only");
	if (text)
		write_response(wsi, HTTP_STATUS_NOT_FOUND, "application/json", text, strlen(text));
	free(text);
	return 1;
}

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return on_confirm_upgrade(wsi);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
