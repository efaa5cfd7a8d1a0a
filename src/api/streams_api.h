/* streams_api: the REST API of named streams (seed 001): /api/streams, /api/streams/{name},
 * .../start, .../stop, .../snapshot, .../frame, DELETE, POST /api/config/streams. Reads JSON
 * bodies, answers JSON. Service thread only. */
#ifndef CAMSTREAM_STREAMS_API_H
#define CAMSTREAM_STREAMS_API_H

#include <libwebsockets.h>

/* The protocol mounted at /api/streams and /api/config. */
extern const struct lws_protocols streams_api_protocol;

#endif
