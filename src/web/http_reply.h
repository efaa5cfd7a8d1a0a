/* http_reply: what every room that answers over HTTP or WebSocket shares on the service
 * thread: reading the query, writing complete small responses, and the one JSON shape of an
 * error, {"error":"<message>","code":"<code>"}. */
#ifndef CAMSTREAM_HTTP_REPLY_H
#define CAMSTREAM_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "error.h"

/* The JSON every client is given for @e: {"error":"<msg>","code":"<code>"} (the message
 * cleaned to UTF-8). Caller frees; NULL if out of memory. */
char *http_error_json(enum cs_err e, const char *msg);

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
/* The same headers alone, for a body of @len bytes that follows in later writes. */
int http_write_head(struct lws *wsi, unsigned int status, const char *type, size_t len,
	const struct http_header *extra, size_t n_extra);

#define HTTP_MAX_ARGS 32

/* The request's query fragments ("name=value", already percent-decoded by lws), copied into
 * one allocation @q->store (query_free frees it), @q->args pointing into it. The one reader
 * of a query. Call before the headers are gone (for a WebSocket: in ESTABLISHED at the
 * latest). CS_OK, CS_SERVER_BUSY (out of memory) or CS_BAD_REQUEST (too many). */
struct query {
	char *store;
	const char *args[HTTP_MAX_ARGS];
	int n;
};
enum cs_err http_query(struct lws *wsi, struct query *q, struct cs_error *err);
/* The value of the first "@name=value" fragment, or NULL. */
const char *query_get(const struct query *q, const char *name);
/* An endpoint's own "@name=0|1" option, taken out of @q (the rest moves down): *@out gets
 * its value, and stays as it was when the option is absent. CS_BAD_REQUEST when it is given
 * twice or is neither 0 nor 1. */
enum cs_err query_take_bool(struct query *q, const char *name, bool *out,
	struct cs_error *err);
void query_free(struct query *q);

/* http_write_response, then ends the transaction: returns what the lws callback should
 * return (0 to keep the connection alive, -1 to close it). */
int http_reply(struct lws *wsi, unsigned int status, const char *type, const void *body,
	size_t len);
/* {"error":..., "code":...} with @status (0 = cs_err_http_status(@e)). */
int http_reply_error(struct lws *wsi, unsigned int status, enum cs_err e, const char *msg);
/* The same for an error filled by a room. */
int http_reply_cs(struct lws *wsi, const struct cs_error *e);
/* The request's Content-Length, or -1 if absent or unreadable. */
long long http_content_length(struct lws *wsi);
/* A JSON text (not freed). */
int http_reply_json(struct lws *wsi, unsigned int status, const char *json);

#endif
