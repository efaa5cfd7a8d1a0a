/* decode: the picture path's decoder. Opened only while the source has picture outputs, at a
 * key picture, and closed when the last output goes, so a camera watched only through the
 * coded path costs its demux and nothing more. Two ways of decoding less than everything:
 * - key pictures only, while every output asks for at most one picture a second and the key
 *   pictures come at least that often (skipped pictures cost the decoder next to nothing);
 * - catching up: an input that finds its data already waiting, picture after picture, has
 *   fallen behind its camera (a starved CPU, a burst after a stall): its pictures are still
 *   decoded, since the next ones refer to them, but not encoded (one every half second
 *   excepted, so viewers see movement), and after a second of it the decoder skips ahead to
 *   the next key picture.
 * Worker thread only; every object here is the worker's. */
#ifndef CAMSTREAM_DECODE_H
#define CAMSTREAM_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavutil/frame.h>

struct picdec;

/* A decoded picture; @late: the worker is behind its camera, the picture is not to be
 * encoded. @pic is valid during the call only. */
typedef void (*picdec_fn)(void *arg, const AVFrame *pic, bool late);

/* @display_url names the source in log lines (not copied: it outlives the decoder). */
struct picdec *picdec_create(const char *display_url);
void picdec_destroy(struct picdec *d); /* NULL is fine */

/* A new session's stream: its codec parameters are copied for the next open. Closes the
 * decoder and forgets what was measured. false if out of memory. */
bool picdec_set_format(struct picdec *d, const AVCodecParameters *par);

/* Decodes one access unit (in the form the codec parameters say), calling @fn for every
 * picture it completes. A closed decoder opens at a key picture and ignores what comes
 * before one. @need_interval_us: the shortest frame interval any output asks for (0: every
 * picture; INT64_MAX: none). A damaged unit is counted, never fatal. */
void picdec_decode(struct picdec *d, const uint8_t *data, size_t len, int64_t pts_us, bool key,
	int64_t waited_us, int64_t need_interval_us, picdec_fn fn, void *arg);

/* The end of the stream: hands over the pictures the decoder still holds. */
void picdec_flush(struct picdec *d, picdec_fn fn, void *arg);

/* Frees the decoder (the next picture output reopens it at a key picture). */
void picdec_close(struct picdec *d);
bool picdec_is_open(const struct picdec *d);

/* Why the decoder could not open at the last key picture ("cannot decode hevc: ...") and
 * FFmpeg's error code in *@averr (when not NULL), or NULL if it did or has not tried.
 * Cleared by picdec_set_format. */
const char *picdec_failure(const struct picdec *d, int *averr);

#endif
