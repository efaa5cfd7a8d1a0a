/* stream_def: one stream definition (see stream_def.h). Service thread only. */
#include "stream_def.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "split.h"
#include "text.h"
#define STREAM_NAME_MAX 64
#define CRED_MAX_LEN 256
#define DEFAULT_IDLE_FPS 1.0

static const char *const known_keys[] = {
	"name", "rtsp_url", "channel", "subtype", "username", "password", "enabled",
	"always_on", "transport", "idle_fps", "publish", "publish_secret",
};
#define N_KNOWN (sizeof(known_keys) / sizeof(known_keys[0]))

bool stream_name_ok(const char *n)
{
	size_t len = strlen(n), dots = 0;
	if (len < 1 || len > STREAM_NAME_MAX)
		return false;
	for (const char *p = n; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '.' || c == '-'))
			return false;
		dots += c == '.';
	}
	return dots < len; /* "." and ".." cannot be a path segment */
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

void stream_def_free(struct stream_def *st)
{
	if (!st)
		return;
	free(st->name);
	free(st->rtsp_url);
	free(st->username);
	free(st->password);
	free(st->publish_secret);
	url_free(&st->url);
	free(st);
}

/* ---- one definition from JSON ---- */

/* A string field: absent, null and "" give NULL. */
static bool get_opt_string(const json_t *j, const char *key, const char **out, const char *ctx,
	struct cs_error *e)
{
	const json_t *v = json_object_get(j, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" must be a string", ctx, key);
	if (json_string_length(v) != strlen(json_string_value(v)))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" holds a NUL character", ctx,
			key);
	if (json_string_length(v))
		*out = json_string_value(v);
	return true;
}

static bool get_opt_bool(const json_t *j, const char *key, bool *out, const char *ctx,
	struct cs_error *e)
{
	const json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v))
		return true;
	if (!json_is_boolean(v))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" must be true or false", ctx, key);
	*out = json_is_true(v);
	return true;
}

static bool get_opt_int(const json_t *j, const char *key, bool *has, json_int_t *out,
	const char *ctx, struct cs_error *e)
{
	const json_t *v = json_object_get(j, key);
	*has = false;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" must be an integer", ctx, key);
	*has = true;
	*out = json_integer_value(v);
	return true;
}

static bool check_keys(const json_t *j, const char *ctx, struct cs_error *e)
{
	const char *key;
	json_t *v;
	char unknown[160] = "";
	size_t len = 0;
	int n = 0;

	json_object_foreach((json_t *)j, key, v) {
		bool known = false;
		for (size_t i = 0; i < N_KNOWN && !known; i++)
			known = !strcmp(key, known_keys[i]);
		if (known)
			continue;
		if (!strcmp(key, "streams"))
			return cs_refuse(e, CS_BAD_REQUEST, "%sa stream definition has no \"streams\": "
				"to load several, POST {\"streams\": [...]} to /api/config/streams", ctx);
		if (len < sizeof(unknown))
			len += (size_t)snprintf(unknown + len, sizeof(unknown) - len, "%s\"%.40s\"",
				n ? ", " : "", key);
		n++;
	}
	if (!n)
		return true;
	char allowed[200];
	size_t alen = 0;
	for (size_t i = 0; i < N_KNOWN; i++)
		alen += (size_t)snprintf(allowed + alen, sizeof(allowed) - alen, "%s%s",
			i ? ", " : "", known_keys[i]);
	return cs_refuse(e, CS_BAD_REQUEST, "%sunknown key%s %s (allowed: %s)", ctx,
		n > 1 ? "s" : "", unknown, allowed);
}

/* Validates the credentials and builds st->url from st->rtsp_url. */
static bool build_url(const struct url_policy *policy, struct stream_def *st, const char *ctx,
	struct cs_error *e)
{
	struct cs_error err;
	enum cs_err rc = url_parse(st->rtsp_url, policy, &st->url, &err);
	if (rc != CS_OK)
		return cs_refuse(e, rc, "%srtsp_url: %s", ctx, err.msg);
	if (!st->username && !st->password)
		return true;
	if (!st->username)
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"password\" needs a \"username\"", ctx);
	if (st->url.is_demo)
		return cs_refuse(e, CS_BAD_REQUEST, "%sthe demo: source takes no username or "
			"password", ctx);
	struct url_parts parts;
	if (st->url.has_credentials || (url_split(st->rtsp_url, &parts) && parts.userinfo))
		return cs_refuse(e, CS_BAD_REQUEST, "%srtsp_url already holds credentials: give "
			"them either there or as \"username\"/\"password\", not both", ctx);

	char *full = url_with_userinfo(st->rtsp_url, st->username, st->password);
	if (!full)
		return cs_refuse(e, CS_SERVER_BUSY, "out of memory");
	struct cam_url u;
	rc = url_parse(full, policy, &u, &err);
	free(full);
	if (rc != CS_OK)
		return cs_refuse(e, rc == CS_SERVER_BUSY ? rc : CS_BAD_REQUEST, "%sthe username and "
			"password do not fit in rtsp_url: %s", ctx, err.msg);
	url_free(&st->url);
	st->url = u;
	return true;
}

static bool check_credential(const char *v, const char *key, const char *ctx,
	struct cs_error *e)
{
	if (!v)
		return true;
	if (strlen(v) > CRED_MAX_LEN)
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" is longer than %d bytes", ctx, key,
			CRED_MAX_LEN);
	if (str_has_control(v))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"%s\" holds a control character", ctx, key);
	if (!strcmp(key, "username") && strchr(v, ':'))
		return cs_refuse(e, CS_BAD_REQUEST, "%s\"username\" cannot contain ':'", ctx);
	return true;
}

static char *dup_or_null(const char *v, bool *oom)
{
	char *d = v ? strdup(v) : NULL;
	if (v && !d)
		*oom = true;
	return d;
}

struct stream_def *stream_def_from_json(const json_t *j, const struct url_policy *policy,
	const char *where, struct cs_error *e)
{
	char ctx[160];
	str_copy(ctx, sizeof(ctx), where);
	if (!json_is_object(j)) {
		cs_fail(e, CS_BAD_REQUEST, "%sa stream must be a JSON object", ctx);
		return NULL;
	}

	const json_t *jn = json_object_get(j, "name");
	if (!jn || json_is_null(jn)) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"name\" is required", ctx);
		return NULL;
	}
	if (!json_is_string(jn) || !stream_name_ok(json_string_value(jn)) ||
		json_string_length(jn) != strlen(json_string_value(jn))) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"name\" must be 1 to %d characters of A-Z a-z 0-9 "
			"_ . - (not only dots)", ctx, STREAM_NAME_MAX);
		return NULL;
	}
	const char *name = json_string_value(jn);
	snprintf(ctx, sizeof(ctx), "%sstream \"%s\": ", where, name);
	if (!check_keys(j, ctx, e))
		return NULL;

	bool publish = false;
	const char *secret = NULL;
	if (!get_opt_bool(j, "publish", &publish, ctx, e) ||
		!get_opt_string(j, "publish_secret", &secret, ctx, e) ||
		!check_credential(secret, "publish_secret", ctx, e))
		return NULL;
	const json_t *ju = json_object_get(j, "rtsp_url");
	bool has_url = ju && !json_is_null(ju) && !(json_is_string(ju) && !json_string_length(ju));
	if (publish && has_url) {
		cs_fail(e, CS_BAD_REQUEST, "%sa stream is pulled from \"rtsp_url\" or fed by "
			"publishing (\"publish\": true), not both", ctx);
		return NULL;
	}
	if (!publish && secret) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"publish_secret\" goes with \"publish\": true", ctx);
		return NULL;
	}
	if (publish) {
		static const char *const pull_only[] = { "username", "password", "channel",
			"subtype", "transport", "always_on", "idle_fps" };
		for (size_t i = 0; i < sizeof(pull_only) / sizeof(pull_only[0]); i++) {
			const json_t *v = json_object_get(j, pull_only[i]);
			if (v && !json_is_null(v)) {
				cs_fail(e, CS_BAD_REQUEST, "%s\"%s\" is for pulled streams: a published "
					"stream runs while its publisher publishes", ctx, pull_only[i]);
				return NULL;
			}
		}
	} else if (!has_url) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"rtsp_url\" is required (or \"publish\": true for "
			"a stream fed by an RTMP publisher)", ctx);
		return NULL;
	} else if (!json_is_string(ju)) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"rtsp_url\" must be a string", ctx);
		return NULL;
	} else if (json_string_length(ju) != strlen(json_string_value(ju))) {
		cs_fail(e, CS_BAD_REQUEST, "%s\"rtsp_url\" holds a NUL character", ctx);
		return NULL;
	}

	struct stream_def *st = calloc(1, sizeof(*st));
	if (!st) {
		cs_fail(e, CS_SERVER_BUSY, "out of memory");
		return NULL;
	}
	st->enabled = true;
	st->transport = TRANSPORT_TCP;
	st->idle_fps = DEFAULT_IDLE_FPS;

	const char *user, *pass, *transport;
	if (!get_opt_bool(j, "enabled", &st->enabled, ctx, e) ||
		!get_opt_bool(j, "always_on", &st->always_on, ctx, e) ||
		!get_opt_int(j, "channel", &st->has_channel, &st->channel, ctx, e) ||
		!get_opt_int(j, "subtype", &st->has_subtype, &st->subtype, ctx, e) ||
		!get_opt_string(j, "username", &user, ctx, e) ||
		!get_opt_string(j, "password", &pass, ctx, e) ||
		!get_opt_string(j, "transport", &transport, ctx, e) ||
		!check_credential(user, "username", ctx, e) ||
		!check_credential(pass, "password", ctx, e))
		goto fail;

	if (transport) {
		/* the config file forgives case ("TCP"); a query does not */
		char low[8] = "";
		for (size_t i = 0; transport[i] && i + 1 < sizeof(low); i++)
			low[i] = ascii_lower(transport[i]);
		if (strlen(transport) >= sizeof(low) || !transport_parse(low, &st->transport)) {
			cs_fail(e, CS_BAD_REQUEST, "%s\"transport\" must be \"tcp\", \"udp\" or "
				"\"auto\"", ctx);
			goto fail;
		}
	}
	const json_t *jf = json_object_get(j, "idle_fps");
	if (jf && !json_is_null(jf)) {
		double f = json_is_number(jf) ? json_number_value(jf) : -1;
		if (!isfinite(f) || f < 0 || f > OUTPUT_MAX_FPS) {
			cs_fail(e, CS_BAD_REQUEST, "%s\"idle_fps\" must be a number from 0 (the "
				"camera's rate) to %g", ctx, OUTPUT_MAX_FPS);
			goto fail;
		}
		st->idle_fps = f;
	}

	bool oom = false;
	st->name = dup_or_null(name, &oom);
	st->rtsp_url = publish ? NULL : dup_or_null(json_string_value(ju), &oom);
	st->publish = publish;
	st->publish_secret = dup_or_null(secret, &oom);
	st->username = dup_or_null(user, &oom);
	st->password = dup_or_null(pass, &oom);
	if (oom) {
		cs_fail(e, CS_SERVER_BUSY, "out of memory");
		goto fail;
	}
	if (publish) {
		char shown[STREAM_NAME_MAX + 16];
		snprintf(shown, sizeof(shown), "publish:%s", name);
		st->url.text = dup_or_null(name, &oom);
		st->url.redacted = dup_or_null(shown, &oom);
		st->url.scheme = dup_or_null("publish", &oom);
		st->url.host = dup_or_null("", &oom);
		if (oom) {
			cs_fail(e, CS_SERVER_BUSY, "out of memory");
			goto fail;
		}
	} else if (!build_url(policy, st, ctx, e)) {
		goto fail;
	}
	return st;

fail:
	stream_def_free(st);
	return NULL;
}

bool stream_def_same(const struct stream_def *a, const struct stream_def *b)
{
	return !strcmp(a->name, b->name) && str_eq(a->rtsp_url, b->rtsp_url) &&
		a->publish == b->publish && str_eq(a->publish_secret, b->publish_secret) &&
		str_eq(a->username, b->username) && str_eq(a->password, b->password) &&
		a->enabled == b->enabled && a->always_on == b->always_on &&
		a->transport == b->transport && a->idle_fps == b->idle_fps &&
		a->has_channel == b->has_channel && (!a->has_channel || a->channel == b->channel) &&
		a->has_subtype == b->has_subtype && (!a->has_subtype || a->subtype == b->subtype);
}

struct stream_def **stream_def_parse_list(const json_t *arr, const struct url_policy *policy,
	const char *where, size_t *n, struct cs_error *e)
{
	size_t count = json_array_size(arr);
	struct stream_def **v = calloc(count ? count : 1, sizeof(*v));
	*n = 0;
	if (!v) {
		cs_fail(e, CS_SERVER_BUSY, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		char ctx[128];
		snprintf(ctx, sizeof(ctx), "%sstreams[%zu]: ", where, i);
		v[i] = stream_def_from_json(json_array_get(arr, i), policy, ctx, e);
		if (!v[i])
			goto fail;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(v[k]->name, v[i]->name)) {
				cs_fail(e, CS_BAD_REQUEST, "%sthe name \"%s\" is already used by "
					"streams[%zu]", ctx, v[i]->name, k);
				goto fail;
			}
	}
	*n = count;
	return v;

fail:
	for (size_t i = 0; i < count; i++)
		stream_def_free(v[i]);
	free(v);
	return NULL;
}

/* ---- back to JSON ---- */

json_t *stream_def_to_json(const struct stream_def *st)
{
	json_t *j = json_object();
	int bad = !j;
	bad = bad || json_object_set_new(j, "name", json_string(st->name));
	if (st->publish) {
		bad = bad || json_object_set_new(j, "publish", json_true());
		if (st->publish_secret)
			bad = bad || json_object_set_new(j, "publish_secret",
				json_string(st->publish_secret));
		bad = bad || json_object_set_new(j, "enabled", json_boolean(st->enabled));
		if (bad) {
			json_decref(j);
			return NULL;
		}
		return j;
	}
	bad = bad || json_object_set_new(j, "rtsp_url", json_string(st->rtsp_url));
	if (st->has_channel)
		bad = bad || json_object_set_new(j, "channel", json_integer(st->channel));
	if (st->has_subtype)
		bad = bad || json_object_set_new(j, "subtype", json_integer(st->subtype));
	if (st->username)
		bad = bad || json_object_set_new(j, "username", json_string(st->username));
	if (st->password)
		bad = bad || json_object_set_new(j, "password", json_string(st->password));
	bad = bad || json_object_set_new(j, "enabled", json_boolean(st->enabled));
	bad = bad || json_object_set_new(j, "always_on", json_boolean(st->always_on));
	bad = bad || json_object_set_new(j, "transport",
		json_string(transport_name(st->transport)));
	bad = bad || json_object_set_new(j, "idle_fps", json_real(st->idle_fps));
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

