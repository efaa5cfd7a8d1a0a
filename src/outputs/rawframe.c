/* rawframe: GET /api/streams/{name}/frame (seed 001): the camera's own newest key picture,
 * video/h264 or video/h265 in Annex B, its parameter sets first, so `ffmpeg -i frame.h264
 * out.jpg` decodes it. The first reader of the coded-picture log: it subscribes as a coded
 * reader, so a source started for it demuxes and decodes nothing. Service thread only. */
#include "rawframe.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "http_reply.h"
#include "log.h"
#include "nal.h"


static int writeable(struct viewer *v);
static void release(struct viewer *v);

static const struct viewer_kind kind = {
	.what = "raw frame",
	.path = "/api/streams/{name}/frame",
	.coded = true,
	.no_fps = true,
	.quiet = true,
	.http_writeable = writeable,
	.on_finish = release,
};

static struct rawframe *rawframe_of(struct viewer *v)
{
	return (struct rawframe *)(void *)((char *)v - offsetof(struct rawframe, v));
}

static void release(struct viewer *v)
{
	struct rawframe *r = rawframe_of(v);
	free(r->buf);
	r->buf = NULL;
}

int rawframe_begin(struct lws *wsi, struct rawframe *r, const char *path_name)
{
	/* the open timeout bounds the wait for a key picture (cameras send one every few s) */
	int64_t wait_us = (int64_t)app_of(wsi)->cfg->open_timeout_ms * 1000;
	int ret;
	return viewer_http_start(&r->v, wsi, &kind, path_name, wait_us, &ret) ? 0 : ret;
}

/* The parameter sets, then the picture, in Annex B, after LWS_PRE bytes of room. */
static bool build(struct rawframe *r, const struct coded_entry *e)
{
	const struct coded_params *p = e->params;
	size_t n1 = 0, n2 = 0;
	if (nal_lp_to_annexb(p->sets, p->sets_len, 4, NULL, 0, &n1) < 0 ||
		nal_lp_to_annexb(e->data, e->len, 4, NULL, 0, &n2) < 0)
		return false;
	r->buf = malloc(LWS_PRE + n1 + n2);
	if (!r->buf)
		return false;
	size_t w;
	if (nal_lp_to_annexb(p->sets, p->sets_len, 4, r->buf + LWS_PRE, n1, &w) < 0 ||
		nal_lp_to_annexb(e->data, e->len, 4, r->buf + LWS_PRE + n1, n2, &w) < 0)
		return false;
	r->len = n1 + n2;
	r->off = 0;
	return true;
}

static int head(struct rawframe *r, struct lws *wsi, struct coded_entry *e)
{
	struct app *app = app_of(wsi);
	bool h265 = e->params->codec == CODED_H265;
	char age[24];
	int64_t age_ms = (clock_wall_us() - e->t_wall_us) / 1000;
	snprintf(age, sizeof(age), "%" PRId64, age_ms > 0 ? age_ms : 0);
	bool ok = build(r, e);
	coded_entry_unref(e);
	if (!ok)
		return viewer_http_fail(&r->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "out of memory" });
	viewer_wait(&r->v, 0);
	hub_sub_count_sent(&r->v.sub, r->len);
	hub_sub_keep_warm(&r->v.sub, app->cfg->keep_warm_s);
	hub_unsubscribe(app->hub, &r->v.sub);

	unsigned char buf[LWS_PRE + 512];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, h265 ? "video/h265" : "video/h264",
			r->len, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
			(const unsigned char *)"no-store", 8, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
			(const unsigned char *)"*", 1, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"x-frame-age-ms:",
			(const unsigned char *)age, (int)strlen(age), &p, end) ||
		lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start))
		return -1;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	lws_callback_on_writable(wsi);
	return 0;
}

static int body(struct rawframe *r, struct lws *wsi)
{
	size_t n = r->len - r->off, cap = viewer_chunk_limit(wsi);
	if (n > cap)
		n = cap;
	bool last = r->off + n == r->len;
	/* the buffer is this request's own: lws may write before each piece */
	if (lws_write(wsi, r->buf + LWS_PRE + r->off, n,
		last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	r->off += n;
	if (!last) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
		lws_callback_on_writable(wsi);
		return 0;
	}
	viewer_finish(&r->v); /* frees buf (release) */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int writeable(struct viewer *v)
{
	struct rawframe *r = rawframe_of(v);
	struct lws *wsi = v->wsi;
	struct cs_error err;
	struct source_stats st;

	if (r->buf)
		return body(r, wsi);
	if (app_of(wsi)->shutting_down)
		return viewer_http_fail(&r->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
	struct coded_entry *e = hub_sub_newest_key(&r->v.sub);
	if (e)
		return head(r, wsi, e);
	if (viewer_source_error(&r->v, &err) != CS_OK)
		return viewer_http_fail(&r->v, &err);
	if (hub_sub_stats(&r->v.sub, &st) && st.coded == SOURCE_CODED_NO) {
		cs_fail(&err, CS_UNSUPPORTED_CODEC, "%s sends %s, which has no raw H.264/H.265 frame",
			viewer_label(&r->v), st.codec[0] ? st.codec : "pictures");
		return viewer_http_fail(&r->v, &err);
	}
	if (r->v.expired) {
		cs_fail(&err, CS_TIMEOUT, "no key picture from the source within %.1f s",
			app_of(wsi)->cfg->open_timeout_ms / 1000.0);
		return viewer_http_fail(&r->v, &err);
	}
	return 0;
}

int rawframe_callback(struct lws *wsi, enum lws_callback_reasons reason, struct rawframe *r,
	void *in, size_t len)
{
	return viewer_http_callback(r ? &r->v : NULL, wsi, reason, r, in, len);
}
