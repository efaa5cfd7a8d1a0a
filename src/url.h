/* url: the camera URL a client asked for. Validation with uriparser, the scheme policy,
 * credential redaction. Pure functions: safe on any thread. */
#ifndef CAMSTREAM_URL_H
#define CAMSTREAM_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define URL_MAX_LEN 8192

/* Which schemes may reach a source. rtsp, rtsps, rtmp, rtmps and the demo source are always
 * allowed; url_policy_allow() adds network schemes such as http, https, srt, udp.
 * Local or composing schemes (file, concat, subfile, pipe, data, fd, crypto, cache, ...)
 * can never be allowed. */
struct url_policy {
	char extra[16][16]; /* lowercase scheme names added by --allow-schemes */
	int n_extra;
};

/* Adds @scheme (case-insensitive). false, with a message in @err, for a scheme that can
 * never be allowed, an unknown one, or a full list. */
bool url_policy_allow(struct url_policy *p, const char *scheme, char *err, size_t errlen);
bool url_policy_allows(const struct url_policy *p, const char *scheme);

struct cam_url {
	char *text;      /* the URL as given, validated; what FFmpeg opens (owned) */
	char *redacted;  /* userinfo and secret query values replaced by "***" (owned) */
	char *scheme;    /* lowercase, e.g. "rtsp" (owned) */
	char *host;      /* without brackets for IPv6; "" for demo: (owned) */
	int port;        /* explicit port, or the scheme's default (554 rtsp, 322 rtsps,
	                    1935 rtmp, 443 rtmps/https, 80 http), 0 if none */
	bool has_credentials;
	bool is_demo;    /* the built-in test pattern: "demo:" */
};

/* Parses and checks @text (already percent-decoded by the HTTP layer: not decoded again).
 * CS_OK and a filled @out, or CS_BAD_REQUEST / CS_SCHEME_NOT_ALLOWED with a message for a
 * person in @err that never contains credentials. @out is zeroed on failure. */
enum cs_err url_parse(const char *text, const struct url_policy *policy, struct cam_url *out,
	char *err, size_t errlen);
void url_free(struct cam_url *u);

/* @s with every byte but RFC 3986's unreserved ones percent-encoded, as a user name or
 * password must be to go into a URL's userinfo. Caller frees; NULL if out of memory. */
char *url_percent_encode(const char *s);

/* Redacts any URL-looking text into @out (always NUL-terminated). Never fails: text that
 * does not parse is reduced to its scheme and "***". */
void url_redact(const char *text, char *out, size_t outlen);

#endif
