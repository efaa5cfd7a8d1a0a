/* snapshot: GET /snapshot and GET /api/streams/{name}/snapshot, one JPEG. A running source
 * answers at once from its newest picture; a cold one is opened and its first picture is the
 * answer. Either way the source is kept warm (--keep-warm) for a page that polls. The viewer
 * lifecycle is viewer.c's. Service thread only. */
#include "snapshot.h"

#include <inttypes.h>
#include <stdio.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "http_reply.h"
#include "log.h"
#include "text.h"

#define FRESH_MIN_US 250000        /* a newest frame this old is current whatever the rate */
#define STALE_WAIT_US 1000000      /* most time spent waiting for a newer frame */

/* PHASE_WAIT: a source that was running (its newest frame must be current). PHASE_COLD: a
 * source that had no picture yet (the first one wins). PHASE_NEWER: waiting for a frame
 * newer than a stale one. PHASE_BODY: the answer is going out. */
enum phase { PHASE_WAIT = 0, PHASE_COLD, PHASE_NEWER, PHASE_BODY };

static int writeable(struct viewer *v);

static const struct viewer_kind kind = {
	.what = "snapshot",
	.path = "/snapshot",
	.no_fps = true,
	.quiet = true,
	.http_writeable = writeable,
};

static struct snapshot *snapshot_of(struct viewer *v)
{
	return (struct snapshot *)(void *)((char *)v - offsetof(struct snapshot, v));
}

int snapshot_begin(struct lws *wsi, struct snapshot *r, const char *path_name)
{
	int ret;
	if (!viewer_http_start(&r->v, wsi, &kind, path_name, viewer_first_wait_us(wsi), &ret))
		return ret;
	struct frame *f = hub_sub_newest(&r->v.sub);
	r->phase = f ? PHASE_WAIT : PHASE_COLD;
	frame_unref(f);
	return 0;
}

/* Takes @f for the answer and writes the headers; the body follows in chunks. */
static int head(struct snapshot *r, struct frame *f)
{
	char age[24], seq[24], size[32], captured[40];
	int64_t age_ms = (clock_wall_us() - f->t_capture_us) / 1000;
	snprintf(age, sizeof(age), "%" PRId64, age_ms > 0 ? age_ms : 0);
	snprintf(seq, sizeof(seq), "%" PRIu64, f->seq);
	snprintf(size, sizeof(size), "%dx%d", f->width, f->height);
	text_iso8601(f->t_capture_us, true, captured, sizeof(captured));
	const struct http_header extra[] = {
		{ "x-frame-age-ms:", age },
		{ "x-frame-captured:", captured },
		{ "x-frame-seq:", seq },
		{ "x-frame-size:", size },
	};
	r->phase = PHASE_BODY;
	log_debug("snapshot %s: %zu bytes, frame %" PRIu64 ", %s ms old", viewer_label(&r->v),
		f->len, f->seq, age);
	return viewer_http_answer(&r->v, f, "image/jpeg", extra, sizeof(extra) / sizeof(extra[0]));
}

/* Whether @f is the current picture: no older than 1.5 frame intervals of the source. */
static bool is_current(struct snapshot *r, const struct frame *f)
{
	struct source_stats stats;
	int64_t fresh_us = FRESH_MIN_US;
	double fps = 0;
	if (hub_sub_stats(&r->v.sub, &stats))
		fps = stats.fps > 0 ? stats.fps : stats.fps_nominal;
	if (fps > 0 && 1.5e6 / fps > fresh_us)
		fresh_us = (int64_t)(1.5e6 / fps);
	return clock_wall_us() - f->t_capture_us <= fresh_us;
}

/* A cold source's first picture is the answer. A running source's newest picture is the
 * answer at once if it is current. A source kept warm for snapshots decodes but does not
 * encode while nobody is subscribed, so its newest JPEG can be as old as the previous
 * request: then the next picture (due within a frame interval, now that someone wants it) is
 * waited for, at most STALE_WAIT_US, and the old one is the answer if none comes (its age is
 * in the headers). */
static int writeable(struct viewer *v)
{
	struct snapshot *r = snapshot_of(v);
	struct lws *wsi = v->wsi;
	struct cs_error err;

	if (r->phase == PHASE_BODY)
		return viewer_http_body(v);
	if (app_of(wsi)->shutting_down)
		return viewer_http_fail(&r->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
	struct frame *f = hub_sub_newest(&r->v.sub);
	if (f) {
		if (r->v.expired || r->phase == PHASE_COLD ||
			(r->phase == PHASE_NEWER ? f->seq > r->stale_seq : is_current(r, f)))
			return head(r, f);
		if (r->phase != PHASE_NEWER) {
			r->phase = PHASE_NEWER;
			r->stale_seq = f->seq;
			viewer_wait(&r->v, STALE_WAIT_US);
		}
		frame_unref(f);
		return 0;
	}
	if (viewer_source_error(&r->v, &err) != CS_OK)
		return viewer_http_fail(&r->v, &err);
	if (r->v.expired) {
		cs_fail(&err, CS_TIMEOUT, "no picture from the source within %.1f s",
			(double)viewer_first_wait_us(wsi) / 1e6);
		return viewer_http_fail(&r->v, &err);
	}
	return 0;
}

int snapshot_callback(struct lws *wsi, enum lws_callback_reasons reason, struct snapshot *r,
	void *in, size_t len)
{
	return viewer_http_callback(r ? &r->v : NULL, wsi, reason, r, in, len);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	int ret;
	if (reason != LWS_CALLBACK_HTTP)
		return snapshot_callback(wsi, reason, user, in, len);
	if (!access_http_check(wsi, true, "/snapshot", &ret))
		return ret;
	return snapshot_begin(wsi, user, NULL);
}

const struct lws_protocols snapshot_protocol = {
	.name = "camstream-snapshot",
	.callback = callback,
	.per_session_data_size = sizeof(struct snapshot),
	.tx_packet_size = 64 * 1024 + 64,
};
