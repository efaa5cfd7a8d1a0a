/* frame: one encoded JPEG (or another answer sent in one piece, a raw frame), immutable once
 * published, shared by reference between the worker that made it and every client sending
 * it. */
#ifndef CAMSTREAM_FRAME_H
#define CAMSTREAM_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept free before the JPEG so lws can build its frame header in place.
 * The web layer checks at compile time that this is at least LWS_PRE. */
#define FRAME_HEADROOM 16

struct frame {
	atomic_int refs;
	uint64_t seq;          /* strictly increasing per source output, from 1 */
	int width, height;
	int64_t t_capture_us;  /* wall clock (CLOCK_REALTIME, µs) when the source delivered it */
	int64_t t_encoded_us;  /* wall clock when the JPEG was finished */
	size_t len;            /* JPEG bytes at data */
	size_t cap;            /* room at data */
	unsigned char *data;   /* == buf + FRAME_HEADROOM */
	unsigned char buf[];
};

/* A frame with room for @cap JPEG bytes and one reference, owned by the caller.
 * NULL on allocation failure. */
struct frame *frame_create(size_t cap);
/* Takes another reference; returns @f. Any thread. */
struct frame *frame_ref(struct frame *f);
/* Drops a reference; the last one frees. NULL is fine. Any thread. */
void frame_unref(struct frame *f);

#endif
