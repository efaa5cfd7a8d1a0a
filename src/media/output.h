/* output: a source's picture outputs. An output is one encoded rendition of the source's
 * pictures (size, quality, fps cap); every output is encoded from the same decode, and viewers
 * with the same settings share one output, so one encode. The service thread adds and removes
 * outputs and takes their newest frames; the source's worker picks the outputs that take a
 * picture, encodes it for each and publishes the frames. The list and every output's newest
 * frame are under the list's own mutex; outputs are refcounted so the service thread may
 * remove one mid-encode. */
#ifndef CAMSTREAM_OUTPUT_H
#define CAMSTREAM_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "encoder.h"
#include "frame.h"

/* The highest frame rate a viewer or a stream may ask for. */
#define OUTPUT_MAX_FPS 240.0

struct output_params {
	double fps_max;           /* 0 = every decoded frame */
	int width, height;        /* requested size, 0 = source's (one alone keeps aspect) */
	int quality;              /* 1..100 */
};

struct output;                /* one rendition; see output_add/output_remove */
struct output_list;           /* a source's outputs */

/* @display_url names the source in log lines (not copied: it outlives the list). */
struct output_list *output_list_create(const char *display_url);
/* Once nothing picks from the list any more (the worker is gone): drops every output. NULL
 * is fine. Published frames live on in their holders. */
void output_list_destroy(struct output_list *l);

/* ---- the service thread ---- */

/* Adds an output; the worker encodes for it from the next picture on. NULL if out of memory.
 * The handle stays valid until output_remove() or output_list_destroy(). */
struct output *output_add(struct output_list *l, const struct output_params *p);
/* Removes an output; the caller must not use the handle afterwards. */
void output_remove(struct output_list *l, struct output *o);
/* A new reference to the output's newest frame if its seq is greater than @after_seq, else
 * NULL. seq counts per output, from 1. With @fresh, also NULL while the frame is stale: the
 * camera sent a newer picture that was not encoded because nobody wanted it. */
struct frame *output_latest(struct output *o, uint64_t after_seq, bool fresh);
/* Whether any viewer of this output could take a frame now; when none can, the worker skips
 * this output's encode. Default true. */
void output_set_wanted(struct output *o, bool wanted);

/* ---- the worker ---- */

/* Whether the list has outputs; when it became empty (monotonic µs, 0 if never). Any thread. */
bool output_list_any(struct output_list *l);
int64_t output_list_empty_since_us(struct output_list *l);
/* The shortest frame interval any output asks for (its fps cap), in µs: 0 if one takes every
 * frame, INT64_MAX if there is no output. */
int64_t output_list_min_interval_us(struct output_list *l);
/* Picks and pins the outputs that take the next picture (wanted and due under their fps
 * cap); returns how many. output_list_deliver must follow when non-zero. */
size_t output_list_pick(struct output_list *l);
/* Encodes @pic with @enc for every picked output, publishes, unpins. true if a frame was
 * published. */
bool output_list_deliver(struct output_list *l, struct encoder *enc, const AVFrame *pic,
	int64_t t_capture_us);
/* JPEG frames encoded and the time spent on them, over every output. Any thread. */
void output_list_counts(struct output_list *l, uint64_t *encoded, uint64_t *encode_us);

#endif
