/* rtmp_server: the RTMP ingest (see rtmp_server.h). */
#include "rtmp_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "clock.h"
#include "hub.h"
#include "log.h"
#include "rtmp_proto.h"
#include "rtmp_push.h"
#include "stream_def.h"
#include "streams.h"
#include "text.h"

#define HANDSHAKE_US (5 * 1000000LL)   /* accept -> handshake done */
#define PUBLISH_US (10 * 1000000LL)    /* accept -> publish allowed */
#define CLOSING_US (1000000LL)         /* a refusal's reply gets this long to go out */
#define SCAN_US (250 * 1000LL)         /* how often keys without a publisher are looked at */
#define WRITE_STEP 16384               /* bytes per write */
#define TOKEN_MAX 256

/* One connection: lws' per-session data. */
struct session {
	struct session *next, *prev;  /* in srv->sessions */
	struct rtmp_server *srv;
	struct lws *wsi;
	struct rtmp_conn *conn;
	struct push_pub *pub;         /* while publishing */
	char key[STREAM_NAME_MAX + 1];/* the key it publishes (or tried to) */
	char app_token[TOKEN_MAX + 1];/* ?token= on the app (OBS puts it there) */
	bool has_app_token;
	char peer[64];
	char why[CS_ERROR_MSG];       /* a refusal's description, until the proto copied it */
	int64_t accepted_us, last_rx_us, closing_us;
	int64_t since_wall_us;        /* publishing since */
	int64_t unpublished_us;       /* when it stopped publishing, 0 before */
	bool paused;                  /* reading stopped: the queue is full */
	bool closing;                 /* the end: pending output, then close */
	bool killed;                  /* closed from the tick; RAW_CLOSE still to come */
};

/* A published key whose publisher is gone (or never came), and since when. */
struct absent {
	struct absent *next;
	char name[STREAM_NAME_MAX + 1];
	int64_t since_us;
	bool seen;
};

struct rtmp_server {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct app *app;
	struct push_registry *reg;
	struct lws_protocols protocols[2];
	struct session *sessions;
	int n_sessions, n_pending, n_publishers;
	struct absent *absent;
	int64_t last_scan_us;
	uint64_t accepted, publishes, refused, bytes_in;
};

/* ---- sessions ------------------------------------------------------------------------- */

static void kill_session(struct session *ss, const char *why)
{
	if (ss->killed)
		return;
	ss->killed = true;
	log_info("rtmp %s: closing: %s", ss->peer, why);
	lws_set_timeout(ss->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void start_closing(struct session *ss)
{
	if (!ss->closing) {
		ss->closing = true;
		ss->closing_us = clock_mono_us();
	}
	lws_callback_on_writable(ss->wsi);
}

/* The publisher is gone: its source waits for the next (the grace starts now). */
static void end_publish(struct session *ss)
{
	if (!ss->pub)
		return;
	push_pub_end(ss->pub);
	ss->pub = NULL;
	ss->unpublished_us = clock_mono_us();
	ss->srv->n_publishers--;
	ss->srv->n_pending++; /* no longer publishing; closes soon */
	if (ss->paused) {
		ss->paused = false;
		lws_rx_flow_control(ss->wsi, 1);
	}
	log_info("rtmp %s: stopped publishing live/%s", ss->peer, ss->key);
}

/* ---- who may publish ------------------------------------------------------------------ */

/* The value of ?token= in @query (after the '?'), percent-decoded, into @out. */
static bool query_token(const char *query, char *out, size_t cap)
{
	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= 6 && !strncmp(p, "token=", 6)) {
			size_t o = 0;
			for (size_t i = 6; i < n; i++) {
				char c = p[i];
				if (c == '%' && i + 2 < n && ascii_hex_val(p[i + 1]) >= 0 &&
					ascii_hex_val(p[i + 2]) >= 0) {
					c = (char)(ascii_hex_val(p[i + 1]) * 16 + ascii_hex_val(p[i + 2]));
					i += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (o + 1 >= cap)
					return false;
				out[o++] = c;
			}
			out[o] = '\0';
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool token_matches(const char *given, const char *want)
{
	return want && want[0] && access_equal(given, strlen(given), want, strlen(want));
}

/* The app part of a connect's "app": what comes before a query, without a trailing '/'. */
static bool app_is_live(struct session *ss, const char *app)
{
	const char *q = strchr(app, '?');
	size_t n = q ? (size_t)(q - app) : strlen(app);
	while (n && app[n - 1] == '/')
		n--;
	if (q)
		ss->has_app_token = query_token(q + 1, ss->app_token, sizeof(ss->app_token));
	return n == 4 && !strncmp(app, "live", 4);
}

static int refuse(struct session *ss, struct rtmp_reply *reply, const char *code,
	const char *fmt, const char *arg)
{
	snprintf(ss->why, sizeof(ss->why), fmt, arg);
	reply->refuse = true;
	reply->code = code;
	reply->description = ss->why;
	ss->srv->refused++;
	log_info("rtmp %s: refused: %s", ss->peer, ss->why);
	return 0;
}

static int on_publish(struct session *ss, const char *name, struct rtmp_reply *reply)
{
	struct rtmp_server *srv = ss->srv;
	const struct config *cfg = srv->app->cfg;
	if (ss->pub)
		return refuse(ss, reply, "NetStream.Publish.BadName",
			"this connection already publishes %s", ss->key);
	const char *q = strchr(name, '?');
	size_t n = q ? (size_t)(q - name) : strlen(name);
	char key[STREAM_NAME_MAX + 1];
	if (n > STREAM_NAME_MAX) {
		return refuse(ss, reply, "NetStream.Publish.BadName", "%s", "a stream key is 1 to "
			"64 of A-Z a-z 0-9 _ . -");
	}
	memcpy(key, name, n);
	key[n] = '\0';
	if (!stream_name_ok(key))
		return refuse(ss, reply, "NetStream.Publish.BadName", "%s", "a stream key is 1 to "
			"64 of A-Z a-z 0-9 _ . -");
	str_copy(ss->key, sizeof(ss->key), key);

	char given[TOKEN_MAX + 1] = "";
	bool has_token = (q && query_token(q + 1, given, sizeof(given)));
	if (!has_token && ss->has_app_token) {
		str_copy(given, sizeof(given), ss->app_token);
		has_token = true;
	}
	const char *secret;
	enum publish_right right = streams_publish_right(srv->app->streams, key, &secret);
	if (right == PUBLISH_PULLED)
		return refuse(ss, reply, "NetStream.Publish.BadName", "%s is a camera stream of this "
			"server's config: publish to another key", key);
	if (right == PUBLISH_STOPPED)
		return refuse(ss, reply, "NetStream.Publish.BadName", "stream %s is stopped (POST "
			"/api/streams/NAME/start... or enable it in the config)", key);
	if (right == PUBLISH_UNDECLARED && cfg->named_only)
		return refuse(ss, reply, "NetStream.Publish.Denied", "%s is not a stream of this "
			"server's config, and it takes declared keys only (--named-only)", key);
	bool need = cfg->token[0] || secret;
	bool ok = !need || (has_token && (token_matches(given, cfg->token) ||
		token_matches(given, secret)));
	if (!ok)
		return refuse(ss, reply, "NetStream.Publish.Denied", "publishing %s needs its token: "
			"rtmp://HOST:PORT/live/KEY?token=...", key);

	/* after the token: who owns a key is told only to those who may publish */
	if (right == PUBLISH_ELSEWHERE) {
		const char *url;
		int owner = streams_owner(srv->app->streams, key, &url);
		char why[CS_ERROR_MSG - 8];
		snprintf(why, sizeof(why), "live/%s belongs to instance %d of the cluster (%.200s): "
			"publish there", key, owner, url);
		return refuse(ss, reply, "NetStream.Publish.BadName", "%s", why);
	}

	bool busy;
	struct push_pub *pub = push_pub_begin(srv->reg, key, &busy);
	if (!pub && busy)
		return refuse(ss, reply, "NetStream.Publish.BadName", "%s: someone is already "
			"publishing it", key);
	if (!pub)
		return refuse(ss, reply, "NetStream.Publish.Failed", "%s", "the server is out of "
			"memory");
	char shown[STREAM_NAME_MAX + 16];
	snprintf(shown, sizeof(shown), "publish:%s", key);
	struct hub_stream_def def = { .name = key, .url = key, .display_url = shown, .host = "",
		.is_push = true };
	struct cs_error err;
	if (hub_stream_run(srv->app->hub, &def, &err) != CS_OK) {
		push_pub_end(pub);
		return refuse(ss, reply, "NetStream.Publish.Failed", "%s", err.msg);
	}
	ss->pub = pub;
	ss->since_wall_us = clock_wall_us();
	srv->n_publishers++;
	srv->n_pending--;
	srv->publishes++;
	log_info("rtmp %s: publishing live/%s", ss->peer, key);
	return 0;
}

/* ---- the protocol's events -------------------------------------------------------------- */

static int on_event(void *arg, const struct rtmp_event *ev, struct rtmp_reply *reply)
{
	struct session *ss = arg;
	switch (ev->kind) {
	case RTMP_EV_CONNECT:
		if (!app_is_live(ss, ev->app))
			return refuse(ss, reply, "NetConnection.Connect.Rejected", "%s", "this server "
				"takes publishers on app \"live\": rtmp://HOST:PORT/live/KEY");
		return 0;
	case RTMP_EV_PUBLISH:
		return on_publish(ss, ev->name, reply);
	case RTMP_EV_PLAY:
		return refuse(ss, reply, "NetStream.Play.Failed", "%s", "this server takes "
			"publishers only over RTMP: play http://HOST:PORT/live/KEY.flv");
	case RTMP_EV_UNPUBLISH:
		ss->unpublished_us = clock_mono_us();
		end_publish(ss);
		return 0;
	case RTMP_EV_VIDEO:
	case RTMP_EV_AUDIO:
	case RTMP_EV_DATA:
		if (!ss->pub)
			return 0; /* media before a publish: nobody to give it to */
		enum push_kind k = ev->kind == RTMP_EV_VIDEO ? PUSH_VIDEO
			: ev->kind == RTMP_EV_AUDIO ? PUSH_AUDIO : PUSH_DATA;
		if (!push_pub_send(ss->pub, k, ev->timestamp, ev->data, ev->len)) {
			if (push_pub_failed(ss->pub))
				return -1;
			if (!ss->paused) {
				/* the source is behind: TCP slows the publisher down meanwhile */
				ss->paused = true;
				lws_rx_flow_control(ss->wsi, 0);
			}
		}
		return 0;
	}
	return 0;
}

/* ---- lws ------------------------------------------------------------------------------ */

static void link_session(struct rtmp_server *srv, struct session *ss)
{
	ss->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = ss;
	srv->sessions = ss;
	srv->n_sessions++;
	srv->n_pending++;
}

static void unlink_session(struct rtmp_server *srv, struct session *ss)
{
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		srv->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	srv->n_sessions--;
	srv->n_pending--;
}

static int write_pending(struct session *ss)
{
	const uint8_t *data;
	size_t n = rtmp_conn_pending(ss->conn, &data);
	if (n) {
		unsigned char buf[LWS_PRE + WRITE_STEP];
		size_t step = n < WRITE_STEP ? n : WRITE_STEP;
		memcpy(buf + LWS_PRE, data, step);
		/* lws keeps what the kernel did not take and sends it before the next writable */
		if (lws_write(ss->wsi, buf + LWS_PRE, step, LWS_WRITE_RAW) < (int)step)
			return -1;
		rtmp_conn_sent(ss->conn, step);
		n -= step;
	}
	if (n || (ss->closing && !ss->killed))
		lws_callback_on_writable(ss->wsi);
	return 0;
}

static int callback_rtmp(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct session *ss = user;
	struct rtmp_server *srv = lws_vhost_user(lws_get_vhost(wsi));

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (!srv || srv->app->shutting_down)
			return -1;
		if (srv->n_pending >= RTMP_MAX_PENDING) {
			log_warn("rtmp: %d connections are not publishing yet: one more refused",
				srv->n_pending);
			srv->refused++;
			return -1;
		}
		memset(ss, 0, sizeof(*ss));
		ss->srv = srv;
		ss->wsi = wsi;
		ss->conn = rtmp_conn_create(NULL, on_event, ss);
		if (!ss->conn)
			return -1;
		lws_get_peer_simple(wsi, ss->peer, sizeof(ss->peer));
		ss->accepted_us = ss->last_rx_us = clock_mono_us();
		link_session(srv, ss);
		srv->accepted++;
		log_debug("rtmp %s: connected", ss->peer);
		return 0;

	case LWS_CALLBACK_RAW_RX: {
		if (!ss->conn || ss->killed)
			return 0;
		ss->last_rx_us = clock_mono_us();
		srv->bytes_in += len;
		int rc = rtmp_conn_feed(ss->conn, in, len);
		if (rc < 0) {
			srv->refused++;
			log_info("rtmp %s: %s", ss->peer, rtmp_conn_error(ss->conn));
			return -1;
		}
		if (rc == RTMP_CLOSE) {
			end_publish(ss);
			start_closing(ss);
		} else {
			const uint8_t *d;
			if (rtmp_conn_pending(ss->conn, &d))
				lws_callback_on_writable(wsi);
		}
		return 0;
	}

	case LWS_CALLBACK_RAW_WRITEABLE:
		if (!ss->conn)
			return -1;
		if (write_pending(ss))
			return -1;
		if (ss->closing) {
			const uint8_t *d;
			if (!rtmp_conn_pending(ss->conn, &d))
				return -1;
		}
		return 0;

	case LWS_CALLBACK_RAW_CLOSE:
		if (!ss->conn)
			return 0;
		end_publish(ss);
		unlink_session(srv, ss);
		rtmp_conn_destroy(ss->conn);
		ss->conn = NULL;
		log_debug("rtmp %s: closed", ss->peer);
		return 0;

	default:
		return 0;
	}
}

/* ---- keys nobody publishes -------------------------------------------------------------- */

struct scan {
	struct rtmp_server *srv;
	char (*stop)[STREAM_NAME_MAX + 1];
	size_t n_stop, cap;
	int64_t now;
};

static struct absent *absent_get(struct rtmp_server *srv, const char *name, int64_t now)
{
	for (struct absent *a = srv->absent; a; a = a->next)
		if (!strcmp(a->name, name))
			return a;
	struct absent *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	str_copy(a->name, sizeof(a->name), name);
	a->since_us = now;
	a->next = srv->absent;
	srv->absent = a;
	return a;
}

static void scan_one(const struct hub_source_info *info, void *arg)
{
	struct scan *sc = arg;
	if (!info->push || !info->name || push_registry_live(sc->srv->reg, info->name))
		return;
	struct hub_source_info now;
	if (!hub_stream_info(sc->srv->app->hub, info->name, &now))
		return; /* stopping already */
	struct absent *a = absent_get(sc->srv, info->name, sc->now);
	if (!a)
		return;
	a->seen = true;
	int64_t grace = (int64_t)(sc->srv->app->cfg->rtmp_grace_s * 1e6);
	if (sc->now - a->since_us < grace)
		return;
	if (sc->n_stop == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 8;
		void *v = realloc(sc->stop, cap * sizeof(*sc->stop));
		if (!v)
			return;
		sc->stop = v;
		sc->cap = cap;
	}
	str_copy(sc->stop[sc->n_stop++], STREAM_NAME_MAX + 1, info->name);
}

/* Stops the sources of keys nobody published for the grace period. */
static void scan_absent(struct rtmp_server *srv, int64_t now)
{
	struct scan sc = { .srv = srv, .now = now };
	for (struct absent *a = srv->absent; a; a = a->next)
		a->seen = false;
	hub_foreach(srv->app->hub, scan_one, &sc);
	for (size_t i = 0; i < sc.n_stop; i++) {
		char why[160];
		snprintf(why, sizeof(why), "nobody has published %s for %g s", sc.stop[i],
			srv->app->cfg->rtmp_grace_s);
		hub_stream_stop(srv->app->hub, sc.stop[i], why);
	}
	/* forget keys that are published again, or whose source is gone */
	for (struct absent **pp = &srv->absent; *pp;) {
		struct absent *a = *pp;
		bool stopped = false;
		for (size_t i = 0; i < sc.n_stop && !stopped; i++)
			stopped = !strcmp(sc.stop[i], a->name);
		if (!a->seen || stopped) {
			*pp = a->next;
			free(a);
		} else {
			pp = &a->next;
		}
	}
	free(sc.stop);
}

void rtmp_server_tick(struct rtmp_server *r)
{
	if (!r)
		return;
	int64_t now = clock_mono_us();
	int64_t read_us = (int64_t)r->app->cfg->read_timeout_ms * 1000;
	for (struct session *ss = r->sessions; ss; ss = ss->next) {
		if (ss->killed)
			continue;
		if (ss->closing) {
			if (now - ss->closing_us > CLOSING_US)
				kill_session(ss, "the peer did not take the last reply");
		} else if (rtmp_conn_stage(ss->conn) == RTMP_CLOSING) {
			/* unpublished: the peer closes (rtmp2sink fails when we close first) */
			if (ss->unpublished_us && now - ss->unpublished_us > CLOSING_US)
				kill_session(ss, "the publisher finished and did not close");
		} else if (rtmp_conn_stage(ss->conn) == RTMP_HANDSHAKE &&
			now - ss->accepted_us > HANDSHAKE_US) {
			r->refused++;
			kill_session(ss, "no complete handshake within 5 s");
		} else if (!ss->pub && now - ss->accepted_us > PUBLISH_US) {
			r->refused++;
			kill_session(ss, "no publish within 10 s of connecting");
		} else if (ss->pub && !ss->paused && now - ss->last_rx_us > read_us) {
			kill_session(ss, "the publisher went silent");
		} else if (ss->pub && !hub_stream_info(r->app->hub, ss->key,
			&(struct hub_source_info){ 0 })) {
			kill_session(ss, "its stream was stopped or deleted");
		}
		if (ss->paused && !ss->killed && push_pub_room(ss->pub)) {
			ss->paused = false;
			ss->last_rx_us = now;
			lws_rx_flow_control(ss->wsi, 1);
		}
	}
	if (now - r->last_scan_us >= SCAN_US) {
		r->last_scan_us = now;
		scan_absent(r, now);
	}
}

/* ---- life ------------------------------------------------------------------------------- */

struct rtmp_server *rtmp_server_create(struct lws_context *ctx, struct app *app,
	struct push_registry *reg, int *port, struct cs_error *err)
{
	struct rtmp_server *r = calloc(1, sizeof(*r));
	if (!r) {
		cs_fail_oom(err);
		return NULL;
	}
	r->ctx = ctx;
	r->app = app;
	r->reg = reg;
	r->protocols[0] = (struct lws_protocols){
		.name = "camstream-rtmp",
		.callback = callback_rtmp,
		.per_session_data_size = sizeof(struct session),
		/* lws reads raw sockets into the context's service buffer (server.c sizes it) */
	};
	const struct config *cfg = app->cfg;
	bool wildcard = !strcmp(cfg->host, "0.0.0.0") || !strcmp(cfg->host, "::") ||
		!strcmp(cfg->host, "*");
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "rtmp";
	info.port = cfg->rtmp_port;
	info.iface = wildcard ? NULL : cfg->host;
	info.protocols = r->protocols;
	info.user = r;
	info.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
		LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (strchr(cfg->host, '.'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = "camstream-rtmp";
	r->vh = lws_create_vhost(ctx, &info);
	if (!r->vh) {
		cs_fail(err, CS_SERVER_BUSY, "cannot listen for RTMP on %s:%d (address in use?)",
			cfg->host, cfg->rtmp_port);
		free(r);
		return NULL;
	}
	*port = lws_get_vhost_listen_port(r->vh);
	return r;
}

void rtmp_server_close_all(struct rtmp_server *r)
{
	if (!r)
		return;
	for (struct session *ss = r->sessions; ss; ss = ss->next)
		kill_session(ss, "the server is stopping");
}

int rtmp_server_connections(const struct rtmp_server *r)
{
	return r ? r->n_sessions : 0;
}

void rtmp_server_destroy(struct rtmp_server *r)
{
	if (!r)
		return;
	while (r->absent) {
		struct absent *a = r->absent;
		r->absent = a->next;
		free(a);
	}
	free(r);
}

void rtmp_server_get_stats(const struct rtmp_server *r, struct rtmp_server_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	out->connections = r->n_sessions;
	out->publishers = r->n_publishers;
	out->accepted = r->accepted;
	out->publishes = r->publishes;
	out->refused = r->refused;
	out->bytes_received = r->bytes_in;
}

bool rtmp_server_publisher(const struct rtmp_server *r, const char *key,
	struct rtmp_publisher_info *out)
{
	for (const struct session *ss = r ? r->sessions : NULL; ss; ss = ss->next) {
		if (ss->pub && !strcmp(ss->key, key)) {
			str_copy(out->address, sizeof(out->address), ss->peer);
			out->since_wall_us = ss->since_wall_us;
			out->bytes = rtmp_conn_bytes_in(ss->conn);
			return true;
		}
	}
	return false;
}
