/* snapshot: one JPEG over HTTP, for GET /snapshot (its own endpoint) and for the streams API's
 * GET /api/streams/{name}/snapshot. Service thread only. */
#ifndef CAMSTREAM_SNAPSHOT_H
#define CAMSTREAM_SNAPSHOT_H

#include <stdint.h>

#include <libwebsockets.h>

#include "viewer.h"

/* Per-request state, embedded in the per-session data of whichever protocol took the request
 * (lws zeroes it). */
struct snapshot {
	struct viewer v;
	int phase;                 /* room-private */
	uint64_t stale_seq;        /* seq of a stale newest frame; a newer one wins */
};

/* LWS_CALLBACK_HTTP: starts the request; @path_name is the stream the path names, or NULL
 * (then ?rtsp_url= or ?name=). Returns what the callback should return. */
int snapshot_begin(struct lws *wsi, struct snapshot *r, const char *path_name);
/* Every later callback of a request snapshot_begin took. */
int snapshot_callback(struct lws *wsi, enum lws_callback_reasons reason, struct snapshot *r,
	void *in, size_t len);

/* GET /snapshot's own protocol (its LWS_CALLBACK_HTTP passes the access checks). */
extern const struct lws_protocols snapshot_protocol;

#endif
