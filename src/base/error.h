/* error: the failure codes every client sees, and how each maps onto the wire. */
#ifndef CAMSTREAM_ERROR_H
#define CAMSTREAM_ERROR_H

#include <stdbool.h>
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
	CS_CLUSTER_CONFIG,      /* a cluster's stream definitions come from its config file, or
	                           its instances disagree on the peer list (409, close 1008) */
};

/* The one error type: what failed, for a program (code) and for a person (msg: never with
 * credentials). Rooms fill one through cs_fail() and hand it up unchanged; the web layer
 * turns it into JSON, an HTTP status or a WebSocket close. Owned by whoever declared it. */
#define CS_ERROR_MSG 384
struct cs_error {
	enum cs_err code;
	bool clean;              /* CS_SOURCE_ENDED: the stream ended rather than was lost */
	char msg[CS_ERROR_MSG];
};

/* Fills @e (if not NULL) with @code and the formatted message, cut at a character boundary,
 * and returns @code, so that `return cs_fail(e, CS_BAD_REQUEST, "...")` reads as it does. */
enum cs_err cs_fail(struct cs_error *e, enum cs_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for functions that answer true or false: fills @e and returns false. */
bool cs_refuse(struct cs_error *e, enum cs_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Out of memory: the server is busy (a client that retries later may well succeed). */
enum cs_err cs_fail_oom(struct cs_error *e);
/* @e to CS_OK and an empty message. */
void cs_error_clear(struct cs_error *e);

/* The code as it appears in JSON, e.g. "open_failed". Never NULL. */
const char *cs_err_code(enum cs_err e);

/* WebSocket close status for an error: 1008 bad request, 1013 busy, 1011 source failure.
 * CS_SOURCE_ENDED is 1000 when @clean, 1011 otherwise. */
int cs_err_ws_close(enum cs_err e, bool clean);

/* HTTP status for an error: 400, 401, 403, 404, 409, 414, 500, 502, 503, 504. */
int cs_err_http_status(enum cs_err e);

#endif
