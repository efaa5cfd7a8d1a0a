/* error: the failure codes every client sees, and how each maps onto the wire.
 * The switches have no default so that -Wswitch flags a code added to the enum but not here. */
#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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
	case CS_INVALID_TOKEN: return "invalid_token";
	case CS_ORIGIN_NOT_ALLOWED: return "origin_not_allowed";
	case CS_HOST_NOT_ALLOWED: return "host_not_allowed";
	case CS_NAMED_ONLY: return "named_only";
	case CS_URI_TOO_LONG: return "uri_too_long";
	}
	return "unknown"; /* only for a value outside the enum */
}

int cs_err_ws_close(enum cs_err e, int clean)
{
	switch (e) {
	case CS_BAD_REQUEST:
	case CS_SCHEME_NOT_ALLOWED:
	case CS_INVALID_TOKEN:
	case CS_ORIGIN_NOT_ALLOWED:
	case CS_HOST_NOT_ALLOWED:
	case CS_NAMED_ONLY:
	case CS_URI_TOO_LONG:
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
	}
	return 500;
}

/* Copies @in into @out, replacing every byte that is not part of a well-formed UTF-8 sequence
 * by '?': messages hold user input and text cut at a byte limit, and JSON needs UTF-8. */
static void utf8_clean(const char *in, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	while (*s && o + 5 < cap) {
		int n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
			: (*s & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0 && !(n == 2 && *s < 0xc2) && !(n == 4 && *s > 0xf4);
		for (int i = 1; ok && i < n; i++)
			ok = (s[i] & 0xc0) == 0x80;
		if (ok && n == 3) /* no overlong forms, no UTF-16 surrogates */
			ok = !(s[0] == 0xe0 && s[1] < 0xa0) && !(s[0] == 0xed && s[1] >= 0xa0);
		if (ok && n == 4)
			ok = !(s[0] == 0xf0 && s[1] < 0x90) && !(s[0] == 0xf4 && s[1] >= 0x90);
		if (!ok) {
			out[o++] = '?';
			s++;
			continue;
		}
		memcpy(out + o, s, (size_t)n);
		o += (size_t)n;
		s += n;
	}
	out[o] = '\0';
}

char *cs_err_json(enum cs_err e, const char *msg)
{
	char clean[1024];
	utf8_clean(msg ? msg : "", clean, sizeof(clean));
	json_t *j = json_pack("{s:s,s:s}", "error", clean, "code", cs_err_code(e));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

void cs_err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
