/* server: the lws context, vhost, protocol table and mounts; the one service thread. */
#ifndef CAMSTREAM_SERVER_H
#define CAMSTREAM_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Runs until *@stop becomes non-zero (set from a signal handler), then closes viewers with
 * 1001, joins every worker and returns. Prints "camstream listening on http://HOST:PORT"
 * once listening. Returns 0, or -1 if the server could not start. */
int server_run(const struct config *cfg, volatile sig_atomic_t *stop);



/* What the protocol handlers share, reached with server_get(wsi). Service thread only. */
struct hub;
struct lws;
struct streams;
struct server_state {
	const struct config *cfg;
	struct hub *hub;
	struct streams *streams; /* named streams; never NULL while serving */
	int64_t started_wall_us; /* for uptime in metrics */
	int clients;          /* open viewers, for --max-clients */
	int shutting_down;    /* set once the stop signal arrived */
};

struct server_state *server_get(struct lws *wsi);

/* True when more than @allowed bytes the kernel took from us still wait in the connection's
 * send queue. Latest frame wins only if a slow viewer's frames cannot pile up there either:
 * a viewer starts a new frame only once the queue holds at most about one frame. */
bool server_send_backlogged(struct lws *wsi, size_t allowed);
#endif
