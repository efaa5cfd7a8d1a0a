/* streams: the named streams. A definition is what the config file holds (stream_def); the
 * camera session itself lives in the hub, which this room drives with hub_stream_start/stop
 * and asks for status with hub_stream_info. This file keeps the registry, the runtime, the
 * status and the API's changes; the config file is streams_file's.
 *
 * Service thread only. */
#include "streams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "stream_def.h"
#include "streams_file.h"
#include "text.h"

#define ONLINE_US (10 * 1000000LL)  /* is_online: a frame within this (seed 000) */
#define FLOWING_US (5 * 1000000LL)  /* playing: PLAYING and a frame within this */

/* One named stream: its definition and what the API did with it. Owned by streams.v. */
struct stream {
	struct stream_def *def;     /* owned */
	bool started;               /* POST .../start: runs with no viewer until stop */
	char start_error[160];      /* why the hub would not run it, "" if it did */
};

struct streams {
	struct hub *hub;                   /* not owned */
	const struct url_policy *policy;   /* not owned */
	struct stream **v;                 /* in definition order (owned) */
	size_t n, cap;
	struct streams_file file;
	const struct cluster *cluster;     /* not owned; NULL: no cluster */
	const char *token;                 /* not owned: --token, given to an owner when relaying */
	/* the relay definition streams_resolve last gave (valid until the next call) */
	char relay_url[CLUSTER_URL_MAX + STREAM_NAME_MAX + 800];
	char relay_shown[CLUSTER_URL_MAX + STREAM_NAME_MAX + 16];
};

/* ---- the cluster ---- */

static bool in_cluster(const struct streams *s)
{
	return s->cluster && s->cluster->n >= 2;
}

/* Whether another instance of the cluster owns @name. */
static bool owned_elsewhere(const struct streams *s, const char *name)
{
	return in_cluster(s) && !cluster_owns(s->cluster, name);
}

static bool refuse_in_cluster(struct streams *s, struct cs_error *e)
{
	return cs_refuse(e, CS_CLUSTER_CONFIG, "this server is instance %d of a cluster of %d: "
		"its streams come from the config file, the same on every instance; change the file "
		"and restart the instances", s->cluster->self, s->cluster->n);
}

/* What a viewer of @name subscribes with on an instance that does not own it: the owner's
 * HTTP-FLV of the stream, so that the camera (or the publisher) still feeds one instance. */
static enum cs_err relay_def(struct streams *s, const char *name, bool declared,
	struct hub_stream_def *def, struct cs_error *err)
{
	int owner = cluster_owner(s->cluster, name);
	const char *base = s->cluster->url[owner - 1];
	char token[600] = "";
	if (s->token && s->token[0]) {
		strcpy(token, "&token=");
		if (!text_uri_component(token + 7, sizeof(token) - 7, s->token))
			return cs_fail(err, CS_INTERNAL, "the access token is too long to relay");
	}
	snprintf(s->relay_url, sizeof(s->relay_url), "%s/live/%s.flv?relay=%d%s", base, name,
		s->cluster->self, token);
	snprintf(s->relay_shown, sizeof(s->relay_shown), "%s/live/%s.flv", base, name);
	/* the owner's host and port count for --max-sessions-per-host */
	*def = (struct hub_stream_def){ .name = name, .url = s->relay_url,
		.display_url = s->relay_shown, .host = s->cluster->host[owner - 1],
		.port = s->cluster->port[owner - 1],
		.transport = TRANSPORT_TCP,
		/* a key nobody declared may be live at the owner or not: its 404 is final, as it
		 * would be there, instead of a source retrying for a name that may never exist */
		.once = !declared };
	return CS_OK;
}

void streams_set_cluster(struct streams *s, const struct cluster *c, const char *token)
{
	s->cluster = c && c->n >= 2 ? c : NULL;
	s->token = token;
}

int streams_owner(struct streams *s, const char *name, const char **url)
{
	*url = NULL;
	if (!in_cluster(s))
		return 0;
	int o = cluster_owner(s->cluster, name);
	*url = s->cluster->url[o - 1];
	return o;
}

/* ---- the registry ---- */

static struct stream *find(struct streams *s, const char *name, size_t *index)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (!strcmp(s->v[i]->def->name, name)) {
			if (index)
				*index = i;
			return s->v[i];
		}
	return NULL;
}

static void stream_free(struct stream *st)
{
	if (!st)
		return;
	stream_def_free(st->def);
	free(st);
}

/* Appends a stream for @def (which it then owns); NULL if out of memory (@def not taken). */
static struct stream *push(struct streams *s, struct stream_def *def)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct stream **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->def = def;
	s->v[s->n++] = st;
	return st;
}

static void take_out(struct streams *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

/* Saves every definition when write-back is on. */
static bool save(struct streams *s, struct cs_error *e)
{
	if (!s->file.write_back)
		return true;
	struct stream_def **defs = malloc((s->n ? s->n : 1) * sizeof(*defs));
	if (!defs)
		return cs_refuse(e, CS_INTERNAL, "out of memory while saving the config file");
	for (size_t i = 0; i < s->n; i++)
		defs[i] = s->v[i]->def;
	bool ok = streams_file_save(&s->file, defs, s->n, e);
	free(defs);
	return ok;
}

/* ---- runtime ---- */

static void fill_def(const struct stream_def *d, struct hub_stream_def *def)
{
	*def = (struct hub_stream_def){
		.name = d->name,
		.url = d->url.text,
		.display_url = d->url.redacted,
		.host = d->url.host,
		.port = d->url.port,
		.is_demo = d->url.is_demo,
		.is_push = d->publish,
		.transport = d->transport,
		.idle_fps = d->idle_fps,
	};
}

/* Starts @st if it should capture with no viewer (always on, or started through the API).
 * A refusal is kept for the status and logged; the stream stays defined. */
static enum cs_err run_if_wanted(struct streams *s, struct stream *st, struct cs_error *err)
{
	st->start_error[0] = '\0';
	/* a published stream runs while its publisher publishes (the ingest starts it) */
	if (!st->def->enabled || st->def->publish || !(st->def->always_on || st->started))
		return CS_OK;
	/* in a cluster only its owner runs it; the others relay from the owner when asked */
	if (owned_elsewhere(s, st->def->name))
		return CS_OK;
	struct hub_stream_def def;
	fill_def(st->def, &def);
	enum cs_err rc = hub_stream_start(s->hub, &def, err);
	if (rc != CS_OK) {
		str_copy(st->start_error, sizeof(st->start_error), err->msg);
		log_warn("stream %s: cannot start: %s", st->def->name, err->msg);
	}
	return rc;
}

static void run_always_on(struct streams *s, struct stream *st)
{
	struct cs_error err;
	run_if_wanted(s, st, &err);
}

/* ---- status ---- */

static const char *state_name(const struct stream *st, const struct hub_source_info *info)
{
	if (!st->def->enabled)
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

static json_t *opt_rate(double fps)
{
	return fps > 0 ? json_real(round(fps * 100) / 100) : json_null();
}

static json_t *iso_time(int64_t wall_us)
{
	if (wall_us <= 0)
		return json_null();
	char buf[40];
	text_iso8601(wall_us, false, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *status_json(struct streams *s, const struct stream *st)
{
	const struct stream_def *d = st->def;
	struct hub_source_info info;
	const struct hub_source_info *in = NULL;
	if (d->enabled && hub_stream_info(s->hub, d->name, &info))
		in = &info;
	const struct source_stats *ss = in ? &in->stats : NULL;
	int64_t now = clock_wall_us();
	int64_t last = ss ? ss->last_frame_wall_us : 0;
	bool connected = ss && ss->state == SOURCE_PLAYING;
	const char *error = NULL, *error_code = NULL;
	if (ss && ss->last_error.code != CS_OK) {
		error = ss->last_error.msg[0] ? ss->last_error.msg : cs_err_code(ss->last_error.code);
		error_code = cs_err_code(ss->last_error.code);
	} else if (st->start_error[0]) {
		error = st->start_error;
	}

	json_t *j = json_object();
	int bad = !j;
#define SET(key, value) (bad = bad || json_object_set_new(j, key, value))
	SET("name", json_string(d->name));
	SET("rtsp_url", d->publish ? json_null() : json_string(d->url.redacted));
	SET("publish", json_boolean(d->publish));
	if (d->publish)
		SET("publish_secret", opt_str(d->publish_secret ? "***" : NULL));
	SET("enabled", json_boolean(d->enabled));
	SET("always_on", json_boolean(d->always_on));
	SET("transport", json_string(transport_name(d->transport)));
	SET("idle_fps", json_real(d->idle_fps));
	SET("channel", opt_int(d->has_channel, d->channel));
	SET("subtype", opt_int(d->has_subtype, d->subtype));
	SET("username", opt_str(d->username ? "***" : NULL));
	SET("password", opt_str(d->password ? "***" : NULL));
	SET("state", json_string(state_name(st, in)));
	SET("connected", json_boolean(connected));
	SET("playing", json_boolean(connected && last && now - last < FLOWING_US));
	SET("is_online", json_boolean(last && now - last < ONLINE_US));
	SET("packets_received", json_integer(ss ? (json_int_t)ss->packets_received : 0));
	SET("frames_received", json_integer(ss ? (json_int_t)ss->pictures_received : 0));
	SET("frames_decoded", json_integer(ss ? (json_int_t)ss->frames_decoded : 0));
	SET("frames_encoded", json_integer(ss ? (json_int_t)ss->frames_encoded : 0));
	SET("capture_count", json_integer(ss ? (json_int_t)ss->frames_encoded : 0));
	SET("bytes_received", json_integer(ss ? (json_int_t)ss->bytes_received : 0));
	SET("last_frame_time", last ? json_real((double)last / 1e6) : json_null());
	SET("last_update", iso_time(last));
	SET("viewers", json_integer(in ? in->viewers : 0));
	SET("width", ss && ss->width ? json_integer(ss->width) : json_null());
	SET("height", ss && ss->height ? json_integer(ss->height) : json_null());
	SET("codec", opt_str(ss ? ss->codec : NULL));
	/* the measured rate once there is one, the stream's own word until then */
	SET("fps", opt_rate(ss ? (ss->fps > 0 ? ss->fps : ss->fps_nominal) : 0));
	SET("fps_nominal", opt_rate(ss ? ss->fps_nominal : 0));
	SET("reconnects", json_integer(ss ? (json_int_t)ss->reconnects : 0));
	SET("error", opt_str(error));
	SET("error_code", opt_str(error_code));
	if (in_cluster(s)) {
		int owner = cluster_owner(s->cluster, d->name);
		SET("owner", json_integer(owner));
		SET("owner_url", json_string(s->cluster->url[owner - 1]));
		SET("local", json_boolean(owner == s->cluster->self));
	}
#undef SET
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Whether @name is a key someone publishes without the config declaring it: a running
 * published source the config does not name. */
static bool undeclared_live(struct streams *s, const char *name, struct hub_source_info *info)
{
	return name && !find(s, name, NULL) && hub_stream_info(s->hub, name, info) && info->push;
}

/* The status of an undeclared published key, as a declared one's would read. */
static json_t *undeclared_status(struct streams *s, const char *name)
{
	struct stream_def d = { .name = (char *)name, .publish = true, .enabled = true };
	struct stream st = { .def = &d };
	json_t *j = status_json(s, &st);
	if (j && json_object_set_new(j, "declared", json_false())) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *streams_status_json(struct streams *s, const char *name)
{
	struct stream *st = find(s, name, NULL);
	struct hub_source_info info;
	if (!st)
		return undeclared_live(s, name, &info) ? undeclared_status(s, name) : NULL;
	json_t *j = status_json(s, st);
	if (j && json_object_set_new(j, "declared", json_true())) {
		json_decref(j);
		return NULL;
	}
	return j;
}

struct collect {
	struct streams *s;
	json_t *arr;
	size_t n;
	bool bad;
};

static void collect_undeclared(const struct hub_source_info *info, void *arg)
{
	struct collect *c = arg;
	struct hub_source_info now;
	if (c->bad || !info->push || !info->name || !undeclared_live(c->s, info->name, &now))
		return;
	c->bad = json_array_append_new(c->arr, undeclared_status(c->s, info->name)) != 0;
	c->n++;
}

json_t *streams_list_json(struct streams *s)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < s->n; i++)
		if (json_array_append_new(arr, streams_status_json(s, s->v[i]->def->name))) {
			json_decref(arr);
			arr = NULL;
		}
	if (!arr)
		return NULL;
	struct collect c = { .s = s, .arr = arr };
	hub_foreach(s->hub, collect_undeclared, &c);
	if (c.bad) {
		json_decref(arr);
		return NULL;
	}
	if (in_cluster(s))
		return json_pack("{s:I,s:o,s:{s:i,s:i}}", "total", (json_int_t)(s->n + c.n),
			"streams", arr, "cluster", "self", s->cluster->self, "size", s->cluster->n);
	return json_pack("{s:I,s:o}", "total", (json_int_t)(s->n + c.n), "streams", arr);
}

/* ---- changes ---- */

static bool not_found(struct cs_error *e, const char *name)
{
	return cs_refuse(e, CS_NOT_FOUND, "no stream named \"%.64s\"", name ? name : "");
}

bool streams_add(struct streams *s, const json_t *json, struct cs_error *e)
{
	if (in_cluster(s))
		return refuse_in_cluster(s, e);
	struct stream_def *d = stream_def_from_json(json, s->policy, "", e);
	if (!d)
		return false;
	if (find(s, d->name, NULL)) {
		cs_fail(e, CS_ALREADY_EXISTS, "a stream named \"%s\" already exists (DELETE it first, "
			"or POST /api/config/streams to replace it)", d->name);
		stream_def_free(d);
		return false;
	}
	struct stream *st = push(s, d);
	if (!st) {
		stream_def_free(d);
		return cs_refuse(e, CS_SERVER_BUSY, "out of memory");
	}
	if (!save(s, e)) {
		s->n--;
		stream_free(st);
		return false;
	}
	log_info("stream %s added: %s%s", d->name, d->url.redacted,
		d->always_on ? " (always on)" : "");
	run_always_on(s, st);
	return true;
}

bool streams_remove(struct streams *s, const char *name, struct cs_error *e)
{
	size_t i;
	struct stream *st = find(s, name, &i);
	if (!st)
		return not_found(e, name);
	if (in_cluster(s))
		return refuse_in_cluster(s, e);
	take_out(s, i);
	if (!save(s, e)) {
		/* back where it was: the array had room for it */
		memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(s->v[0]));
		s->v[i] = st;
		s->n++;
		return false;
	}
	char why[128];
	snprintf(why, sizeof(why), "stream %s was deleted", st->def->name);
	hub_stream_stop(s->hub, st->def->name, why);
	log_info("stream %s deleted", st->def->name);
	stream_free(st);
	return true;
}

bool streams_start(struct streams *s, const char *name, struct cs_error *e)
{
	struct stream *st = find(s, name, NULL);
	if (!st)
		return not_found(e, name);
	if (in_cluster(s))
		return refuse_in_cluster(s, e);
	if (st->def->publish)
		return cs_refuse(e, CS_BAD_REQUEST, "stream %s is fed by publishing: it runs while "
			"its publisher publishes to live/%s", st->def->name, st->def->name);
	bool was_enabled = st->def->enabled, was_started = st->started;
	st->def->enabled = true;
	st->started = true;
	struct cs_error why;
	enum cs_err rc = run_if_wanted(s, st, &why);
	if (rc != CS_OK) {
		st->def->enabled = was_enabled;
		st->started = was_started;
		return cs_refuse(e, rc, "stream %s cannot start: %s", st->def->name, why.msg);
	}
	if (!was_enabled && !save(s, e)) {
		st->def->enabled = false;
		st->started = false;
		hub_stream_stop(s->hub, st->def->name, "the stream's start could not be saved");
		return false;
	}
	log_info("stream %s started", st->def->name);
	return true;
}

bool streams_stop(struct streams *s, const char *name, struct cs_error *e)
{
	struct stream *st = find(s, name, NULL);
	if (!st)
		return not_found(e, name);
	if (in_cluster(s))
		return refuse_in_cluster(s, e);
	bool was_enabled = st->def->enabled;
	st->def->enabled = false;
	if (was_enabled && !save(s, e)) {
		st->def->enabled = true;
		return false;
	}
	st->started = false;
	st->start_error[0] = '\0';
	char why[128];
	snprintf(why, sizeof(why), "stream %s was stopped", st->def->name);
	hub_stream_stop(s->hub, st->def->name, why);
	if (was_enabled)
		log_info("stream %s stopped", st->def->name);
	return true;
}

enum load_action { LOAD_NONE = 0, LOAD_ADD, LOAD_REPLACE, LOAD_SAME };

json_t *streams_load_json(struct streams *s, const json_t *doc, struct cs_error *e)
{
	if (in_cluster(s)) {
		refuse_in_cluster(s, e);
		return NULL;
	}
	if (!json_is_object(doc)) {
		cs_fail(e, CS_BAD_REQUEST, "the body must be a JSON object like {\"streams\": [...]}");
		return NULL;
	}
	const json_t *arr = json_object_get(doc, "streams");
	if (!json_is_array(arr)) {
		cs_fail(e, CS_BAD_REQUEST, "\"streams\" must be an array of stream definitions");
		return NULL;
	}
	size_t n;
	struct stream_def **nv = stream_def_parse_list(arr, s->policy, "", &n, e);
	if (!nv)
		return NULL;
	enum load_action *act = calloc(n ? n : 1, sizeof(*act));
	struct stream_def **old = calloc(n ? n : 1, sizeof(*old));
	struct stream **at = calloc(n ? n : 1, sizeof(*at));
	json_t *added = json_array(), *replaced = json_array(), *same = json_array();
	json_t *summary = NULL;
	size_t n_added = 0, n_replaced = 0;
	if (!act || !old || !at || !added || !replaced || !same) {
		cs_fail_oom(e);
		goto out;
	}

	/* apply to the definitions; undone below if the save fails */
	for (size_t i = 0; i < n; i++) {
		at[i] = find(s, nv[i]->name, NULL);
		if (at[i] && stream_def_same(at[i]->def, nv[i])) {
			act[i] = LOAD_SAME;
		} else if (at[i]) {
			act[i] = LOAD_REPLACE;
			old[i] = at[i]->def;
			at[i]->def = nv[i];
			n_replaced++;
		} else if ((at[i] = push(s, nv[i]))) {
			act[i] = LOAD_ADD;
			n_added++;
		} else {
			cs_fail_oom(e);
			goto undo;
		}
	}
	if ((n_added || n_replaced) && !save(s, e))
		goto undo;

	/* the new definitions stand: now the runtime */
	for (size_t i = 0; i < n; i++) {
		json_t *list = act[i] == LOAD_ADD ? added : act[i] == LOAD_REPLACE ? replaced : same;
		json_array_append_new(list, json_string(nv[i]->name));
		if (act[i] == LOAD_REPLACE) {
			char why[128];
			snprintf(why, sizeof(why), "stream %s was redefined", nv[i]->name);
			hub_stream_stop(s->hub, old[i]->name, why);
			stream_def_free(old[i]);
			at[i]->started = false;
			log_info("stream %s replaced: %s", nv[i]->name, nv[i]->url.redacted);
		} else if (act[i] == LOAD_ADD) {
			log_info("stream %s added: %s", nv[i]->name, nv[i]->url.redacted);
		}
		if (act[i] == LOAD_SAME)
			stream_def_free(nv[i]);
		else
			run_always_on(s, at[i]);
		nv[i] = NULL;
	}
	summary = json_pack("{s:O,s:O,s:O,s:I}", "added", added, "replaced", replaced,
		"unchanged", same, "total", (json_int_t)s->n);
	if (!summary)
		cs_fail(e, CS_SERVER_BUSY, "out of memory (the streams were loaded)");
	goto out;

undo:
	for (size_t i = n; i-- > 0;) {
		if (act[i] == LOAD_REPLACE) {
			at[i]->def = old[i];
		} else if (act[i] == LOAD_ADD) {
			/* added ones are at the end, in order: the definition goes back to nv */
			free(s->v[--s->n]);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		stream_def_free(nv[i]); /* NULL once taken */
	free(nv);
	free(act);
	free(old);
	free(at);
	json_decref(added);
	json_decref(replaced);
	json_decref(same);
	return summary;
}

/* ---- viewers ---- */

enum cs_err streams_resolve(struct streams *s, const char *name, int relayed_for,
	struct hub_stream_def *def, struct cs_error *err)
{
	struct stream *st = find(s, name, NULL);
	struct hub_source_info info;
	if (relayed_for && owned_elsewhere(s, name ? name : ""))
		return cs_fail(err, CS_CLUSTER_CONFIG, "instance %d relays \"%.64s\" from this one, "
			"but instance %d owns it here: the instances' --cluster-peers or --cluster-self "
			"disagree", relayed_for, name, cluster_owner(s->cluster, name));
	/* in a cluster, a stream that only its owner runs (always on, or published) comes from
	 * the owner; on-demand cameras run wherever their viewers are sent */
	if (!relayed_for && name && owned_elsewhere(s, name) &&
	    ((!st && stream_name_ok(name)) ||
	     (st && st->def->enabled && (st->def->publish || st->def->always_on))))
		return relay_def(s, name, st != NULL, def, err);
	if (!st && undeclared_live(s, name, &info)) {
		*def = (struct hub_stream_def){ .name = info.name, .url = info.name,
			.display_url = info.display_url, .host = "", .is_push = true };
		return CS_OK;
	}
	if (!st)
		return cs_fail(err, CS_NOT_FOUND, "no stream named \"%.64s\"", name ? name : "");
	if (!st->def->enabled)
		return cs_fail(err, CS_SOURCE_ENDED, "stream %s is stopped (POST /api/streams/%s/start)",
			st->def->name, st->def->name);
	fill_def(st->def, def);
	return CS_OK;
}

enum publish_right streams_publish_right(struct streams *s, const char *name,
	const char **secret)
{
	struct stream *st = find(s, name, NULL);
	*secret = NULL;
	if (owned_elsewhere(s, name)) {
		/* the key's own secret still decides who may hear where it belongs */
		if (st && st->def->publish)
			*secret = st->def->publish_secret;
		return PUBLISH_ELSEWHERE;
	}
	if (!st)
		return PUBLISH_UNDECLARED;
	if (!st->def->publish)
		return PUBLISH_PULLED;
	if (!st->def->enabled)
		return PUBLISH_STOPPED;
	*secret = st->def->publish_secret;
	return PUBLISH_DECLARED;
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

bool streams_load_file(struct streams *s, const char *path, bool write_back,
	struct cs_error *err)
{
	if (s->n || s->file.doc)
		return cs_refuse(err, CS_BAD_REQUEST, "config file %s: streams are already loaded",
			path);
	struct stream_def **defs;
	size_t n;
	if (!streams_file_load(&s->file, path, write_back, s->policy, &defs, &n, err))
		return false;
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		if (ok && !push(s, defs[i])) {
			ok = false;
			cs_fail(err, CS_SERVER_BUSY, "config file %s: out of memory", path);
		}
		if (!ok)
			stream_def_free(defs[i]);
	}
	free(defs);
	if (!ok)
		return false;
	for (size_t i = 0; i < s->n; i++)
		run_always_on(s, s->v[i]);
	return true;
}

void streams_destroy(struct streams *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		stream_free(s->v[i]);
	free(s->v);
	streams_file_free(&s->file);
	free(s);
}
