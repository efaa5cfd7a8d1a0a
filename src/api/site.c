/* site: what the server answers where no endpoint is mounted: GET / (the health JSON, or the
 * viewer page for a browser; with ?cam_url= the camera as HTTP-FLV, seed 003's URL), GET
 * /api/health, the page itself, and a JSON 404 for the rest.
 * The page's scripts and styles (css/, js/) are lws file mounts. Service thread only. */
#include "site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "access.h"
#include "app.h"
#include "error.h"
#include "flv_http.h"
#include "http_reply.h"
#include "log.h"

#define HEALTH_JSON "{\"status\":\"ok\",\"message\":\"Video Streaming Server is running.\"}"

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

/* The viewer page, streamed from the web root by lws, with the policy that keeps what it
 * may load and talk to narrow. */
static int serve_page(struct lws *wsi)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/index.html", app_of(wsi)->cfg->web_root);
	if (access(path, R_OK)) {
		log_warn("cannot open %s", path);
		return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND,
			"the viewer page is not installed (see --web-root)");
	}
	static const char csp[] = "content-security-policy: " SITE_PAGE_CSP "\r\n";
	int n = lws_serve_http_file(wsi, path, "text/html; charset=utf-8", csp,
		(int)strlen(csp));
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* GET /?cam_url=: seed 003's HTTP-FLV URL, so its users change only the host and port. */
static bool flv_asked(struct lws *wsi, const char *path)
{
	struct query q;
	if (strcmp(path, "/") || http_query(wsi, &q, NULL) != CS_OK)
		return false; /* a query that cannot be read: the health JSON, as before */
	bool asked = query_get(&q, "cam_url") != NULL;
	query_free(&q);
	return asked;
}

static int on_http(struct lws *wsi, struct flv_http *f, const char *path)
{
	int ret;
	if (f && flv_asked(wsi, path)) {
		if (!access_http_check(wsi, true, "/", &ret))
			return ret;
		return flv_http_begin(wsi, f, NULL);
	}
	if (!access_http_check(wsi, false, NULL, &ret))
		return ret;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return http_reply_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
	if (!strcmp(path, "/"))
		return prefers_html(wsi) ? serve_page(wsi)
			: http_reply_json(wsi, HTTP_STATUS_OK, HEALTH_JSON);
	if (!strcmp(path, "/api/health"))
		return http_reply_json(wsi, HTTP_STATUS_OK, HEALTH_JSON);
	if (!strcmp(path, "/index.html"))
		return serve_page(wsi);
	if (!strcmp(path, "/ws/stream"))
		return http_reply_error(wsi, HTTP_STATUS_BAD_REQUEST, CS_BAD_REQUEST,
			"/ws/stream is a WebSocket endpoint: connect with ws:// or wss://");
	return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
}

int site_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct flv_http *f = user;
	if (reason == LWS_CALLBACK_HTTP)
		return on_http(wsi, f, in ? (const char *)in : "/");
	switch (reason) {
	/* the callbacks of a request's life, where @user is this protocol's session data (in
	 * others, such as FILTER_NETWORK_CONNECTION, it is something else) */
	case LWS_CALLBACK_HTTP_WRITEABLE:
	case LWS_CALLBACK_TIMER:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (f && flv_http_took(f))
			return flv_http_callback(wsi, reason, f, in, len);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
