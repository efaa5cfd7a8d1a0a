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

/* The checks every HTTP request passes before its handler, in one place: a HEAD or OPTIONS
 * request is answered 405 and the connection closed (a HEAD reply must carry no body); a path
 * other than @exact (when not NULL: a mount also takes the paths below it) gets 404; on a
 * @protected endpoint a query over the limit gets 414 and a request without the access token
 * 401. true to go on; false when the answer is out, with *@ret what the callback returns. */
bool access_http_check(struct lws *wsi, bool protected, const char *exact, int *ret);

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: a WebSocket is taken only on one of the @n @paths,
 * from an allowed page and with the token; anything else is answered with an HTTP status
 * (404 path, 414, 401 token, 403 origin) before the upgrade, so no source is ever opened.
 * Returns what the callback returns: 0 lets the upgrade go ahead. */
int access_confirm_upgrade(struct lws *wsi, const char *const *paths, size_t n);

/* The client's address for log lines, into @out: the connection's peer, or, when the peer is
 * one of --trusted-proxy, the rightmost X-Forwarded-For address that is not (the client the
 * nearest trusted proxy saw; the entries left of it could be anything the client wrote). */
void access_client_addr(struct lws *wsi, const struct config *cfg, char *out, size_t size);

/* Whether the client reached us over TLS: this connection's own, or, from a --trusted-proxy,
 * "X-Forwarded-Proto: https" (a proxy that ends TLS for us). For URLs an answer gives. */
bool access_client_tls(struct lws *wsi, const struct config *cfg);

/* Compares in time that depends only on the lengths, never on where they differ. */
bool access_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
