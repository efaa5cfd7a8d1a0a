/* rtmp_api: seed 000's API (see rtmp_api.h). The registry of keys and their newest pictures,
 * and the one protocol that answers under /rtmp. Service thread only. */
#include "rtmp_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "error.h"
#include "frame.h"
#include "http_reply.h"
#include "hub.h"
#include "log.h"
#include "stream_def.h"
#include "streams.h"
#include "text.h"
#include "viewer.h"

#define CHECK_US 1000000LL           /* how often offline keys are looked for */
#define CODEC_RETRY_US 30000000LL    /* after a picture-path error (the decoder cannot open):
                                      * subscribing again at once would restart the camera
                                      * session every second for nothing */
#define ONLINE_US ((int64_t)RTMP_API_ONLINE_S * 1000000)
#define KEY_MAX 64                   /* named-stream rules: 1-64 of A-Za-z0-9_.- */
#define CAPTURE_FPS 1.0              /* seed 000: one picture a second */
#define CAPTURE_QUALITY 80           /* /snapshot's default (options.c) */

struct rtmp_session;

/* One registered key: its subscription (a 1 fps picture output of the stream), its newest
 * picture and its count. */
struct reg {
	struct reg *next;                /* in api->regs, oldest first */
	struct rtmp_api *api;
	char key[KEY_MAX + 1];
	struct hub_sub sub;              /* subscribed while sub.entry != NULL */
	struct frame *newest;            /* one reference; NULL before the first picture */
	uint64_t count;                  /* pictures captured since registration */
	uint64_t seq;                    /* seq of newest within the current subscription, or 0 */
	int64_t last_mono_us;            /* when newest came (is_online) */
	int64_t retry_mono_us;           /* offline: no subscription attempt before this */
	struct cs_error why;             /* offline: why the last subscription ended */
	struct rtmp_session *waiters;    /* requests waiting for a first picture (not owned) */
};

struct rtmp_api {
	struct app *app;                 /* not owned */
	struct reg *regs;                /* owned */
	int n;
	int64_t next_check_us;
};

/* Per-transaction data (lws allocates it zeroed and frees it). */
struct rtmp_session {
	struct rtmp_session *next;       /* in reg->waiters while waiting */
	struct reg *reg;                 /* the registration waited on; NULL once it is gone */
	struct lws *wsi;
	struct frame *cur;               /* the JPEG being sent (one reference), or NULL */
	size_t off;                      /* its bytes written */
	char key[KEY_MAX + 1];
	bool waiting, expired, counted, close_after;
};

static struct reg *reg_of(struct hub_sub *sub)
{
	return (struct reg *)(void *)((char *)sub - offsetof(struct reg, sub));
}

static void wake_waiters(struct reg *r)
{
	for (struct rtmp_session *w = r->waiters; w; w = w->next)
		lws_callback_on_writable(w->wsi);
}

/* The source has news: a new picture is kept (the hub's lists must not change here). */
static void on_news(struct hub_sub *sub)
{
	struct reg *r = reg_of(sub);
	struct frame *f = hub_sub_latest(sub, false);
	if (f) {
		/* pictures of the output this registration never took still were captured */
		r->count += r->seq && f->seq > r->seq ? f->seq - r->seq : 1;
		r->seq = f->seq;
		frame_unref(r->newest);
		r->newest = f;
		r->last_mono_us = clock_mono_us();
	}
	wake_waiters(r); /* a picture, or an error they answer with */
}

/* Subscribes @r to its stream. *@resolved says whether the key named a stream at all. */
static enum cs_err reg_subscribe(struct reg *r, bool *resolved, struct cs_error *err)
{
	struct app *app = r->api->app;
	struct hub_stream_def def;
	const struct output_params pic = { .fps_max = CAPTURE_FPS, .quality = CAPTURE_QUALITY };

	*resolved = false;
	enum cs_err e = streams_resolve(app->streams, r->key, 0, &def, err);
	if (e != CS_OK)
		return e;
	*resolved = true;
	r->sub.on_news = on_news;
	r->seq = 0;
	e = hub_subscribe_stream(app->hub, &r->sub, &def, &pic, err);
	/* a source that already said it cannot give pictures will not say it again */
	if (e == CS_OK && (e = hub_sub_error(&r->sub, err)) != CS_OK)
		hub_unsubscribe(app->hub, &r->sub);
	return e;
}

/* Lets go of a subscription whose source ended or failed; the key stays registered. */
static void reg_offline(struct reg *r, const struct cs_error *why, int64_t now)
{
	hub_unsubscribe(r->api->app->hub, &r->sub);
	r->why = *why;
	r->retry_mono_us = now + (why->code == CS_UNSUPPORTED_CODEC ? CODEC_RETRY_US : CHECK_US);
	log_info("rtmp api: %s offline (%s), capture resumes when it is back", r->key, why->msg);
	wake_waiters(r);
}

static void reg_retry(struct reg *r, int64_t now)
{
	struct cs_error err;
	bool resolved;
	if (reg_subscribe(r, &resolved, &err) == CS_OK) {
		log_info("rtmp api: %s back, capturing again", r->key);
		return;
	}
	if (resolved) {
		r->why = err;
		log_debug("rtmp api: %s: %s", r->key, err.msg);
	}
	r->retry_mono_us = now + (err.code == CS_UNSUPPORTED_CODEC ? CODEC_RETRY_US : CHECK_US);
}

void rtmp_api_tick(struct rtmp_api *api)
{
	int64_t now = clock_mono_us();
	if (!api || api->app->shutting_down || now < api->next_check_us)
		return;
	api->next_check_us = now + CHECK_US;
	for (struct reg *r = api->regs; r; r = r->next) {
		struct cs_error err;
		if (r->sub.entry) {
			if (hub_sub_error(&r->sub, &err) != CS_OK)
				reg_offline(r, &err, now);
		} else if (now >= r->retry_mono_us) {
			reg_retry(r, now);
		}
	}
}

static struct reg *find(struct rtmp_api *api, const char *key)
{
	for (struct reg *r = api->regs; r; r = r->next)
		if (!strcmp(r->key, key))
			return r;
	return NULL;
}

/* Registers @key, subscribed. NULL with @err and the HTTP *@status: 404 for a key that names
 * no stream (or a stopped one), 503 at the limit, else the subscription's refusal. */
static struct reg *reg_create(struct rtmp_api *api, const char *key, unsigned int *status,
	struct cs_error *err)
{
	*status = 503;
	if (api->n >= RTMP_API_MAX_KEYS) {
		cs_fail(err, CS_SERVER_BUSY, "%d stream keys are registered, the most this server "
			"keeps: DELETE /rtmp/remove/{key} one first", RTMP_API_MAX_KEYS);
		return NULL;
	}
	struct reg *r = calloc(1, sizeof(*r));
	if (!r) {
		cs_fail_oom(err);
		return NULL;
	}
	r->api = api;
	str_copy(r->key, sizeof(r->key), key);
	bool resolved;
	if (reg_subscribe(r, &resolved, err) != CS_OK) {
		*status = resolved ? (unsigned int)cs_err_http_status(err->code) : 404;
		free(r);
		return NULL;
	}
	struct reg **pp = &api->regs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	api->n++;
	log_info("rtmp api: %s registered, one picture a second (%d key(s))", key, api->n);
	return r;
}

/* Unlinks every waiter of @r; with @wake they are told (they answer that it is gone). */
static void detach_waiters(struct reg *r, bool wake)
{
	while (r->waiters) {
		struct rtmp_session *w = r->waiters;
		r->waiters = w->next;
		w->next = NULL;
		w->reg = NULL;
		if (wake)
			lws_callback_on_writable(w->wsi);
	}
}

static void reg_free(struct reg *r, bool wake)
{
	detach_waiters(r, wake);
	hub_unsubscribe(r->api->app->hub, &r->sub);
	frame_unref(r->newest);
	free(r);
}

static void reg_remove(struct rtmp_api *api, struct reg *r)
{
	for (struct reg **pp = &api->regs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	api->n--;
	log_info("rtmp api: %s removed (%d key(s))", r->key, api->n);
	reg_free(r, true);
}

struct rtmp_api *rtmp_api_create(struct app *app)
{
	struct rtmp_api *api = calloc(1, sizeof(*api));
	if (api)
		api->app = app;
	return api;
}

void rtmp_api_destroy(struct rtmp_api *api)
{
	if (!api)
		return;
	while (api->regs) {
		struct reg *r = api->regs;
		api->regs = r->next;
		reg_free(r, false);
	}
	free(api);
}

/* {"stream_key","capture_count","is_online","last_update"}; last_update is the newest
 * picture's capture time, ISO 8601 UTC to the second (as /api/streams has it), or null. */
static json_t *reg_json(const struct reg *r, int64_t now)
{
	json_t *last = json_null();
	if (r->newest) {
		char when[40];
		text_iso8601(r->newest->t_capture_us, false, when, sizeof(when));
		last = json_string(when);
	}
	return json_pack("{s:s,s:I,s:b,s:o}", "stream_key", r->key,
		"capture_count", (json_int_t)r->count,
		"is_online", r->newest && now - r->last_mono_us < ONLINE_US,
		"last_update", last);
}

/* ---- the HTTP side ---- */

/* No longer waiting for a first picture. */
static void unwait(struct rtmp_session *rs)
{
	if (rs->waiting) {
		rs->waiting = false;
		lws_set_timer_usecs(rs->wsi, LWS_SET_TIMER_USEC_CANCEL);
		if (rs->reg)
			for (struct rtmp_session **pp = &rs->reg->waiters; *pp; pp = &(*pp)->next)
				if (*pp == rs) {
					*pp = rs->next;
					break;
				}
		rs->reg = NULL;
		rs->next = NULL;
	}
}

/* Ends a request's state once: no longer waiting, the frame dropped, uncounted. */
static void finish(struct rtmp_session *rs)
{
	unwait(rs);
	frame_unref(rs->cur);
	rs->cur = NULL;
	if (rs->counted) {
		rs->counted = false;
		app_of(rs->wsi)->clients--;
	}
}

/* After the answer is written (@write_rc 0): keep the connection for the next request,
 * unless writing failed or a request body we do not read follows. */
static int done(struct rtmp_session *rs, int write_rc)
{
	if (write_rc || rs->close_after)
		return -1;
	return lws_http_transaction_completed(rs->wsi) ? -1 : 0;
}

/* Answers @doc (consumed); 503 if it is NULL (out of memory). */
static int reply_doc(struct rtmp_session *rs, unsigned int status, json_t *doc,
	const char *allow)
{
	static const char oom[] = "{\"success\":false,\"message\":\"out of memory\"}";
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	struct http_header h = { "allow:", allow };
	finish(rs);
	int rc = http_write_response(rs->wsi, text ? status : 503, "application/json",
		text ? text : oom, text ? strlen(text) : strlen(oom), &h, allow ? 1 : 0);
	free(text);
	return done(rs, rc);
}

/* {"success":false,"message":...} with @status. */
static int reply_fail(struct rtmp_session *rs, unsigned int status, const char *allow,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int reply_fail(struct rtmp_session *rs, unsigned int status, const char *allow,
	const char *fmt, ...)
{
	char msg[CS_ERROR_MSG], clean[CS_ERROR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	str_utf8_clean(msg, clean, sizeof(clean));
	log_debug("rtmp api: %u %s", status, clean);
	return reply_doc(rs, status, json_pack("{s:b,s:s}", "success", 0, "message", clean),
		allow);
}

static int reply_error(struct rtmp_session *rs, const struct cs_error *e)
{
	return reply_fail(rs, (unsigned int)cs_err_http_status(e->code), NULL, "%s", e->msg);
}

/* Starts the answer with @r's newest picture: the headers now, the body in chunks. */
static int answer(struct rtmp_session *rs, struct reg *r)
{
	struct lws *wsi = rs->wsi;
	struct frame *f = r->newest;
	char age[24], size[32], captured[40], count[24];
	int64_t age_ms = (clock_wall_us() - f->t_capture_us) / 1000;

	unwait(rs);
	rs->cur = frame_ref(f);
	rs->off = 0;
	snprintf(age, sizeof(age), "%lld", (long long)(age_ms > 0 ? age_ms : 0));
	snprintf(size, sizeof(size), "%dx%d", f->width, f->height);
	snprintf(count, sizeof(count), "%llu", (unsigned long long)r->count);
	text_iso8601(f->t_capture_us, true, captured, sizeof(captured));
	const struct http_header extra[] = {
		{ "x-frame-age-ms:", age },
		{ "x-frame-captured:", captured },
		{ "x-frame-size:", size },
		{ "x-capture-count:", count },
	};
	if (http_write_head(wsi, HTTP_STATUS_OK, "image/jpeg", f->len, extra,
		sizeof(extra) / sizeof(extra[0])))
		return -1;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The next chunk of the JPEG (a buffer other requests share). */
static int send_body(struct rtmp_session *rs)
{
	struct lws *wsi = rs->wsi;
	struct frame *f = rs->cur;
	size_t n = f->len - rs->off, cap = viewer_chunk_limit(wsi);
	if (n > cap)
		n = cap;
	bool last = rs->off + n == f->len;
	if (viewer_write_shared(wsi, f->data + rs->off, n,
		last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP))
		return -1;
	rs->off += n;
	if (!last) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
		lws_callback_on_writable(wsi);
		return 0;
	}
	finish(rs);
	return done(rs, 0);
}

static int on_snapshot(struct rtmp_session *rs, const char *key)
{
	struct lws *wsi = rs->wsi;
	struct app *app = app_of(wsi);
	struct rtmp_api *api = app->rtmp_api;

	if (!api || app->shutting_down)
		return reply_fail(rs, 503, NULL, "the server is shutting down");
	if (app->cfg->max_clients && app->clients >= app->cfg->max_clients)
		return reply_fail(rs, 503, NULL, "the server is serving its maximum of %d viewers",
			app->cfg->max_clients);
	struct reg *r = find(api, key);
	if (!r) {
		unsigned int status;
		struct cs_error err;
		if (!(r = reg_create(api, key, &status, &err)))
			return reply_fail(rs, status, NULL, "%s", err.msg);
	} else if (!r->sub.entry && !r->newest && clock_mono_us() >= r->retry_mono_us) {
		reg_retry(r, clock_mono_us()); /* no picture to show: look for it now */
	}
	if (r->newest) {
		rs->counted = true;
		app->clients++;
		return answer(rs, r);
	}
	if (!r->sub.entry)
		return reply_fail(rs, 404, NULL, "stream %s is registered but offline and has no "
			"picture yet (%s)", key, r->why.msg[0] ? r->why.msg : "not live");
	/* the first picture: as /snapshot waits for a cold source's */
	int64_t wait_us = viewer_first_wait_us(wsi);
	str_copy(rs->key, sizeof(rs->key), key);
	rs->reg = r;
	rs->waiting = true;
	rs->next = r->waiters;
	r->waiters = rs;
	rs->counted = true;
	app->clients++;
	lws_set_timer_usecs(wsi, wait_us);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)(wait_us / 1000000) + VIEWER_STALL_S);
	return 0;
}

/* A waiting request's writable callback: the first picture, or why there is none. */
static int writeable(struct rtmp_session *rs)
{
	struct cs_error err;
	if (rs->cur)
		return send_body(rs);
	if (!rs->waiting)
		return 0;
	struct reg *r = rs->reg;
	if (app_of(rs->wsi)->shutting_down)
		return reply_fail(rs, 503, NULL, "the server is shutting down");
	if (!r)
		return reply_fail(rs, 404, NULL, "stream %s was removed", rs->key);
	if (r->newest)
		return answer(rs, r);
	if (!r->sub.entry)
		return reply_error(rs, &r->why);
	if (hub_sub_error(&r->sub, &err) != CS_OK)
		return reply_error(rs, &err);
	if (rs->expired)
		return reply_fail(rs, 504, NULL, "no picture from stream %s within %.1f s", rs->key,
			(double)viewer_first_wait_us(rs->wsi) / 1e6);
	return 0;
}

static int on_status(struct rtmp_session *rs, const char *key)
{
	struct rtmp_api *api = app_of(rs->wsi)->rtmp_api;
	struct reg *r = api ? find(api, key) : NULL;
	if (!r)
		return reply_fail(rs, 404, NULL, "stream %s is not registered (GET /rtmp/snapshot/%s "
			"registers it)", key, key);
	return reply_doc(rs, 200, json_pack("{s:b,s:o}", "success", 1, "data",
		reg_json(r, clock_mono_us())), NULL);
}

static int on_list(struct rtmp_session *rs)
{
	struct rtmp_api *api = app_of(rs->wsi)->rtmp_api;
	int64_t now = clock_mono_us();
	json_t *arr = json_array();
	for (struct reg *r = api ? api->regs : NULL; arr && r; r = r->next)
		if (json_array_append_new(arr, reg_json(r, now))) {
			json_decref(arr);
			arr = NULL;
		}
	return reply_doc(rs, 200, arr ? json_pack("{s:b,s:o}", "success", 1, "data", arr) : NULL,
		NULL);
}

static int on_remove(struct rtmp_session *rs, const char *key)
{
	struct rtmp_api *api = app_of(rs->wsi)->rtmp_api;
	struct reg *r = api ? find(api, key) : NULL;
	if (!r)
		return reply_fail(rs, 404, NULL, "stream %s is not registered", key);
	reg_remove(api, r);
	char msg[128];
	snprintf(msg, sizeof(msg), "stream %s removed", key);
	return reply_doc(rs, 200, json_pack("{s:b,s:s}", "success", 1, "message", msg), NULL);
}

enum route { RT_NONE, RT_SNAPSHOT, RT_STATUS, RT_REMOVE, RT_LIST };

/* Which route the @len bytes at @uri are; the key's bytes go to *@key, *@klen. A trailing
 * '/' is ignored. */
static enum route parse_route(const char *uri, size_t len, const char **key, size_t *klen)
{
	static const struct {
		const char *prefix;
		enum route rt;
	} keyed[] = {
		{ "/rtmp/snapshot", RT_SNAPSHOT }, { "/rtmp/status", RT_STATUS },
		{ "/rtmp/remove", RT_REMOVE },
	};
	if (len > 1 && uri[len - 1] == '/')
		len--;
	if (len == strlen("/rtmp/list") && !memcmp(uri, "/rtmp/list", len))
		return RT_LIST;
	for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
		size_t n = strlen(keyed[i].prefix);
		if (len < n || memcmp(uri, keyed[i].prefix, n) || (len > n && uri[n] != '/'))
			continue;
		*key = uri + n + (len > n);
		*klen = len - n - (len > n);
		return keyed[i].rt;
	}
	return RT_NONE;
}

/* Whether the request carries a body (which is not read: the connection ends after). */
static bool has_body(struct lws *wsi)
{
	char buf[32];
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return true;
	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return false;
	char *end;
	long long v = strtoll(buf, &end, 10);
	return end == buf || *end || v != 0;
}

static int begin(struct lws *wsi, struct rtmp_session *rs)
{
	char *uri = NULL;
	int uri_len = 0, ret;
	const char *kp = NULL;
	size_t klen = 0;
	char key[KEY_MAX + 1];

	finish(rs); /* nothing is left of a kept-alive connection's last request, but be sure */
	memset(rs, 0, sizeof(*rs));
	rs->wsi = wsi;
	if (!access_http_check(wsi, true, NULL, &ret))
		return ret;
	rs->close_after = has_body(wsi);
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	enum route rt = method < 0 || !uri || uri_len < 0 ? RT_NONE
		: parse_route(uri, (size_t)uri_len, &kp, &klen);
	if (rt == RT_NONE)
		return reply_fail(rs, 404, NULL, "no such path (seed 000's API: GET "
			"/rtmp/snapshot/{key}, GET /rtmp/status/{key}, GET /rtmp/list, DELETE "
			"/rtmp/remove/{key})");
	const char *allow = rt == RT_REMOVE ? "DELETE" : "GET";
	if (method != (rt == RT_REMOVE ? LWSHUMETH_DELETE : LWSHUMETH_GET))
		return reply_fail(rs, HTTP_STATUS_METHOD_NOT_ALLOWED, allow,
			"method not allowed here: use %s", allow);
	if (rt == RT_LIST)
		return on_list(rs);
	if (!klen)
		return reply_fail(rs, 400, NULL, "the stream key is missing: /rtmp/%s/{key}",
			rt == RT_SNAPSHOT ? "snapshot" : rt == RT_STATUS ? "status" : "remove");
	if (klen > KEY_MAX || (memcpy(key, kp, klen), key[klen] = '\0', !stream_name_ok(key)))
		return reply_fail(rs, 400, NULL, "invalid stream key: 1 to 64 of A-Z a-z 0-9 _ . - "
			"(not only dots)");
	switch (rt) {
	case RT_SNAPSHOT: return on_snapshot(rs, key);
	case RT_STATUS: return on_status(rs, key);
	case RT_REMOVE: return on_remove(rs, key);
	default: return -1;
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct rtmp_session *rs = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return rs ? begin(wsi, rs) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return rs && rs->wsi ? writeable(rs) : 0;
	case LWS_CALLBACK_TIMER:
		if (rs && rs->waiting) {
			rs->expired = true;
			lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0; /* not read: the connection closes after the answer */
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (rs && rs->wsi)
			finish(rs);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols rtmp_api_protocol = {
	.name = "camstream-rtmp-api",
	.callback = callback,
	.per_session_data_size = sizeof(struct rtmp_session),
	.tx_packet_size = 64 * 1024 + 64,
};
