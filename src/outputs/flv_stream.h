/* flv_stream: one viewer's FLV byte stream, the part HTTP-FLV (flv_http.c) and WS-FLV
 * (flv_ws.c) share. The viewer reads the source's coded-picture log with its own cursor: it
 * starts at once at the cached key picture, and one that falls more than FLV_MAX_LAG_US
 * behind the camera jumps to the next key picture (counted by the log). In front of the first
 * picture go the header, onMetaData and the sequence headers; a change of parameters sends
 * them again before the picture that uses them.
 *
 * Nothing is copied per viewer: a picture goes out from the log's own entry, its tag header
 * written into the entry's headroom just before the write (see codedlog.h). What the viewer
 * holds: one entry reference, and the few hundred bytes of headers while they go out; lws
 * keeps what the kernel did not take of the last write (one chunk at most).
 *
 * Timestamps start at 0 for each viewer and stay on the camera's clock; where that clock
 * jumps (an RTCP sender report re-bases RTSP timestamps, a named stream reconnects) the wall
 * clock between the two entries bridges the jump, so a track's timestamps never go back.
 * Service thread only. */
#ifndef CAMSTREAM_FLV_STREAM_H
#define CAMSTREAM_FLV_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "codedlog.h"
#include "error.h"
#include "flv.h"
#include "viewer.h"

/* How far behind the camera a viewer may fall before it skips to the next key picture; a
 * viewer that joined at an older key picture is given that age on top, while it catches up. */
#define FLV_MAX_LAG_US 1000000

struct flv_stream {
	struct viewer *v;
	bool no_audio;              /* audio=0 */
	bool audio;                 /* the header flags audio: audio tags follow */
	bool begun;                 /* the header is out (or in hand) */
	uint32_t prev;              /* the size of the last tag: the next piece starts with it */
	struct coded_params *vp, *ap; /* the sequence headers sent last (references) */
	/* the bytes in hand: built ones (header, metadata, sequence headers; owned, with LWS_PRE
	 * bytes in front), then the entry's */
	uint8_t *built;
	size_t built_len, built_off;
	struct coded_entry *e;      /* one reference, or NULL */
	uint8_t *e_start;           /* its tag prefix in the headroom */
	size_t e_len, e_off;        /* prefix + data, and how much of it is out */
	struct flv_clock clock;     /* the viewer's timeline */
	int64_t join_lag_us, join_mono_us;
};

/* The kind's own query option audio=0|1 (taken out of @q). */
enum cs_err flv_stream_options(struct flv_stream *fs, struct query *q, struct cs_error *err);

/* Whether bytes are in hand. */
bool flv_stream_pending(const struct flv_stream *fs);

/* Takes the next entry of the log and makes the bytes that carry it (with the header and
 * sequence headers in front where they are due). true when bytes are in hand; false when
 * there is nothing to send yet, or *@err says why there will be nothing (the source has no
 * coded form FLV carries; out of memory). */
bool flv_stream_next(struct flv_stream *fs, struct cs_error *err);

/* Writes the next chunk of the bytes in hand with @wp (LWS_WRITE_HTTP, or LWS_WRITE_BINARY:
 * every chunk is a whole message). 0, or -1 when the write failed. */
int flv_stream_write(struct flv_stream *fs, enum lws_write_protocol wp);

/* Why no first picture comes: CS_OK to go on waiting, else the error (the source's own, a
 * source with no coded form, or the first wait ran out: @expired). */
enum cs_err flv_stream_no_start(struct flv_stream *fs, bool expired, struct cs_error *err);

/* Drops what @fs holds. Idempotent. */
void flv_stream_free(struct flv_stream *fs);

#endif
