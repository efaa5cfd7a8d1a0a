/* http_media: pictures over plain HTTP. GET /snapshot (one JPEG) and GET /mjpeg
 * (multipart/x-mixed-replace, for a bare <img src>), for ad-hoc URLs (?rtsp_url= or
 * ?cam_url=) and named streams (?name=, and /api/streams/{name}/snapshot). They subscribe to
 * the hub like a WebSocket viewer does. Service thread only. */
#ifndef CAMSTREAM_HTTP_MEDIA_H
#define CAMSTREAM_HTTP_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "frame.h"
#include "hub.h"
#include "options.h"
#include "server.h"
#include "url.h"

/* Per-request state, embedded in the HTTP per-session data (zeroed by lws). */
struct media_req {
	struct hub_sub sub;        /* hub link; the hub never frees it */
	struct lws *wsi;
	int kind;                  /* 0 none, else the room's own request kinds */
	struct cam_url url;        /* owned */
	struct stream_opts opts;   /* owned */
	struct frame *cur;         /* reference held while it is being sent */
	size_t off;                /* bytes of the current part already written */
	struct send_gate gate;     /* MJPEG: when the next picture may start */
	int64_t deadline_us;       /* snapshot: monotonic time to give up waiting */
	lws_sorted_usec_list_t sul;/* snapshot: wakes the request at its deadline */
	bool counted;              /* included in server_state.clients */
	bool finished;             /* cleanup done */
	bool named;                /* a named stream (?name= or the path), not an ad-hoc URL */
	bool advance;              /* MJPEG: the next part's headers follow each JPEG at once */
	bool expired;              /* the wait for the first picture ran out (set by sul) */
	uint8_t phase;             /* room-private: waiting for the first picture, streaming */
	uint8_t part;              /* room-private: the next piece of the current MJPEG part */
	uint64_t stale_seq;        /* snapshot: seq of a stale newest frame; a newer one wins */
};

/* LWS_CALLBACK_HTTP for GET /snapshot and GET /mjpeg (@path is the URI path). */
int http_media_request(struct lws *wsi, struct media_req *r, const char *path);
/* LWS_CALLBACK_HTTP for GET /api/streams/{name}/snapshot. */
int http_media_snapshot_named(struct lws *wsi, struct media_req *r, const char *name);
/* Every later callback of a request that http_media took (HTTP_WRITEABLE, CLOSED_HTTP,
 * HTTP_DROP_PROTOCOL, ...). Returns what the lws callback should return. */
int http_media_callback(struct lws *wsi, enum lws_callback_reasons reason,
	struct media_req *r, void *in, size_t len);

#endif
