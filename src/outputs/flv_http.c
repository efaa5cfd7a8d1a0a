#include "flv_http.h"

#include <string.h>

#include "access.h"
#include "app.h"
#include "http_reply.h"
#include "log.h"

#define LIVE_PREFIX "/live/"
#define FLV_SUFFIX ".flv"
#define NAME_MAX_LEN 256

static int writeable(struct viewer *v);

static struct flv_http *flv_of(struct viewer *v)
{
	return (struct flv_http *)(void *)((char *)v - offsetof(struct flv_http, v));
}

static enum cs_err options(struct viewer *v, struct query *q, struct cs_error *err)
{
	return flv_stream_options(&flv_of(v)->fs, q, err);
}

static void finish(struct viewer *v)
{
	flv_stream_free(&flv_of(v)->fs);
}

static const struct viewer_kind kind = {
	.what = "flv viewer",
	.path = "/flv",
	.coded = true,
	.no_fps = true,
	.own_options = options,
	.http_writeable = writeable,
	.on_finish = finish,
};

bool flv_http_took(const struct flv_http *f)
{
	return f->v.started;
}

int flv_http_begin(struct lws *wsi, struct flv_http *f, const char *path_name)
{
	int ret;
	f->fs.v = &f->v;
	if (!viewer_http_start(&f->v, wsi, &kind, path_name, viewer_first_wait_us(wsi), &ret))
		return ret;
	return 0;
}

/* The response headers. After this the response can only end by closing the connection. */
static int start_response(struct flv_http *f, struct lws *wsi)
{
	/* a reverse proxy (nginx) must pass a live stream on, not buffer it */
	static const struct http_header extra[] = { { "x-accel-buffering:", "no" } };
	if (http_write_head(wsi, HTTP_STATUS_OK, "video/x-flv", LWS_ILLEGAL_HTTP_CONTENT_LEN,
			extra, 1))
		return -1;
	viewer_wait(&f->v, 0);
	f->streaming = true;
	/* the header table is not needed any more: its buffer is freed for the stream's life */
	lws_http_headers_detach(wsi);
	return 0;
}

/* Before the response starts: the first key picture starts it; an error is still JSON. */
static int wait_first(struct flv_http *f, struct lws *wsi)
{
	struct cs_error err;
	if (app_of(wsi)->shutting_down)
		return viewer_http_fail(&f->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
	if (flv_stream_next(&f->fs, &err))
		return start_response(f, wsi) ? -1 : 1;
	if (err.code == CS_OK && flv_stream_no_start(&f->fs, f->v.expired, &err) == CS_OK)
		return 0;
	return viewer_http_fail(&f->v, &err);
}

static int writeable(struct viewer *v)
{
	struct flv_http *f = flv_of(v);
	struct lws *wsi = v->wsi;
	struct cs_error err;

	if (!f->streaming) {
		int r = wait_first(f, wsi);
		if (r != 1)
			return r;
	} else if (app_of(wsi)->shutting_down) {
		return -1; /* lws sends what it holds, then closes */
	}
	/* a viewer that takes nothing for VIEWER_STALL_S is dropped; so is one whose stream
	 * gives nothing for that long (a named stream reconnecting): its player reconnects */
	viewer_stall_watch(v);
	if (!flv_stream_pending(&f->fs)) {
		if (viewer_unsent(v))
			return 0;
		if (!flv_stream_next(&f->fs, &err)) {
			if (err.code == CS_OK && viewer_source_error(v, &err) == CS_OK)
				return 0;
			/* the body cannot carry an error: the end of the response is the message */
			log_info("flv viewer %s: %s (%s): ending the response", viewer_label(v),
				err.msg, cs_err_code(err.code));
			return -1;
		}
	}
	if (flv_stream_write(&f->fs, LWS_WRITE_HTTP))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

int flv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct flv_http *f,
	void *in, size_t len)
{
	return viewer_http_callback(f ? &f->v : NULL, wsi, reason, f, in, len);
}

/* The request's path: /flv, or /live/{name}.flv with the name in @name. */
enum route { ROUTE_NONE, ROUTE_FLV, ROUTE_LIVE };
static enum route route(struct lws *wsi, char *name, size_t cap)
{
	char *uri = NULL;
	int uri_len = 0;
	if (lws_http_get_uri_and_method(wsi, &uri, &uri_len) < 0 || !uri || uri_len <= 0)
		return ROUTE_NONE;
	size_t n = (size_t)uri_len, pre = strlen(LIVE_PREFIX), suf = strlen(FLV_SUFFIX);
	if ((n == 4 && !memcmp(uri, "/flv", 4)) || (n == 5 && !memcmp(uri, "/flv/", 5)))
		return ROUTE_FLV;
	if (n <= pre + suf || strncmp(uri, LIVE_PREFIX, pre) ||
		memcmp(uri + n - suf, FLV_SUFFIX, suf) || n - pre - suf >= cap)
		return ROUTE_NONE;
	memcpy(name, uri + pre, n - pre - suf);
	name[n - pre - suf] = '\0';
	return ROUTE_LIVE;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct flv_http *f = user;
	char name[NAME_MAX_LEN];
	int ret;

	if (reason != LWS_CALLBACK_HTTP || !f)
		return flv_http_callback(wsi, reason, f, in, len);
	if (!access_http_check(wsi, true, NULL, &ret))
		return ret;
	switch (route(wsi, name, sizeof(name))) {
	case ROUTE_FLV:
		return flv_http_begin(wsi, f, NULL);
	case ROUTE_LIVE:
		return flv_http_begin(wsi, f, name);
	case ROUTE_NONE:
		break;
	}
	return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
}

const struct lws_protocols flv_http_protocol = {
	.name = "camstream-flv",
	.callback = callback,
	.per_session_data_size = sizeof(struct flv_http),
	.tx_packet_size = 64 * 1024 + 64,
};
