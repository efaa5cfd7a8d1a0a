/* error: the failure codes every client sees, and how each maps onto the wire.
 * The switches have no default so that -Wswitch flags a code added to the enum but not here. */
#include "error.h"

#include <jansson.h>

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
	}
	return "unknown"; /* only for a value outside the enum */
}

int cs_err_ws_close(enum cs_err e, int clean)
{
	switch (e) {
	case CS_BAD_REQUEST:
	case CS_SCHEME_NOT_ALLOWED:
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
	}
	return 500;
}

char *cs_err_json(enum cs_err e, const char *msg)
{
	json_t *j = json_pack("{s:s,s:s}", "error", msg, "code", cs_err_code(e));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}
