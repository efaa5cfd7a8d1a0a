/* source: one camera session. A worker thread runs the source's input (inputs/: the FFmpeg
 * pull, the demo pattern; see input.h), which hands over what the camera sends. Two paths
 * leave the source:
 * - coded pictures (and audio frames) go into the source's coded-picture log (codedlog.h),
 *   which FLV, HLS, WebRTC and raw-frame readers read with a cursor each;
 * - while at least one picture output exists, the worker also decodes and encodes one JPEG
 *   per output (size, quality, fps cap) and publishes the newest to the output's mailbox.
 * The worker never touches lws: it calls the notify function (lws_cancel_service) after it
 * published news.
 *
 * Threads: every function here is for the service thread, except source_stop (any). The
 * worker owns every FFmpeg and libjpeg object. They share the mailbox (under the source's
 * mutex: the outputs list, each output's newest frame, the error and the stats), the coded
 * log (its own mutex) and atomics. */
#ifndef CAMSTREAM_SOURCE_H
#define CAMSTREAM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codedlog.h"
#include "error.h"
#include "frame.h"
#include "netpolicy.h"
#include "output.h"

struct source;
struct input_ops;

/* How an RTSP camera is asked to send: interleaved in the TCP connection (the default: it
 * crosses NAT and loses nothing), over UDP, or TCP first and UDP if the camera refuses. */
enum transport { TRANSPORT_TCP = 0, TRANSPORT_UDP, TRANSPORT_AUTO };
/* "tcp", "udp", "auto"; and back, false for anything else. */
const char *transport_name(enum transport t);
bool transport_parse(const char *s, enum transport *out);

/* Called on the worker thread after it published news (frame, coded picture, error, end,
 * exit). Must be thread-safe and cheap. */
typedef void (*source_notify_fn)(void *arg);

struct source_params {
	const struct input_ops *input; /* what feeds the source (not owned: static) */
	void *input_ctx;          /* what the input needs beyond the URL (not owned), or NULL */
	const char *url;          /* full URL with credentials, given to FFmpeg only (copied) */
	const char *display_url;  /* redacted, for logs and messages (copied) */
	const char *host;         /* the URL's host as parsed (copied); for the host policy */
	/* --allow-hosts for ad-hoc URLs, NULL for none. A name it does not list is resolved by
	 * the worker and every address checked; the worker then connects to the address it
	 * checked (plain schemes), so a second lookup cannot lead elsewhere. Not owned: it lives
	 * in the configuration, which outlives every source. */
	const struct net_policy *hosts;
	enum transport transport;
	int64_t open_timeout_us;  /* bound on connect + DESCRIBE/SETUP/PLAY + first packet */
	int64_t read_timeout_us;  /* bound on silence once playing */
	bool no_slice_release;    /* H.264 pictures end when the next begins (A/B comparisons) */
	/* Named streams: on failure or end, retry with exponential backoff and jitter
	 * (reconnect_min_us doubling up to reconnect_max_us; also when the first open fails)
	 * instead of finishing. Ad-hoc viewers keep seed 002's contract: error and close. */
	bool reconnect;
	int64_t reconnect_min_us; /* default 500 ms when 0 */
	int64_t reconnect_max_us; /* default 30 s when 0 */
	size_t log_max_bytes;     /* coded-picture log bound; default 8 MiB when 0 */
	/* How long the decoder stays open after the last picture output left, so that a viewer
	 * or snapshot coming back soon (a page polling snapshots of a source kept warm) gets a
	 * picture within a frame, not at the next key picture. */
	int64_t decoder_linger_us;
};

enum source_state {
	SOURCE_OPENING = 0,
	SOURCE_PLAYING,
	SOURCE_RECONNECTING,      /* reconnect mode: waiting before the next attempt */
	SOURCE_FAILED,            /* error set; worker exits */
	SOURCE_ENDED,             /* end of stream; worker exits */
};

/* Whether the source has a coded form that FLV, HLS, WebRTC and raw frames can carry. */
enum source_coded {
	SOURCE_CODED_UNKNOWN = 0, /* not playing yet */
	SOURCE_CODED_YES,         /* H.264 or H.265: pictures go into the coded log */
	SOURCE_CODED_NO,          /* demo:, MJPEG or another codec: pictures only */
};

struct source_stats {
	enum source_state state;
	enum source_coded coded;
	uint64_t packets_received;
	uint64_t bytes_received;
	uint64_t pictures_received;  /* pictures from the input: coded (decoded or not), or drawn */
	uint64_t frames_decoded;
	uint64_t decoder_opens;     /* times the picture path opened its decoder */
	bool decoder_open;          /* the picture path decodes now */
	uint64_t frames_encoded;    /* over all outputs */
	uint64_t frames_late;       /* decoded but not encoded: the worker was behind the camera */
	uint64_t encode_us_total;   /* time spent encoding, µs, over all outputs */
	uint64_t reconnects;        /* successful re-opens after a failure (reconnect mode) */
	int width, height;          /* picture size, 0 before it is known */
	char codec[16];             /* "h264", "hevc", "mjpeg", "demo", "" before open */
	double fps;                 /* measured over the last seconds; 0 before it is known */
	double fps_nominal;         /* what the stream says (SDP, container), 0 if it does not */
	int64_t last_frame_wall_us; /* newest picture received, 0 before the first */
	int64_t opened_wall_us;     /* when the current session started playing, 0 if not */
	struct cs_error last_error; /* the most recent failure, also while reconnecting */
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

/* Stops, joins and frees, outputs and log included. NULL is fine. Published frames and log
 * entries live on in their holders. */
void source_destroy(struct source *s);

/* What was published since the last call (and clears it): SOURCE_NEWS for frames, errors, a
 * state change or the worker's exit, which every reader wants to know; SOURCE_NEWS_CODED for
 * new entries in the log, which only coded readers do. */
#define SOURCE_NEWS 1u
#define SOURCE_NEWS_CODED 2u
unsigned source_take_news(struct source *s);
/* Whether coded readers exist: the worker announces log entries only then. Default false. */
void source_set_coded_wanted(struct source *s, bool wanted);

/* CS_OK while healthy, opening or reconnecting. Otherwise the final error (its message for a
 * person, credentials never included; clean tells a clean end of stream). */
enum cs_err source_error(struct source *s, struct cs_error *out);

/* The picture path's error, CS_OK while it works: CS_UNSUPPORTED_CODEC when the decoder
 * cannot open for this session's stream (the coded path may still serve it), CS_SERVER_BUSY
 * when it lacked memory or threads. Cleared when a session starts and when the decoder
 * opens after all. Any thread. */
enum cs_err source_picture_error(struct source *s, struct cs_error *out);

void source_get_stats(struct source *s, struct source_stats *out);

/* The source's coded-picture log: read it with a cursor (codedlog.h). Lives as long as the
 * source. */
struct coded_log *source_log(struct source *s);

/* The source's picture outputs (output.h): add one and the worker decodes and encodes for
 * it from the next picture on (the first output opens the decoder, at the next key picture);
 * with the last one gone the worker closes its decoder (after decoder_linger_us), so coded
 * readers alone cost no decode. Lives as long as the source. */
struct output_list *source_outputs(struct source *s);

#endif
