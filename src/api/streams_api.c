/* streams_api: the REST API of named streams, and its one router. Routes, methods and bodies
 * here; the definitions and their rules in streams; the two picture answers (snapshot, raw
 * frame) in their outputs, to which the router hands the request.
 *
 *   GET    /api/streams                 {"total":N,"streams":[status...]}
 *   POST   /api/streams                 add one (201; 409 if the name exists)
 *   GET    /api/streams/{name}          status
 *   DELETE /api/streams/{name}          {"deleted":name,"message":...}
 *   POST   /api/streams/{name}/start    status
 *   POST   /api/streams/{name}/stop     status
 *   GET    /api/streams/{name}/snapshot one JPEG (outputs/snapshot)
 *   GET    /api/streams/{name}/frame    the newest key picture, Annex B (outputs/rawframe)
 *   POST   /api/config/streams          load several: {"added","replaced","unchanged","total"}
 *
 * A POST body is collected (at most BODY_MAX bytes) and handled at HTTP_BODY_COMPLETION.
 * Service thread only. */

#include "streams_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "app.h"
#include "error.h"
#include "http_reply.h"
#include "log.h"
#include "rtmp_server.h"
#include "rawframe.h"
#include "snapshot.h"
#include "webrtc.h"
#include "streams.h"
#include "text.h"

/* A request of the API's: its method, path and body. */
struct api_req {
	int method;                /* the method in the low byte, flags above it */
	char path[256];            /* the URI path, for handling once the body is in */
	char *body;                /* owned; request body collected so far */
	size_t len, cap;
};

/* Per-transaction data (lws zeroes it): which room took the request, and its state. */
enum api_kind { API_NONE = 0, API_REST, API_SNAPSHOT, API_FRAME, API_WHEP };
struct api_session {
	enum api_kind kind;
	union {
		struct api_req rest;
		struct snapshot snap;
		struct rawframe frame;
		struct whep_req whep;
	} u;
};

#define BODY_MAX (64 * 1024)
#define BODY_DRAIN_MAX (16 * 1024 * 1024) /* larger bodies are refused without reading them */

/* api_req.method: the method in the low byte, room-private flags above it. */
enum { M_GET = 1, M_POST, M_DELETE, M_OTHER };
#define M_MASK 0xff
#define F_REPLIED 0x100  /* the answer is out: later body callbacks are ignored */
#define F_CLOSE 0x200    /* a body we will not read follows: close after the answer */
#define F_TOOBIG 0x400   /* the body passed BODY_MAX: drained, answered 413 */
#define F_NOMEM 0x800    /* the body could not be stored */

enum route { RT_NONE, RT_LIST, RT_ONE, RT_START, RT_STOP, RT_SNAPSHOT, RT_FRAME, RT_WHEP,
	RT_CONFIG };

static void req_free(struct api_req *r)
{
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
}

/* Writes the answer and ends the transaction; returns what the callback should return. */
static int reply(struct lws *wsi, struct api_req *r, unsigned int status, const char *json,
	const struct http_header *extra, size_t n_extra)
{
	r->method |= F_REPLIED;
	req_free(r);
	if (http_write_response(wsi, status, "application/json", json, strlen(json), extra,
		n_extra))
		return -1;
	if (r->method & F_CLOSE)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int reply_error(struct lws *wsi, struct api_req *r, unsigned int status, enum cs_err e,
	const char *msg, const char *allow)
{
	char *text = http_error_json(e, msg);
	if (!text)
		return -1;
	struct http_header h = { "allow:", allow };
	log_debug("%s: %u %s", r->path, status, msg);
	int rc = reply(wsi, r, status, text, &h, allow ? 1 : 0);
	free(text);
	return rc;
}

/* Answers @j (consumed); 503 if it is NULL (out of memory). */
static int reply_doc(struct lws *wsi, struct api_req *r, unsigned int status, json_t *j,
	const struct http_header *extra, size_t n_extra)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return reply_error(wsi, r, 503, CS_SERVER_BUSY, "out of memory", NULL);
	int rc = reply(wsi, r, status, text, extra, n_extra);
	free(text);
	return rc;
}

static int reply_refused(struct lws *wsi, struct api_req *r, const struct cs_error *e)
{
	return reply_error(wsi, r, (unsigned int)cs_err_http_status(e->code), e->code, e->msg,
		NULL);
}

static int not_allowed(struct lws *wsi, struct api_req *r, const char *allow)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "method not allowed here: use %s", allow);
	return reply_error(wsi, r, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST, msg, allow);
}

/* Which route @path is; the stream name goes to @name. A trailing '/' is ignored. */
static enum route parse_route(const char *path, char *name, size_t cap)
{
	static const char prefix[] = "/api/streams/";
	char p[sizeof(((struct api_req *)0)->path)];
	size_t len = strlen(path);

	if (len >= sizeof(p))
		return RT_NONE;
	memcpy(p, path, len + 1);
	if (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	if (!strcmp(p, "/api/streams"))
		return RT_LIST;
	if (!strcmp(p, "/api/config/streams"))
		return RT_CONFIG;
	if (strncmp(p, prefix, sizeof(prefix) - 1))
		return RT_NONE;

	const char *n = p + sizeof(prefix) - 1, *slash = strchr(n, '/');
	size_t nlen = slash ? (size_t)(slash - n) : strlen(n);
	if (!nlen || nlen >= cap)
		return RT_NONE;
	memcpy(name, n, nlen);
	name[nlen] = '\0';
	if (!slash)
		return RT_ONE;
	if (!strcmp(slash, "/start"))
		return RT_START;
	if (!strcmp(slash, "/stop"))
		return RT_STOP;
	if (!strcmp(slash, "/snapshot"))
		return RT_SNAPSHOT;
	if (!strcmp(slash, "/frame"))
		return RT_FRAME;
	if (!strcmp(slash, "/whep"))
		return RT_WHEP;
	return RT_NONE;
}

/* The body as a JSON object, or NULL with @err. */
static json_t *parse_body(const struct api_req *r, struct cs_error *err)
{
	json_error_t je;
	if (!r->len) {
		cs_fail(err, CS_BAD_REQUEST, "the request body is empty: send a JSON object");
		return NULL;
	}
	json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		/* jansson ends with "near '<token>'", which may be a password: not echoed */
		char *near = strstr(je.text, " near ");
		if (near)
			*near = '\0';
		cs_fail(err, CS_BAD_REQUEST, "malformed JSON body: %s (line %d, column %d)", je.text,
			je.line, je.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		cs_fail(err, CS_BAD_REQUEST, "the request body must be a JSON object");
		return NULL;
	}
	return j;
}

static int on_add(struct lws *wsi, struct api_req *r, struct streams *s)
{
	struct cs_error e;
	json_t *j = parse_body(r, &e);
	if (!j)
		return reply_refused(wsi, r, &e);
	bool ok = streams_add(s, j, &e);
	const char *name = ok ? json_string_value(json_object_get(j, "name")) : NULL;
	char location[128];
	snprintf(location, sizeof(location), "/api/streams/%s", name ? name : "");
	json_t *status = ok ? streams_status_json(s, name) : NULL;
	json_decref(j);
	if (!ok)
		return reply_refused(wsi, r, &e);
	struct http_header h = { "location:", location };
	return reply_doc(wsi, r, 201, status, &h, 1);
}

static int on_load(struct lws *wsi, struct api_req *r, struct streams *s)
{
	struct cs_error e;
	json_t *j = parse_body(r, &e);
	if (!j)
		return reply_refused(wsi, r, &e);
	json_t *summary = streams_load_json(s, j, &e);
	json_decref(j);
	if (!summary)
		return reply_refused(wsi, r, &e);
	return reply_doc(wsi, r, HTTP_STATUS_OK, summary, NULL, 0);
}

static int on_delete(struct lws *wsi, struct api_req *r, struct streams *s, const char *name)
{
	struct cs_error e;
	if (!streams_remove(s, name, &e))
		return reply_refused(wsi, r, &e);
	char msg[128];
	snprintf(msg, sizeof(msg), "stream %.64s removed", name);
	return reply_doc(wsi, r, HTTP_STATUS_OK,
		json_pack("{s:s,s:s}", "deleted", name, "message", msg), NULL, 0);
}

static int on_start_stop(struct lws *wsi, struct api_req *r, struct streams *s,
	const char *name, bool start)
{
	struct cs_error e;
	if (!(start ? streams_start(s, name, &e) : streams_stop(s, name, &e)))
		return reply_refused(wsi, r, &e);
	return reply_doc(wsi, r, HTTP_STATUS_OK, streams_status_json(s, name), NULL, 0);
}

/* A published stream's status says who publishes it now ("publisher": null when nobody). */
static json_t *with_publisher(struct app *app, json_t *j)
{
	const json_t *name = json_object_get(j, "name");
	if (!json_is_true(json_object_get(j, "publish")) || !json_is_string(name))
		return j;
	struct rtmp_publisher_info pi;
	json_t *p = json_null();
	if (rtmp_server_publisher(app->rtmp, json_string_value(name), &pi)) {
		char since[40];
		text_iso8601(pi.since_wall_us, false, since, sizeof(since));
		p = json_pack("{s:s,s:s,s:I}", "address", pi.address, "since", since,
			"bytes", (json_int_t)pi.bytes);
	}
	if (!p || json_object_set_new(j, "publisher", p)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *list_with_publishers(struct app *app, json_t *doc)
{
	json_t *arr = json_object_get(doc, "streams");
	size_t i;
	json_t *one;
	json_array_foreach(arr, i, one) {
		json_incref(one);
		if (!with_publisher(app, one)) {
			json_decref(doc);
			return NULL;
		}
		json_decref(one);
	}
	return doc;
}

static int on_status(struct lws *wsi, struct api_req *r, struct streams *s, const char *name)
{
	json_t *j = streams_status_json(s, name);
	if (j)
		j = with_publisher(app_of(wsi), j);
	if (!j) {
		char msg[128];
		snprintf(msg, sizeof(msg), "no stream named \"%.64s\"", name);
		return reply_error(wsi, r, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, msg, NULL);
	}
	return reply_doc(wsi, r, HTTP_STATUS_OK, j, NULL, 0);
}

/* Answers the request (its body, if any, is in @r). */
static int dispatch(struct lws *wsi, struct api_req *r)
{
	struct streams *s = app_of(wsi)->streams;
	char name[sizeof(r->path)];
	int m = r->method & M_MASK;

	if (r->method & F_TOOBIG)
		return reply_error(wsi, r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
			"the request body is larger than 64 KiB", NULL);
	if (r->method & F_NOMEM)
		return reply_error(wsi, r, 503, CS_SERVER_BUSY, "out of memory", NULL);

	enum route rt = parse_route(r->path, name, sizeof(name));
	switch (rt) {
	case RT_LIST:
		if (m == M_GET)
		{
			json_t *doc = streams_list_json(s);
			return reply_doc(wsi, r, HTTP_STATUS_OK,
				doc ? list_with_publishers(app_of(wsi), doc) : NULL, NULL, 0);
		}
		if (m == M_POST)
			return on_add(wsi, r, s);
		return not_allowed(wsi, r, "GET, POST");
	case RT_ONE:
		if (m == M_GET)
			return on_status(wsi, r, s, name);
		if (m == M_DELETE)
			return on_delete(wsi, r, s, name);
		return not_allowed(wsi, r, "GET, DELETE");
	case RT_START:
	case RT_STOP:
		if (m != M_POST)
			return not_allowed(wsi, r, "POST");
		return on_start_stop(wsi, r, s, name, rt == RT_START);
	case RT_SNAPSHOT: /* a GET is the snapshot's (see begin) */
	case RT_FRAME:
		return not_allowed(wsi, r, "GET");
	case RT_WHEP: /* every request there is WebRTC's (see begin) */
		return not_allowed(wsi, r, "POST");
	case RT_CONFIG:
		if (m != M_POST)
			return not_allowed(wsi, r, "POST");
		return on_load(wsi, r, s);
	case RT_NONE:
		break;
	}
	return reply_error(wsi, r, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path (the "
		"streams API is /api/streams, /api/streams/{name}[/start|/stop|/snapshot|/frame] and "
		"/api/config/streams)", NULL);
}

static int rest_request(struct lws *wsi, struct api_req *r, const char *path)
{
	char *uri = NULL;
	int uri_len = 0;

	snprintf(r->path, sizeof(r->path), "%s", path);
	if (strlen(path) >= sizeof(r->path))
		r->path[0] = '\0'; /* no route: 404 */

	switch (lws_http_get_uri_and_method(wsi, &uri, &uri_len)) {
	case LWSHUMETH_GET: r->method = M_GET; break;
	case LWSHUMETH_POST: r->method = M_POST; break;
	case LWSHUMETH_DELETE: r->method = M_DELETE; break;
	default: r->method = M_OTHER; break;
	}

	long long cl = http_content_length(wsi);
	if (r->method != M_POST) {
		if (cl > 0 || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
			r->method |= F_CLOSE; /* its body is not read: the connection cannot go on */
		return dispatch(wsi, r);
	}
	if (cl > BODY_DRAIN_MAX) {
		r->method |= F_CLOSE;
		return reply_error(wsi, r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
			"the request body is larger than 64 KiB", NULL);
	}
	if (cl < 0) {
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			r->method |= F_CLOSE;
			return reply_error(wsi, r, HTTP_STATUS_LENGTH_REQUIRED, CS_BAD_REQUEST,
				"send the body with a Content-Length", NULL);
		}
		return dispatch(wsi, r); /* no body at all */
	}
	return 0; /* the body follows: HTTP_BODY, then HTTP_BODY_COMPLETION */
}

static void take_body(struct api_req *r, const void *in, size_t len)
{
	if (r->method & (F_TOOBIG | F_NOMEM) || !len)
		return;
	if (r->len + len > BODY_MAX) {
		r->method |= F_TOOBIG; /* drained to the end, then answered 413 */
		req_free(r);
		return;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b) {
			r->method |= F_NOMEM;
			req_free(r);
			return;
		}
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, in, len);
	r->len += len;
	r->body[r->len] = '\0';
}

static int rest_callback(struct lws *wsi, enum lws_callback_reasons reason,
	struct api_req *r, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		if (!(r->method & F_REPLIED))
			take_body(r, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->method & F_REPLIED)
			return 0;
		return dispatch(wsi, r);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		req_free(r);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, NULL, in, len);
	}
}

/* LWS_CALLBACK_HTTP: the one place a path under /api/streams or /api/config is parsed. The
 * GETs of a stream's snapshot and raw frame are handed to those outputs; the rest is REST. */
static int begin(struct lws *wsi, struct api_session *as)
{
	char *uri = NULL;
	int uri_len = 0, ret;
	char path[sizeof(as->u.rest.path)], name[sizeof(as->u.rest.path)];

	as->kind = API_NONE;
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (method < 0 || !uri || uri_len < 0 || (size_t)uri_len >= sizeof(path))
		uri_len = 0; /* no route: 404 */
	if (uri_len)
		memcpy(path, uri, (size_t)uri_len);
	path[uri_len] = '\0';
	enum route rt = parse_route(path, name, sizeof(name));
	/* WHEP answers its CORS preflight itself (a page of another origin POSTs SDP) */
	if (rt == RT_WHEP && method == LWSHUMETH_OPTIONS) {
		as->kind = API_WHEP;
		return whep_begin(wsi, &as->u.whep, name);
	}
	if (!access_http_check(wsi, true, NULL, &ret))
		return ret;
	if (method == LWSHUMETH_GET && rt == RT_SNAPSHOT) {
		as->kind = API_SNAPSHOT;
		return snapshot_begin(wsi, &as->u.snap, name);
	}
	if (method == LWSHUMETH_GET && rt == RT_FRAME) {
		as->kind = API_FRAME;
		return rawframe_begin(wsi, &as->u.frame, name);
	}
	if (rt == RT_WHEP) {
		as->kind = API_WHEP;
		return whep_begin(wsi, &as->u.whep, name);
	}
	as->kind = API_REST;
	return rest_request(wsi, &as->u.rest, path);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct api_session *as = user;

	if (reason == LWS_CALLBACK_HTTP && as)
		return begin(wsi, as);
	switch (as ? as->kind : API_NONE) {
	case API_REST:
		return rest_callback(wsi, reason, &as->u.rest, in, len);
	case API_SNAPSHOT:
		return snapshot_callback(wsi, reason, &as->u.snap, in, len);
	case API_FRAME:
		return rawframe_callback(wsi, reason, &as->u.frame, in, len);
	case API_WHEP:
		return whep_callback(wsi, reason, &as->u.whep, in, len);
	case API_NONE:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols streams_api_protocol = {
	.name = "camstream-api",
	.callback = callback,
	.per_session_data_size = sizeof(struct api_session),
	.tx_packet_size = 64 * 1024 + 64,
};
