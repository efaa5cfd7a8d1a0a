/* hls_mux: one source's Low-Latency HLS (RFC 8216bis) in memory: the coded pictures and AAC
 * frames of the coded-picture log cut into fMP4 parts (about 200 ms) and segments (from one
 * key picture to the first key picture at least a second later), a window of the newest
 * segments, and the media playlist that lists them. The HTTP side (outputs/hls.c) feeds it
 * from a coded-log cursor and serves its bytes; docs/ARCHITECTURE.md "HLS".
 *
 * - A part is cut when the next picture would take it past the part target, and before a
 *   key picture once the part has half the target (a part that starts with one is
 *   INDEPENDENT). A part is complete when the
 *   picture after its last one arrives: that fixes the last picture's duration.
 * - A segment is its parts' bytes one after the other (each part is a moof + mdat), so nothing
 *   is stored twice. Segments start at a key picture; one that reaches HLS_SEGMENT_MAX_US
 *   without one is cut anyway (its first part is then not independent).
 * - Timestamps follow the camera's clock from about 0, bridged where it jumps (flv_clock).
 * - A change of parameters (size, codec, audio) or a discontinuity told by the caller ends the
 *   segment in progress; the next starts at a key picture with a new init segment and an
 *   EXT-X-DISCONTINUITY.
 * Pure (libc, codedlog, fmp4); one thread at a time. Buffers handed out are refcounted, so a
 * request still sending one is not disturbed when the window moves on. */
#ifndef CAMSTREAM_HLS_MUX_H
#define CAMSTREAM_HLS_MUX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codedlog.h"

#define HLS_PART_TARGET_US 200000
#define HLS_SEGMENT_MIN_US 1000000
#define HLS_SEGMENT_MAX_US 10000000
#define HLS_WINDOW 6            /* complete segments listed */
#define HLS_MIN_SEGMENTS 3      /* a playlist lists this many at least, gaps in front first */
#define HLS_PART_SEGMENTS 2     /* complete segments whose parts are still listed */
#define HLS_MAX_BYTES (48u << 20) /* the window's bytes at most (oldest segments leave) */
#define HLS_MAX_PARTS 100       /* parts in a segment at most (then it is cut, as at _MAX_US) */

/* Immutable bytes once made; @headroom is scratch for the writer in front of @data (LWS_PRE),
 * as in codedlog.h. @refs is atomic: the mux and every request sending the bytes hold one, and
 * whoever drops the last frees (today all on the service thread). */
struct hls_buf {
	atomic_uint refs;
	size_t len;
	uint8_t headroom[CODED_HEADROOM];
	uint8_t data[];
};
struct hls_buf *hls_buf_ref(struct hls_buf *b);   /* NULL ok; returns b */
void hls_buf_unref(struct hls_buf *b);            /* NULL ok */

struct hls_mux;

/* A mux whose young playlist lists up to @gaps EXT-X-GAP segments in front of its first real
 * ones, so that it has HLS_MIN_SEGMENTS from the first complete segment on (segments are then
 * numbered from @gaps); 0: none. NULL when memory ran out. */
struct hls_mux *hls_mux_create(unsigned gaps);
void hls_mux_destroy(struct hls_mux *m);          /* NULL ok */

/* The audio the source has now (AAC params; NULL: none, or the viewer asked for audio=0).
 * A change takes effect at the next segment, with a new init segment. */
void hls_mux_set_audio(struct hls_mux *m, const struct coded_params *audio);

/* What a push changed. */
enum {
	HLS_PART_DONE = 1,      /* a part (maybe ending a segment) is complete */
	HLS_SEGMENT_DONE = 2,   /* a segment is complete */
};

/* Feeds one entry of the log (not kept: what is needed is referenced or copied). Video
 * entries must come in decoding order; audio entries of params other than the current
 * audio's are left out. @discontinuity: entries were lost before this one (the log was reset,
 * the reader jumped): the segment in progress ends here. Returns HLS_* flags; 0 also when
 * the entry was left out. -ENOMEM when memory ran out (the mux stays usable: the part being
 * built is dropped). -EINVAL for a codec fMP4 here cannot carry (not H.264/H.265), once per
 * params. */
int hls_mux_push(struct hls_mux *m, const struct coded_entry *e, bool discontinuity);

/* The source ended: the part and segment in progress are completed with what they hold and
 * the playlist gets EXT-X-ENDLIST. Further pushes are ignored. */
void hls_mux_end(struct hls_mux *m);
bool hls_mux_ended(const struct hls_mux *m);

/* Whether a playlist can be served: one complete segment exists. */
bool hls_mux_ready(const struct hls_mux *m);

/* EXT-X-TARGETDURATION in seconds (1 before any segment is complete). */
unsigned hls_mux_target_s(const struct hls_mux *m);

/* Where the mux is: the msn of the segment in progress (one past the newest complete segment
 * once ended) and the parts complete in it; the oldest msn still in the window. */
struct hls_mux_pos {
	uint64_t msn;
	unsigned parts;
	uint64_t oldest_msn;
	uint64_t next_part;     /* the number the next part will have (the preload hint) */
};
void hls_mux_position(const struct hls_mux *m, struct hls_mux_pos *pos);

/* Whether segment @msn, or part @part of it (@part < 0: the whole segment), is in the
 * playlist: what a blocking playlist request (_HLS_msn, _HLS_part) waits for. */
enum hls_have {
	HLS_HAVE,       /* complete and in the window */
	HLS_LATER,      /* not yet: the segment in progress or the next one (worth waiting for) */
	HLS_NEVER,      /* left the window, too far ahead, or past the end */
};
enum hls_have hls_mux_have(const struct hls_mux *m, uint64_t msn, int part);

/* Whether part number @number (parts are numbered 0, 1, ... across segments) is available:
 * LATER for the next part and the one after it. */
enum hls_have hls_mux_have_part(const struct hls_mux *m, uint64_t number);

/* The media playlist: every URI is @prefix + "init{V}.mp4" / "seg{MSN}.m4s" /
 * "part{N}.m4s" + @suffix (a query, or ""), N numbering parts across segments (so the
 * preload hint, the next part, is right whichever segment that part turns out to start). A
 * new string (the caller frees it), NULL when memory ran out or the mux is not ready. */
char *hls_mux_playlist(const struct hls_mux *m, const char *prefix, const char *suffix);

/* The init segment version of the oldest segment in the window (what a gap goes with). */
unsigned hls_mux_init_version(const struct hls_mux *m);
/* A new reference to init segment @version, if a segment in the window uses it. */
struct hls_buf *hls_mux_init(const struct hls_mux *m, unsigned version);
/* A new reference to part number @number, if complete and in the window. */
struct hls_buf *hls_mux_part(const struct hls_mux *m, uint64_t number);
/* Segment @msn if complete and in the window: up to @cap new references to its parts in
 * order in @bufs; returns how many parts it has (0: not available), which may exceed @cap. */
size_t hls_mux_segment(const struct hls_mux *m, uint64_t msn, struct hls_buf **bufs,
	size_t cap);

/* What a client asks for by a file name hls_mux_playlist wrote: "init{V}.mp4" (*@number: V,
 * at most 2^30), "seg{MSN}.m4s", "part{N}.m4s" (at most 2^63 - 1) or "gap.mp4". Anything else,
 * signs, spaces or more than 19 digits included: HLS_FILE_NONE. */
enum hls_file { HLS_FILE_NONE, HLS_FILE_INIT, HLS_FILE_SEGMENT, HLS_FILE_PART, HLS_FILE_GAP };
enum hls_file hls_file_parse(const char *file, uint64_t *number);
/* A decimal number of 1 to 19 digits and nothing else, at most @max (_HLS_msn, _HLS_part). */
bool hls_number_parse(const char *text, uint64_t max, uint64_t *out);

struct hls_mux_stats {
	size_t segments, parts, bytes;   /* in the window now */
	uint64_t parts_made, segments_made, discontinuities;
};
void hls_mux_get_stats(const struct hls_mux *m, struct hls_mux_stats *st);

#endif
