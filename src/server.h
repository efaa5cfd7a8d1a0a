/* server: the composition root: builds the hub, the named streams and the app, routes every
 * endpoint to its room, and runs the one service thread. */
#ifndef CAMSTREAM_SERVER_H
#define CAMSTREAM_SERVER_H

#include <signal.h>

#include "config.h"

/* Runs until *@stop becomes non-zero (set from a signal handler), then closes viewers with
 * 1001, joins every worker and returns. Prints "camstream listening on http://HOST:PORT"
 * once listening. Returns 0, or -1 if the server could not start. */
int server_run(const struct config *cfg, volatile sig_atomic_t *stop);

#endif
