/* metrics: GET /metrics in the Prometheus text format. Service thread only. */
#ifndef CAMSTREAM_METRICS_H
#define CAMSTREAM_METRICS_H

#include <libwebsockets.h>

/* The protocol mounted at /metrics. */
extern const struct lws_protocols metrics_protocol;

#endif
