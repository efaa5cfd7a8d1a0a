/* source_worker: the insides of the source room, shared by source.c (mailbox, outputs, thread,
 * demo, reconnect wait) and source_av.c (the FFmpeg pull). Not for other rooms: include
 * source.h instead. */
#ifndef CAMSTREAM_SOURCE_WORKER_H
#define CAMSTREAM_SOURCE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "encoder.h"
#include "h264_release.h"
#include "source.h"

/* One rendition of the source's pictures.
 *
 * Ownership: refcounted (refs). The source's outputs list holds one reference from
 * source_output_add until source_output_remove (or source_destroy) unlinks it. The worker
 * takes one more per output it picks for a picture, under source->lock and only from the
 * list, so only while the list's reference is still held; it drops them once that picture
 * is published. Whoever drops the last reference frees the output and its latest frame.
 * So the service thread may remove an output at any time, and the worker never touches
 * an output it does not hold a reference to. */
struct source_output {
	struct source *s;           /* the owner; set at add, read-only afterwards */
	struct output_params p;     /* read-only after add */
	atomic_int refs;
	atomic_bool wanted;         /* set by the service thread; default true */

	/* Under s->lock. */
	struct source_output *next; /* the source's list; meaningless once removed */
	bool removed;               /* unlinked: the worker publishes nothing more into it */
	struct frame *latest;       /* this output's reference to its newest frame, or NULL */
	uint64_t seq;               /* seq of the last published frame, from 1 */
	bool stale;                 /* a picture came after latest and was not encoded for it */

	/* Worker only (while it holds a reference, or under s->lock while linked). */
	int64_t next_due;           /* fps cap: when the next frame may be encoded */
	bool enc_warned;            /* an encode failure was logged already */
};

struct source {
	/* Set by source_start, read-only afterwards (both threads). */
	char *url;                 /* given to FFmpeg only, never logged (owned) */
	char *display_url;         /* redacted (owned) */
	char *host;                /* the URL's host for the host policy (owned) */
	struct source_params p;    /* p.url / p.display_url / p.host point at the copies above */
	source_notify_fn notify;
	void *arg;
	pthread_t thread;

	atomic_bool stop;          /* set by anyone; the worker polls it */
	atomic_bool exited;        /* set by the worker as it returns */
	atomic_bool news;          /* set by the worker, cleared by source_take_news */

	pthread_mutex_t lock;      /* guards the mailbox below and the outputs' locked fields */
	struct source_output *outputs; /* the list (one reference each); see source_output */
	enum cs_err err;           /* the final error; stays CS_OK while reconnecting */
	char msg[256];
	int clean;
	struct source_stats stats;
};

/* Worker-thread state; lives on the worker's stack. */
struct worker {
	struct source *s;
	struct encoder *enc;

	/* The outputs picked for the current picture, one reference each (source_pick and
	 * source_deliver). picked is malloc'd and grown by the worker, freed as it exits. */
	struct source_output **picked;
	size_t n_picked, cap_picked;
	bool pick_warned;          /* could not grow picked: logged once */

	/* The current session (source_av.c); reset at each attempt. */
	int64_t deadline;          /* monotonic µs at which the current wait gives up; 0 none */
	bool deadline_hit;         /* the interrupt callback fired for the deadline, not stop */
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *pic;
	int vidx;
	bool is_rtsp;              /* the URL is rtsp:// or rtsps:// */
	bool by_slice;             /* H.264 over RTSP without the parser: rel feeds the decoder */
	struct h264_release rel;   /* (by_slice) its pending bytes */
	AVPacket *chunk;           /* (by_slice) what rel hands over, as a packet */
	uint64_t decode_errors;
	bool nominal_fps;          /* stats.fps comes from the stream, not from measuring */
	int64_t first_frame_us;    /* monotonic, for the measured rate */
	uint64_t measured_frames;
	int64_t last_key_pts;      /* the last key picture's pts (stream time base), or NOPTS */
	int64_t gop_us;            /* between the last two key pictures; 0 until measured */
	bool keys_only;            /* the decoder skips all but key pictures */
	int64_t waited_us;         /* blocked in av_read_frame since the last picture */
	unsigned unwaited;         /* pictures in a row whose data was already waiting */
	int64_t behind_since;      /* monotonic µs when that run began; 0 if not behind */
	int64_t last_sent_us;      /* monotonic µs of the last picture handed to the outputs */

	/* Why the current session failed or ended (source_av.c), for finishing or retrying. */
	enum cs_err err;
	int clean;
	char msg[256];

	/* Reconnect mode (source_retry_wait). */
	int64_t backoff_us;        /* the next wait before jitter; 0 before the first failure */
	uint64_t failures;         /* failed attempts since the stream last played */
	enum cs_err logged_err;    /* the failure last logged, so repeats are not */
	char logged_msg[256];
	uint64_t rng;              /* xorshift state for the jitter */
};

/* Worker thread only. The final state: an error (FAILED) or the end of the stream (ENDED),
 * with a message for a person built from display_url only. Logged once. */
void source_finish(struct source *s, enum cs_err err, int clean, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Worker thread only. A session is open: state PLAYING and what it is; after failures
 * (reconnect mode) it counts a reconnect. */
void source_set_playing(struct worker *w, const char *codec, int width, int height, double fps);

/* Worker thread only, reconnect mode. The session failed with w->err / w->msg: publishes
 * RECONNECTING and the error (logged once per change), then waits out the backoff
 * (@played_us: how long the session played; over 10 s resets it). False if stopped. */
bool source_retry_wait(struct worker *w, int64_t played_us);

/* Worker thread only. Picks and pins the outputs that take the next picture (wanted and
 * due under their fps cap); returns how many. Call source_deliver next when non-zero. */
size_t source_pick(struct worker *w);

/* Worker thread only. The shortest frame interval any output asks for (its fps cap), in µs:
 * 0 if one takes every frame, INT64_MAX if there is no output. */
int64_t source_min_interval_us(struct worker *w);

/* Worker thread only. Encodes @pic for every picked output, publishes, unpins. */
void source_deliver(struct worker *w, const AVFrame *pic, int64_t t_capture_us);

/* Worker thread only (source_av.c). Opens, reads and decodes params.url until stop, the
 * end or an error (retrying in reconnect mode), publishing frames and the outcome; frees
 * every FFmpeg object. */
void source_av_run(struct worker *w);

#endif
