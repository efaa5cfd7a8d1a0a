/* streams: the named streams. A definition is what the config file holds (seed 001's fields
 * plus ours); the camera session itself lives in the hub, which this room drives with
 * hub_stream_start/stop and asks for status with hub_stream_info.
 *
 * This file keeps the registry, the runtime, the status and the API's changes; one definition
 * (from JSON, its credentials, back to JSON) is in streams_def.c, the config file in
 * streams_file.c, and what they share in streams_internal.h.
 *
 * Service thread only. */
#include "streams.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "log.h"
#include "options.h"
#include "streams_internal.h"

#define ONLINE_US (10 * 1000000LL)  /* is_online: a frame within this (seed 000) */
#define FLOWING_US (5 * 1000000LL)  /* playing: PLAYING and a frame within this */

/* ---- small helpers ---- */

bool streams_fail(struct streams_err *e, enum cs_err code, unsigned int status,
	const char *fmt, ...)
{
	va_list ap;
	e->code = code;
	e->http_status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return false;
}

static struct stream *find(struct streams *s, const char *name, size_t *index)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (!strcmp(s->v[i]->name, name)) {
			if (index)
				*index = i;
			return s->v[i];
		}
	return NULL;
}

bool streams_push(struct streams *s, struct stream *st)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct stream **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return false;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = st;
	return true;
}

static void take_out(struct streams *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

/* ---- runtime ---- */

static void fill_def(const struct stream *st, struct hub_stream_def *def)
{
	*def = (struct hub_stream_def){
		.name = st->name,
		.url = st->url.text,
		.display_url = st->url.redacted,
		.host = st->url.host,
		.port = st->url.port,
		.is_demo = st->url.is_demo,
		.transport = st->transport,
		.idle_fps = st->idle_fps,
	};
}

/* Starts @st if it should capture with no viewer (always on, or started through the API).
 * A refusal is kept for the status and logged; the stream stays defined. */
static enum cs_err run_if_wanted(struct streams *s, struct stream *st, char *err, size_t errlen)
{
	st->start_error[0] = '\0';
	if (!st->enabled || !(st->always_on || st->started))
		return CS_OK;
	struct hub_stream_def def;
	fill_def(st, &def);
	enum cs_err rc = hub_stream_start(s->hub, &def, err, errlen);
	if (rc != CS_OK) {
		copy_str(st->start_error, sizeof(st->start_error), err);
		log_warn("stream %s: cannot start: %s", st->name, err);
	}
	return rc;
}

void streams_run_always_on(struct streams *s, struct stream *st)
{
	char err[160];
	run_if_wanted(s, st, err, sizeof(err));
}

/* ---- status ---- */

static const char *state_name(const struct stream *st, const struct hub_source_info *info)
{
	if (!st->enabled)
		return "stopped";
	if (!info)
		return "idle";
	switch (info->stats.state) {
	case SOURCE_OPENING: return "connecting";
	case SOURCE_PLAYING: return "playing";
	case SOURCE_RECONNECTING: return "reconnecting";
	case SOURCE_FAILED: return "failed";
	case SOURCE_ENDED: return "ended";
	}
	return "unknown";
}

static json_t *opt_int(bool has, json_int_t v)
{
	return has ? json_integer(v) : json_null();
}

static json_t *opt_str(const char *v)
{
	return v && *v ? json_string(v) : json_null();
}

static json_t *iso_time(int64_t wall_us)
{
	if (wall_us <= 0)
		return json_null();
	time_t t = (time_t)(wall_us / 1000000);
	struct tm tm;
	char buf[32];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(buf);
}

static json_t *status_json(struct streams *s, const struct stream *st)
{
	struct hub_source_info info;
	const struct hub_source_info *in = NULL;
	if (st->enabled && hub_stream_info(s->hub, st->name, &info))
		in = &info;
	const struct source_stats *ss = in ? &in->stats : NULL;
	int64_t now = clock_wall_us();
	int64_t last = ss ? ss->last_frame_wall_us : 0;
	bool connected = ss && ss->state == SOURCE_PLAYING;
	const char *error = NULL, *error_code = NULL;
	if (ss && ss->last_error != CS_OK) {
		error = ss->last_error_msg[0] ? ss->last_error_msg : cs_err_code(ss->last_error);
		error_code = cs_err_code(ss->last_error);
	} else if (st->start_error[0]) {
		error = st->start_error;
	}

	json_t *j = json_object();
	int bad = !j;
#define SET(key, value) (bad = bad || json_object_set_new(j, key, value))
	SET("name", json_string(st->name));
	SET("rtsp_url", json_string(st->url.redacted));
	SET("enabled", json_boolean(st->enabled));
	SET("always_on", json_boolean(st->always_on));
	SET("transport", json_string(opts_transport_name(st->transport)));
	SET("idle_fps", json_real(st->idle_fps));
	SET("channel", opt_int(st->has_channel, st->channel));
	SET("subtype", opt_int(st->has_subtype, st->subtype));
	SET("username", opt_str(st->username ? "***" : NULL));
	SET("password", opt_str(st->password ? "***" : NULL));
	SET("state", json_string(state_name(st, in)));
	SET("connected", json_boolean(connected));
	SET("playing", json_boolean(connected && last && now - last < FLOWING_US));
	SET("is_online", json_boolean(last && now - last < ONLINE_US));
	SET("packets_received", json_integer(ss ? (json_int_t)ss->packets_received : 0));
	SET("frames_received", json_integer(ss ? (json_int_t)ss->frames_decoded : 0));
	SET("frames_encoded", json_integer(ss ? (json_int_t)ss->frames_encoded : 0));
	SET("capture_count", json_integer(ss ? (json_int_t)ss->frames_encoded : 0));
	SET("bytes_received", json_integer(ss ? (json_int_t)ss->bytes_received : 0));
	SET("last_frame_time", last ? json_real((double)last / 1e6) : json_null());
	SET("last_update", iso_time(last));
	SET("viewers", json_integer(in ? in->viewers : 0));
	SET("width", ss && ss->width ? json_integer(ss->width) : json_null());
	SET("height", ss && ss->height ? json_integer(ss->height) : json_null());
	SET("codec", opt_str(ss ? ss->codec : NULL));
	SET("fps", ss && ss->fps > 0 ? json_real(round(ss->fps * 100) / 100) : json_null());
	SET("reconnects", json_integer(ss ? (json_int_t)ss->reconnects : 0));
	SET("error", opt_str(error));
	SET("error_code", opt_str(error_code));
#undef SET
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *streams_status_json(struct streams *s, const char *name)
{
	struct stream *st = find(s, name, NULL);
	return st ? status_json(s, st) : NULL;
}

json_t *streams_list_json(struct streams *s)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < s->n; i++)
		if (json_array_append_new(arr, status_json(s, s->v[i]))) {
			json_decref(arr);
			arr = NULL;
		}
	if (!arr)
		return NULL;
	return json_pack("{s:I,s:o}", "total", (json_int_t)s->n, "streams", arr);
}

/* ---- changes ---- */

static bool not_found(struct streams_err *e, const char *name)
{
	return streams_fail(e, CS_NOT_FOUND, 404, "no stream named \"%.64s\"", name ? name : "");
}

bool streams_add(struct streams *s, const json_t *def, struct streams_err *e)
{
	struct stream *st = streams_def_from_json(s, def, "", e);
	if (!st)
		return false;
	if (find(s, st->name, NULL)) {
		streams_fail(e, CS_ALREADY_EXISTS, 409, "a stream named \"%s\" already exists (DELETE "
			"it first, or POST /api/config/streams to replace it)", st->name);
		streams_def_free(st);
		return false;
	}
	if (!streams_push(s, st)) {
		streams_def_free(st);
		return streams_fail(e, CS_SERVER_BUSY, 503, "out of memory");
	}
	if (!streams_file_save(s, e)) {
		s->n--;
		streams_def_free(st);
		return false;
	}
	log_info("stream %s added: %s%s", st->name, st->url.redacted,
		st->always_on ? " (always on)" : "");
	streams_run_always_on(s, st);
	return true;
}

bool streams_remove(struct streams *s, const char *name, struct streams_err *e)
{
	size_t i;
	struct stream *st = find(s, name, &i);
	if (!st)
		return not_found(e, name);
	take_out(s, i);
	if (!streams_file_save(s, e)) {
		streams_push(s, st); /* cannot fail: the array had room for it */
		memmove(&s->v[i + 1], &s->v[i], (s->n - 1 - i) * sizeof(s->v[0]));
		s->v[i] = st;
		return false;
	}
	char why[128];
	snprintf(why, sizeof(why), "stream %s was deleted", st->name);
	hub_stream_stop(s->hub, st->name, why);
	log_info("stream %s deleted", st->name);
	streams_def_free(st);
	return true;
}

bool streams_start(struct streams *s, const char *name, struct streams_err *e)
{
	struct stream *st = find(s, name, NULL);
	if (!st)
		return not_found(e, name);
	bool was_enabled = st->enabled, was_started = st->started;
	st->enabled = true;
	st->started = true;
	char err[160];
	enum cs_err rc = run_if_wanted(s, st, err, sizeof(err));
	if (rc != CS_OK) {
		st->enabled = was_enabled;
		st->started = was_started;
		return streams_fail(e, rc, (unsigned int)cs_err_http_status(rc),
			"stream %s cannot start: %s", st->name, err);
	}
	if (!was_enabled && !streams_file_save(s, e)) {
		st->enabled = false;
		st->started = false;
		hub_stream_stop(s->hub, st->name, "the stream's start could not be saved");
		return false;
	}
	log_info("stream %s started", st->name);
	return true;
}

bool streams_stop(struct streams *s, const char *name, struct streams_err *e)
{
	struct stream *st = find(s, name, NULL);
	if (!st)
		return not_found(e, name);
	bool was_enabled = st->enabled;
	st->enabled = false;
	if (was_enabled && !streams_file_save(s, e)) {
		st->enabled = true;
		return false;
	}
	st->started = false;
	st->start_error[0] = '\0';
	char why[128];
	snprintf(why, sizeof(why), "stream %s was stopped", st->name);
	hub_stream_stop(s->hub, st->name, why);
	if (was_enabled)
		log_info("stream %s stopped", st->name);
	return true;
}

enum load_action { LOAD_NONE = 0, LOAD_ADD, LOAD_REPLACE, LOAD_SAME };

json_t *streams_load_json(struct streams *s, const json_t *doc, struct streams_err *e)
{
	if (!json_is_object(doc)) {
		streams_fail(e, CS_BAD_REQUEST, 400, "the body must be a JSON object like {\"streams\": "
			"[...]}");
		return NULL;
	}
	const json_t *arr = json_object_get(doc, "streams");
	if (!json_is_array(arr)) {
		streams_fail(e, CS_BAD_REQUEST, 400, "\"streams\" must be an array of stream definitions");
		return NULL;
	}
	size_t n;
	struct stream **nv = streams_def_parse_list(s, arr, "", &n, e);
	if (!nv)
		return NULL;
	enum load_action *act = calloc(n ? n : 1, sizeof(*act));
	struct stream **old = calloc(n ? n : 1, sizeof(*old));
	size_t *where = calloc(n ? n : 1, sizeof(*where));
	json_t *added = json_array(), *replaced = json_array(), *same = json_array();
	json_t *summary = NULL;
	size_t n_added = 0, n_replaced = 0;
	if (!act || !old || !where || !added || !replaced || !same) {
		streams_fail(e, CS_SERVER_BUSY, 503, "out of memory");
		goto out;
	}

	/* apply to the definitions; undone below if the save fails */
	for (size_t i = 0; i < n; i++) {
		old[i] = find(s, nv[i]->name, &where[i]);
		if (old[i] && streams_def_same(old[i], nv[i])) {
			act[i] = LOAD_SAME;
		} else if (old[i]) {
			act[i] = LOAD_REPLACE;
			s->v[where[i]] = nv[i];
			n_replaced++;
		} else if (streams_push(s, nv[i])) {
			act[i] = LOAD_ADD;
			n_added++;
		} else {
			streams_fail(e, CS_SERVER_BUSY, 503, "out of memory");
			goto undo;
		}
	}
	if ((n_added || n_replaced) && !streams_file_save(s, e))
		goto undo;

	/* the new definitions stand: now the runtime */
	for (size_t i = 0; i < n; i++) {
		json_t *list = act[i] == LOAD_ADD ? added : act[i] == LOAD_REPLACE ? replaced : same;
		json_array_append_new(list, json_string(nv[i]->name));
		if (act[i] == LOAD_REPLACE) {
			char why[128];
			snprintf(why, sizeof(why), "stream %s was redefined", nv[i]->name);
			hub_stream_stop(s->hub, old[i]->name, why);
			streams_def_free(old[i]);
			log_info("stream %s replaced: %s", nv[i]->name, nv[i]->url.redacted);
		} else if (act[i] == LOAD_ADD) {
			log_info("stream %s added: %s", nv[i]->name, nv[i]->url.redacted);
		}
		if (act[i] == LOAD_SAME)
			streams_def_free(nv[i]);
		else
			streams_run_always_on(s, nv[i]);
		nv[i] = NULL;
	}
	summary = json_pack("{s:O,s:O,s:O,s:I}", "added", added, "replaced", replaced,
		"unchanged", same, "total", (json_int_t)s->n);
	if (!summary)
		streams_fail(e, CS_SERVER_BUSY, 503, "out of memory (the streams were loaded)");
	goto out;

undo:
	for (size_t i = n; i-- > 0;) {
		if (act[i] == LOAD_REPLACE && old[i])
			s->v[where[i]] = old[i];
		else if (act[i] == LOAD_ADD)
			s->n--; /* added ones are at the end, in order */
	}
out:
	for (size_t i = 0; i < n; i++)
		streams_def_free(nv[i]); /* NULL once taken */
	free(nv);
	free(act);
	free(old);
	free(where);
	json_decref(added);
	json_decref(replaced);
	json_decref(same);
	return summary;
}

/* ---- viewers ---- */

enum cs_err streams_resolve(struct streams *s, const char *name, struct hub_stream_def *def,
	char *err, size_t errlen)
{
	struct stream *st = find(s, name, NULL);
	if (!st) {
		snprintf(err, errlen, "no stream named \"%.64s\"", name ? name : "");
		return CS_NOT_FOUND;
	}
	if (!st->enabled) {
		snprintf(err, errlen, "stream %s is stopped (POST /api/streams/%s/start)", st->name,
			st->name);
		return CS_SOURCE_ENDED;
	}
	fill_def(st, def);
	return CS_OK;
}

/* ---- life ---- */

struct streams *streams_create(struct hub *hub, const struct url_policy *policy)
{
	struct streams *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->hub = hub;
	s->policy = policy;
	return s;
}

void streams_destroy(struct streams *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		streams_def_free(s->v[i]);
	free(s->v);
	free(s->path);
	json_decref(s->doc);
	free(s);
}
