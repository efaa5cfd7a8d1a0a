/* schemes: which URL schemes may reach a source, the one list of each kind. rtsp, rtsps, rtmp,
 * rtmps and the demo source are always allowed; --allow-schemes may add network schemes such
 * as http, https, srt, udp; local or composing schemes (file, concat, subfile, pipe, data,
 * fd, crypto, cache, ...) can never be allowed, whatever a policy says, and the worker checks
 * the same list again before FFmpeg sees a URL. Pure: any thread. */
#ifndef CAMSTREAM_SCHEMES_H
#define CAMSTREAM_SCHEMES_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct url_policy {
	char extra[16][16]; /* lowercase scheme names added by --allow-schemes */
	int n_extra;
};

/* Adds @scheme (case-insensitive). CS_OK, or CS_BAD_REQUEST with a message in @err for a
 * scheme that can never be allowed, an unknown one, or a full list. */
enum cs_err url_policy_allow(struct url_policy *p, const char *scheme, struct cs_error *err);
/* Whether @p lets @scheme reach a source. */
bool url_policy_allows(const struct url_policy *p, const char *scheme);

/* The @n bytes at @s name a scheme that can never reach FFmpeg. */
bool url_scheme_never(const char *s, size_t n);
/* ... one that --allow-schemes may add. */
bool url_scheme_allowable(const char *s, size_t n);
/* ... one of any list, or "demo": a scheme, not a user name. */
bool url_scheme_known(const char *s, size_t n);
/* A well-formed scheme name: a letter, then letters, digits, '+', '-', '.'. */
bool url_scheme_name_ok(const char *s);
/* The scheme's default port (554 rtsp, 322 rtsps, 1935 rtmp, 443 rtmps and https, 80 http),
 * 0 if it has none. */
int url_scheme_default_port(const char *scheme);

/* "demo:" and "demo://" in any case: the built-in test pattern. */
bool url_is_demo(const char *text);

#endif
