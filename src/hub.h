/* hub: the registry of live sources on the service thread. Maps a sharing key (URL plus
 * output settings) to one running source, counts its subscribers, starts the worker with the
 * first and stops it with the last, dispatches worker news to subscribers, and reaps exited
 * workers. Service thread only, except hub_wake (the notify function given to workers). */
#ifndef CAMSTREAM_HUB_H
#define CAMSTREAM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "options.h"
#include "source.h"
#include "url.h"

struct hub;
struct hub_entry;
struct hub_sub;

/* Called on the service thread when the subscriber's source published something
 * (a frame, an error, its end) or the hub is shutting down. */
typedef void (*hub_news_fn)(struct hub_sub *sub);

/* Embedded in a viewer's per-connection state; the hub links it but never frees it. */
struct hub_sub {
	struct hub_sub *next;     /* hub-owned: the entry's subscriber list */
	struct hub_entry *entry;  /* hub-owned: NULL when not subscribed */
	hub_news_fn on_news;      /* set by the viewer before subscribing */
	bool busy;                /* viewer-owned: true while a frame is being sent */
};

struct hub_config {
	int64_t open_timeout_us;
	int64_t read_timeout_us;
	bool isolate;        /* every subscriber gets its own worker */
	int max_sources;     /* 0 = no limit */
};

/* @wake is called from worker threads after they publish news; it must end in
 * lws_cancel_service() so that the service thread calls hub_poll(). */
struct hub *hub_create(const struct hub_config *cfg, source_notify_fn wake, void *wake_arg);
/* Stops every worker, joins them and frees. Subscribers must be gone. NULL is fine. */
void hub_destroy(struct hub *h);

/* Attaches @sub to the running source for (@url, @opts), starting one if needed.
 * CS_OK, or CS_SERVER_BUSY / CS_OPEN_FAILED with a message in @err. */
enum cs_err hub_subscribe(struct hub *h, struct hub_sub *sub, const struct cam_url *url,
	const struct stream_opts *opts, char *err, size_t errlen);
/* Detaches @sub; the last subscriber stops the worker. Idempotent. */
void hub_unsubscribe(struct hub *h, struct hub_sub *sub);

/* The source @sub is attached to, or NULL. */
struct source *hub_sub_source(const struct hub_sub *sub);
/* Tells the hub the viewer's busy flag changed, so the worker knows whether to encode. */
void hub_sub_set_busy(struct hub_sub *sub, bool busy);

/* The wake-up: dispatch news from every source to its subscribers, reap exited workers. */
void hub_poll(struct hub *h);
/* Calls on_news for every subscriber (used at shutdown). */
void hub_notify_all(struct hub *h);
/* Asks every worker to stop without waiting (shutdown). */
void hub_stop_all(struct hub *h);

/* Counts for health and metrics. */
int hub_source_count(const struct hub *h);
int hub_sub_count(const struct hub *h);

#endif
