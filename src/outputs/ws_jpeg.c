/* ws_jpeg: /ws/stream, seed 002's contract. Each JPEG goes out as one binary message, in
 * fragments of WS_JPEG_FRAGMENT (one per writable callback); a failure as one JSON text
 * message and then a close with its code. The viewer lifecycle is viewer.c's; this file frames
 * the bytes, and keeps pull mode ("next"). Service thread only. */
#include "ws_jpeg.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "error.h"
#include "http_reply.h"
#include "log.h"
#include "viewer.h"
#include "ws_end.h"

/* Pull mode. A viewer that sends the text message "next" asks for one frame; from its first
 * "next" on it gets a frame only when it has asked for one, and always one encoded after the
 * camera's newest picture (never one that waited while it was not asking). So a reader
 * slower than the camera takes the newest picture each time it reads, instead of what its
 * socket buffers held. Viewers that never send anything are served as before. */
#define PULL_WORD "next"
#define PULL_MAX_CREDITS 16

/* Per-connection state; lws allocates it zeroed and frees it after CLOSED. */
struct session {
	struct viewer v;
	bool pull;                /* the viewer asks for each frame ("next") */
	int credits;              /* frames asked for and not yet started (pull mode) */
	struct ws_end end;        /* the failure, once there is one */
};

/* Whether the viewer can take a frame now: always, unless it pulls and has asked for none. */
static bool wants_frame(const struct session *s)
{
	return !s->pull || s->credits > 0;
}

static const struct viewer_kind kind = {
	.what = "viewer",
	.path = "/ws/stream",
};

/* Switches the session to error-then-close. The text goes out at the next message boundary. */
static void fail(struct session *s, const struct cs_error *err)
{
	ws_end_fail(&s->end, &s->v, err);
}

/* Writes the next fragment of the frame in hand. */
static int send_fragment(struct session *s)
{
	struct frame *f = s->v.cur;
	size_t n = f->len - s->v.off;
	if (n > WS_JPEG_FRAGMENT)
		n = WS_JPEG_FRAGMENT;
	int flags = lws_write_ws_flags(LWS_WRITE_BINARY, s->v.off == 0, s->v.off + n == f->len);
	if (viewer_write_shared(s->v.wsi, f->data + s->v.off, n, (enum lws_write_protocol)flags))
		return -1;
	s->v.off += n;
	if (s->v.off == f->len) {
		viewer_sent(&s->v);
		/* a pulling viewer that has asked for no more stays unable to take one */
		hub_sub_set_busy(&s->v.sub, !wants_frame(s));
	}
	/* the next fragment, or a look for a newer frame or an error */
	lws_callback_on_writable(s->v.wsi);
	return 0;
}

static bool is_next(struct lws *wsi, const void *in, size_t len)
{
	return !lws_frame_is_binary(wsi) && lws_is_first_fragment(wsi) &&
		lws_is_final_fragment(wsi) && len == strlen(PULL_WORD) &&
		memcmp(in, PULL_WORD, len) == 0;
}

static void on_next(struct session *s)
{
	s->pull = true;
	if (s->credits < PULL_MAX_CREDITS)
		s->credits++;
	if (!s->v.cur) {
		/* it can take a frame again: the source encodes for it */
		hub_sub_set_busy(&s->v.sub, false);
		lws_callback_on_writable(s->v.wsi);
	}
}

/* A source that plays, data flowing, and has decoded no picture for as long as a first
 * picture may take (a stream too damaged to decode, a codec the decoder opens but cannot
 * use) would keep the viewer waiting without a word: it is told. A source still opening or
 * reconnecting is waited for, as the contract says; the look is taken again later. */
static bool no_picture(struct session *s, struct cs_error *err)
{
	struct source_stats st;
	s->v.expired = false;
	if (!hub_sub_stats(&s->v.sub, &st) || st.frames_decoded > 0)
		return false; /* pictures come: no more looks */
	int64_t wait_us = viewer_first_wait_us(s->v.wsi);
	int64_t played_us = st.state == SOURCE_PLAYING && st.opened_wall_us ?
		clock_wall_us() - st.opened_wall_us : 0;
	if (played_us < wait_us) {
		viewer_wait(&s->v, wait_us - played_us);
		return false;
	}
	cs_fail(err, CS_TIMEOUT, "%s plays but gave no picture that decodes within %.1f s (no "
		"key picture came, or the stream is damaged)", viewer_label(&s->v),
		(double)wait_us / 1e6);
	return true;
}

static int writeable(struct session *s, struct lws *wsi)
{
	if (s->end.phase == WS_CLOSE_NEXT)
		return ws_end_write(&s->end, wsi);
	/* a close frame may interrupt a fragmented message; a text frame may not */
	if (app_of(wsi)->shutting_down && s->end.phase == WS_STREAMING)
		return ws_close_with(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	if (s->v.cur)
		return send_fragment(s);
	if (s->end.phase == WS_ERROR_NEXT)
		return ws_end_write(&s->end, wsi);

	if (!s->v.sub.entry || viewer_backlogged(&s->v))
		return 0;
	/* a pulling viewer takes only a frame made since the camera's newest picture */
	if (wants_frame(s) && viewer_take(&s->v, s->pull)) {
		if (s->pull)
			s->credits--;
		return send_fragment(s);
	}
	struct cs_error err;
	if (viewer_source_error(&s->v, &err) != CS_OK || (s->v.expired && no_picture(s, &err))) {
		fail(s, &err);
		return ws_end_write(&s->end, wsi);
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		ws_end_start(&s->end, &s->v, wsi, &kind); /* the wait: see no_picture */
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s || s->v.finished)
			return 0;
		return writeable(s, wsi);
	case LWS_CALLBACK_TIMER:
		if (s)
			viewer_on_timer(&s->v);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (s && viewer_live(&s->v) && is_next(wsi, in, len)) {
			on_next(s);
			return 0;
		}
		/* besides "next", viewers send nothing but control frames (lws answers those) */
		log_info("viewer %s sent a data message: closing it",
			s && s->v.url.redacted ? s->v.url.redacted : "-");
		return ws_close_with(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			"viewers send nothing but \"next\"");
	case LWS_CALLBACK_CLOSED:
		if (s)
			viewer_finish(&s->v);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols ws_jpeg_protocol = {
	.name = WS_JPEG_PROTOCOL,
	.callback = callback,
	.per_session_data_size = sizeof(struct session),
	.rx_buffer_size = 4096,
	.tx_packet_size = WS_JPEG_FRAGMENT + 64,
};
