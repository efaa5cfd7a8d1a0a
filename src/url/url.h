/* url: the camera URL a client asked for: parsed, checked against the scheme policy, with its
 * redacted form for everything that is shown. Pure functions: safe on any thread. */
#ifndef CAMSTREAM_URL_H
#define CAMSTREAM_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "schemes.h"

#define URL_MAX_LEN 8192

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
	struct cs_error *err);
void url_free(struct cam_url *u);

/* @s with every byte but RFC 3986's unreserved ones percent-encoded, as a user name or
 * password must be to go into a URL's userinfo. Caller frees; NULL if out of memory. */
char *url_percent_encode(const char *s);

/* @text (a URL with an authority) with its userinfo replaced by @user and @pass (NULL: no
 * password), both percent-encoded; @user NULL: without any userinfo. Caller frees; NULL if out
 * of memory or @text has no authority. */
char *url_with_userinfo(const char *text, const char *user, const char *pass);

/* @text (a URL with an authority) with its host replaced by @host (an address; IPv6 gets its
 * brackets), port, path and credentials kept. Caller frees; NULL if out of memory. */
char *url_with_host(const char *text, const char *host);

#endif
