/* http_api: plain HTTP on the same port: GET / (health JSON, or the page for browsers),
 * GET /api/health, and the refusal of unknown paths and WebSocket upgrades. Service thread. */
#ifndef CAMSTREAM_HTTP_API_H
#define CAMSTREAM_HTTP_API_H

#include <libwebsockets.h>

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len);
size_t http_api_session_size(void);

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, whichever protocol lws delivers it to (with the
 * WebSocket protocol as the vhost's default, it is that one): 0 lets the upgrade go ahead;
 * otherwise the HTTP refusal (404 path, 414, 401 token, 403 origin) has been written. */
int http_api_confirm_upgrade(struct lws *wsi);

#endif
