/* http_reply: what every HTTP room shares on the service thread: reading the query, writing
 * complete small responses (JSON, errors). */
#ifndef CAMSTREAM_HTTP_REPLY_H
#define CAMSTREAM_HTTP_REPLY_H

#include <stddef.h>

#include <libwebsockets.h>

#include "error.h"

/* One extra response header, e.g. { "x-frame-age-ms:", "12" }. */
struct http_header {
	const char *name;   /* lowercase, with the trailing ':' */
	const char *value;
};

/* Writes status, headers and @body in one write (use from LWS_CALLBACK_HTTP or
 * HTTP_WRITEABLE, once per transaction). Adds cache-control: no-store and
 * access-control-allow-origin: *. Returns 0, or -1 if the write failed. */
int http_write_response(struct lws *wsi, unsigned int status, const char *type,
	const void *body, size_t len, const struct http_header *extra, size_t n_extra);

#define HTTP_MAX_ARGS 32

/* Copies the request's query fragments ("name=value", already percent-decoded by lws) into
 * one allocation, *@store (caller frees), pointing @args (HTTP_MAX_ARGS entries) into it.
 * Returns how many, -1 if out of memory, -2 if there are more than HTTP_MAX_ARGS.
 * Call before the headers are gone (for a WebSocket: in ESTABLISHED at the latest). */
int http_query_args(struct lws *wsi, char **store, const char **args);

/* http_write_response, then ends the transaction: returns what the lws callback should
 * return (0 to keep the connection alive, -1 to close it). */
int http_reply(struct lws *wsi, unsigned int status, const char *type, const void *body,
	size_t len);
/* {"error":..., "code":...} with @status (0 = cs_err_http_status(@e)). */
int http_reply_error(struct lws *wsi, unsigned int status, enum cs_err e, const char *msg);
/* A JSON text (not freed). */
int http_reply_json(struct lws *wsi, unsigned int status, const char *json);

#endif
