#include "ws_stream.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"
#include "http_reply.h"
#include "hub.h"
#include "log.h"
#include "options.h"
#include "server.h"
#include "url.h"
#include "viewer.h"

enum phase {
	PHASE_STREAM = 0,  /* sending frames */
	PHASE_ERROR,       /* the error text goes out at the next message boundary */
	PHASE_CLOSE,       /* the text is out: the close frame goes next */
};

/* Per-connection state; lws allocates it zeroed and frees it after CLOSED.
 * Service thread only: workers never see it (they know only their source). */
struct session {
	struct hub_sub sub;       /* hub link; the hub never frees it */
	struct lws *wsi;
	struct cam_url url;       /* owned */
	struct stream_opts opts;  /* owned */
	struct frame *cur;        /* reference held while its fragments go out */
	size_t off;               /* bytes of cur already written */
	struct send_gate gate;    /* when the next frame may start */
	bool pull;                /* the viewer asks for each frame ("next"): see on_next */
	int credits;              /* frames asked for and not yet started (pull mode) */
	enum phase phase;
	enum cs_err err;
	int close_code;
	char errmsg[320];
	bool counted;             /* included in server_state.clients */
	bool finished;            /* CLOSED handled */
};

size_t ws_stream_session_size(void)
{
	return sizeof(struct session);
}

static struct session *session_of(struct hub_sub *sub)
{
	return (struct session *)(void *)((char *)sub - offsetof(struct session, sub));
}

/* Whether the viewer can take a frame now: always, unless it pulls and has asked for none
 * (pull mode: see on_next). */
static bool wants_frame(const struct session *s)
{
	return !s->pull || s->credits > 0;
}

static void on_news(struct hub_sub *sub)
{
	struct session *s = session_of(sub);
	/* mid-message, the fragment loop asks for the next callback itself */
	if (!s->cur)
		lws_callback_on_writable(s->wsi);
}

/* Switches the session to error-then-close. The text goes out at the next message boundary. */
static void fail(struct session *s, enum cs_err err, int clean, const char *msg)
{
	if (s->phase != PHASE_STREAM)
		return;
	s->phase = PHASE_ERROR;
	s->err = err;
	s->close_code = cs_err_ws_close(err, clean);
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
	log_info("viewer %s: %s (%s)", s->url.redacted ? s->url.redacted : "-", msg,
		cs_err_code(err));
	lws_callback_on_writable(s->wsi);
}

static void start(struct session *s, struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char err[256];

	s->wsi = wsi;
	s->sub.on_news = on_news;
	s->counted = true;
	st->clients++;

	if (st->shutting_down) {
		fail(s, CS_SERVER_BUSY, 0, "the server is shutting down");
		return;
	}
	if (st->cfg->max_clients && st->clients > st->cfg->max_clients) {
		snprintf(err, sizeof(err), "the server is serving its maximum of %d viewers",
			st->cfg->max_clients);
		fail(s, CS_SERVER_BUSY, 0, err);
		return;
	}

	const char *args[HTTP_MAX_ARGS];
	char *store = NULL;
	int n = http_query_args(wsi, &store, args);
	if (n < 0) {
		fail(s, CS_BAD_REQUEST, 0, n == -2 ? "too many query parameters" : "out of memory");
		return;
	}
	enum cs_err e = opts_parse(&s->opts, args, (size_t)n, err, sizeof(err));
	free(store);
	if (e != CS_OK) {
		fail(s, e, 0, err);
		return;
	}
	if (!s->opts.src && !s->opts.name) {
		fail(s, CS_BAD_REQUEST, 0, "rtsp_url is required: /ws/stream?rtsp_url=<camera URL, "
			"percent-encoded> (or name=<stream name>)");
		return;
	}
	e = viewer_subscribe(st, &s->sub, &s->opts, &s->url, err, sizeof(err));
	if (e != CS_OK) {
		fail(s, e, 1, err);
		if (e == CS_NOT_FOUND && s->opts.name)
			s->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION; /* asking again won't help */
		return;
	}
	if (s->opts.name) {
		log_info("viewer connected to stream %s (%d viewers)", s->opts.name, st->clients);
		return;
	}
	log_info("viewer connected: %s (%d viewers)", s->url.redacted, st->clients);
}

static void finish(struct session *s, struct lws *wsi)
{
	if (s->finished)
		return;
	s->finished = true;
	struct server_state *st = server_get(wsi);
	if (st->hub)
		hub_unsubscribe(st->hub, &s->sub);
	frame_unref(s->cur);
	s->cur = NULL;
	if (s->counted) {
		st->clients--;
		log_info("viewer left: %s (%d viewers)", s->url.redacted ? s->url.redacted : "-",
			st->clients);
	}
	url_free(&s->url);
	opts_free(&s->opts);
}

/* Writes the next fragment of s->cur. A JPEG is shared by every viewer of its source, and
 * lws builds each fragment's header in the LWS_PRE bytes before it: those bytes belong to the
 * previous fragment, which other viewers may still have to send, so they are put back. */
static int send_fragment(struct session *s)
{
	struct frame *f = s->cur;
	size_t n = f->len - s->off;
	if (n > WS_STREAM_FRAGMENT)
		n = WS_STREAM_FRAGMENT;
	unsigned char *p = f->data + s->off;
	unsigned char saved[LWS_PRE] = { 0 };
	int flags = lws_write_ws_flags(LWS_WRITE_BINARY, s->off == 0, s->off + n == f->len);

	if (s->off)
		memcpy(saved, p - LWS_PRE, LWS_PRE);
	int m = lws_write(s->wsi, p, n, (enum lws_write_protocol)flags);
	if (s->off)
		memcpy(p - LWS_PRE, saved, LWS_PRE);
	if (m < (int)n)
		return -1;

	s->off += n;
	if (s->off == f->len) {
		hub_sub_count_sent(&s->sub, f->len);
		frame_unref(f);
		s->cur = NULL;
		/* a pulling viewer that has asked for no more stays unable to take one */
		hub_sub_set_busy(&s->sub, !wants_frame(s));
	}
	/* the next fragment, or a look for a newer frame or an error */
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* Pull mode. A viewer that sends the text message "next" asks for one frame; from its
 * first "next" on it gets a frame only when it has asked for one, and always one encoded
 * after the camera's newest picture (never one that waited while it was not asking). So a
 * reader slower than the camera takes the newest picture each time it reads, instead of
 * what its socket buffers held. Viewers that never send anything are served as before. */
#define PULL_WORD "next"
#define PULL_MAX_CREDITS 16

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
	if (!s->cur) {
		/* it can take a frame again: the source encodes for it */
		hub_sub_set_busy(&s->sub, false);
		lws_callback_on_writable(s->wsi);
	}
}

static int close_with(struct lws *wsi, int code, const char *reason)
{
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)(uintptr_t)reason,
		strlen(reason));
	return -1;
}

static int send_error_text(struct session *s)
{
	unsigned char buf[LWS_PRE + 640];
	char *text = cs_err_json(s->err, s->errmsg);
	if (!text) /* out of memory: at least the close code says what happened */
		return close_with(s->wsi, s->close_code, cs_err_code(s->err));
	size_t len = strlen(text);
	if (len > sizeof(buf) - LWS_PRE)
		len = sizeof(buf) - LWS_PRE; /* errmsg is bounded: cannot happen */
	memcpy(buf + LWS_PRE, text, len);
	free(text);
	if (lws_write(s->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
		return -1;
	/* the close frame in the next callback: only then is the text surely out */
	s->phase = PHASE_CLOSE;
	lws_callback_on_writable(s->wsi);
	return 0;
}


static int writeable(struct session *s, struct lws *wsi)
{
	struct server_state *st = server_get(wsi);

	if (s->phase == PHASE_CLOSE)
		return close_with(wsi, s->close_code, cs_err_code(s->err));
	/* a close frame may interrupt a fragmented message; a text frame may not */
	if (st->shutting_down && s->phase == PHASE_STREAM)
		return close_with(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	if (s->cur)
		return send_fragment(s);
	if (s->phase == PHASE_ERROR)
		return send_error_text(s);

	if (!s->sub.out)
		return 0;
	if (server_send_backlogged(wsi, &s->gate)) {
		/* the last frame has not all left yet: look again shortly rather than queue a
		 * stale frame behind it */
		lws_set_timer_usecs(wsi, 10 * 1000);
		return 0;
	}
	/* a pulling viewer takes only a frame made since the camera's newest picture */
	struct frame *f = wants_frame(s) ? hub_sub_latest(&s->sub, s->pull) : NULL;
	if (f) {
		s->cur = f;
		s->off = 0;
		if (s->pull)
			s->credits--;
		hub_sub_set_busy(&s->sub, true);
		return send_fragment(s);
	}
	int clean = 0;
	char msg[256];
	enum cs_err e = hub_sub_error(&s->sub, msg, sizeof(msg), &clean);
	if (e != CS_OK) {
		fail(s, e, clean, msg);
		return send_error_text(s);
	}
	return 0;
}

int ws_stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		start(s, wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s || s->finished)
			return 0;
		return writeable(s, wsi);
	case LWS_CALLBACK_TIMER:
		if (s && !s->finished)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (s && !s->finished && is_next(wsi, in, len)) {
			on_next(s);
			return 0;
		}
		/* besides "next", viewers send nothing but control frames (lws answers those) */
		log_info("viewer %s sent a data message: closing it",
			s && s->url.redacted ? s->url.redacted : "-");
		return close_with(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			"viewers send nothing but \"next\"");
	case LWS_CALLBACK_CLOSED:
		if (s)
			finish(s, wsi);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
