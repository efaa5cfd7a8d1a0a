/* options: the per-connection query options, from "name=value" fragments that lws has already
 * percent-decoded (so nothing is decoded here). Pure: safe on any thread.
 *
 * Number syntax is strict, so a typo is reported rather than half-read: plain decimal digits
 * only, no sign, no spaces, no hex, no exponent ("+5", " 5", "0x10", "1e2" are refused); fps
 * may have one '.' ("0.5", "12.5"). Empty fragments (from "a=1&&b=2" or a trailing '&') are
 * skipped; a fragment without '=' is refused.
 *
 * What an error echoes: known names, and up to ECHO_MAX bytes of the value of a number or
 * transport option. Never the camera URL, and never an unknown name that follows rtsp_url:
 * an unencoded '&' in the camera URL splits it, and the next fragment may be a piece of its
 * password. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX 40
#define ENCODE_HINT "if it belongs to the camera URL, percent-encode rtsp_url (encodeURIComponent)"

enum opt_id {
	OPT_SRC, OPT_NAME, OPT_TOKEN, OPT_FPS, OPT_WIDTH, OPT_HEIGHT, OPT_QUALITY, OPT_TRANSPORT,
	OPT_RELAY, OPT_COUNT
};

static const struct {
	const char *name;
	enum opt_id id;
} opt_names[] = {
	{ "rtsp_url", OPT_SRC }, { "cam_url", OPT_SRC }, { "fps", OPT_FPS },
	{ "width", OPT_WIDTH }, { "height", OPT_HEIGHT }, { "quality", OPT_QUALITY },
	{ "transport", OPT_TRANSPORT }, { "name", OPT_NAME }, { "token", OPT_TOKEN },
	{ "relay", OPT_RELAY },
};

/* A printable, bounded copy of user input for a message: at most ECHO_MAX bytes (then "..."),
 * with control bytes, quotes and backslashes shown as '?'. */
static void echo(char out[ECHO_MAX + 4], const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < ECHO_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	if (n > ECHO_MAX) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Decimal digits with at most one '.', at least one digit. strtod then reads it; camstream
 * never calls setlocale(), so the decimal point is '.'. */
static bool parse_fps(const char *s, double *out)
{
	const char *p;
	char *end;
	int digits = 0, dots = 0;
	double v;

	for (p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.')
			dots++;
		else
			return false;
	}
	if (!digits || dots > 1)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > OUTPUT_MAX_FPS)
		return false;
	*out = v;
	return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	if (!all_digits(s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* @after_src: a camera URL came earlier, so @val may be the tail of its password cut off by an
 * unencoded '&': it is then not repeated in the message. */
static enum cs_err apply(struct stream_opts *o, enum opt_id id, const char *name,
	const char *val, bool after_src, struct cs_error *err)
{
	char shown[ECHO_MAX + 4];

	if (after_src)
		snprintf(shown, sizeof(shown), "(not shown)");
	else
		echo(shown, val, strlen(val));
	switch (id) {
	case OPT_SRC:
		if (!*val)
			return cs_fail(err, CS_BAD_REQUEST, "%s is empty", name);
		o->src = strdup(val);
		if (!o->src)
			return cs_fail_oom(err);
		return CS_OK;
	case OPT_TOKEN:
		return CS_OK; /* the access token: checked before the options are */
	case OPT_NAME:
		if (!*val)
			return cs_fail(err, CS_BAD_REQUEST, "name is empty");
		o->name = strdup(val);
		if (!o->name)
			return cs_fail_oom(err);
		return CS_OK;
	case OPT_FPS:
		if (parse_fps(val, &o->fps))
			return CS_OK;
		return cs_fail(err, CS_BAD_REQUEST, "fps must be a number greater than 0 and at most "
			"%g (got \"%s\")", OUTPUT_MAX_FPS, shown);
	case OPT_WIDTH:
	case OPT_HEIGHT:
		if (parse_int(val, 1, OPTS_MAX_DIM, id == OPT_WIDTH ? &o->width : &o->height))
			return CS_OK;
		return cs_fail(err, CS_BAD_REQUEST, "%s must be an integer from 1 to %d (got \"%s\")",
			name, OPTS_MAX_DIM, shown);
	case OPT_QUALITY:
		if (parse_int(val, 1, 100, &o->quality))
			return CS_OK;
		return cs_fail(err, CS_BAD_REQUEST, "quality must be an integer from 1 to 100 (got "
			"\"%s\")", shown);
	case OPT_TRANSPORT:
		if (transport_parse(val, &o->transport))
			return CS_OK;
		return cs_fail(err, CS_BAD_REQUEST, "transport must be tcp, udp or auto (got \"%s\")",
			shown);
	case OPT_RELAY:
		if (parse_int(val, 1, 1000, &o->relay))
			return CS_OK;
		return cs_fail(err, CS_BAD_REQUEST, "relay must be an instance number (got \"%s\")",
			shown);
	case OPT_COUNT:
		break;
	}
	return cs_fail(err, CS_BAD_REQUEST, "internal error: option %d", (int)id);
}

/* An unknown name, or a fragment without '='. @after_src: a camera URL came earlier, so the
 * fragment may be a piece of it and is not shown. */
static enum cs_err unknown(const char *frag, size_t name_len, bool has_eq, bool after_src,
	struct cs_error *err)
{
	char shown[ECHO_MAX + 4];
	size_t i;
	bool plain = name_len > 0 && name_len <= ECHO_MAX;

	for (i = 0; i < name_len && plain; i++)
		plain = (frag[i] >= 'a' && frag[i] <= 'z') || (frag[i] >= 'A' && frag[i] <= 'Z') ||
			(frag[i] >= '0' && frag[i] <= '9') || frag[i] == '_' || frag[i] == '-';
	if (after_src || !plain)
		return cs_fail(err, CS_BAD_REQUEST, "unknown query parameter; " ENCODE_HINT);
	echo(shown, frag, name_len);
	if (has_eq)
		return cs_fail(err, CS_BAD_REQUEST, "unknown query parameter \"%s\"; " ENCODE_HINT,
			shown);
	return cs_fail(err, CS_BAD_REQUEST, "query parameter \"%s\" has no value (name=value); "
		ENCODE_HINT, shown);
}

static int find_opt(const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < sizeof(opt_names) / sizeof(opt_names[0]); k++)
		if (strlen(opt_names[k].name) == len && memcmp(opt_names[k].name, name, len) == 0)
			return (int)k;
	return -1;
}

enum cs_err opts_parse(struct stream_opts *o, const char *const *args, size_t n,
	struct cs_error *err)
{
	const char *seen[OPT_COUNT] = { NULL }; /* the name each option was given under */
	const char *frag, *eq, *name;
	size_t i, name_len;
	enum cs_err rc;
	enum opt_id id;
	int k;

	if (err)
		cs_error_clear(err);
	if (!o)
		return cs_fail(err, CS_BAD_REQUEST, "no place for the options");
	*o = (struct stream_opts){ .quality = 80, .transport = TRANSPORT_TCP };
	for (i = 0; i < n; i++) {
		frag = args ? args[i] : NULL;
		if (!frag || !*frag)
			continue;
		eq = strchr(frag, '=');
		name_len = eq ? (size_t)(eq - frag) : strlen(frag);
		k = find_opt(frag, name_len);
		if (k < 0) {
			rc = unknown(frag, name_len, eq != NULL, seen[OPT_SRC] != NULL, err);
			goto fail;
		}
		name = opt_names[k].name;
		id = opt_names[k].id;
		rc = CS_BAD_REQUEST;
		if (!eq) {
			cs_fail(err, CS_BAD_REQUEST, "%s has no value (%s=...)", name, name);
			goto fail;
		}
		if (seen[id] && strcmp(seen[id], name) != 0) {
			cs_fail(err, CS_BAD_REQUEST, "give either rtsp_url or cam_url, not both");
			goto fail;
		}
		if (seen[id]) {
			cs_fail(err, CS_BAD_REQUEST, "%s is given more than once", name);
			goto fail;
		}
		seen[id] = name;
		rc = apply(o, id, name, eq + 1, seen[OPT_SRC] != NULL && id != OPT_SRC, err);
		if (rc != CS_OK)
			goto fail;
	}
	if (o->src && o->name) {
		rc = CS_BAD_REQUEST;
		cs_fail(err, CS_BAD_REQUEST, "give either a camera URL (rtsp_url) or a stream name, "
			"not both");
		goto fail;
	}
	return CS_OK;

fail:
	opts_free(o);
	return rc;
}

void opts_free(struct stream_opts *o)
{
	if (!o)
		return;
	free(o->src);
	o->src = NULL;
	free(o->name);
	o->name = NULL;
}

struct output_params opts_output(const struct stream_opts *o)
{
	return (struct output_params){
		.fps_max = o->fps,
		.width = o->width,
		.height = o->height,
		.quality = o->quality,
	};
}
