/* output: a source's picture outputs (see output.h).
 *
 * Ownership: an output is refcounted (refs). The list holds one reference from output_add
 * until output_remove (or output_list_destroy) unlinks it. The worker takes one more per
 * output it picks for a picture, under the list's lock and only from the list, so only while
 * the list's reference is still held; it drops them once that picture is published. Whoever
 * drops the last reference frees the output and its newest frame. So the service thread may
 * remove an output at any time, and the worker never touches an output it holds no reference
 * to. */
#include "output.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libavutil/pixdesc.h>

#include "clock.h"
#include "error.h"
#include "log.h"

struct output {
	struct output_list *l;      /* the owner; set at add, read-only afterwards */
	struct output_params p;     /* read-only after add */
	atomic_int refs;
	atomic_bool wanted;         /* set by the service thread; default true */

	/* Under l->lock. */
	struct output *next;        /* the list; meaningless once removed */
	bool removed;               /* unlinked: the worker publishes nothing more into it */
	struct frame *latest;       /* this output's reference to its newest frame, or NULL */
	uint64_t seq;               /* seq of the last published frame, from 1 */
	bool stale;                 /* a picture came after latest and was not encoded for it */

	/* Worker only (while it holds a reference, or under l->lock while linked). */
	int64_t next_due;           /* fps cap: when the next frame may be encoded */
	bool enc_warned;            /* an encode failure was logged already */
};

struct output_list {
	const char *display_url;    /* not owned */
	pthread_mutex_t lock;       /* guards the list, the outputs' locked fields, the counts */
	struct output *head;        /* one reference each */
	uint64_t encoded, encode_us;
	atomic_bool any;            /* head != NULL (written under lock) */
	_Atomic int64_t empty_since_us; /* when head became NULL (written under lock) */

	/* Worker only. */
	struct output **picked;     /* outputs pinned for the picture in hand (grown) */
	size_t n_picked, cap_picked;
	bool pick_warned;           /* could not grow picked: logged once */
};

struct output_list *output_list_create(const char *display_url)
{
	struct output_list *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l);
		return NULL;
	}
	l->display_url = display_url;
	atomic_init(&l->any, false);
	atomic_init(&l->empty_since_us, 0);
	return l;
}

static void output_unref(struct output *o)
{
	/* acq_rel: the thread that frees sees every write made under the other references. */
	if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	frame_unref(o->latest);
	free(o);
}

void output_list_destroy(struct output_list *l)
{
	if (!l)
		return;
	/* the worker is gone, and with it every reference but the list's */
	while (l->head) {
		struct output *o = l->head;
		l->head = o->next;
		output_unref(o);
	}
	free(l->picked); /* every picked output was unpinned by output_list_deliver */
	pthread_mutex_destroy(&l->lock);
	free(l);
}

struct output *output_add(struct output_list *l, const struct output_params *p)
{
	struct output *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->l = l;
	o->p = *p;
	atomic_init(&o->refs, 1); /* the list's */
	atomic_init(&o->wanted, true);
	pthread_mutex_lock(&l->lock);
	o->next = l->head;
	l->head = o;
	atomic_store(&l->any, true);
	pthread_mutex_unlock(&l->lock);
	return o;
}

void output_remove(struct output_list *l, struct output *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&l->lock);
	for (struct output **pp = &l->head; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->removed = true;
	o->next = NULL;
	if (!l->head) {
		atomic_store(&l->any, false);
		atomic_store(&l->empty_since_us, clock_mono_us());
	}
	pthread_mutex_unlock(&l->lock);
	/* The list's reference; the worker may still hold one for the picture in hand. */
	output_unref(o);
}

struct frame *output_latest(struct output *o, uint64_t after_seq, bool fresh)
{
	struct frame *f = NULL;

	pthread_mutex_lock(&o->l->lock);
	if (o->latest && o->seq > after_seq && !(fresh && o->stale))
		f = frame_ref(o->latest);
	pthread_mutex_unlock(&o->l->lock);
	return f;
}

void output_set_wanted(struct output *o, bool wanted)
{
	atomic_store(&o->wanted, wanted);
}

bool output_list_any(struct output_list *l)
{
	return atomic_load(&l->any);
}

int64_t output_list_empty_since_us(struct output_list *l)
{
	return atomic_load(&l->empty_since_us);
}

void output_list_counts(struct output_list *l, uint64_t *encoded, uint64_t *encode_us)
{
	pthread_mutex_lock(&l->lock);
	*encoded = l->encoded;
	*encode_us = l->encode_us;
	pthread_mutex_unlock(&l->lock);
}

/* The fps cap. A frame is due when the clock has reached next_due, less a quarter interval
 * of slack so that a camera running at exactly the cap is not halved by jitter; next_due
 * advances by whole intervals, so the long-run rate never exceeds the cap. */
static bool frame_due(struct output *o, int64_t now)
{
	double fps = o->p.fps_max;
	if (fps <= 0)
		return true;
	int64_t iv = (int64_t)(1e6 / fps);
	if (now < o->next_due - iv / 4)
		return false;
	if (now - o->next_due > iv)
		o->next_due = now + iv;
	else
		o->next_due += iv;
	return true;
}

/* Makes room for @n picked outputs. Under l->lock: the list cannot shrink meanwhile. */
static bool grow_picked(struct output_list *l, size_t n)
{
	if (n <= l->cap_picked)
		return true;
	size_t cap = l->cap_picked ? l->cap_picked : 4;
	while (cap < n)
		cap *= 2;
	struct output **p = realloc(l->picked, cap * sizeof(*p));
	if (!p)
		return false;
	l->picked = p;
	l->cap_picked = cap;
	return true;
}

size_t output_list_pick(struct output_list *l)
{
	int64_t now = clock_mono_us();
	size_t n = 0;

	pthread_mutex_lock(&l->lock);
	for (struct output *o = l->head; o; o = o->next)
		n++;
	if (!grow_picked(l, n) && !l->pick_warned) {
		log_warn("source %s: out of memory, some outputs are skipped", l->display_url);
		l->pick_warned = true;
	}
	l->n_picked = 0;
	for (struct output *o = l->head; o && l->n_picked < l->cap_picked; o = o->next) {
		/* An output nobody can take a frame for costs no encode; its newest frame is no
		 * longer the camera's newest picture. */
		if (!atomic_load(&o->wanted)) {
			o->stale = true;
			continue;
		}
		if (!frame_due(o, now))
			continue;
		atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
		l->picked[l->n_picked++] = o;
	}
	pthread_mutex_unlock(&l->lock);
	return l->n_picked;
}

int64_t output_list_min_interval_us(struct output_list *l)
{
	int64_t min = INT64_MAX;

	pthread_mutex_lock(&l->lock);
	for (struct output *o = l->head; o; o = o->next) {
		if (o->p.fps_max <= 0) {
			min = 0;
			break;
		}
		int64_t iv = (int64_t)(1e6 / o->p.fps_max);
		if (iv < min)
			min = iv;
	}
	pthread_mutex_unlock(&l->lock);
	return min;
}

bool output_list_deliver(struct output_list *l, struct encoder *enc, const AVFrame *pic,
	int64_t t_capture_us)
{
	bool published = false;

	for (size_t i = 0; i < l->n_picked; i++) {
		struct output *o = l->picked[i];
		struct cs_error err;
		int64_t t0 = clock_mono_us();
		struct frame *f = encoder_encode(enc, pic, o->p.width, o->p.height, o->p.quality,
			&err);
		int64_t took = clock_mono_us() - t0;

		if (!f) {
			if (!o->enc_warned)
				log_warn("source %s: %s (%dx%d %s)", l->display_url, err.msg, pic->width,
					pic->height, av_get_pix_fmt_name(pic->format) ?
					av_get_pix_fmt_name(pic->format) : "?");
			o->enc_warned = true;
			continue;
		}
		f->t_capture_us = t_capture_us;
		f->t_encoded_us = clock_wall_us();
		struct frame *old = f;  /* dropped below: the replaced frame, or f if not taken */
		pthread_mutex_lock(&l->lock);
		if (!o->removed) {
			f->seq = ++o->seq;
			encoder_stamp(f); /* before it is published: frames are immutable after */
			old = o->latest;
			o->latest = f;
			o->stale = false;
			published = true;
		}
		l->encoded++;
		l->encode_us += (uint64_t)(took > 0 ? took : 0);
		pthread_mutex_unlock(&l->lock);
		frame_unref(old);
	}
	for (size_t i = 0; i < l->n_picked; i++)
		output_unref(l->picked[i]);
	l->n_picked = 0;
	return published;
}
