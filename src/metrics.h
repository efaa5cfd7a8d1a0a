/* metrics: GET /metrics in the Prometheus text format. Service thread only. */
#ifndef CAMSTREAM_METRICS_H
#define CAMSTREAM_METRICS_H

#include <libwebsockets.h>

/* Answers the request (LWS_CALLBACK_HTTP); returns what the callback should return. */
int metrics_reply(struct lws *wsi);

#endif
