/* hub: the registry of live sources on the service thread. A source is one camera session
 * (URL + transport, or a named stream). Its readers subscribe either to a picture output (one
 * JPEG setting: size, quality, fps cap) or as coded readers (FLV, HLS, WebRTC, raw frames),
 * which read the source's coded-picture log with a cursor of their own. The first reader
 * starts the worker, the last one stops it (unless kept warm or always on). The hub passes
 * worker news on to the readers and reaps exited workers.
 * Service thread only, except the wake function handed to workers. */
#ifndef CAMSTREAM_HUB_H
#define CAMSTREAM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codedlog.h"
#include "error.h"
#include "frame.h"
#include "source.h"
#include "url.h"

struct hub;
struct hub_entry;
struct hub_output;
struct hub_sub;

/* Called on the service thread when the subscriber's source published something (a frame,
 * a coded picture, an error, its end) or the hub is shutting down. It may only ask for a
 * writable callback: subscribing or unsubscribing from inside it is not allowed. */
typedef void (*hub_news_fn)(struct hub_sub *sub);

/* Embedded in a reader's per-connection state; the hub links it but never frees it. */
struct hub_sub {
	struct hub_sub *next;     /* hub-owned: the output's (or the coded readers') list */
	struct hub_entry *entry;  /* hub-owned: the source; NULL when not subscribed */
	struct hub_output *out;   /* hub-owned: the picture output; NULL for a coded reader */
	hub_news_fn on_news;      /* set by the reader before subscribing */
	bool busy;                /* hub-owned: see hub_sub_set_busy */
	uint64_t last_seq;        /* hub-owned: seq of the last frame hub_sub_latest returned */
	struct coded_cursor cursor; /* hub-owned: a coded reader's place in the log */
};

struct hub_config {
	int64_t open_timeout_us;
	int64_t read_timeout_us;
	bool isolate;             /* every ad-hoc subscriber gets its own worker */
	bool no_slice_release;    /* see source_params */
	int64_t decoder_linger_us;/* see source_params: --keep-warm */
	int max_sources;          /* 0 = no limit */
	int max_sessions_per_host;/* camera sessions per host:port; 0 = no limit */
	const struct net_policy *hosts; /* --allow-hosts for ad-hoc URLs (not owned), or NULL */
	const struct input_ops *pull_input; /* what reads cameras (not owned: static) */
	const struct input_ops *demo_input; /* what draws demo: */
	const struct input_ops *push_input; /* what publishers feed (RTMP), or NULL */
	void *push_ctx;           /* the push input's source_params.input_ctx */
};

/* A named stream as the hub needs it to run one (the streams room owns the definitions). */
struct hub_stream_def {
	const char *name;
	const char *url;          /* full URL, credentials included */
	const char *display_url;  /* redacted */
	const char *host;         /* the camera's host and port, for --max-sessions-per-host */
	int port;
	bool is_demo;
	/* fed by a publisher (push_input; url is the key): the source runs with no viewer too,
	 * until hub_stream_stop (its publisher gone for good) */
	bool is_push;
	enum transport transport;
	double idle_fps;          /* always-on capture rate with no viewer; 0 = source rate */
	bool once;                /* fail as an ad-hoc camera does instead of reconnecting */
};

struct hub *hub_create(const struct hub_config *cfg, source_notify_fn wake, void *wake_arg);
/* Stops every worker, joins them and frees. Remaining subscribers are detached (their
 * hub_sub.entry becomes NULL). A worker still running after @grace_us is abandoned
 * (source_abandon) so that shutdown cannot hang. NULL is fine. */
void hub_destroy(struct hub *h, int64_t grace_us);

/* Attaches @sub to the ad-hoc source @url (starting it if needed): to the picture output
 * @pic, or, with @pic NULL, as a coded reader. CS_OK, or CS_SERVER_BUSY with @err. */
enum cs_err hub_subscribe_url(struct hub *h, struct hub_sub *sub, const struct cam_url *url,
	enum transport transport, const struct output_params *pic, struct cs_error *err);
/* The same for a named stream: its worker reconnects instead of failing. Starts it on demand
 * with @def if it is not running. */
enum cs_err hub_subscribe_stream(struct hub *h, struct hub_sub *sub,
	const struct hub_stream_def *def, const struct output_params *pic,
	struct cs_error *err);
/* Detaches @sub; the last subscriber of a source stops it unless it is always on or kept
 * warm. Idempotent. */
void hub_unsubscribe(struct hub *h, struct hub_sub *sub);

/* A new reference to the newest frame of @sub's output not yet returned to @sub, or NULL.
 * Counts the frames @sub never saw as dropped (latest frame wins). With @fresh, NULL too
 * while that frame is older than a picture the camera sent since (see
 * output_latest): the caller waits for the next one. */
struct frame *hub_sub_latest(struct hub_sub *sub, bool fresh);
/* The newest frame of @sub's output, even one @sub already had (snapshots). */
struct frame *hub_sub_newest(struct hub_sub *sub);
/* A coded reader's next entry from the log (a new reference), or NULL for nothing yet. A
 * reader more than @max_lag_us behind (0: no limit), or whose next entry left the log,
 * jumps to the newest key picture; the skip is counted. */
struct coded_entry *hub_sub_coded_next(struct hub_sub *sub, int64_t max_lag_us);
/* The newest key picture the source's log holds (a new reference), or NULL. */
struct coded_entry *hub_sub_newest_key(struct hub_sub *sub);
/* The source's current parameters of @kind (a new reference), or NULL: whether it has audio
 * and in what form, before the first audio frame. */
struct coded_params *hub_sub_coded_params(struct hub_sub *sub, enum coded_kind kind);
/* CS_OK while the source is healthy, opening or reconnecting; else its final error. A picture
 * output's subscriber also gets the picture path's error (the decoder cannot open). */
enum cs_err hub_sub_error(struct hub_sub *sub, struct cs_error *out);
/* Whether @sub is in the middle of sending a frame: a source whose viewers are all busy
 * skips encoding. */
void hub_sub_set_busy(struct hub_sub *sub, bool busy);
/* Adds @bytes to the bytes sent for @sub's source (metrics). */
void hub_sub_count_sent(struct hub_sub *sub, size_t bytes);
/* Keeps @sub's source running for @seconds after its last subscriber leaves (snapshots). */
void hub_sub_keep_warm(struct hub_sub *sub, double seconds);
/* Stats of @sub's source; false if not subscribed. */
bool hub_sub_stats(struct hub_sub *sub, struct source_stats *out);

/* Named streams kept running with no viewer ("always on"): starts the worker and an output at
 * def->idle_fps (default size and quality) if not running. */
enum cs_err hub_stream_start(struct hub *h, const struct hub_stream_def *def,
	struct cs_error *err);
/* Runs a published stream's source (def->is_push) with no reader, if it is not running: it
 * stays until hub_stream_stop. */
enum cs_err hub_stream_run(struct hub *h, const struct hub_stream_def *def,
	struct cs_error *err);
/* Stops a named stream: its subscribers get @why as CS_SOURCE_ENDED (clean, close 1000). */
void hub_stream_stop(struct hub *h, const char *name, const char *why);

struct hub_source_info {
	const char *name;         /* named stream, or NULL for ad-hoc */
	const char *display_url;  /* redacted */
	int viewers;              /* every subscriber: picture viewers and coded readers */
	int coded_readers;
	int outputs;
	bool always_on;
	bool push;                /* fed by a publisher */
	uint64_t frames_dropped;  /* frames some viewer skipped (latest frame wins) */
	uint64_t coded_skipped;   /* coded entries readers skipped by jumping ahead */
	uint64_t bytes_sent;
	struct source_stats stats;
};
/* Information about a named stream's source; false if it is not running. */
bool hub_stream_info(struct hub *h, const char *name, struct hub_source_info *out);
/* Calls @fn for every running source (metrics, status). */
void hub_foreach(struct hub *h, void (*fn)(const struct hub_source_info *info, void *arg),
	void *arg);

/* The wake-up: pass news from every source on to its subscribers, reap exited workers. */
void hub_poll(struct hub *h);
/* Periodic (every ~100 ms): stops sources whose warm time ran out. */
void hub_tick(struct hub *h);
/* Calls on_news for every subscriber (used at shutdown). */
void hub_notify_all(struct hub *h);
/* Asks every worker to stop without waiting (shutdown). */
void hub_stop_all(struct hub *h);

/* Counts for health and metrics. */
int hub_source_count(const struct hub *h);
int hub_sub_count(const struct hub *h);

#endif
