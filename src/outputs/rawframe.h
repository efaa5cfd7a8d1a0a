/* rawframe: the newest key picture of a named stream as the camera coded it, Annex B
 * (GET /api/streams/{name}/frame, seed 001). Served through the streams API's router.
 * Service thread only. */
#ifndef CAMSTREAM_RAWFRAME_H
#define CAMSTREAM_RAWFRAME_H

#include <stdbool.h>

#include <libwebsockets.h>

#include "viewer.h"

/* Per-request state, embedded in the per-session data of the protocol that took the request
 * (lws zeroes it). */
struct rawframe {
	struct viewer v;
	bool answering;            /* the answer (v.cur) is going out */
};

/* LWS_CALLBACK_HTTP for the stream @path_name. */
int rawframe_begin(struct lws *wsi, struct rawframe *r, const char *path_name);
/* Every later callback of a request rawframe_begin took. */
int rawframe_callback(struct lws *wsi, enum lws_callback_reasons reason, struct rawframe *r,
	void *in, size_t len);

#endif
