/* app: what every handler on the service thread shares, reached from any connection with
 * app_of(wsi): the configuration, the hub of sources, the named streams, the count of open
 * viewers. The composition root (server.c) owns it and hands it to lws as the context's
 * user data. Service thread only. */
#ifndef CAMSTREAM_APP_H
#define CAMSTREAM_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "config.h"
#include "frame.h"

_Static_assert(FRAME_HEADROOM >= LWS_PRE, "frames need LWS_PRE bytes of headroom");

struct hls;
struct onvif_api;
struct webrtc;
struct hub;
struct rtmp_api;
struct streams;
struct rtmp_server;

struct app {
	const struct config *cfg;
	struct hub *hub;
	struct streams *streams;  /* named streams; never NULL while serving */
	struct rtmp_server *rtmp; /* the RTMP ingest, NULL when off (ingest/) */
	struct hls *hls;          /* the HLS sessions (outputs/hls) */
	struct webrtc *webrtc;    /* the WebRTC sessions and their UDP port (outputs/webrtc); NULL
	                           * when off */
	struct rtmp_api *rtmp_api; /* seed 000's /rtmp registry (api/rtmp_api); NULL if none */
	struct onvif_api *onvif;  /* the ONVIF requests waiting for their jobs (api/onvif_api) */
	int64_t started_wall_us;  /* for uptime in metrics */
	int clients;              /* open viewers of every kind, for --max-clients */
	bool shutting_down;       /* set once the stop signal arrived */
};

/* The app of @wsi's context. */
struct app *app_of(struct lws *wsi);

#endif
