/* source: one camera session: its worker thread and mailbox, with its picture outputs
 * (output.c) and its coded-picture log (codedlog.c, fed by coded_feed.c). The input
 * (input.h) runs on the worker and hands over what it reads; this file logs coded pictures,
 * decodes them (decode.c) while picture outputs exist, has one JPEG per output encoded and
 * published, and runs the reconnect loop for named streams.
 *
 * Threads. The worker owns every FFmpeg and libjpeg object and the fields marked "worker
 * only". It shares with the service thread the mailbox under s->lock (the error, the stats),
 * the outputs and the log (each with its own lock) and the atomic flags. Every publication
 * sets a news flag and then calls notify() outside the lock. */
#include "source.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libavcodec/avcodec.h>

#include "clock.h"
#include "coded_feed.h"
#include "codedlog.h"
#include "decode.h"
#include "encoder.h"
#include "input.h"
#include "log.h"
#include "output.h"
#include "text.h"

#define LOG_MAX_BYTES_DEFAULT (8u << 20)
#define LOG_MAX_ENTRIES 4096
#define RECONNECT_MIN_US 500000LL
#define RECONNECT_MAX_US (30 * 1000000LL)
/* A session that played this long was healthy: the next failure starts the backoff over. */
#define RECONNECT_HEALTHY_US (10 * 1000000LL)
#define FPS_WINDOW_US 1000000   /* the measured rate counts the pictures of this long */

struct source {
	/* Set by source_start, read-only afterwards (both threads). */
	char *url;                 /* given to FFmpeg only, never logged (owned) */
	char *display_url;         /* redacted (owned) */
	char *host;                /* the URL's host for the host policy (owned) */
	struct source_params p;    /* p.url / p.display_url / p.host point at the copies above */
	source_notify_fn notify;
	void *arg;
	pthread_t thread;
	struct coded_log *log;     /* owned; its own lock */

	atomic_bool stop;          /* set by anyone; the worker polls it */
	atomic_bool exited;        /* set by the worker as it returns */
	atomic_bool news;          /* set by the worker, cleared by source_take_news */
	atomic_bool coded_news;    /* the log grew; likewise */
	atomic_bool coded_wanted;  /* set by the service thread: coded readers exist */
	struct output_list *outputs; /* owned; its own lock */

	pthread_mutex_t lock;      /* guards the mailbox below */
	struct cs_error err;       /* the final error; stays CS_OK while reconnecting */
	struct cs_error pic_err;   /* the picture path's: the decoder cannot open (this session) */
	struct source_stats stats;

	/* Worker only. */
	struct encoder *enc;
	struct picdec *dec;
	bool picked;               /* outputs are pinned for the picture in hand */
	struct coded_feed *feed;   /* what goes into the log, and in which form */
	int64_t fps_since;         /* monotonic µs the current rate window began */
	uint64_t fps_count;        /* pictures in it */
	int64_t backoff_us;        /* reconnect: the next wait before jitter */
	uint64_t failures;         /* failed attempts since the stream last played */
	struct cs_error logged;    /* the failure last logged, so repeats are not */
	uint64_t rng;              /* xorshift state for the jitter */
};

/* ---- transport ---------------------------------------------------------------------- */

const char *transport_name(enum transport t)
{
	switch (t) {
	case TRANSPORT_TCP: return "tcp";
	case TRANSPORT_UDP: return "udp";
	case TRANSPORT_AUTO: return "auto";
	}
	return "unknown";
}

bool transport_parse(const char *s, enum transport *out)
{
	static const enum transport all[] = { TRANSPORT_TCP, TRANSPORT_UDP, TRANSPORT_AUTO };
	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, transport_name(all[i]))) {
			*out = all[i];
			return true;
		}
	return false;
}

/* ---- mailbox ------------------------------------------------------------------------ */

static void announce(struct source *s)
{
	atomic_store(&s->news, true);
	if (s->notify)
		s->notify(s->arg);
}

/* The log grew: news for coded readers only, and only when there are some (a camera watched
 * as JPEG alone wakes the service thread per encoded frame, not per picture). */
static void announce_coded(struct source *s)
{
	if (!atomic_load(&s->coded_wanted))
		return;
	atomic_store(&s->coded_news, true);
	if (s->notify)
		s->notify(s->arg);
}

/* The final state: an error (FAILED) or the end of the stream (ENDED). Logged once. */
static void finish(struct source *s, const struct cs_error *why)
{
	pthread_mutex_lock(&s->lock);
	s->err = *why;
	s->stats.state = why->code == CS_SOURCE_ENDED ? SOURCE_ENDED : SOURCE_FAILED;
	s->stats.opened_wall_us = 0;
	s->stats.last_error = *why;
	pthread_mutex_unlock(&s->lock);
	if (why->code == CS_SOURCE_ENDED && why->clean)
		log_info("source %s: %s", s->display_url, why->msg);
	else
		log_warn("source %s: %s", s->display_url, why->msg);
	announce(s);
}

const struct source_params *source_params(const struct source *s)
{
	return &s->p;
}

bool source_stopping(const struct source *s)
{
	return atomic_load(&((struct source *)s)->stop);
}

void source_playing(struct source *s, const char *codec, int width, int height,
	double fps_nominal)
{
	bool again = s->failures > 0;

	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_PLAYING;
	snprintf(s->stats.codec, sizeof(s->stats.codec), "%s", codec);
	if (width > 0 && height > 0) {
		s->stats.width = width;
		s->stats.height = height;
	}
	s->stats.fps_nominal = fps_nominal;
	if (s->stats.coded == SOURCE_CODED_UNKNOWN)
		s->stats.coded = SOURCE_CODED_NO; /* an input that sent no codec parameters */
	s->stats.fps = 0;
	s->stats.opened_wall_us = clock_wall_us();
	if (again)
		s->stats.reconnects++;
	pthread_mutex_unlock(&s->lock);
	s->fps_since = 0;
	s->fps_count = 0;
	if (again)
		log_info("source %s: playing again after %llu failed attempt%s", s->display_url,
			(unsigned long long)s->failures, s->failures == 1 ? "" : "s");
	/* coded readers learn whether there is a coded form; the next failure is news again */
	announce(s);
	s->failures = 0;
	cs_error_clear(&s->logged);
}

void source_interrupted(struct source *s, const struct cs_error *why)
{
	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_RECONNECTING;
	s->stats.opened_wall_us = 0;
	s->stats.last_error = *why;
	pthread_mutex_unlock(&s->lock);
	s->failures++;
	log_info("source %s: %s", s->display_url, why->msg);
	announce(s);
}

/* Sleeps until @deadline_us on clock_mono_us()'s clock, in steps of at most 50 ms so that
 * stop is noticed. */
static void sleep_until(struct source *s, int64_t deadline_us)
{
	int64_t now;

	while (!atomic_load(&s->stop) && (now = clock_mono_us()) < deadline_us) {
		int64_t until = deadline_us - now > 50000 ? now + 50000 : deadline_us;
		struct timespec t = { .tv_sec = until / 1000000, .tv_nsec = until % 1000000 * 1000 };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
}

/* ---- reconnect mode ----------------------------------------------------------------- */

/* A factor in [0.8, 1.2): ±20% jitter, so that cameras lost together do not retry in step. */
static double jitter(struct source *s)
{
	if (!s->rng) {
		s->rng = ((uint64_t)clock_mono_us() * 2654435761u) ^ (uint64_t)(uintptr_t)s;
		s->rng |= 1;
	}
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return 0.8 + 0.4 * (double)(s->rng >> 11) / (double)(1ULL << 53);
}

/* The session failed with @why: publishes RECONNECTING and the error (logged once per
 * change), then waits out the backoff (@played_us: how long the session played; over 10 s
 * resets it). False if stopped. */
static bool retry_wait(struct source *s, const struct cs_error *why, int64_t played_us)
{
	int64_t min = s->p.reconnect_min_us > 0 ? s->p.reconnect_min_us : RECONNECT_MIN_US;
	int64_t max = s->p.reconnect_max_us > 0 ? s->p.reconnect_max_us : RECONNECT_MAX_US;

	if (max < min)
		max = min;
	if (!s->backoff_us || played_us > RECONNECT_HEALTHY_US)
		s->backoff_us = min;
	s->failures++;

	pthread_mutex_lock(&s->lock);
	s->stats.state = SOURCE_RECONNECTING;
	s->stats.opened_wall_us = 0;
	s->stats.last_error = *why;
	pthread_mutex_unlock(&s->lock);
	/* A dead camera is logged once per change of error, not once per retry. */
	if (why->code != s->logged.code || strcmp(why->msg, s->logged.msg) != 0) {
		log_msg(why->code == CS_SOURCE_ENDED && why->clean ? LOG_INFO : LOG_WARN,
			"source %s: %s; retrying until it plays again", s->display_url, why->msg);
		s->logged = *why;
	} else {
		log_debug("source %s: attempt %llu failed", s->display_url,
			(unsigned long long)s->failures);
	}
	announce(s);

	int64_t wait = (int64_t)((double)s->backoff_us * jitter(s));
	s->backoff_us = s->backoff_us > max / 2 ? max : s->backoff_us * 2;
	sleep_until(s, clock_mono_us() + wait);
	return !atomic_load(&s->stop);
}

/* ---- picture outputs ---------------------------------------------------------------- */

/* The measured rate: pictures counted over windows of FPS_WINDOW_US. Worker only. */
static void count_picture(struct source *s, int64_t now, int64_t wall)
{
	double fps = -1;
	if (!s->fps_since) {
		s->fps_since = now;
	} else if (now - s->fps_since >= FPS_WINDOW_US) {
		fps = (double)s->fps_count * 1e6 / (double)(now - s->fps_since);
		s->fps_since = now;
		s->fps_count = 0;
	}
	s->fps_count++;
	pthread_mutex_lock(&s->lock);
	s->stats.pictures_received++;
	s->stats.last_frame_wall_us = wall;
	if (fps >= 0)
		s->stats.fps = fps;
	pthread_mutex_unlock(&s->lock);
}

/* Encodes @pic for the picked outputs; one wake-up for all of them. */
static void deliver(struct source *s, const AVFrame *pic, int64_t t_capture_us)
{
	s->picked = false;
	if (output_list_deliver(s->outputs, s->enc, pic, t_capture_us))
		announce(s);
}

bool source_picture_wanted(struct source *s)
{
	s->picked = output_list_pick(s->outputs) > 0;
	return s->picked;
}

void source_push_picture(struct source *s, const AVFrame *pic, int64_t t_capture_us)
{
	/* a drawn picture is received and decoded at once */
	count_picture(s, clock_mono_us(), t_capture_us);
	pthread_mutex_lock(&s->lock);
	s->stats.frames_decoded++;
	pthread_mutex_unlock(&s->lock);
	if (s->picked)
		deliver(s, pic, t_capture_us);
}

/* picdec_fn: a decoded camera picture. */
static void got_picture(void *arg, const AVFrame *pic, bool late)
{
	struct source *s = arg;
	int64_t wall = clock_wall_us();

	pthread_mutex_lock(&s->lock);
	s->stats.frames_decoded++;
	s->stats.width = pic->width;
	s->stats.height = pic->height;
	s->stats.frames_late += late;
	pthread_mutex_unlock(&s->lock);
	if (!late && output_list_pick(s->outputs))
		deliver(s, pic, wall);
}

/* ---- the coded path ----------------------------------------------------------------- */

/* The picture size the parameter sets give (the decoder, when it runs, says it too). */
static void set_size(struct source *s, const struct coded_params *p)
{
	if (!p || !p->width || !p->height)
		return;
	pthread_mutex_lock(&s->lock);
	s->stats.width = (int)p->width;
	s->stats.height = (int)p->height;
	pthread_mutex_unlock(&s->lock);
}

bool source_video_format(struct source *s, const AVCodecParameters *par)
{
	bool coded = coded_feed_video(s->feed, par);
	pthread_mutex_lock(&s->lock);
	s->stats.coded = coded ? SOURCE_CODED_YES : SOURCE_CODED_NO;
	pthread_mutex_unlock(&s->lock);
	set_size(s, coded_feed_params(s->feed));
	return picdec_set_format(s->dec, par);
}

bool source_audio_format(struct source *s, const AVCodecParameters *par)
{
	coded_feed_audio(s->feed, par);
	return true;
}

void source_count_bytes(struct source *s, size_t bytes)
{
	pthread_mutex_lock(&s->lock);
	s->stats.packets_received++;
	s->stats.bytes_received += bytes;
	pthread_mutex_unlock(&s->lock);
}


/* The decoder cannot open: the picture outputs are told (the coded path goes on). Out of
 * memory or threads is the server's state, not the stream's: busy. */
static void picture_path_failed(struct source *s, const char *why, int averr)
{
	bool busy = averr == AVERROR(ENOMEM) || averr == AVERROR(EAGAIN);
	pthread_mutex_lock(&s->lock);
	bool fresh = s->pic_err.code == CS_OK;
	if (fresh) {
		cs_fail(&s->pic_err, busy ? CS_SERVER_BUSY : CS_UNSUPPORTED_CODEC, "%s: %s",
			s->display_url, why);
		s->stats.last_error = s->pic_err;
	}
	pthread_mutex_unlock(&s->lock);
	if (fresh)
		announce(s);
}

void source_push_video(struct source *s, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t dts_us, bool key_hint, int64_t waited_us)
{
	int64_t wall = clock_wall_us();
	count_picture(s, clock_mono_us(), wall);
	bool changed;
	bool key = coded_feed_picture(s->feed, data, len, pts_us, dts_us, wall, key_hint,
		&changed);
	if (changed)
		set_size(s, coded_feed_params(s->feed));
	announce_coded(s);
	/* the decoder runs while picture outputs exist, and lingers a while after the last one
	 * left; coded readers alone cost no decode */
	bool was_open = picdec_is_open(s->dec);
	bool decode = output_list_any(s->outputs);
	if (!decode && was_open) {
		decode = clock_mono_us() - output_list_empty_since_us(s->outputs) <
			s->p.decoder_linger_us;
		if (!decode)
			picdec_close(s->dec);
	}
	if (decode)
		picdec_decode(s->dec, data, len, pts_us, key, waited_us,
			output_list_min_interval_us(s->outputs), got_picture, s);
	bool open = picdec_is_open(s->dec);
	/* a closed decoder tries to open at key pictures only: only then is there news */
	int averr = 0;
	const char *failure = decode && key && !open ? picdec_failure(s->dec, &averr) : NULL;
	if (failure)
		picture_path_failed(s, failure, averr);
	if (open != was_open) {
		pthread_mutex_lock(&s->lock);
		s->stats.decoder_open = open;
		s->stats.decoder_opens += open;
		if (open)
			cs_error_clear(&s->pic_err); /* it opened after all (memory came back) */
		pthread_mutex_unlock(&s->lock);
	}
}

void source_push_audio(struct source *s, const uint8_t *data, size_t len, int64_t pts_us)
{
	coded_feed_audio_frame(s->feed, data, len, pts_us, clock_wall_us());
}

void source_flush_video(struct source *s)
{
	if (picdec_is_open(s->dec))
		picdec_flush(s->dec, got_picture, s);
}

/* ---- the thread --------------------------------------------------------------------- */

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

/* Sessions until stop, the end or a failure; in reconnect mode, until stop. */
static void run(struct source *s)
{
	for (;;) {
		struct cs_error why;
		cs_error_clear(&why);
		pthread_mutex_lock(&s->lock);
		cs_error_clear(&s->pic_err); /* a new session: its stream may well decode */
		pthread_mutex_unlock(&s->lock);
		int64_t played = s->p.input->run_session(s, &why);
		if (atomic_load(&s->stop))
			return;
		if (why.code == CS_OK) /* not reached: a session ends with stop or a reason */
			cs_fail(&why, CS_SOURCE_ENDED, "%s stopped", s->display_url);
		if (!s->p.reconnect) {
			finish(s, &why);
			return;
		}
		if (!retry_wait(s, &why, played))
			return;
	}
}

static void *worker_main(void *arg)
{
	struct source *s = arg;
	sigset_t set;

	blockable_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	s->enc = encoder_create();
	s->dec = picdec_create(s->display_url);
	s->feed = coded_feed_create(s->log, s->display_url);
	if (!s->enc || !s->dec || !s->feed) {
		struct cs_error why;
		cs_fail(&why, CS_OPEN_FAILED, "cannot start the picture path of %s (out of memory)",
			s->display_url);
		finish(s, &why);
	} else {
		run(s);
	}
	picdec_destroy(s->dec);
	s->dec = NULL;
	encoder_destroy(s->enc);
	s->enc = NULL;
	coded_feed_destroy(s->feed);
	s->feed = NULL;

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
	s->log = coded_log_create(p->log_max_bytes ? p->log_max_bytes : LOG_MAX_BYTES_DEFAULT,
		LOG_MAX_ENTRIES);
	s->outputs = s->display_url ? output_list_create(s->display_url) : NULL;
	if (!s->url || !s->display_url || !s->host || !s->log || !s->outputs || !p->input)
		goto fail_alloc;
	s->p = *p;
	s->p.url = s->url;
	s->p.display_url = s->display_url;
	s->p.host = s->host;
	s->notify = notify;
	s->arg = arg;
	atomic_init(&s->stop, false);
	atomic_init(&s->exited, false);
	atomic_init(&s->news, false);
	atomic_init(&s->coded_news, false);
	atomic_init(&s->coded_wanted, false);
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail_alloc;
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
fail_alloc:
	output_list_destroy(s->outputs);
	coded_log_destroy(s->log);
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
	output_list_destroy(s->outputs);
	coded_log_destroy(s->log);
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

/* ---- the service thread's side ------------------------------------------------------ */

unsigned source_take_news(struct source *s)
{
	unsigned news = atomic_exchange(&s->news, false) ? SOURCE_NEWS : 0;
	if (atomic_exchange(&s->coded_news, false))
		news |= SOURCE_NEWS_CODED;
	return news;
}

void source_set_coded_wanted(struct source *s, bool wanted)
{
	atomic_store(&s->coded_wanted, wanted);
}

enum cs_err source_error(struct source *s, struct cs_error *out)
{
	pthread_mutex_lock(&s->lock);
	enum cs_err err = s->err.code;
	if (out)
		*out = s->err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

enum cs_err source_picture_error(struct source *s, struct cs_error *out)
{
	pthread_mutex_lock(&s->lock);
	enum cs_err err = s->pic_err.code;
	if (out && err != CS_OK)
		*out = s->pic_err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

void source_get_stats(struct source *s, struct source_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
	output_list_counts(s->outputs, &out->frames_encoded, &out->encode_us_total);
}

struct output_list *source_outputs(struct source *s)
{
	return s->outputs;
}

struct coded_log *source_log(struct source *s)
{
	return s->log;
}
