/* source: the pull worker's mailbox, its thread and the demo loop (the FFmpeg half is in
 * source_av.c).
 *
 * One thread per source. It owns every FFmpeg and libjpeg object (struct worker, on its
 * stack) and shares only struct source's mailbox with the service thread: the outputs list
 * and each output's newest frame, the error and the stats under source->lock, plus the
 * atomic flags. Every publication sets `news` and then calls notify() outside the lock.
 * Outputs are refcounted so the service thread may remove one mid-encode: see
 * struct source_output in source_worker.h. */
#include "source.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/pixdesc.h>

#include "demo.h"
#include "encoder.h"
#include "log.h"
#include "source_worker.h"

#define DEMO_W 1280
#define DEMO_H 720
#define DEMO_FPS 25

/* ---- mailbox ---------------------------------------------------------------------- */

static void announce(struct source *s)
{
	atomic_store(&s->news, true);
	if (s->notify)
		s->notify(s->arg);
}

/* Copies @src into @dst (@n > 0 bytes), cut short if need be at a UTF-8 character boundary:
 * the message ends up in JSON, which must not get half a character. */
static void copy_msg(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n);

	if (len == n) {
		len = n - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void source_finish(struct source *s, enum cs_err err, int clean, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->err = err;
	s->clean = clean;
	s->stats.state = err == CS_SOURCE_ENDED ? SOURCE_ENDED : SOURCE_FAILED;
	s->stats.opened_wall_us = 0;
	s->stats.last_error = err;
	copy_msg(s->stats.last_error_msg, sizeof(s->stats.last_error_msg), s->msg);
	pthread_mutex_unlock(&s->lock);
	/* Only this thread writes msg: reading it unlocked is safe. */
	if (err == CS_SOURCE_ENDED && clean)
		log_info("source %s: %s", s->display_url, s->msg);
	else
		log_warn("source %s: %s", s->display_url, s->msg);
	announce(s);
}

void source_set_playing(struct worker *w, const char *codec, int width, int height, double fps)
{
	struct source *s = w->s;
	bool again = w->failures > 0;

	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_PLAYING;
	snprintf(s->stats.codec, sizeof(s->stats.codec), "%s", codec);
	s->stats.width = width;
	s->stats.height = height;
	s->stats.fps = fps;
	s->stats.opened_wall_us = clock_wall_us();
	if (again)
		s->stats.reconnects++;
	pthread_mutex_unlock(&s->lock);
	if (again) {
		log_info("source %s: playing again after %llu failed attempt%s", s->display_url,
			(unsigned long long)w->failures, w->failures == 1 ? "" : "s");
		announce(s);
	}
	/* The next failure is news again, whatever it is. */
	w->failures = 0;
	w->logged_err = CS_OK;
	w->logged_msg[0] = '\0';
}

/* Sleeps until @deadline_us on clock_mono_us()'s clock (CLOCK_MONOTONIC), in steps of at
 * most 50 ms so that stop is noticed. */
static void sleep_until(struct source *s, int64_t deadline_us)
{
	int64_t now;

	while (!atomic_load(&s->stop) && (now = clock_mono_us()) < deadline_us) {
		int64_t until = deadline_us - now > 50000 ? now + 50000 : deadline_us;
		struct timespec t = { .tv_sec = until / 1000000, .tv_nsec = until % 1000000 * 1000 };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
}

/* ---- reconnect mode --------------------------------------------------------------- */

#define RECONNECT_MIN_US 500000LL
#define RECONNECT_MAX_US (30 * 1000000LL)
/* A session that played this long was healthy: the next failure starts the backoff over. */
#define RECONNECT_HEALTHY_US (10 * 1000000LL)

/* A factor in [0.8, 1.2): ±20% jitter, so that cameras lost together do not retry in step. */
static double jitter(struct worker *w)
{
	if (!w->rng) {
		w->rng = ((uint64_t)clock_mono_us() * 2654435761u) ^ (uint64_t)(uintptr_t)w;
		w->rng |= 1;
	}
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return 0.8 + 0.4 * (double)(w->rng >> 11) / (double)(1ULL << 53);
}

bool source_retry_wait(struct worker *w, int64_t played_us)
{
	struct source *s = w->s;
	int64_t min = s->p.reconnect_min_us > 0 ? s->p.reconnect_min_us : RECONNECT_MIN_US;
	int64_t max = s->p.reconnect_max_us > 0 ? s->p.reconnect_max_us : RECONNECT_MAX_US;

	if (max < min)
		max = min;
	if (!w->backoff_us || played_us > RECONNECT_HEALTHY_US)
		w->backoff_us = min;
	w->failures++;

	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_RECONNECTING;
	s->stats.opened_wall_us = 0;
	s->stats.last_error = w->err;
	copy_msg(s->stats.last_error_msg, sizeof(s->stats.last_error_msg), w->msg);
	pthread_mutex_unlock(&s->lock);
	/* A dead camera is logged once per change of error, not once per retry. */
	if (w->err != w->logged_err || strcmp(w->msg, w->logged_msg) != 0) {
		log_msg(w->err == CS_SOURCE_ENDED && w->clean ? LOG_INFO : LOG_WARN,
			"source %s: %s; retrying until it plays again", s->display_url, w->msg);
		w->logged_err = w->err;
		snprintf(w->logged_msg, sizeof(w->logged_msg), "%s", w->msg);
	} else {
		log_debug("source %s: attempt %llu failed", s->display_url,
			(unsigned long long)w->failures);
	}
	announce(s);

	int64_t wait = (int64_t)((double)w->backoff_us * jitter(w));
	w->backoff_us = w->backoff_us > max / 2 ? max : w->backoff_us * 2;
	sleep_until(s, clock_mono_us() + wait);
	return !atomic_load(&s->stop);
}

/* ---- outputs ---------------------------------------------------------------------- */

static void output_unref(struct source_output *o)
{
	/* acq_rel: the thread that frees sees every write made under the other references. */
	if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	frame_unref(o->latest);
	free(o);
}

/* The fps cap. A frame is due when the clock has reached next_due, less a quarter interval
 * of slack so that a camera running at exactly the cap is not halved by jitter; next_due
 * advances by whole intervals, so the long-run rate never exceeds the cap. */
static bool frame_due(struct source_output *o, int64_t now)
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

/* Makes room for @n picked outputs. Under s->lock: the list cannot shrink meanwhile. */
static bool grow_picked(struct worker *w, size_t n)
{
	if (n <= w->cap_picked)
		return true;
	size_t cap = w->cap_picked ? w->cap_picked : 4;
	while (cap < n)
		cap *= 2;
	struct source_output **p = realloc(w->picked, cap * sizeof(*p));
	if (!p)
		return false;
	w->picked = p;
	w->cap_picked = cap;
	return true;
}

size_t source_pick(struct worker *w)
{
	struct source *s = w->s;
	int64_t now = clock_mono_us();
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (struct source_output *o = s->outputs; o; o = o->next)
		n++;
	if (!grow_picked(w, n) && !w->pick_warned) {
		log_warn("source %s: out of memory, some outputs are skipped", s->display_url);
		w->pick_warned = true;
	}
	w->n_picked = 0;
	for (struct source_output *o = s->outputs; o && w->n_picked < w->cap_picked; o = o->next) {
		/* An output nobody can take a frame for costs no encode; its latest frame is no
		 * longer the camera's newest picture. */
		if (!atomic_load(&o->wanted)) {
			o->stale = true;
			continue;
		}
		if (!frame_due(o, now))
			continue;
		atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
		w->picked[w->n_picked++] = o;
	}
	pthread_mutex_unlock(&s->lock);
	return w->n_picked;
}

int64_t source_min_interval_us(struct worker *w)
{
	struct source *s = w->s;
	int64_t min = INT64_MAX;

	pthread_mutex_lock(&s->lock);
	for (struct source_output *o = s->outputs; o; o = o->next) {
		if (o->p.fps_max <= 0) {
			min = 0;
			break;
		}
		int64_t iv = (int64_t)(1e6 / o->p.fps_max);
		if (iv < min)
			min = iv;
	}
	pthread_mutex_unlock(&s->lock);
	return min;
}

void source_deliver(struct worker *w, const AVFrame *pic, int64_t t_capture_us)
{
	struct source *s = w->s;
	bool published = false;

	for (size_t i = 0; i < w->n_picked; i++) {
		struct source_output *o = w->picked[i];
		const char *err = "unknown error";
		int64_t t0 = clock_mono_us();
		struct frame *f = encoder_encode(w->enc, pic, o->p.width, o->p.height, o->p.quality,
			&err);
		int64_t took = clock_mono_us() - t0;

		if (!f) {
			if (!o->enc_warned)
				log_warn("source %s: %s (%dx%d %s)", s->display_url, err, pic->width,
					pic->height, av_get_pix_fmt_name(pic->format) ?
					av_get_pix_fmt_name(pic->format) : "?");
			o->enc_warned = true;
			continue;
		}
		f->t_capture_us = t_capture_us;
		f->t_encoded_us = clock_wall_us();
		struct frame *old = f;  /* dropped below: the replaced frame, or f if not taken */
		pthread_mutex_lock(&s->lock);
		if (!o->removed) {
			f->seq = ++o->seq;
			encoder_stamp(f); /* before it is published: frames are immutable after */
			old = o->latest;
			o->latest = f;
			o->stale = false;
			published = true;
		}
		s->stats.frames_encoded++;
		s->stats.encode_us_total += (uint64_t)(took > 0 ? took : 0);
		pthread_mutex_unlock(&s->lock);
		frame_unref(old);
	}
	for (size_t i = 0; i < w->n_picked; i++)
		output_unref(w->picked[i]);
	w->n_picked = 0;
	/* One wake-up for all outputs of this picture: the service thread looks at each. */
	if (published)
		announce(s);
}

/* ---- the demo source -------------------------------------------------------------- */

static void run_demo(struct worker *w)
{
	struct source *s = w->s;
	struct demo *d = demo_create(DEMO_W, DEMO_H);
	const int64_t period = 1000000 / DEMO_FPS;

	if (!d) {
		source_finish(s, CS_OPEN_FAILED, 0, "cannot start the demo source");
		return;
	}
	source_set_playing(w, "demo", DEMO_W, DEMO_H, DEMO_FPS);
	log_info("source %s: playing demo %dx%d at %d fps", s->display_url, DEMO_W, DEMO_H,
		DEMO_FPS);
	int64_t next = clock_mono_us();
	for (uint64_t n = 0; !atomic_load(&s->stop); n++) {
		int64_t wall = clock_wall_us();

		pthread_mutex_lock(&s->lock);
		s->stats.frames_decoded++;
		s->stats.last_frame_wall_us = wall;
		pthread_mutex_unlock(&s->lock);
		/* Drawing costs well under a millisecond, but nothing is drawn for no output. */
		if (source_pick(w))
			source_deliver(w, demo_draw(d, n, wall), wall);

		/* Absolute deadlines keep the rate exact; after a stall, restart from now rather
		 * than bursting to catch up. */
		next += period;
		int64_t now = clock_mono_us();
		if (now - next > period)
			next = now;
		sleep_until(s, next);
	}
	demo_destroy(d);
}

/* ---- the thread and the service-thread API --------------------------------------- */

/* Every signal but the synchronous fault signals (blocking those would turn a crash into
 * a silent kill and hide sanitizer reports): SIGINT/SIGTERM belong to the main thread. */
static void blockable_signals(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGABRT);
}

static void *worker_main(void *arg)
{
	struct source *s = arg;
	struct worker w = { .s = s };
	sigset_t set;

	blockable_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	w.enc = encoder_create();
	if (!w.enc)
		source_finish(s, CS_OPEN_FAILED, 0, "cannot start the JPEG encoder");
	else if (s->p.is_demo)
		run_demo(&w);
	else
		source_av_run(&w);
	encoder_destroy(w.enc);
	free(w.picked); /* every picked output was unpinned by source_deliver */

	/* source_destroy joins before freeing, so s stays valid until we return. */
	atomic_store(&s->exited, true);
	announce(s);
	return NULL;
}

struct source *source_start(const struct source_params *p, source_notify_fn notify, void *arg)
{
	struct source *s = calloc(1, sizeof(*s));
	sigset_t set, old;

	if (!s)
		return NULL;
	s->url = strdup(p->url ? p->url : "");
	s->display_url = strdup(p->display_url ? p->display_url : "(source)");
	s->host = strdup(p->host ? p->host : "");
	if (!s->url || !s->display_url || !s->host)
		goto fail_strings;
	s->p = *p;
	s->p.url = s->url;
	s->p.display_url = s->display_url;
	s->p.host = s->host;
	s->notify = notify;
	s->arg = arg;
	atomic_init(&s->stop, false);
	atomic_init(&s->exited, false);
	atomic_init(&s->news, false);
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail_strings;
	s->stats.state = SOURCE_OPENING;

	/* The thread starts with signals blocked, so none lands on it before it blocks them
	 * itself. */
	blockable_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	int rc = pthread_create(&s->thread, NULL, worker_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto fail_mutex;
	return s;

fail_mutex:
	pthread_mutex_destroy(&s->lock);
fail_strings:
	free(s->display_url);
	free(s->host);
	free(s->url);
	free(s);
	return NULL;
}

void source_stop(struct source *s)
{
	if (s)
		atomic_store(&s->stop, true);
}

bool source_exited(struct source *s)
{
	return atomic_load(&s->exited);
}

void source_abandon(struct source *s)
{
	source_stop(s);
	pthread_detach(s->thread);
}

void source_destroy(struct source *s)
{
	if (!s)
		return;
	source_stop(s);
	pthread_join(s->thread, NULL);
	/* The worker is gone, and with it every reference but the list's. */
	while (s->outputs) {
		struct source_output *o = s->outputs;
		s->outputs = o->next;
		output_unref(o);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->display_url);
	free(s->host);
	free(s->url);
	free(s);
	/* A worker's decoder pool, buffers and JPEGs of every size lived in its thread's malloc
	 * arena, which glibc keeps, fragmented, after the thread is gone: give the free pages
	 * back to the system. Rare (a source ending), and a few ms at most. */
	malloc_trim(0);
}

bool source_take_news(struct source *s)
{
	return atomic_exchange(&s->news, false);
}

enum cs_err source_error(struct source *s, char *msg, size_t msglen, int *clean)
{
	pthread_mutex_lock(&s->lock);
	enum cs_err err = s->err;
	if (msg && msglen)
		snprintf(msg, msglen, "%s", err == CS_OK ? "" : s->msg);
	if (clean)
		*clean = s->clean;
	pthread_mutex_unlock(&s->lock);
	return err;
}

void source_get_stats(struct source *s, struct source_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

struct source_output *source_output_add(struct source *s, const struct output_params *p)
{
	struct source_output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->s = s;
	o->p = *p;
	atomic_init(&o->refs, 1); /* the list's */
	atomic_init(&o->wanted, true);
	pthread_mutex_lock(&s->lock);
	o->next = s->outputs;
	s->outputs = o;
	pthread_mutex_unlock(&s->lock);
	return o;
}

void source_output_remove(struct source *s, struct source_output *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct source_output **pp = &s->outputs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->removed = true;
	o->next = NULL;
	pthread_mutex_unlock(&s->lock);
	/* The list's reference; the worker may still hold one for the picture in hand. */
	output_unref(o);
}

struct frame *source_output_latest(struct source_output *o, uint64_t after_seq, bool fresh)
{
	struct frame *f = NULL;

	pthread_mutex_lock(&o->s->lock);
	if (o->latest && o->seq > after_seq && !(fresh && o->stale))
		f = frame_ref(o->latest);
	pthread_mutex_unlock(&o->s->lock);
	return f;
}

void source_output_set_wanted(struct source_output *o, bool wanted)
{
	atomic_store(&o->wanted, wanted);
}
