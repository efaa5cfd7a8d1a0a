/* source: the pull worker's mailbox, its thread and the demo loop (the FFmpeg half is in
 * source_av.c).
 *
 * One thread per source. It owns every FFmpeg and TurboJPEG object (struct worker, on its
 * stack) and shares only struct source's mailbox with the service thread: the newest frame,
 * the error and the stats under source->lock, plus the atomic flags. Every publication sets
 * `news` and then calls notify() outside the lock. */
#include "source.h"

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

static void publish_frame(struct source *s, struct frame *f, int64_t t_capture_us,
	int64_t encode_us)
{
	pthread_mutex_lock(&s->lock);
	f->seq = ++s->seq;
	f->t_capture_us = t_capture_us;
	f->t_encoded_us = clock_wall_us();
	struct frame *old = s->latest;
	s->latest = f;
	s->stats.frames_encoded++;
	s->stats.encode_us_total += (uint64_t)(encode_us > 0 ? encode_us : 0);
	pthread_mutex_unlock(&s->lock);
	frame_unref(old);
	announce(s);
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
	pthread_mutex_unlock(&s->lock);
	/* Only this thread writes msg: reading it unlocked is safe. */
	if (err == CS_SOURCE_ENDED && clean)
		log_info("source %s: %s", s->display_url, s->msg);
	else
		log_warn("source %s: %s", s->display_url, s->msg);
	announce(s);
}

void source_set_playing(struct source *s, const char *codec, int w, int h, double fps)
{
	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_PLAYING;
	snprintf(s->stats.codec, sizeof(s->stats.codec), "%s", codec);
	s->stats.width = w;
	s->stats.height = h;
	s->stats.fps = fps;
	pthread_mutex_unlock(&s->lock);
}

/* ---- encoding a picture ----------------------------------------------------------- */

/* The fps cap. A frame is due when the clock has reached next_due, less a quarter interval
 * of slack so that a camera running at exactly the cap is not halved by jitter; next_due
 * advances by whole intervals, so the long-run rate never exceeds the cap. */
static bool frame_due(struct worker *w)
{
	double fps = w->s->p.fps_max;
	if (fps <= 0)
		return true;
	int64_t iv = (int64_t)(1e6 / fps), now = clock_mono_us();
	if (now < w->next_due - iv / 4)
		return false;
	if (now - w->next_due > iv)
		w->next_due = now + iv;
	else
		w->next_due += iv;
	return true;
}

void source_deliver(struct worker *w, const AVFrame *pic, int64_t t_capture_us)
{
	struct source *s = w->s;
	const char *err = "unknown error";

	if (!atomic_load(&s->wanted) || !frame_due(w))
		return;
	int64_t t0 = clock_mono_us();
	struct frame *f = encoder_encode(w->enc, pic, s->p.width, s->p.height, s->p.quality,
		&err);
	if (!f) {
		if (!w->enc_warned)
			log_warn("source %s: %s (%dx%d %s)", s->display_url, err, pic->width,
				pic->height, av_get_pix_fmt_name(pic->format) ?
				av_get_pix_fmt_name(pic->format) : "?");
		w->enc_warned = true;
		return;
	}
	publish_frame(s, f, t_capture_us, clock_mono_us() - t0);
}

/* ---- the demo source -------------------------------------------------------------- */

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

static void run_demo(struct worker *w)
{
	struct source *s = w->s;
	struct demo *d = demo_create(DEMO_W, DEMO_H);
	const int64_t period = 1000000 / DEMO_FPS;

	if (!d) {
		source_finish(s, CS_OPEN_FAILED, 0, "cannot start the demo source");
		return;
	}
	source_set_playing(s, "demo", DEMO_W, DEMO_H, DEMO_FPS);
	log_info("source %s: playing demo %dx%d at %d fps", s->display_url, DEMO_W, DEMO_H,
		DEMO_FPS);
	int64_t next = clock_mono_us();
	for (uint64_t n = 0; !atomic_load(&s->stop); n++) {
		int64_t wall = clock_wall_us();

		pthread_mutex_lock(&s->lock);
		s->stats.frames_decoded++;
		s->stats.last_frame_wall_us = wall;
		pthread_mutex_unlock(&s->lock);
		/* Drawing costs well under a millisecond; source_deliver decides on the encode. */
		if (atomic_load(&s->wanted))
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
	if (!s->url || !s->display_url)
		goto fail_strings;
	s->p = *p;
	s->p.url = s->url;
	s->p.display_url = s->display_url;
	s->notify = notify;
	s->arg = arg;
	atomic_init(&s->stop, false);
	atomic_init(&s->wanted, true);
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

void source_destroy(struct source *s)
{
	if (!s)
		return;
	source_stop(s);
	pthread_join(s->thread, NULL);
	frame_unref(s->latest);
	pthread_mutex_destroy(&s->lock);
	free(s->display_url);
	free(s->url);
	free(s);
}

bool source_take_news(struct source *s)
{
	return atomic_exchange(&s->news, false);
}

struct frame *source_latest(struct source *s, uint64_t after_seq)
{
	struct frame *f = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->latest && s->latest->seq > after_seq)
		f = frame_ref(s->latest);
	pthread_mutex_unlock(&s->lock);
	return f;
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

void source_set_wanted(struct source *s, bool wanted)
{
	atomic_store(&s->wanted, wanted);
}

void source_get_stats(struct source *s, struct source_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}
