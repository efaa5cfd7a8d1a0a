/* http_streams: the REST API of named streams (seed 001): /api/streams, /api/streams/{name},
 * .../start, .../stop, DELETE, POST /api/config/streams. Reads JSON bodies, answers JSON.
 * Service thread only. */
#ifndef CAMSTREAM_HTTP_STREAMS_H
#define CAMSTREAM_HTTP_STREAMS_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

/* Per-request state, embedded in the HTTP per-session data (zeroed by lws). */
struct api_req {
	int method;                /* room-private */
	char path[256];            /* the URI path, for handling once the body is in */
	char *body;                /* owned; request body collected so far */
	size_t len, cap;
	bool active;               /* this room took the request */
};

/* LWS_CALLBACK_HTTP for a path under /api/streams or /api/config (@path is the URI path). */
int http_streams_request(struct lws *wsi, struct api_req *r, const char *path);
/* Every later callback of a request that http_streams took (HTTP_BODY,
 * HTTP_BODY_COMPLETION, HTTP_DROP_PROTOCOL, CLOSED_HTTP, ...). */
int http_streams_callback(struct lws *wsi, enum lws_callback_reasons reason,
	struct api_req *r, void *in, size_t len);

#endif
