/* http_api: plain HTTP on the same port: GET / (health JSON, or the page for browsers),
 * GET /api/health, and the refusal of unknown paths and WebSocket upgrades. Service thread. */
#ifndef CAMSTREAM_HTTP_API_H
#define CAMSTREAM_HTTP_API_H

#include <libwebsockets.h>

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len);
size_t http_api_session_size(void);

#endif
