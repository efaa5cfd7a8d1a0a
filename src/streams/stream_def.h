/* stream_def: one named stream's definition, as the config file and the REST API give it
 * (seed 001's fields plus ours): parsed and checked from JSON, written back as the file holds
 * it. Credentials given beside rtsp_url are put into the URL's authority, percent-encoded
 * (FFmpeg decodes the userinfo), and only that combined URL reaches a source; replies and
 * logs show the redacted URL and "***" for the credential fields. Service thread only. */
#ifndef CAMSTREAM_STREAM_DEF_H
#define CAMSTREAM_STREAM_DEF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "source.h"
#include "url.h"

#define STREAM_NAME_MAX 64

struct stream_def {
	/* as the file holds it */
	char *name;
	char *rtsp_url;             /* as given, credentials included: written back as is */
	char *username, *password;  /* NULL when absent */
	/* fed by publishing (RTMP push to live/NAME) instead of rtsp_url (NULL then) */
	bool publish;
	char *publish_secret;       /* a publisher may give it instead of --token; NULL: none */
	bool enabled, always_on;
	enum transport transport;
	double idle_fps;
	bool has_channel, has_subtype;
	json_int_t channel, subtype;
	/* derived */
	struct cam_url url;         /* rtsp_url with the credentials put in: what FFmpeg opens;
	                             * for a published stream: text = the name, redacted =
	                             * "publish:NAME", scheme "publish", host "" */
};

/* Whether @name may name a stream: 1 to 64 of A-Z a-z 0-9 _ . -, not only dots. */
bool stream_name_ok(const char *name);

/* A new definition from the object @j, or NULL with @err. @where prefixes messages
 * (e.g. "streams[2]: "). */
struct stream_def *stream_def_from_json(const json_t *j, const struct url_policy *policy,
	const char *where, struct cs_error *err);
void stream_def_free(struct stream_def *d); /* NULL is fine */
/* Whether @a and @b define the same stream. */
bool stream_def_same(const struct stream_def *a, const struct stream_def *b);
/* The definitions of the array @arr, all valid and with distinct names, or NULL with @err.
 * *@n is their count (the array may be NULL when it is 0). */
struct stream_def **stream_def_parse_list(const json_t *arr, const struct url_policy *policy,
	const char *where, size_t *n, struct cs_error *err);
/* @d as the config file holds it (credentials as given), NULL if out of memory. Caller
 * decrefs. */
json_t *stream_def_to_json(const struct stream_def *d);

#endif
