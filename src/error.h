/* error: the failure codes every client sees, and how each maps onto the wire. */
#ifndef CAMSTREAM_ERROR_H
#define CAMSTREAM_ERROR_H

#include <stddef.h>

enum cs_err {
	CS_OK = 0,
	CS_BAD_REQUEST,         /* malformed request or option */
	CS_SCHEME_NOT_ALLOWED,  /* URL scheme refused by policy */
	CS_OPEN_FAILED,         /* could not connect or open the source */
	CS_NOT_FOUND,           /* the camera answered 404 */
	CS_UNAUTHORIZED,        /* the camera refused the credentials (401/403) */
	CS_TIMEOUT,             /* open or read deadline passed */
	CS_UNSUPPORTED_CODEC,   /* no video stream, or none we can decode */
	CS_SOURCE_ENDED,        /* the stream stopped: cleanly, or the connection was lost */
	CS_SERVER_BUSY,         /* a server limit was reached */
	CS_ALREADY_EXISTS,      /* REST: a stream of that name exists (409) */
	CS_INTERNAL,            /* REST: the server failed, e.g. saving the config (500) */
	CS_INVALID_TOKEN,       /* --token is set and the request has no valid one (401) */
	CS_ORIGIN_NOT_ALLOWED,  /* a WebSocket from a page of an origin not allowed (403) */
	CS_HOST_NOT_ALLOWED,    /* --allow-hosts refuses the camera's host (403, close 1008) */
	CS_NAMED_ONLY,          /* --named-only refuses ad-hoc camera URLs (403, close 1008) */
	CS_URI_TOO_LONG,        /* the request line is over the limit (414) */
};

/* The code as it appears in JSON, e.g. "open_failed". Never NULL. */
const char *cs_err_code(enum cs_err e);

/* WebSocket close status for an error: 1008 bad request, 1013 busy, 1011 source failure.
 * CS_SOURCE_ENDED is 1000 when @clean, 1011 otherwise. */
int cs_err_ws_close(enum cs_err e, int clean);

/* Formats a message for a person into @err (nothing if @err is NULL or @errlen 0): the one way
 * rooms fill the err buffers of their interfaces. */
void cs_err_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The JSON every client is given: {"error":"<msg>","code":"<code>"}. Caller frees; NULL if
 * out of memory. */
char *cs_err_json(enum cs_err e, const char *msg);

/* HTTP status for an error: 400, 403, 404, 502, 503, 504. */
int cs_err_http_status(enum cs_err e);

#endif
