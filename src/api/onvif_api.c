/* onvif_api: the ONVIF endpoints and seed 004's API (see onvif_api.h). Service thread only;
 * the probes and discoveries themselves run on the jobs' threads (onvif/onvif.c). */
#include "onvif_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "app.h"
#include "error.h"
#include "http_reply.h"
#include "log.h"
#include "onvif.h"
#include "redact.h"
#include "stream_def.h"
#include "streams.h"
#include "text.h"
#include "url.h"

#define BODY_MAX (16 * 1024)          /* a probe's or a source's JSON */
#define PROBE_TIMEOUT_S 10            /* default; 1..PROBE_TIMEOUT_MAX_S */
#define PROBE_TIMEOUT_MAX_S 30
#define DISCOVER_S 2.0                /* default; DISCOVER_MIN_S..DISCOVER_MAX_S */
#define DISCOVER_MIN_S 0.2
#define DISCOVER_MAX_S 10.0
#define API_PREFIX "/api/onvif"
#define OPENAPI_PREFIX "/openapi"

enum route { R_NONE, R_PROBE, R_DISCOVER, R_DEVICE, R_SOURCE, R_SOURCE_BAD };
enum { M_GET = 1, M_POST, M_DELETE, M_OTHER };

/* Per-transaction data (lws allocates it zeroed and frees it). */
struct osess {
	struct osess *next;          /* in api->waiting while its job runs */
	struct lws *wsi;
	struct onvif_job *job;       /* owned while waiting */
	enum route route;
	int method;
	char id[STREAM_NAME_MAX + 1]; /* R_SOURCE */
	char *body;
	size_t len, cap;             /* cap: the Content-Length announced */
	bool too_big, nomem, replied, close_after;
};

/* A job whose request left before it ended: freed once its thread has. */
struct orphan {
	struct orphan *next;
	struct onvif_job *job;
};

struct onvif_api {
	struct app *app;
	void (*notify)(void *);
	void *notify_arg;
	struct osess *waiting;
	struct orphan *orphans;
};

static void unlink_waiting(struct onvif_api *api, struct osess *s)
{
	for (struct osess **p = &api->waiting; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	s->next = NULL;
}

struct onvif_api *onvif_api_create(struct app *app, void (*notify)(void *), void *arg)
{
	struct onvif_api *api = calloc(1, sizeof(*api));
	if (api) {
		api->app = app;
		api->notify = notify;
		api->notify_arg = arg;
	}
	return api;
}

void onvif_api_destroy(struct onvif_api *api)
{
	if (!api)
		return;
	for (struct osess *s = api->waiting; s; s = s->next)
		onvif_job_cancel(s->job);
	for (struct orphan *o = api->orphans; o; o = o->next)
		onvif_job_cancel(o->job);
	while (api->waiting) {
		struct osess *s = api->waiting;
		api->waiting = s->next;
		onvif_job_free(s->job);
		s->job = NULL;
		s->next = NULL;
	}
	while (api->orphans) {
		struct orphan *o = api->orphans;
		api->orphans = o->next;
		onvif_job_free(o->job);
		free(o);
	}
	free(api);
}

void onvif_api_poll(struct onvif_api *api)
{
	if (!api)
		return;
	for (struct osess *s = api->waiting; s; s = s->next)
		if (onvif_job_done(s->job))
			lws_callback_on_writable(s->wsi);
	for (struct orphan **p = &api->orphans; *p;) {
		struct orphan *o = *p;
		if (onvif_job_done(o->job)) {
			*p = o->next;
			onvif_job_free(o->job);
			free(o);
		} else {
			p = &o->next;
		}
	}
}

/* ---- answers ---- */

/* Writes @text and ends the transaction (or the connection, when a body we did not read
 * follows); returns what the lws callback should return. */
static int answer(struct osess *s, unsigned int status, const char *text)
{
	s->replied = true;
	if (!s->close_after)
		return http_reply_json(s->wsi, status, text);
	http_write_response(s->wsi, status, "application/json", text, strlen(text), NULL, 0);
	return -1;
}

static int reply_err(struct osess *s, unsigned int status, enum cs_err code, const char *msg)
{
	char *text = http_error_json(code, msg);
	if (!text) {
		s->replied = true;
		return -1;
	}
	log_debug("onvif api: %u %s", status, msg);
	int rc = answer(s, status ? status : (unsigned int)cs_err_http_status(code), text);
	free(text);
	return rc;
}

/* Answers @j (consumed); 503 if it is NULL (out of memory). */
static int reply_json(struct osess *s, unsigned int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	int rc = answer(s, status, text);
	free(text);
	return rc;
}

/* A device's refusal of the credentials in this very request is the client's 401 (no
 * WWW-Authenticate: a browser must not prompt); other failures as everywhere. */
static int reply_cs(struct osess *s, const struct cs_error *e)
{
	unsigned int status = e->code == CS_UNAUTHORIZED ? 401u :
		(unsigned int)cs_err_http_status(e->code);
	return reply_err(s, status, e->code, e->msg);
}

/* ---- probe results as JSON ---- */

/* A stream name from the device's host and the profile's name: A-Z a-z 0-9 _ . - only. */
static void suggest_name(const char *xaddr, const char *profile, char *out, size_t cap)
{
	char host[96] = "";
	int port;
	if (!onvif_url_host(xaddr, host, sizeof(host), &port, NULL))
		host[0] = '\0';
	char raw[STREAM_NAME_MAX * 2 + 2];
	snprintf(raw, sizeof(raw), "%s%s%s", host, *host && *profile ? "-" : "",
		*profile ? profile : *host ? "" : "camera");
	size_t n = 0;
	for (const char *c = raw; *c && n + 1 < cap && n < STREAM_NAME_MAX; c++)
		out[n++] = ascii_is_alnum(*c) || *c == '.' || *c == '_' || *c == '-' ? *c : '-';
	out[n] = '\0';
	if (!stream_name_ok(out))
		str_copy(out, cap, "camera");
}

static json_t *profile_json(const struct onvif_probe_result *r, const struct onvif_stream *st,
	const char *username, bool seed)
{
	json_t *p = json_object();
	if (!p)
		return NULL;
	json_object_set_new(p, "name", json_string(st->p.name));
	json_object_set_new(p, "token", json_string(st->p.token));
	json_object_set_new(p, "encoding", json_string(st->p.encoding));
	json_object_set_new(p, "width", json_integer(st->p.width));
	json_object_set_new(p, "height", json_integer(st->p.height));
	double fps = st->p.fps;
	json_object_set_new(p, "fps", fps == floor(fps) && fps < 1e6 ? json_integer((json_int_t)fps) :
		json_real(fps));
	if (!st->uri[0]) {
		json_object_set_new(p, "uri", json_null());
		json_object_set_new(p, "error", json_pack("{s:s,s:s}", "code",
			cs_err_code(st->uri_err.code), "error", st->uri_err.msg));
		return p;
	}
	char shown[ONVIF_URI_MAX + 16];
	url_redact(st->uri, shown, sizeof(shown));
	json_object_set_new(p, "uri", json_string(shown));
	if (seed)
		json_object_set_new(p, "rtsp", json_string(shown));
	/* the definition to POST to /api/streams: the URI without the device's own userinfo,
	 * the credentials beside it (the password shown as every reply shows one) */
	char *bare = url_with_userinfo(st->uri, NULL, NULL);
	char name[STREAM_NAME_MAX + 1];
	suggest_name(r->xaddr, st->p.name, name, sizeof(name));
	/* a device may also put credentials in the path or the query: shown redacted then, like
	 * the URI (the client puts them back, as it does the password) */
	char bare_shown[ONVIF_URI_MAX + 16];
	if (bare)
		url_redact(bare, bare_shown, sizeof(bare_shown));
	json_t *def = json_pack("{s:s,s:s,s:s}", "name", name, "rtsp_url", bare ? bare_shown :
		shown, "transport", "tcp");
	free(bare);
	if (def && username && *username) {
		json_object_set_new(def, "username", json_string(username));
		json_object_set_new(def, "password", json_string("***"));
	}
	json_object_set_new(p, "stream", def);
	return p;
}

static json_t *probe_json(const struct onvif_job *job, bool seed)
{
	const struct onvif_probe_result *r = &job->probe;
	const char *user = job->req.username;
	json_t *dev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "xaddr", r->xaddr, "manufacturer",
		r->info.manufacturer, "model", r->info.model, "firmware", r->info.firmware,
		"serial", r->info.serial, "hardware", r->info.hardware);
	json_t *profiles = json_array();
	json_t *doc = json_object();
	if (!dev || !profiles || !doc) {
		json_decref(dev);
		json_decref(profiles);
		json_decref(doc);
		return NULL;
	}
	long main_i = -1, sub_i = -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct onvif_stream *st = &r->streams[i];
		if (json_array_append_new(profiles, profile_json(r, st, user, seed))) {
			json_decref(dev);
			json_decref(profiles);
			json_decref(doc);
			return NULL; /* out of memory: 503 */
		}
		if (!st->uri[0])
			continue;
		long area = (long)st->p.width * st->p.height;
		if (main_i < 0 || area > (long)r->streams[main_i].p.width *
			r->streams[main_i].p.height) {
			sub_i = main_i;
			main_i = (long)i;
		} else if (sub_i < 0 || area > (long)r->streams[sub_i].p.width *
			r->streams[sub_i].p.height) {
			sub_i = (long)i;
		}
	}
	json_object_set_new(doc, "device", dev);
	json_object_set_new(doc, "clock_offset", json_integer(r->clock_offset_s));
	json_object_set_new(doc, "auth", json_string(r->auth));
	json_object_set_new(doc, "media", json_string(r->media2 ? "media2" : "media1"));
	if (seed) {
		json_object_set_new(doc, "main", main_i < 0 ? json_null() :
			json_deep_copy(json_array_get(profiles, (size_t)main_i)));
		json_object_set_new(doc, "sub", sub_i < 0 ? json_null() :
			json_deep_copy(json_array_get(profiles, (size_t)sub_i)));
	}
	json_object_set_new(doc, "profiles", profiles);
	return doc;
}

static json_t *discovery_json(const struct onvif_job *job)
{
	const struct onvif_discovery *d = &job->disc;
	json_t *devs = json_array(), *ifs = json_array();
	for (size_t i = 0; devs && i < d->n; i++) {
		const struct onvif_device *v = &d->devices[i];
		json_t *xa = json_array(), *sc = json_array();
		for (int k = 0; xa && k < v->m.n_xaddrs; k++)
			json_array_append_new(xa, json_string(v->m.xaddrs[k]));
		for (int k = 0; sc && k < v->m.n_scopes; k++)
			json_array_append_new(sc, json_string(v->m.scopes[k]));
		json_t *o = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:o,s:s}", "endpoint", v->m.endpoint,
			"xaddrs", xa, "types", v->m.types, "name", v->name, "hardware", v->hardware,
			"location", v->location, "scopes", sc, "from", v->from);
		char host[256];
		int port;
		if (o && v->m.n_xaddrs > 0 &&
			onvif_url_host(v->m.xaddrs[0], host, sizeof(host), &port, NULL)) {
			json_object_set_new(o, "host", json_string(host));
			json_object_set_new(o, "port", json_integer(port));
		}
		json_array_append_new(devs, o);
	}
	for (size_t i = 0; ifs && i < d->n_ifaces; i++)
		json_array_append_new(ifs, json_string(d->ifaces[i]));
	return json_pack("{s:o,s:o,s:f,s:i}", "devices", devs ? devs : json_array(), "interfaces",
		ifs ? ifs : json_array(), "timeout", job->discover_ms / 1000.0, "refused",
		d->refused);
}

/* The worker ended: answer. */
static int answer_job(struct onvif_api *api, struct osess *s)
{
	struct onvif_job *job = s->job;
	unlink_waiting(api, s);
	s->job = NULL;
	int rc;
	if (job->rc)
		rc = reply_cs(s, &job->err);
	else if (job->kind == ONVIF_JOB_DISCOVER)
		rc = reply_json(s, 200, discovery_json(job));
	else
		rc = reply_json(s, 200, probe_json(job, s->route == R_DEVICE));
	if (job->kind == ONVIF_JOB_DISCOVER)
		log_info("onvif discovery: %s", job->rc ? job->err.msg : "done");
	else
		log_info("onvif probe of %s: %s", job->req.xaddr, job->rc ? job->err.msg : "ok");
	onvif_job_free(job);
	return rc;
}

/* ---- requests ---- */

static int start_job(struct onvif_api *api, struct osess *s, struct onvif_job *job)
{
	struct cs_error e;
	if (s->job) { /* one job a request: cannot happen (see BODY_COMPLETION) */
		onvif_job_free(job);
		return -1;
	}
	if (!onvif_job_start(job, api->notify, api->notify_arg, &e)) {
		onvif_job_free(job);
		return reply_cs(s, &e);
	}
	s->job = job;
	s->next = api->waiting;
	api->waiting = s;
	/* lws' own deadline for the answer: the job's, and a margin (the job ends first) */
	int job_s = job->kind == ONVIF_JOB_PROBE ? job->req.timeout_ms / 1000 :
		job->discover_ms / 1000;
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, job_s + 10);
	return 0;
}

static const char *str_field(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	if (!v && b)
		v = json_object_get(o, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int on_probe(struct onvif_api *api, struct osess *s, bool seed)
{
	json_error_t jerr;
	json_t *doc = s->body ? json_loadb(s->body, s->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return reply_err(s, 400, CS_BAD_REQUEST, seed ? "send a JSON object: {\"url\","
			"\"port\",\"username\",\"pwd\"}" : "send a JSON object: {\"host\",\"port\","
			"\"username\",\"password\"}");
	}
	struct onvif_job *job = calloc(1, sizeof(*job));
	if (!job) {
		json_decref(doc);
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	}
	job->kind = ONVIF_JOB_PROBE;
	const char *host = seed ? str_field(doc, "url", "host") : str_field(doc, "host", "xaddr");
	if (!host)
		host = str_field(doc, "url", NULL);
	const char *user = str_field(doc, "username", "user");
	const char *pass = seed ? str_field(doc, "pwd", "password") : str_field(doc, "password",
		"pwd");
	const json_t *port = json_object_get(doc, "port"), *to = json_object_get(doc, "timeout");
	struct cs_error e;
	cs_error_clear(&e);
	int portn = 80;
	double timeout = PROBE_TIMEOUT_S;
	if (port && !(json_is_integer(port) || (json_is_string(port) &&
		*json_string_value(port))))
		cs_fail(&e, CS_BAD_REQUEST, "\"port\" must be a number");
	else if (json_is_integer(port))
		portn = json_integer_value(port) > 0 && json_integer_value(port) < 65536 ?
			(int)json_integer_value(port) : -1;
	else if (json_is_string(port)) {
		char *end;
		long v = strtol(json_string_value(port), &end, 10);
		portn = *end || v < 1 || v > 65535 ? -1 : (int)v;
	}
	if (!e.code && to && (!json_is_number(to) || json_number_value(to) < 1 ||
		json_number_value(to) > PROBE_TIMEOUT_MAX_S))
		cs_fail(&e, CS_BAD_REQUEST, "\"timeout\" must be 1 to %d seconds",
			PROBE_TIMEOUT_MAX_S);
	else if (to)
		timeout = json_number_value(to);
	if (!e.code && ((user && strlen(user) >= ONVIF_CRED_MAX) ||
		(pass && strlen(pass) >= ONVIF_CRED_MAX)))
		cs_fail(&e, CS_BAD_REQUEST, "the user name and the password must be shorter than "
			"%d bytes", ONVIF_CRED_MAX);
	if (!e.code && ((user && str_has_control(user)) || (pass && str_has_control(pass))))
		cs_fail(&e, CS_BAD_REQUEST, "the user name or the password has a control character");
	if (!e.code)
		onvif_xaddr_from(host, portn, job->req.xaddr, sizeof(job->req.xaddr), &e);
	if (!e.code) {
		str_copy(job->req.username, sizeof(job->req.username), user ? user : "");
		str_copy(job->req.password, sizeof(job->req.password), pass ? pass : "");
		if (!job->req.username[0])
			job->req.password[0] = '\0';
	}
	/* the body held the password: gone before anything else happens */
	explicit_bzero(s->body, s->len);
	json_decref(doc);
	if (e.code) {
		onvif_job_free(job);
		return reply_err(s, 400, e.code, e.msg);
	}
	job->req.timeout_ms = (int)(timeout * 1000);
	job->req.hosts = &api->app->cfg->hosts;
	/* the device's own address first: refused at once when the policy names it out */
	char dev_host[256];
	int dev_port;
	if (onvif_url_host(job->req.xaddr, dev_host, sizeof(dev_host), &dev_port, NULL) &&
		net_policy_check_host(&api->app->cfg->hosts, dev_host) == NET_DENIED) {
		onvif_job_free(job);
		return reply_err(s, 403, CS_HOST_NOT_ALLOWED, "the device's host is not in "
			"--allow-hosts");
	}
	return start_job(api, s, job);
}

static int on_discover(struct onvif_api *api, struct osess *s)
{
	if (!api->app->cfg->onvif_discovery)
		return reply_err(s, 404, CS_NOT_FOUND, "ONVIF discovery is off (--onvif-discovery "
			"off)");
	struct query q;
	struct cs_error e;
	if (http_query(s->wsi, &q, &e) != CS_OK)
		return reply_err(s, 0, e.code, e.msg);
	double t = DISCOVER_S;
	const char *v = query_get(&q, "timeout");
	if (v) {
		char *end;
		t = strtod(v, &end);
		if (end == v || *end || !isfinite(t) || t < DISCOVER_MIN_S || t > DISCOVER_MAX_S) {
			query_free(&q);
			return reply_err(s, 400, CS_BAD_REQUEST, "timeout must be 0.2 to 10 seconds");
		}
	}
	query_free(&q);
	struct onvif_job *job = calloc(1, sizeof(*job));
	if (!job)
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	job->kind = ONVIF_JOB_DISCOVER;
	job->discover_ms = (int)(t * 1000);
	job->hosts = &api->app->cfg->hosts;
	return start_job(api, s, job);
}

/* The play URLs of named stream @id, on the host the client reached us by (over TLS when a
 * trusted proxy says it ended TLS for us). */
static json_t *play_urls(struct lws *wsi, const struct config *cfg, const char *id)
{
	char host[256] = "";
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		str_copy(host, sizeof(host), "localhost");
	for (char *c = host; *c; c++)
		if (*c <= ' ' || *c == '/' || *c == '"' || *c == '\\' || *c == '?' || *c == '#')
			*c = '_';
	bool tls = access_client_tls(wsi, cfg);
	const char *h = tls ? "https" : "http", *w = tls ? "wss" : "ws";
	char b[8][512];
	snprintf(b[0], sizeof(b[0]), "%s://%s/live/%s.flv", h, host, id);
	snprintf(b[1], sizeof(b[1]), "%s://%s/ws/flv?name=%s", w, host, id);
	snprintf(b[2], sizeof(b[2]), "%s://%s/ws/stream?name=%s", w, host, id);
	snprintf(b[3], sizeof(b[3]), "%s://%s/mjpeg?name=%s", h, host, id);
	snprintf(b[4], sizeof(b[4]), "%s://%s/api/streams/%s/snapshot", h, host, id);
	snprintf(b[5], sizeof(b[5]), "%s://%s/live/%s.m3u8", h, host, id);
	snprintf(b[6], sizeof(b[6]), "%s://%s/api/streams/%s/whep", h, host, id);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "flv", b[0], "ws_flv", b[1], "ws", b[2],
		"mjpeg", b[3], "snapshot", b[4], "hls", b[5], "webrtc", b[6]);
}

static int on_source(struct onvif_api *api, struct osess *s)
{
	struct streams *st = api->app->streams;
	struct cs_error e;
	cs_error_clear(&e);
	if (s->method == M_DELETE) {
		if (!streams_remove(st, s->id, &e))
			return reply_cs(s, &e);
		return reply_json(s, 200, json_pack("{s:b,s:s}", "ok", 1, "id", s->id));
	}
	json_error_t jerr;
	json_t *doc = s->body ? json_loadb(s->body, s->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	const char *src = json_is_object(doc) ? str_field(doc, "source", NULL) : NULL;
	const json_t *tr = json_is_object(doc) ? json_object_get(doc, "transport") : NULL;
	if (!src || (tr && !json_is_string(tr))) {
		json_decref(doc);
		return reply_err(s, 400, CS_BAD_REQUEST, "send a JSON object: {\"source\":\"rtsp://"
			"...\",\"transport\":\"udp\"|\"tcp\"}");
	}
	char transport[16];
	if (!str_fits(transport, sizeof(transport), tr ? json_string_value(tr) : "tcp")) {
		json_decref(doc);
		return reply_err(s, 400, CS_BAD_REQUEST, "\"transport\" is \"udp\" or \"tcp\"");
	}
	json_t *def = json_pack("{s:s,s:s,s:s}", "name", s->id, "rtsp_url", src, "transport",
		transport);
	json_t *load = def ? json_pack("{s:[o]}", "streams", def) : NULL;
	explicit_bzero(s->body, s->len);
	json_decref(doc);
	if (!load)
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	json_t *res = streams_load_json(st, load, &e);
	json_decref(load);
	if (!res)
		return reply_cs(s, &e);
	bool added = json_array_size(json_object_get(res, "added")) > 0;
	json_decref(res);
	json_t *status = streams_status_json(st, s->id);
	json_t *out = play_urls(s->wsi, api->app->cfg, s->id);
	if (!out) {
		json_decref(status);
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	}
	json_object_set_new(out, "id", json_string(s->id));
	/* the source as every reply shows it: redacted (the registry's own words) */
	json_t *shown = status ? json_object_get(status, "rtsp_url") : NULL;
	json_object_set(out, "source", json_is_string(shown) ? shown : json_null());
	json_object_set_new(out, "transport", json_string(transport));
	json_decref(status);
	return reply_json(s, added ? 201 : 200, out);
}

static enum route parse_route(const char *path, char *id, size_t cap)
{
	if (!strcmp(path, API_PREFIX "/probe"))
		return R_PROBE;
	if (!strcmp(path, API_PREFIX "/discover"))
		return R_DISCOVER;
	if (!strcmp(path, OPENAPI_PREFIX "/onvif/device"))
		return R_DEVICE;
	const char *pre = OPENAPI_PREFIX "/source/";
	size_t n = strlen(pre);
	if (strncmp(path, pre, n))
		return R_NONE;
	return str_fits(id, cap, path + n) && stream_name_ok(id) ? R_SOURCE : R_SOURCE_BAD;
}

static int dispatch(struct onvif_api *api, struct osess *s)
{
	if (s->too_big)
		return reply_err(s, 413, CS_BAD_REQUEST, "the request body is larger than 16 KiB");
	if (s->nomem)
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	switch (s->route) {
	case R_PROBE:
	case R_DEVICE:
		if (s->method != M_POST)
			break;
		return on_probe(api, s, s->route == R_DEVICE);
	case R_DISCOVER:
		if (s->method != M_GET)
			break;
		return on_discover(api, s);
	case R_SOURCE:
		if (s->method != M_POST && s->method != M_DELETE)
			break;
		return on_source(api, s);
	case R_SOURCE_BAD:
		return reply_err(s, 400, CS_BAD_REQUEST, "a source id is 1 to 64 of A-Z a-z 0-9 _ . - "
			"(a stream name)");
	case R_NONE:
		return reply_err(s, 404, CS_NOT_FOUND, "no such path (ONVIF is POST /api/onvif/probe "
			"and GET /api/onvif/discover; seed 004's POST /openapi/onvif/device and "
			"POST|DELETE /openapi/source/{id})");
	}
	return reply_err(s, 405, CS_BAD_REQUEST, s->route == R_DISCOVER ? "method not allowed "
		"here: use GET" : s->route == R_SOURCE ? "method not allowed here: use POST or DELETE" :
		"method not allowed here: use POST");
}

static int begin(struct onvif_api *api, struct lws *wsi, struct osess *s)
{
	char *uri = NULL;
	int uri_len = 0, ret;
	char path[128];
	s->wsi = wsi;
	int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	s->method = m == LWSHUMETH_GET ? M_GET : m == LWSHUMETH_POST ? M_POST :
		m == LWSHUMETH_DELETE ? M_DELETE : M_OTHER;
	if (m < 0 || !uri || uri_len <= 0 || (size_t)uri_len >= sizeof(path))
		uri_len = 0;
	if (uri_len)
		memcpy(path, uri, (size_t)uri_len);
	path[uri_len] = '\0';
	if (!access_http_check(wsi, true, NULL, &ret))
		return ret;
	s->route = parse_route(path, s->id, sizeof(s->id));
	long long cl = http_content_length(wsi);
	bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	if (s->method != M_POST || (cl <= 0 && !chunked)) {
		if (cl > 0 || chunked)
			s->close_after = true; /* a body we do not read */
		return dispatch(api, s);
	}
	if (cl < 0) {
		s->close_after = true;
		return reply_err(s, 411, CS_BAD_REQUEST, "send the body with a Content-Length");
	}
	if (cl > BODY_MAX) {
		s->close_after = true;
		return reply_err(s, 413, CS_BAD_REQUEST, "the request body is larger than 16 KiB");
	}
	s->cap = (size_t)cl;
	s->body = malloc(s->cap + 1);
	if (!s->body) {
		s->close_after = true;
		return reply_err(s, 503, CS_SERVER_BUSY, "out of memory");
	}
	return 0; /* HTTP_BODY, then HTTP_BODY_COMPLETION */
}

static void take_body(struct osess *s, const void *in, size_t len)
{
	if (s->too_big || s->nomem || !s->body)
		return;
	if (s->len + len > s->cap) {
		s->too_big = true;
		return;
	}
	memcpy(s->body + s->len, in, len);
	s->len += len;
	s->body[s->len] = '\0';
}

static void finish(struct onvif_api *api, struct osess *s)
{
	if (s->job) {
		if (api) {
			unlink_waiting(api, s);
			onvif_job_cancel(s->job);
			struct orphan *o = malloc(sizeof(*o));
			if (o) {
				o->job = s->job;
				o->next = api->orphans;
				api->orphans = o;
			} else {
				onvif_job_free(s->job); /* joins: within about a second, cancelled */
			}
		}
		s->job = NULL;
	}
	if (s->body) {
		explicit_bzero(s->body, s->len);
		free(s->body);
		s->body = NULL;
	}
	s->wsi = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct osess *s = user;
	struct app *app = app_of(wsi);
	struct onvif_api *api = app ? app->onvif : NULL;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (!s || !api)
			return -1;
		return begin(api, wsi, s);
	case LWS_CALLBACK_HTTP_BODY:
		if (s && !s->replied)
			take_body(s, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/* lws reads a body after any method: only a POST's was waited for (a GET with a
		 * body has been dispatched already, and may be waiting for its job) */
		if (!s || s->replied || s->job || !s->body || !api)
			return 0;
		return dispatch(api, s);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (s && s->job && api && onvif_job_done(s->job))
			return answer_job(api, s);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s && s->wsi)
			finish(api, s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols onvif_api_protocol = {
	.name = "camstream-onvif",
	.callback = callback,
	.per_session_data_size = sizeof(struct osess),
	.tx_packet_size = 64 * 1024 + 64,
};
