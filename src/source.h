/* source: the pull worker. One thread per source opens the URL with bounded waits, reads,
 * decodes, encodes and publishes the newest JPEG to its mailbox. It never touches lws: it
 * calls the notify function (which does lws_cancel_service()) after publishing news.
 *
 * Threads: every function here is for the service thread, except source_stop (any); the
 * worker owns every FFmpeg and libjpeg object. They share only the mailbox (under its
 * mutex: the outputs list, each output's newest frame, the error and the stats) and atomics.
 *
 * One source is one camera session: it decodes once and encodes once per output. */
#ifndef CAMSTREAM_SOURCE_H
#define CAMSTREAM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"
#include "netpolicy.h"
#include "options.h"

struct source;

/* Called on the worker thread after it published news (frame, error, end, exit).
 * Must be thread-safe and cheap. */
typedef void (*source_notify_fn)(void *arg);

struct source_params {
	const char *url;          /* full URL with credentials, given to FFmpeg only (copied) */
	const char *display_url;  /* redacted, for logs and messages (copied) */
	bool is_demo;             /* url is the built-in demo source */
	const char *host;         /* the URL's host as parsed (copied); for the host policy */
	/* --allow-hosts for ad-hoc URLs, NULL for none. A name it does not list is resolved by
	 * the worker and every address checked; the worker then connects to the address it
	 * checked (plain schemes), so a second lookup cannot lead elsewhere. Not owned: it lives
	 * in the configuration, which outlives every source. */
	const struct net_policy *hosts;
	enum transport transport;
	int64_t open_timeout_us;  /* bound on connect + DESCRIBE/SETUP/PLAY + first probe */
	int64_t read_timeout_us;  /* bound on silence once playing */
	/* Named streams: on failure or end, retry with exponential backoff and jitter
	 * (reconnect_min_us doubling up to reconnect_max_us; also when the first open fails)
	 * instead of finishing. Ad-hoc viewers keep seed 002's contract: error and close. */
	bool reconnect;
	int64_t reconnect_min_us; /* default 500 ms when 0 */
	int64_t reconnect_max_us; /* default 30 s when 0 */
};

/* One encoded rendition of the source's pictures. Every output is encoded from the same
 * decode; viewers with the same output settings share one output (and so one encode). */
struct output_params {
	double fps_max;           /* 0 = every decoded frame */
	int width, height;        /* requested size, 0 = source's (one alone keeps aspect) */
	int quality;              /* 1..100 */
};

struct source_output;         /* owned by its source; see source_output_add/remove */

enum source_state {
	SOURCE_OPENING = 0,
	SOURCE_PLAYING,
	SOURCE_RECONNECTING,      /* reconnect mode: waiting before the next attempt */
	SOURCE_FAILED,            /* error set; worker exits */
	SOURCE_ENDED,             /* end of stream; worker exits */
};

struct source_stats {
	enum source_state state;
	uint64_t packets_received;
	uint64_t bytes_received;
	uint64_t frames_decoded;
	uint64_t frames_encoded;    /* over all outputs */
	uint64_t frames_late;       /* decoded but not encoded: the worker was behind the camera */
	uint64_t encode_us_total;   /* time spent encoding, µs, over all outputs */
	uint64_t reconnects;        /* successful re-opens after a failure (reconnect mode) */
	int width, height;          /* decoded picture size, 0 before the first */
	char codec[16];             /* "h264", "hevc", "mjpeg", "demo", "" before open */
	double fps;                 /* stream's nominal rate if known, else measured */
	int64_t last_frame_wall_us; /* 0 before the first frame */
	int64_t opened_wall_us;     /* when the current session started playing, 0 if not */
	enum cs_err last_error;     /* the most recent failure, also while reconnecting */
	char last_error_msg[160];   /* its message (no credentials), "" if none */
};

/* Starts the worker. Returns NULL if the thread cannot be created. */
struct source *source_start(const struct source_params *p, source_notify_fn notify, void *arg);

/* Asks the worker to stop (it wakes from any blocking FFmpeg call within ~100 ms).
 * Any thread; idempotent; returns at once. */
void source_stop(struct source *s);

/* True once the worker thread has returned (source_destroy will not block). */
bool source_exited(struct source *s);

/* For shutdown only: gives up on a worker that did not stop in time (stuck in a call nothing
 * can interrupt, such as a resolver FFmpeg runs itself): detaches its thread and leaves the
 * source allocated for it. The notify function must no longer reach freed state. */
void source_abandon(struct source *s);

/* Stops, joins and frees, outputs included. NULL is fine. Published frames live on in
 * their holders. */
void source_destroy(struct source *s);

/* True if anything was published since the last call (and clears the flag). */
bool source_take_news(struct source *s);

/* CS_OK while healthy, opening or reconnecting. Otherwise the final error, its message for a
 * person (credentials never included) in @msg, and in *@clean whether a CS_SOURCE_ENDED was
 * a clean end. */
enum cs_err source_error(struct source *s, char *msg, size_t msglen, int *clean);

void source_get_stats(struct source *s, struct source_stats *out);

/* Adds an output; the worker encodes for it from the next decoded picture on. NULL if out
 * of memory. The handle stays valid until source_output_remove() or source_destroy(). */
struct source_output *source_output_add(struct source *s, const struct output_params *p);
/* Removes an output; the caller must not use the handle afterwards. */
void source_output_remove(struct source *s, struct source_output *o);

/* A new reference to the output's newest frame if its seq is greater than @after_seq,
 * else NULL. seq counts per output, from 1. With @fresh, also NULL while the frame is stale:
 * the camera sent a newer picture that was not encoded because nobody wanted it. */
struct frame *source_output_latest(struct source_output *o, uint64_t after_seq, bool fresh);

/* Whether any viewer of this output could take a frame now; when none can, the worker
 * skips this output's encode. Default true. */
void source_output_set_wanted(struct source_output *o, bool wanted);

#endif
