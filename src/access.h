/* access: who may use the server. The access token (--token: "Authorization: Bearer T" or
 * "?token=T") and the origins whose pages may open WebSockets. Service thread only. */
#ifndef CAMSTREAM_ACCESS_H
#define CAMSTREAM_ACCESS_H

#include <stdbool.h>

#include <libwebsockets.h>

#include "config.h"

/* True when no token is configured or the request carries the right one. */
bool access_token_ok(struct lws *wsi, const struct config *cfg);

/* True when a WebSocket upgrade may go ahead by its Origin header: by default a page of the
 * same host (any port), a page opened from disk ("null") and clients that send no Origin
 * (scripts, wscat); with --allow-origin, exactly the origins listed (plus no Origin). */
bool access_origin_ok(struct lws *wsi, const struct config *cfg);

/* Compares in time that depends only on the lengths, never on where they differ. */
bool access_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
