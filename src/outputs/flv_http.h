/* flv_http: HTTP-FLV, the camera's own H.264/H.265 (and AAC) to flv.js, mpegts.js, ffmpeg and
 * VLC: GET /flv?rtsp_url= (or cam_url=), GET /live/{name}.flv (seed 000's path) and
 * GET /?cam_url= (seed 003's; site.c hands it over). The body is close-delimited: no length,
 * no chunked framing; the connection's end is the stream's end, which every one of those
 * players reads, as they read SRS' and nginx-rtmp's, and the picture bytes go out as they are
 * in the log, with no per-chunk framing around them. An error before the first byte is the
 * usual JSON answer. Service thread only. */
#ifndef CAMSTREAM_FLV_HTTP_H
#define CAMSTREAM_FLV_HTTP_H

#include <stdbool.h>

#include <libwebsockets.h>

#include "flv_stream.h"
#include "viewer.h"

/* Per-request state, embedded in the per-session data of the protocol that took the request
 * (lws zeroes it). */
struct flv_http {
	struct viewer v;
	struct flv_stream fs;
	bool streaming;            /* the response has started */
};

/* LWS_CALLBACK_HTTP: /flv (@path_name NULL) or the named stream @path_name. */
int flv_http_begin(struct lws *wsi, struct flv_http *f, const char *path_name);
/* Every later callback of a request flv_http_begin took. */
int flv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct flv_http *f,
	void *in, size_t len);
/* Whether flv_http_begin took @f's request. */
bool flv_http_took(const struct flv_http *f);

/* The protocol of the /flv and /live mounts. */
extern const struct lws_protocols flv_http_protocol;

#endif
