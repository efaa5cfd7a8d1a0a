/* rawframe: GET /api/streams/{name}/frame (seed 001): the camera's own newest key picture,
 * video/h264 or video/h265 in Annex B, its parameter sets first, so `ffmpeg -i frame.h264
 * out.jpg` decodes it. The first reader of the coded-picture log: it subscribes as a coded
 * reader, so a source started for it demuxes and decodes nothing. Service thread only. */
#include "rawframe.h"

#include <inttypes.h>
#include <stdio.h>

#include "app.h"
#include "clock.h"
#include "http_reply.h"
#include "nal.h"


static int writeable(struct viewer *v);

static const struct viewer_kind kind = {
	.what = "raw frame",
	.path = "/api/streams/{name}/frame",
	.coded = true,
	.no_fps = true,
	.quiet = true,
	.http_writeable = writeable,
};

static struct rawframe *rawframe_of(struct viewer *v)
{
	return (struct rawframe *)(void *)((char *)v - offsetof(struct rawframe, v));
}

int rawframe_begin(struct lws *wsi, struct rawframe *r, const char *path_name)
{
	/* the open timeout bounds the wait for a key picture (cameras send one every few s) */
	int64_t wait_us = (int64_t)app_of(wsi)->cfg->open_timeout_ms * 1000;
	int ret;
	return viewer_http_start(&r->v, wsi, &kind, path_name, wait_us, &ret) ? 0 : ret;
}

/* The parameter sets, then the picture, in Annex B: the answer, as a frame of its own. */
static struct frame *build(const struct coded_entry *e)
{
	const struct coded_params *p = e->params;
	size_t n1 = 0, n2 = 0, w;
	if (nal_lp_to_annexb(p->sets, p->sets_len, 4, NULL, 0, &n1) < 0 ||
		nal_lp_to_annexb(e->data, e->len, 4, NULL, 0, &n2) < 0)
		return NULL;
	struct frame *f = frame_create(n1 + n2);
	if (!f)
		return NULL;
	if (nal_lp_to_annexb(p->sets, p->sets_len, 4, f->data, n1, &w) < 0 ||
		nal_lp_to_annexb(e->data, e->len, 4, f->data + n1, n2, &w) < 0) {
		frame_unref(f);
		return NULL;
	}
	f->len = n1 + n2;
	f->t_capture_us = e->t_wall_us;
	return f;
}

static int head(struct rawframe *r, struct coded_entry *e)
{
	const char *type = e->params->codec == CODED_H265 ? "video/h265" : "video/h264";
	struct frame *f = build(e);
	coded_entry_unref(e);
	if (!f)
		return viewer_http_fail(&r->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "out of memory" });
	r->answering = true;
	char age[24];
	int64_t age_ms = (clock_wall_us() - f->t_capture_us) / 1000;
	snprintf(age, sizeof(age), "%" PRId64, age_ms > 0 ? age_ms : 0);
	const struct http_header extra[] = { { "x-frame-age-ms:", age } };
	return viewer_http_answer(&r->v, f, type, extra, 1);
}

static int writeable(struct viewer *v)
{
	struct rawframe *r = rawframe_of(v);
	struct lws *wsi = v->wsi;
	struct cs_error err;
	struct source_stats st;

	if (r->answering)
		return viewer_http_body(v);
	if (app_of(wsi)->shutting_down)
		return viewer_http_fail(&r->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
	struct coded_entry *e = hub_sub_newest_key(&r->v.sub);
	if (e)
		return head(r, e);
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
