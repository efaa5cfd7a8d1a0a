/* flv: the bytes of an FLV stream (FLV 10.1, and Enhanced FLV v1 for H.265), written from the
 * coded-picture log's entries and parameters. Pure: no I/O, no allocation; every function
 * writes into the caller's buffer.
 *
 * A stream is the header, then tags. Each tag is followed by its PreviousTagSize; a live
 * stream that may end at any moment writes that field in front of the next tag instead, so
 * every piece made here starts with the PreviousTagSize of the tag before it (0 for the
 * first, which is where the header's own PreviousTagSize0 goes):
 *     header(9) | prev(4) tag | prev(4) tag | ...
 * H.264 goes as codec id 7 (AVCPacketType 0 = the avcC record, 1 = pictures, with the
 * composition time); H.265 as Enhanced FLV (the IsExHeader bit, FourCC "hvc1", packet types
 * SequenceStart and CodedFrames); audio as AAC (sound format 10). */
#ifndef CAMSTREAM_FLV_H
#define CAMSTREAM_FLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codedlog.h"

#define FLV_HEADER_LEN 9
/* The longest piece flv_entry_prefix writes: prev(4) + tag header(11) + media header(8). */
#define FLV_PREFIX_MAX 23
/* A tag's data is at most 2^24 - 1 bytes. */
#define FLV_MAX_DATA 0xffffffu

/* The 9-byte file header: video always, audio when @audio. */
void flv_header(uint8_t out[FLV_HEADER_LEN], bool audio);

/* Whether entries and parameters of @codec can go into a tag: H.264, H.265, AAC. */
bool flv_carries(enum coded_codec codec);

/* What onMetaData says. */
struct flv_meta {
	unsigned width, height;     /* 0: left out */
	double fps;                 /* 0: left out */
	enum coded_codec video;     /* CODED_H264 or CODED_H265 */
	enum coded_codec audio;     /* CODED_AAC, or CODED_NONE for no audio */
	unsigned sample_rate, channels;
};

/* The pieces below each return the piece's length, and write it only when all of it fits
 * in @cap (call with @cap 0 to learn the size); 0 when there is nothing to write (a codec
 * FLV does not carry, a config or data too long for a tag). *@tag_size, when not NULL, gets
 * the tag's size: the PreviousTagSize of the next piece. */

/* The onMetaData script tag at timestamp 0. */
size_t flv_metadata(uint8_t *out, size_t cap, uint32_t prev, const struct flv_meta *m,
	uint32_t *tag_size);

/* The sequence header of @p (video: the avcC or hvcC record; audio: AAC's
 * AudioSpecificConfig) at @ts_ms. */
size_t flv_config(uint8_t *out, size_t cap, uint32_t prev, const struct coded_params *p,
	uint32_t ts_ms, uint32_t *tag_size);

/* What goes right in front of @e's data to make it a tag at @ts_ms (video: @cts_ms is the
 * composition time, pts - dts): at most FLV_PREFIX_MAX bytes, written at the END of @out,
 * so that it can sit in the entry's headroom. Returns its length (0: @e cannot go into a tag:
 * a codec FLV does not carry, or data over FLV_MAX_DATA). */
size_t flv_entry_prefix(uint8_t out[FLV_PREFIX_MAX], uint32_t prev, const struct coded_entry *e,
	uint32_t ts_ms, int32_t cts_ms, uint32_t *tag_size);

#endif
