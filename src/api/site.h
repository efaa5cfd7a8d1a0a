/* site: GET / (the health JSON, or the viewer page when the browser prefers HTML), GET
 * /api/health, the page, and the JSON 404 of every path no endpoint takes. The callback of
 * the server's first protocol, which lws hands every request no mount matches. */
#ifndef CAMSTREAM_SITE_H
#define CAMSTREAM_SITE_H

#include <libwebsockets.h>

#include "flv_http.h"

/* The per-session data the callback needs (a /?cam_url= request is an FLV viewer). */
#define SITE_SESSION_SIZE sizeof(struct flv_http)

/* What the page may load and talk to: its own scripts and styles only, pictures from
 * camstream servers (a dashboard may show several) as blobs, video from a MediaSource (the
 * FLV mode: mpegts.js, without a worker) or from camstream servers (the HLS mode: the
 * browser's own player fetches the playlist), connections to any server. */
#define SITE_PAGE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; " \
	"connect-src 'self' ws: wss: http: https:; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'self'"

int site_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len);

#endif
