/* rtmp_push: sources fed by publishers. The RTMP server (ingest/) runs on the service thread;
 * each of its publishing connections queues the messages it reads (FLV tag bodies: video,
 * audio, metadata) on a publisher here, and the worker thread of the source named by the key
 * takes them off and hands them to the source as av_pull does: coded pictures into the log,
 * decoded only while a picture output exists.
 *
 * The registry is the meeting point: the service thread begins and ends publishers; a
 * source's worker (rtmp_push_input, source_params.url = the key, input_ctx = the registry)
 * waits for a publisher of its key, claims it, plays it until it ends, and waits for the
 * next. The session itself ends only when the source is stopped: the ingest stops it when
 * nobody published the key for the grace period.
 *
 * Threads: push_pub_* and push_registry_live are for the service thread; the registry's
 * lock guards what both threads share. */
#ifndef CAMSTREAM_RTMP_PUSH_H
#define CAMSTREAM_RTMP_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input.h"

/* What one publisher may have queued before its connection stops reading (TCP then slows the
 * publisher down): beyond it, push_pub_send says so. */
#define PUSH_QUEUE_MAX_BYTES (8u << 20)

struct push_registry;
struct push_pub;

extern const struct input_ops rtmp_push_input;

struct push_registry *push_registry_create(void);
/* Every source using it must have exited; publishers must have ended. NULL ok. */
void push_registry_destroy(struct push_registry *r);

enum push_kind { PUSH_VIDEO, PUSH_AUDIO, PUSH_DATA };

/* A publisher of @key: NULL when one is already publishing it (*@busy set) or memory ran
 * out. The registry copies @key. */
struct push_pub *push_pub_begin(struct push_registry *r, const char *key, bool *busy);
/* Queues one message body (copied), @ts_ms on the publisher's clock. False when the queue
 * holds more than PUSH_QUEUE_MAX_BYTES after it (the message is queued all the same): stop
 * reading until push_pub_room. Also false when memory ran out (push_pub_failed says so). */
bool push_pub_send(struct push_pub *p, enum push_kind kind, uint32_t ts_ms, const uint8_t *data,
	size_t len);
/* Whether the queue has room again. */
bool push_pub_room(struct push_pub *p);
/* Whether the publisher's source could not take what it sent (out of memory). */
bool push_pub_failed(struct push_pub *p);
/* The publisher is gone: what it queued is still played, then its source waits for the next.
 * Frees the publisher's side; @p is not used again. */
void push_pub_end(struct push_pub *p);

/* Whether someone publishes @key now. */
bool push_registry_live(struct push_registry *r, const char *key);

#endif
