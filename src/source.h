/* source: the pull worker. One thread per source opens the URL with bounded waits, reads,
 * decodes, encodes and publishes the newest JPEG to its mailbox. It never touches lws: it
 * calls the notify function (which does lws_cancel_service()) after publishing news.
 *
 * Threads: source_start/destroy, source_take_news, source_latest, source_error,
 * source_set_wanted and source_get_stats are for the service thread; the worker owns every
 * FFmpeg and TurboJPEG object. They share only the mailbox (under its mutex) and atomics. */
#ifndef CAMSTREAM_SOURCE_H
#define CAMSTREAM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"
#include "options.h"

struct source;

/* Called on the worker thread after it published news (frame, error, end, exit).
 * Must be thread-safe and cheap. */
typedef void (*source_notify_fn)(void *arg);

struct source_params {
	const char *url;          /* full URL with credentials, given to FFmpeg only (copied) */
	const char *display_url;  /* redacted, for logs and messages (copied) */
	bool is_demo;             /* url is the built-in demo source */
	enum transport transport;
	int64_t open_timeout_us;  /* bound on connect + DESCRIBE/SETUP/PLAY + first probe */
	int64_t read_timeout_us;  /* bound on silence once playing */
	double fps_max;           /* 0 = source rate */
	int width, height;        /* requested output size, 0 = source's */
	int quality;              /* 1..100 */
};

enum source_state {
	SOURCE_OPENING = 0,
	SOURCE_PLAYING,
	SOURCE_FAILED,   /* error set; worker exits */
	SOURCE_ENDED,    /* end of stream; worker exits */
};

struct source_stats {
	enum source_state state;
	uint64_t packets_received;
	uint64_t bytes_received;
	uint64_t frames_decoded;
	uint64_t frames_encoded;
	uint64_t encode_us_total;   /* time spent encoding, µs */
	int width, height;          /* decoded picture size, 0 before the first */
	char codec[16];             /* "h264", "hevc", "mjpeg", "demo", "" before open */
	double fps;                 /* stream's nominal rate if known, else measured */
	int64_t last_frame_wall_us; /* 0 before the first frame */
};

/* Starts the worker. Returns NULL if the thread cannot be created. */
struct source *source_start(const struct source_params *p, source_notify_fn notify, void *arg);

/* Asks the worker to stop (it wakes from any blocking FFmpeg call within ~100 ms).
 * Any thread; idempotent; returns at once. */
void source_stop(struct source *s);

/* True once the worker thread has returned (source_destroy will not block). */
bool source_exited(struct source *s);

/* Stops, joins and frees. NULL is fine. The frames it published live on in their holders. */
void source_destroy(struct source *s);

/* True if anything was published since the last call (and clears the flag). */
bool source_take_news(struct source *s);

/* A new reference to the newest frame if its seq is greater than @after_seq, else NULL. */
struct frame *source_latest(struct source *s, uint64_t after_seq);

/* CS_OK while healthy or opening. Otherwise the error, its message for a person (credentials
 * never included) in @msg, and in *@clean whether a CS_SOURCE_ENDED was a clean end. */
enum cs_err source_error(struct source *s, char *msg, size_t msglen, int *clean);

/* Tells the worker whether any viewer could take a frame now; when none can, it decodes
 * (to keep the reference pictures) but skips the JPEG encode. Default true. */
void source_set_wanted(struct source *s, bool wanted);

void source_get_stats(struct source *s, struct source_stats *out);

#endif
