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

/* Per-connection memory of server_send_backlogged: owned by the connection's session, read
 * and written on the service thread only. */
struct send_gate {
	uint32_t max_wnd;     /* the widest receive window the peer has announced */
	int64_t held_since;   /* monotonic µs since the window rule alone holds frames back */
};

#define SEND_GATE_PATIENCE_US 2000000

/* True while the last frame has not all left: bytes the kernel took from us still wait
 * *unsent* in the connection's send queue (SIOCOUTQNSD), held back by the peer's closed
 * window (a slow link, a reader that does not keep up) or by congestion; or the peer's
 * kernel holds more than half its window unread. Bytes sent and not yet acknowledged do not
 * count: they are in the network, and waiting for them would cap a long link at a frame per
 * round trip. Latest frame wins only if frames cannot pile up in the kernels either, so a
 * viewer starts a new frame only once this is false. */
bool server_send_backlogged(struct lws *wsi, struct send_gate *g);
#endif
