/* hls: Low-Latency HLS (RFC 8216bis) from the coded-picture log, with no segmenter process and
 * no disk: GET /live/{name}.m3u8 (seed 000's path) and GET /hls/index.m3u8?rtsp_url= (ad-hoc
 * cameras, the same URL rules and policies as /flv). README "HLS"; docs/ARCHITECTURE.md "HLS".
 *
 * A playlist request goes through the viewer lifecycle (admission, the source and its
 * policies, the token) and finds or starts the source's HLS session: one coded reader of the
 * source that cuts its pictures into parts and segments (media/hls_mux.h) while clients keep
 * fetching. The playlist's URIs carry the session's id, unguessable, which is all its parts
 * need: the camera's URL and the token are never written into a playlist.
 *
 * Blocking requests (_HLS_msn/_HLS_part, the hinted part) are held on the service thread: a
 * held request is its connection and a few words, woken when the session completes a part,
 * answered at its deadline at the latest, and bounded server-wide. Service thread only. */
#ifndef CAMSTREAM_HLS_H
#define CAMSTREAM_HLS_H

#include <stdint.h>

#include <libwebsockets.h>

struct app;
struct hls;

/* The sessions of the server (@app and @cx not owned). NULL when memory ran out. */
struct hls *hls_create(struct app *app, struct lws_context *cx);
/* Shutdown, before the hub goes: every session ends and lets its source go, held requests
 * are woken to close. */
void hls_shutdown(struct hls *h);
/* After the lws context is gone (its connections closed): frees everything. NULL ok. */
void hls_destroy(struct hls *h);

struct hls_metrics {
	unsigned sessions, held;
	uint64_t requests[4];          /* playlist, init, segment, part */
	uint64_t held_timeouts, refused, bytes_sent;
};
void hls_get_metrics(const struct hls *h, struct hls_metrics *m);

/* The protocol of the /hls and /live mounts (/live/{name}.flv is handed to flv_http). */
extern const struct lws_protocols hls_protocol;

#endif
