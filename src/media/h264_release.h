/* h264_release: hands each H.264 picture to the decoder as soon as its last slice is whole,
 * instead of when the next picture begins.
 *
 * Why: libavformat's RTP depacketizer drops the RTP marker bit that ends a picture, so its
 * H.264 parser can only end one when the next one starts: one frame interval of latency (40 ms
 * at 25 fps). Without the parser (AVFMT_FLAG_NOPARSE) the RTSP demuxer returns one packet per
 * RTP packet: a whole NAL unit (start code first), several (STAP-A), or a piece of a
 * fragmented one (FU-A: the first piece has the start code and the rebuilt NAL header, the
 * others are bare payload). Two things are lost with the marker and the FU-A end bit: when a
 * fragmented unit is whole, and which slice is a picture's last. Both are learned from the
 * stream itself, in hindsight:
 *
 * - Packetizers cut every piece but the last to the same size (the MTU's payload), so the last
 *   one is the short one. A piece followed by another piece of the same unit was a middle
 *   one; the pattern holds when every middle piece has the same size C, every first piece
 *   C + 5 bytes (start code and NAL header rebuilt, FU indicator and header gone) and every
 *   last piece at most C. A piece shorter than C then ends its unit.
 * - Encoders cut pictures into a fixed number of slices (1 for most cameras, one per thread
 *   for x264). Once three pictures in a row have had the same count N, a picture is handed
 *   over when its N-th slice is whole.
 *
 * Until both are seen, and for good after any break of either, a picture goes out whole when
 * the next one's first packet arrives (a new timestamp): exactly what the parser did. Either
 * way the decoder gets one whole picture per packet, as from the parser, so its slice threads
 * share the slices and its error concealment finishes damaged pictures. A break found after
 * an early hand-over costs one damaged picture (and what refers to it, until the next key
 * frame): the rest of that picture is dropped.
 *
 * Pure bytes in, bytes out: no FFmpeg, no I/O, so it is fuzzed on its own. */
#ifndef CAMSTREAM_H264_RELEASE_H
#define CAMSTREAM_H264_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes held back before giving up on a unit that never ends (damaged input). */
#define H264_RELEASE_MAX_PENDING (16u << 20)

/* Evidence needed before releasing early. */
#define H264_RELEASE_MIN_MIDDLES 4
#define H264_RELEASE_MIN_FIRSTS 2
#define H264_RELEASE_MIN_PICTURES 3

/* Called with one picture's NAL units (and any units without a slice that came before it),
 * start codes included, ready for the decoder. @pts is the packets' own. Returns 0, or < 0 to
 * make h264_release_push return it. */
typedef int (*h264_release_fn)(void *arg, const uint8_t *data, size_t len, int64_t pts);

struct h264_release {
	uint8_t *buf;       /* the pending picture (malloc, grown) */
	size_t len, cap;
	bool open;          /* the last unit in buf may go on */
	unsigned slices;    /* slices in buf (whole or open) */
	bool released;      /* this timestamp's picture went out early */
	bool skipping;      /* dropping pieces of a unit whose start was lost, or released */
	int64_t pts;        /* of the pending bytes */
	bool have_pts;

	/* What the previous packet was, judged when the next one arrives. */
	enum { PREV_NONE, PREV_START, PREV_PIECE } prev;
	size_t prev_size;

	/* The learned pattern. */
	size_t first_size, middle_size;
	unsigned firsts, middles;
	unsigned slice_count;   /* slices per picture, the same for `pictures` pictures in a row */
	unsigned pictures;
	bool broken;            /* the stream broke the pattern: never early again */

	/* Counters, for logs and tests. */
	uint64_t early_pictures; /* pictures handed over on their last slice */
	uint64_t dropped_bytes;  /* pieces with no start to join, released pictures' extra
	                          * slices, overflow */
};

void h264_release_init(struct h264_release *r);
void h264_release_free(struct h264_release *r);

/* True once pieces are released on their size. */
bool h264_release_early(const struct h264_release *r);

/* Takes one packet of the RTSP demuxer (NOPARSE) and calls @emit for whatever became ready.
 * Returns 0, -ENOMEM, or @emit's error. */
int h264_release_push(struct h264_release *r, const uint8_t *data, size_t len, int64_t pts,
	h264_release_fn emit, void *arg);

/* End of stream: hands over what is held if it holds a slice, else drops it. */
int h264_release_flush(struct h264_release *r, h264_release_fn emit, void *arg);

#endif
