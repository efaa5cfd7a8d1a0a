/* onvif_api: the ONVIF endpoints and seed 004's (lightStream) API:
 *
 *   POST   /api/onvif/probe        {"host","port","username","password","timeout"}: the device's
 *                                  information and media profiles with their RTSP URIs
 *   GET    /api/onvif/discover     ?timeout=S: WS-Discovery on the local networks
 *   POST   /openapi/onvif/device   seed 004's {"url","port","username","pwd"}: the same probe,
 *                                  with its main and sub stream picked out
 *   POST   /openapi/source/{id}    {"source","transport"}: named stream {id}, and its play URLs
 *   DELETE /openapi/source/{id}
 *
 * A probe or a discovery runs as an onvif_job on a thread of its own; the request waits for it
 * (the service thread goes on) and is answered when the worker's wake-up reaches
 * onvif_api_poll. A client that leaves first has its job cancelled; the job is freed once its
 * thread ends. Service thread only. */
#ifndef CAMSTREAM_ONVIF_API_H
#define CAMSTREAM_ONVIF_API_H

#include <libwebsockets.h>

struct app;
struct onvif_api;

/* The endpoints' state for @app; @notify(@arg) is what a worker calls when it ends (it must
 * make the service thread call onvif_api_poll). NULL if out of memory. */
struct onvif_api *onvif_api_create(struct app *app, void (*notify)(void *), void *arg);
/* Cancels the jobs still running, waits for their threads (each ends within about a second)
 * and detaches the requests waiting: lws may close them later. NULL is fine. */
void onvif_api_destroy(struct onvif_api *api);
/* Answers the requests whose job has ended; frees the jobs of requests that left. */
void onvif_api_poll(struct onvif_api *api);

/* The protocol mounted at /api/onvif and /openapi. */
extern const struct lws_protocols onvif_api_protocol;

#endif
