/* ws_end: how every WebSocket viewer ends on a failure, seed 002's contract: one JSON text
 * message {"error","code"} at the next message boundary, then, in the next writable callback
 * (only then is the text surely out), a close with the error's close code. Service thread
 * only. */
#ifndef CAMSTREAM_WS_END_H
#define CAMSTREAM_WS_END_H

#include <stdbool.h>

#include <libwebsockets.h>

#include "error.h"
#include "viewer.h"

enum ws_end_phase {
	WS_STREAMING = 0,  /* no failure yet */
	WS_ERROR_NEXT,     /* the error text goes out at the next message boundary */
	WS_CLOSE_NEXT,     /* the text is out: the close frame goes next */
};

/* Part of a WebSocket viewer's per-connection state, zeroed with it. */
struct ws_end {
	enum ws_end_phase phase;
	struct cs_error err;
	int close_code;
};

/* Records @err for @v (the first failure wins), logs it, and asks for a writable callback.
 * false if a failure was already recorded. */
bool ws_end_fail(struct ws_end *e, struct viewer *v, const struct cs_error *err);
/* LWS_CALLBACK_ESTABLISHED of a WebSocket viewer: viewer_start, then the wait for a first
 * picture. A refusal becomes the failure to send (the end of a stopped stream is clean; an
 * unknown stream name closes with 1008: asking again will not help). true when started. */
bool ws_end_start(struct ws_end *e, struct viewer *v, struct lws *wsi,
	const struct viewer_kind *kind);
/* In a writable callback at a message boundary, once a failure is recorded: writes the text,
 * or the close. Returns what the callback returns. */
int ws_end_write(struct ws_end *e, struct lws *wsi);
/* Closes with @code and @reason; returns -1, what the callback returns. */
int ws_close_with(struct lws *wsi, int code, const char *reason);

#endif
