#include "frame.h"

#include <stdlib.h>

struct frame *frame_create(size_t cap)
{
	struct frame *f = malloc(sizeof(*f) + FRAME_HEADROOM + cap);
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->seq = 0;
	f->width = 0;
	f->height = 0;
	f->t_capture_us = 0;
	f->t_encoded_us = 0;
	f->len = 0;
	f->cap = cap;
	f->data = f->buf + FRAME_HEADROOM;
	return f;
}

struct frame *frame_ref(struct frame *f)
{
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

void frame_unref(struct frame *f)
{
	if (!f)
		return;
	/* acq_rel: the thread that frees must see every write made before the other unrefs */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		free(f);
}
