#include "flv_ws.h"

#include <stddef.h>

#include "app.h"
#include "flv_stream.h"
#include "log.h"
#include "viewer.h"
#include "ws_end.h"

/* Per-connection state; lws allocates it zeroed and frees it after CLOSED. */
struct session {
	struct viewer v;
	struct flv_stream fs;
	struct ws_end end;
};

static struct session *session_of(struct viewer *v)
{
	return (struct session *)(void *)((char *)v - offsetof(struct session, v));
}

static enum cs_err options(struct viewer *v, struct query *q, struct cs_error *err)
{
	return flv_stream_options(&session_of(v)->fs, q, err);
}

static void finish(struct viewer *v)
{
	flv_stream_free(&session_of(v)->fs);
}

static const struct viewer_kind kind = {
	.what = "ws-flv viewer",
	.path = FLV_WS_PATH,
	.coded = true,
	.no_fps = true,
	.own_options = options,
	.on_finish = finish,
};

static int fail(struct session *s, const struct cs_error *err)
{
	ws_end_fail(&s->end, &s->v, err);
	return ws_end_write(&s->end, s->v.wsi);
}

static int send_more(struct session *s, struct lws *wsi)
{
	if (flv_stream_write(&s->fs, LWS_WRITE_BINARY))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int writeable(struct session *s, struct lws *wsi)
{
	struct cs_error err;

	if (s->end.phase == WS_CLOSE_NEXT)
		return ws_end_write(&s->end, wsi);
	if (app_of(wsi)->shutting_down && s->end.phase == WS_STREAMING)
		return ws_close_with(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	if (s->end.phase == WS_ERROR_NEXT)
		return ws_end_write(&s->end, wsi); /* every message is whole: a boundary */
	if (flv_stream_pending(&s->fs))
		return send_more(s, wsi);
	if (!s->v.sub.entry)
		return 0;
	if (s->fs.begun && viewer_unsent(&s->v))
		return 0;
	if (flv_stream_next(&s->fs, &err)) {
		viewer_wait(&s->v, 0);
		return send_more(s, wsi);
	}
	if (err.code != CS_OK)
		return fail(s, &err);
	if (!s->fs.begun) {
		if (flv_stream_no_start(&s->fs, s->v.expired, &err) != CS_OK)
			return fail(s, &err);
		return 0;
	}
	if (viewer_source_error(&s->v, &err) != CS_OK)
		return fail(s, &err);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		s->fs.v = &s->v;
		if (ws_end_start(&s->end, &s->v, wsi, &kind))
			lws_callback_on_writable(wsi); /* a running source may have a key picture now */
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
		/* viewers send nothing but control frames (lws answers those) */
		log_info("%s %s sent a data message: closing it", kind.what,
			s ? viewer_label(&s->v) : "-");
		return ws_close_with(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			"viewers of /ws/flv send nothing");
	case LWS_CALLBACK_CLOSED:
		if (s)
			viewer_finish(&s->v);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols flv_ws_protocol = {
	.name = "camstream-ws-flv",
	.callback = callback,
	.per_session_data_size = sizeof(struct session),
	.rx_buffer_size = 4096,
	.tx_packet_size = 64 * 1024 + 64,
};
