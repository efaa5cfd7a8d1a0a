/* encoder: one decoded picture -> one JPEG frame. libjpeg(-turbo)'s raw-data API straight
 * from the YUV planes into the frame; limited-range (MPEG) luma/chroma are expanded to JPEG's
 * full range on the way, a strip at a time; swscale only to resize or to convert pixel
 * formats taken not as planes. One encoder per worker: worker thread only. */
#ifndef CAMSTREAM_ENCODER_H
#define CAMSTREAM_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "error.h"
#include "frame.h"

struct encoder;

struct encoder *encoder_create(void);
void encoder_destroy(struct encoder *e); /* NULL is fine */

/* The output size for a @src_w x @src_h picture when the viewer asked for @req_w x @req_h
 * (0 = not given; one alone keeps the aspect ratio). Results are even and at least 2. */
void encoder_out_size(int src_w, int src_h, int req_w, int req_h, int *out_w, int *out_h);

/* Every JPEG carries, right after its SOI marker, a comment (COM, FF FE) segment of fixed
 * size with its timing, so a page can show how old a picture is without a side channel:
 *   "camstream t=<capture time, 16-digit µs since the epoch> seq=<10-digit frame number>"
 * Decoders ignore COM segments. encoder_stamp() fills it in once seq and t_capture_us are
 * known. */
#define ENCODER_STAMP_TEXT_LEN 43

/* Writes f->t_capture_us and f->seq into the frame's timing comment. */
void encoder_stamp(struct frame *f);

/* Encodes @pic (any planar or packed video format FFmpeg decodes to) at the size chosen by
 * encoder_out_size(@req_w, @req_h) with JPEG @quality (1..100). Returns a new frame with one
 * reference (seq and timestamps left 0 for the caller), or NULL with @err. Resolution and
 * pixel format may change from one call to the next. */
struct frame *encoder_encode(struct encoder *e, const AVFrame *pic, int req_w, int req_h,
	int quality, struct cs_error *err);

/* The range expansion encoder_encode applies to a limited-range picture, for one row of
 * @n samples (@dst and @src must not overlap): luma 16..235 -> 0..255, or (@chroma)
 * 16..240 -> 0..255 about 128; rounded to nearest, clipped. Exposed for the unit tests. */
void encoder_expand_row(const struct encoder *e, unsigned char *dst, const unsigned char *src,
	int n, bool chroma);

#endif
