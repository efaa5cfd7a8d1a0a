/* rtmp_server: the RTMP ingest. A raw lws vhost listens on --rtmp-port; each connection runs
 * the pure protocol (rtmp_proto.h) and, once its publish is allowed, queues what it reads on
 * a publisher of the push registry (rtmp_push.h), whose source the hub runs under the key's
 * name: a publish to rtmp://HOST:PORT/live/KEY makes the named stream KEY live for every
 * output.
 *
 * Who may publish (docs/SECURITY.md): app "live" only; a key by the named-stream rules, not
 * live already, not the name of a pulled stream of the config; with --token the token (or
 * the key's own publish_secret) in the stream name's or the app's query (?token=); a key the
 * config declares with a publish_secret needs it; --named-only: declared keys only.
 *
 * Deadlines: the handshake within 5 s, the publish within 10 s of the accept, a publisher
 * silent for --read-timeout is closed, a refusal's reply gets 1 s to go out. At most
 * RTMP_MAX_PENDING connections that are not publishing.
 *
 * Service thread only. */
#ifndef CAMSTREAM_RTMP_SERVER_H
#define CAMSTREAM_RTMP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "app.h"
#include "error.h"

#define RTMP_MAX_PENDING 64

struct rtmp_server;
struct push_registry;

/* Listens on cfg->rtmp_port of @ctx (an extra vhost). NULL with @err when the port cannot be
 * bound or memory ran out. *@port gets the bound port. @app and @reg outlive the server. */
struct rtmp_server *rtmp_server_create(struct lws_context *ctx, struct app *app,
	struct push_registry *reg, int *port, struct cs_error *err);
/* Every ~100 ms: deadlines, publishers whose queue has room again, and keys nobody published
 * for the grace period (their sources stop: viewers get source_ended). */
void rtmp_server_tick(struct rtmp_server *r);
/* Closes every connection (shutdown); the loop must run a little for them to go. */
void rtmp_server_close_all(struct rtmp_server *r);
/* The connections still open (shutdown waits for 0). */
int rtmp_server_connections(const struct rtmp_server *r);
/* After the context is destroyed (lws frees the vhost). NULL ok. */
void rtmp_server_destroy(struct rtmp_server *r);

struct rtmp_server_stats {
	int connections;             /* open now */
	int publishers;              /* publishing now */
	uint64_t accepted;           /* connections ever */
	uint64_t publishes;          /* publishes allowed ever */
	uint64_t refused;            /* connects and publishes refused, and protocol errors */
	uint64_t bytes_received;     /* over every connection, the handshakes included */
};
void rtmp_server_get_stats(const struct rtmp_server *r, struct rtmp_server_stats *out);

/* The publisher of @key now: its address, since when (wall µs), bytes read. */
struct rtmp_publisher_info {
	char address[64];
	int64_t since_wall_us;
	uint64_t bytes;
};
bool rtmp_server_publisher(const struct rtmp_server *r, const char *key,
	struct rtmp_publisher_info *out);

#endif
