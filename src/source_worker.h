/* source_worker: the insides of the source room, shared by source.c (mailbox, thread, demo)
 * and source_av.c (the FFmpeg pull). Not for other rooms: include source.h instead. */
#ifndef CAMSTREAM_SOURCE_WORKER_H
#define CAMSTREAM_SOURCE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "encoder.h"
#include "source.h"

struct source {
	/* Set by source_start, read-only afterwards (both threads). */
	char *url;                 /* given to FFmpeg only, never logged (owned) */
	char *display_url;         /* redacted (owned) */
	struct source_params p;    /* p.url / p.display_url point at the copies above */
	source_notify_fn notify;
	void *arg;
	pthread_t thread;

	atomic_bool stop;          /* set by anyone; the worker polls it */
	atomic_bool wanted;        /* set by the service thread; default true */
	atomic_bool exited;        /* set by the worker as it returns */
	atomic_bool news;          /* set by the worker, cleared by source_take_news */

	pthread_mutex_t lock;      /* guards the mailbox below */
	struct frame *latest;      /* the mailbox's reference to the newest frame, or NULL */
	uint64_t seq;              /* seq of the last published frame */
	enum cs_err err;
	char msg[256];
	int clean;
	struct source_stats stats;
};

/* Worker-thread state; lives on the worker's stack. */
struct worker {
	struct source *s;
	struct encoder *enc;
	int64_t deadline;          /* monotonic µs at which the current wait gives up; 0 none */
	bool deadline_hit;         /* the interrupt callback fired for the deadline, not stop */
	int64_t next_due;          /* fps cap: when the next frame may be encoded */
	bool enc_warned;           /* an encode failure was logged already */

	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *pic;
	int vidx;
	bool is_rtsp;              /* the URL is rtsp:// or rtsps:// */
	uint64_t decode_errors;
	bool nominal_fps;          /* stats.fps comes from the stream, not from measuring */
	int64_t first_frame_us;    /* monotonic, for the measured rate */
	uint64_t measured_frames;
};

/* Worker thread only. The final state: an error (FAILED) or the end of the stream (ENDED),
 * with a message for a person built from display_url only. Logged once. */
void source_finish(struct source *s, enum cs_err err, int clean, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Worker thread only. The stream is open: state PLAYING and what it is. */
void source_set_playing(struct source *s, const char *codec, int w, int h, double fps);

/* Worker thread only. Encodes and publishes @pic if a viewer wants it and the fps cap
 * allows. */
void source_deliver(struct worker *w, const AVFrame *pic, int64_t t_capture_us);

/* Worker thread only (source_av.c). Opens, reads and decodes params.url until stop, the
 * end or an error, publishing frames and the outcome; frees every FFmpeg object. */
void source_av_run(struct worker *w);

#endif
