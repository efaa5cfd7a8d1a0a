/* rtmp_api: seed 000's snapshot API on any named stream (config streams and published RTMP
 * keys alike, whatever streams_resolve knows):
 *
 *   GET    /rtmp/snapshot/{key}  image/jpeg, the newest captured picture; the first request
 *                                of a key registers it (one picture a second from then on)
 *   GET    /rtmp/status/{key}    {"success":true,"data":{"stream_key","capture_count",
 *                                "is_online","last_update"}}
 *   GET    /rtmp/list            {"success":true,"data":[...the same objects...]}
 *   DELETE /rtmp/remove/{key}    {"success":true,"message":"stream KEY removed"}
 *
 * Failures are {"success":false,"message":...} with the HTTP status. A registration is a hub
 * subscription to a 1 fps picture output that lives until DELETE; the newest picture is kept
 * in memory. When its stream ends or fails the registration stays (offline, count kept) and
 * subscribes again once the key resolves again. Service thread only. */
#ifndef CAMSTREAM_RTMP_API_H
#define CAMSTREAM_RTMP_API_H

#include <libwebsockets.h>

struct app;
struct rtmp_api;

/* At most this many keys are registered at once; more are refused with 503. */
#define RTMP_API_MAX_KEYS 256
/* is_online: a picture within this many seconds (seed 000's rule). */
#define RTMP_API_ONLINE_S 10

/* The registry of @app (its hub and streams must outlive it). NULL if out of memory. */
struct rtmp_api *rtmp_api_create(struct app *app);
/* Drops every registration (unsubscribing) and detaches the requests still waiting: lws may
 * close them later without touching the registry. NULL is fine. */
void rtmp_api_destroy(struct rtmp_api *api);
/* From the server's periodic tick (any rate): once a second, lets go of subscriptions whose
 * source ended or failed and subscribes offline keys that resolve again. */
void rtmp_api_tick(struct rtmp_api *api);

/* The protocol mounted at /rtmp. */
extern const struct lws_protocols rtmp_api_protocol;

#endif
