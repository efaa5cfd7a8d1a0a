/* ws_end: how every WebSocket viewer ends on a failure, seed 002's contract: one JSON text
 * message {"error","code"} at the next message boundary, then, in the next writable callback
 * (only then is the text surely out), a close with the error's close code. Service thread
 * only. */
#ifndef CAMSTREAM_WS_END_H
#define CAMSTREAM_WS_END_H

#include <stdbool.h>

#include <libwebsockets.h>

#include "error.h"

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

/* Records @err (the first failure wins), logs it for @what @label, and asks for a writable
 * callback. false if a failure was already recorded. */
bool ws_end_fail(struct ws_end *e, struct lws *wsi, const struct cs_error *err,
	const char *what, const char *label);
/* In a writable callback at a message boundary, once a failure is recorded: writes the text,
 * or the close. Returns what the callback returns. */
int ws_end_write(struct ws_end *e, struct lws *wsi);
/* Closes with @code and @reason; returns -1, what the callback returns. */
int ws_close_with(struct lws *wsi, int code, const char *reason);

#endif
