/* error: the failure codes every client sees, and how each maps onto the wire.
 * The switches have no default so that -Wswitch flags a code added to the enum but not here. */
#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

const char *cs_err_code(enum cs_err e)
{
	switch (e) {
	case CS_OK: return "ok";
	case CS_BAD_REQUEST: return "bad_request";
	case CS_SCHEME_NOT_ALLOWED: return "scheme_not_allowed";
	case CS_OPEN_FAILED: return "open_failed";
	case CS_NOT_FOUND: return "not_found";
	case CS_UNAUTHORIZED: return "unauthorized";
	case CS_TIMEOUT: return "timeout";
	case CS_UNSUPPORTED_CODEC: return "unsupported_codec";
	case CS_SOURCE_ENDED: return "source_ended";
	case CS_SERVER_BUSY: return "server_busy";
	case CS_ALREADY_EXISTS: return "already_exists";
	case CS_INTERNAL: return "internal_error";
	case CS_INVALID_TOKEN: return "invalid_token";
	case CS_ORIGIN_NOT_ALLOWED: return "origin_not_allowed";
	case CS_HOST_NOT_ALLOWED: return "host_not_allowed";
	case CS_NAMED_ONLY: return "named_only";
	case CS_URI_TOO_LONG: return "uri_too_long";
	case CS_CLUSTER_CONFIG: return "cluster_config";
	}
	return "unknown"; /* only for a value outside the enum */
}

int cs_err_ws_close(enum cs_err e, bool clean)
{
	switch (e) {
	case CS_BAD_REQUEST:
	case CS_SCHEME_NOT_ALLOWED:
	case CS_INVALID_TOKEN:
	case CS_ORIGIN_NOT_ALLOWED:
	case CS_HOST_NOT_ALLOWED:
	case CS_NAMED_ONLY:
	case CS_URI_TOO_LONG:
	case CS_CLUSTER_CONFIG:
		return 1008; /* policy violation: the client asked for something we refuse */
	case CS_SERVER_BUSY:
		return 1013; /* try again later */
	case CS_SOURCE_ENDED:
		return clean ? 1000 : 1011;
	case CS_OK:
	case CS_OPEN_FAILED:
	case CS_NOT_FOUND:
	case CS_UNAUTHORIZED:
	case CS_TIMEOUT:
	case CS_UNSUPPORTED_CODEC:
	case CS_ALREADY_EXISTS:
	case CS_INTERNAL:
		break;
	}
	return 1011;
}

int cs_err_http_status(enum cs_err e)
{
	switch (e) {
	case CS_OK: return 200;
	case CS_BAD_REQUEST: return 400;
	case CS_SCHEME_NOT_ALLOWED: return 403;
	case CS_NOT_FOUND: return 404;
	/* The camera refused *our* credentials: a bad gateway, not a 401 for the browser, which
	 * would make it prompt for a login that has nothing to do with the camera. */
	case CS_UNAUTHORIZED: return 502;
	case CS_OPEN_FAILED: return 502;
	case CS_UNSUPPORTED_CODEC: return 502;
	case CS_SOURCE_ENDED: return 502;
	case CS_TIMEOUT: return 504;
	case CS_SERVER_BUSY: return 503;
	case CS_ALREADY_EXISTS: return 409;
	case CS_INTERNAL: return 500;
	case CS_INVALID_TOKEN: return 401;
	case CS_ORIGIN_NOT_ALLOWED: return 403;
	case CS_HOST_NOT_ALLOWED: return 403;
	case CS_NAMED_ONLY: return 403;
	case CS_URI_TOO_LONG: return 414;
	case CS_CLUSTER_CONFIG: return 409;
	}
	return 500;
}

static void fill(struct cs_error *e, enum cs_err code, const char *fmt, va_list ap)
{
	char msg[CS_ERROR_MSG + 64];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	e->code = code;
	e->clean = false;
	str_copy(e->msg, sizeof(e->msg), msg);
}

enum cs_err cs_fail(struct cs_error *e, enum cs_err code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	fill(e, code, fmt, ap);
	va_end(ap);
	return code;
}

bool cs_refuse(struct cs_error *e, enum cs_err code, const char *fmt, ...)
{
	if (!e)
		return false;
	va_list ap;
	va_start(ap, fmt);
	fill(e, code, fmt, ap);
	va_end(ap);
	return false;
}

enum cs_err cs_fail_oom(struct cs_error *e)
{
	return cs_fail(e, CS_SERVER_BUSY, "out of memory");
}

void cs_error_clear(struct cs_error *e)
{
	e->code = CS_OK;
	e->clean = false;
	e->msg[0] = '\0';
}
