#include "viewer.h"

#include <linux/sockios.h>
#include <linux/tcp.h> /* its tcp_info has tcpi_snd_wnd; glibc's does not */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "log.h"
#include "netpolicy.h"
#include "streams.h"
#include "text.h"

#define WAIT_GRACE_US 2000000      /* a first picture may take open_timeout + this */
#define GATE_PATIENCE_US 2000000   /* see viewer_backlogged */
#define GATE_RETRY_US 10000
#define STALL_REARM_US 1000000    /* see viewer_stall_watch */
#define CHUNK_MAX (64 * 1024)
#define LWS_SEND_DEFAULT 4096      /* lws' send cap when the protocol sets none */

static struct viewer *viewer_of(struct hub_sub *sub)
{
	return (struct viewer *)(void *)((char *)sub - offsetof(struct viewer, sub));
}

static void on_news(struct hub_sub *sub)
{
	struct viewer *v = viewer_of(sub);
	if (v->finished)
		return;
	if (v->kind->on_news)
		v->kind->on_news(v);
	else if (!v->cur) /* mid-frame, the write loop asks for the next callback itself */
		lws_callback_on_writable(v->wsi);
}

const char *viewer_label(const struct viewer *v)
{
	if (v->opts.name)
		return v->opts.name;
	return v->url.redacted ? v->url.redacted : "-";
}

char *viewer_key_query(const struct viewer *v)
{
	const char *val = v->opts.name ? v->opts.name : v->opts.src ? v->opts.src : "";
	const char *key = v->opts.name ? "?name=" : "?rtsp_url=";
	/* never a credential in a reply: a camera URL that holds one is left out (a balancer
	 * then needs a named stream, docs/DEPLOY.md) */
	if (!v->opts.name && (!v->url.text || !v->url.redacted ||
	    strcmp(v->url.text, v->url.redacted)))
		return strdup("");
	size_t n = strlen(key), cap = n + 3 * strlen(val) + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	memcpy(out, key, n);
	text_uri_component(out + n, cap - n, val); /* cap is room enough */
	n = strlen(out);
	/* a long one would make a Location header larger than a proxy takes (nginx's default
	 * proxy_buffer_size is 4 KB or 8 KB): without it the URL still works, unbalanced */
	if (n > VIEWER_KEY_QUERY_MAX)
		out[0] = '\0';
	return out;
}

bool viewer_live(const struct viewer *v)
{
	return v->started && !v->finished;
}

/* Checks the source the request names: opts.name must name a stream; a camera URL opts.src
 * must pass the policies that apply to ad-hoc cameras (it is parsed into v->url). */
static enum cs_err check_source(struct viewer *v, struct app *app, struct cs_error *err)
{
	const struct config *cfg = app->cfg;
	if (v->opts.name) {
		struct hub_stream_def def;
		return streams_resolve(app->streams, v->opts.name, v->opts.relay, &def, err);
	}
	if (cfg->named_only)
		return cs_fail(err, CS_NAMED_ONLY, "this server shows named streams only: use "
			"name=<stream>");
	enum cs_err e = url_parse(v->opts.src, &cfg->policy, &v->url, err);
	if (e != CS_OK)
		return e;
	/* addresses and listed names are judged here; other names by the worker, which
	 * resolves them before it connects */
	if (!v->url.is_demo && net_policy_check_host(&cfg->hosts, v->url.host) == NET_DENIED)
		return cs_fail(err, CS_HOST_NOT_ALLOWED, "this server may not connect to the camera's "
			"host (see --allow-hosts)");
	return CS_OK;
}

enum cs_err viewer_subscribe(struct viewer *v, struct hub_sub *sub, struct cs_error *err)
{
	struct app *app = app_of(v->wsi);
	struct output_params pic = opts_output(&v->opts);
	const struct output_params *want = v->kind->coded ? NULL : &pic;
	if (v->opts.name) {
		struct hub_stream_def def;
		enum cs_err e = streams_resolve(app->streams, v->opts.name, v->opts.relay, &def,
			err);
		return e != CS_OK ? e : hub_subscribe_stream(app->hub, sub, &def, want, err);
	}
	return hub_subscribe_url(app->hub, sub, &v->url, v->opts.transport, want, err);
}

static enum cs_err read_options(struct viewer *v, const char *path_name, struct cs_error *err)
{
	struct query q;
	enum cs_err e = http_query(v->wsi, &q, err);
	if (e == CS_OK && v->kind->own_options)
		e = v->kind->own_options(v, &q, err);
	if (e == CS_OK)
		e = opts_parse(&v->opts, q.args, (size_t)q.n, err);
	query_free(&q);
	if (e != CS_OK)
		return e;
	if (v->kind->no_fps && v->opts.fps > 0)
		return cs_fail(err, CS_BAD_REQUEST, "fps does not apply to %s", v->kind->path);
	if (path_name) {
		if (v->opts.src || v->opts.name)
			return cs_fail(err, CS_BAD_REQUEST, "the path names the stream: leave out "
				"rtsp_url and name");
		v->opts.name = strdup(path_name);
		if (!v->opts.name)
			return cs_fail_oom(err);
	}
	if (!v->opts.src && !v->opts.name)
		return cs_fail(err, CS_BAD_REQUEST, "rtsp_url is required: %s?rtsp_url=<camera URL, "
			"percent-encoded> (or name=<stream name>)", v->kind->path);
	return CS_OK;
}

enum cs_err viewer_start(struct viewer *v, struct lws *wsi, const struct viewer_kind *kind,
	const char *path_name, struct cs_error *err)
{
	struct app *app = app_of(wsi);

	v->wsi = wsi;
	v->kind = kind;
	v->sub.on_news = on_news;
	v->started = true;
	/* the one admission rule: a viewer is refused when the server already has its maximum */
	if (app->shutting_down)
		return cs_fail(err, CS_SERVER_BUSY, "the server is shutting down");
	if (app->cfg->max_clients && app->clients >= app->cfg->max_clients)
		return cs_fail(err, CS_SERVER_BUSY, "the server is serving its maximum of %d viewers",
			app->cfg->max_clients);
	v->counted = true;
	app->clients++;
	access_client_addr(wsi, app->cfg, v->from, sizeof(v->from));
	enum cs_err e = read_options(v, path_name, err);
	if (e == CS_OK)
		e = check_source(v, app, err);
	if (e == CS_OK && !kind->deferred)
		e = viewer_subscribe(v, &v->sub, err);
	if (e != CS_OK)
		return e;
	/* a source that already told why it cannot give pictures (the decoder cannot open)
	 * tells this viewer now, as no news is coming to say it again; and lets it go at once,
	 * so that its output does not keep the decoder trying */
	if (!kind->deferred && (e = hub_sub_error(&v->sub, err)) != CS_OK) {
		hub_unsubscribe(app->hub, &v->sub);
		return e;
	}
	log_msg(kind->quiet ? LOG_DEBUG : LOG_INFO, "%s connected: %s from %s (%d viewers)",
		kind->what, viewer_label(v), v->from, app->clients);
	return CS_OK;
}

void viewer_finish(struct viewer *v)
{
	if (!v->started || v->finished)
		return;
	v->finished = true;
	lws_sul_cancel(&v->sul);
	struct app *app = app_of(v->wsi);
	if (app->hub)
		hub_unsubscribe(app->hub, &v->sub);
	frame_unref(v->cur);
	v->cur = NULL;
	if (v->counted) {
		v->counted = false;
		app->clients--;
		log_msg(v->kind->quiet ? LOG_DEBUG : LOG_INFO, "%s left: %s from %s (%d viewers)",
			v->kind->what, viewer_label(v), v->from, app->clients);
	}
	url_free(&v->url);
	opts_free(&v->opts);
	if (v->kind->on_finish)
		v->kind->on_finish(v);
}

static void on_wait(lws_sorted_usec_list_t *sul)
{
	struct viewer *v = lws_container_of(sul, struct viewer, sul);
	v->expired = true;
	viewer_on_timer(v);
}

void viewer_wait(struct viewer *v, int64_t wait_us)
{
	lws_sul_cancel(&v->sul);
	v->expired = false;
	if (wait_us > 0)
		lws_sul_schedule(lws_get_context(v->wsi), 0, &v->sul, on_wait, wait_us);
}

int64_t viewer_first_wait_us(struct lws *wsi)
{
	return (int64_t)app_of(wsi)->cfg->open_timeout_ms * 1000 + WAIT_GRACE_US;
}

void viewer_on_timer(struct viewer *v)
{
	if (viewer_live(v))
		lws_callback_on_writable(v->wsi);
}

struct frame *viewer_take(struct viewer *v, bool fresh)
{
	struct frame *f = hub_sub_latest(&v->sub, fresh);
	if (!f)
		return NULL;
	frame_unref(v->cur);
	v->cur = f;
	v->off = 0;
	hub_sub_set_busy(&v->sub, true);
	return f;
}

void viewer_sent(struct viewer *v)
{
	if (!v->cur)
		return;
	hub_sub_count_sent(&v->sub, v->cur->len);
	frame_unref(v->cur);
	v->cur = NULL;
	v->off = 0;
	hub_sub_set_busy(&v->sub, false);
}

enum cs_err viewer_source_error(struct viewer *v, struct cs_error *err)
{
	return hub_sub_error(&v->sub, err);
}

/* Bytes the kernel holds for the connection and has not sent yet. */
static int unsent_bytes(struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi);
	int unsent = 0;
	if (fd < 0 || ioctl(fd, SIOCOUTQNSD, &unsent) < 0)
		return 0;
	return unsent;
}

/* See viewer.h. */
static bool send_backlogged(struct lws *wsi, struct send_gate *g)
{
	if (unsent_bytes(wsi) > 0)
		return true;
	int fd = lws_get_socket_fd(wsi);
	/* The peer's window: it shrinks by what its kernel holds unread. Linux announces a
	 * reopened window only once it has at least doubled, so "under half the widest seen"
	 * is what can be told reliably: the reader has fallen a half-buffer behind. */
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
		len < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(ti.tcpi_snd_wnd))
		return false; /* a kernel older than 5.4 does not say */
	int64_t now = clock_mono_us();
	if (ti.tcpi_snd_wnd > g->max_wnd)
		g->max_wnd = ti.tcpi_snd_wnd;
	if (ti.tcpi_snd_wnd >= g->max_wnd / 2) {
		g->held_since = 0;
		return false;
	}
	/* A peer whose stack shrinks its window for another reason, or never announces the
	 * reopened one, would otherwise wait forever: after a while its window is taken as it
	 * is. */
	if (!g->held_since)
		g->held_since = now;
	if (now - g->held_since < GATE_PATIENCE_US)
		return true;
	g->max_wnd = ti.tcpi_snd_wnd;
	g->held_since = 0;
	return false;
}

bool viewer_backlogged(struct viewer *v)
{
	if (!send_backlogged(v->wsi, &v->gate))
		return false;
	/* look again shortly rather than queue a stale frame behind the last */
	lws_set_timer_usecs(v->wsi, GATE_RETRY_US);
	return true;
}

bool viewer_unsent(struct viewer *v)
{
	if (unsent_bytes(v->wsi) <= 0)
		return false;
	lws_set_timer_usecs(v->wsi, GATE_RETRY_US);
	return true;
}

void viewer_stall_watch(struct viewer *v)
{
	int64_t now = clock_mono_us();
	if (v->stall_armed_us && now - v->stall_armed_us < STALL_REARM_US)
		return;
	lws_set_timeout(v->wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	v->stall_armed_us = now;
}

int viewer_write_shared(struct lws *wsi, unsigned char *p, size_t n,
	enum lws_write_protocol wp)
{
	unsigned char saved[LWS_PRE];
	memcpy(saved, p - LWS_PRE, LWS_PRE);
	int m = lws_write(wsi, p, n, wp);
	memcpy(p - LWS_PRE, saved, LWS_PRE);
	return m < (int)n ? -1 : 0;
}

int viewer_write_next(struct viewer *v, enum lws_write_protocol wp,
	enum lws_write_protocol last_wp)
{
	struct frame *f = v->cur;
	size_t n = f->len - v->off, cap = viewer_chunk_limit(v->wsi);
	if (n > cap)
		n = cap;
	bool last = v->off + n == f->len;
	if (viewer_write_shared(v->wsi, f->data + v->off, n, last ? last_wp : wp))
		return -1;
	v->off += n;
	return last;
}

size_t viewer_chunk_limit(struct lws *wsi)
{
	const struct lws_protocols *pr = lws_get_protocol(wsi);
	size_t cap = LWS_SEND_DEFAULT;
	if (pr && pr->tx_packet_size)
		cap = pr->tx_packet_size;
	else if (pr && pr->rx_buffer_size)
		cap = pr->rx_buffer_size;
	return cap < CHUNK_MAX ? cap : CHUNK_MAX;
}

bool viewer_http_start(struct viewer *v, struct lws *wsi, const struct viewer_kind *kind,
	const char *path_name, int64_t wait_us, int *ret)
{
	struct cs_error err;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
		*ret = http_reply_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
		return false;
	}
	if (viewer_start(v, wsi, kind, path_name, &err) != CS_OK) {
		*ret = viewer_http_fail(v, &err);
		return false;
	}
	viewer_wait(v, wait_us);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
		(int)(wait_us / 1000000) + VIEWER_STALL_S);
	lws_callback_on_writable(wsi);
	return true;
}

int viewer_http_answer(struct viewer *v, struct frame *f, const char *type,
	const struct http_header *extra, size_t n_extra)
{
	struct app *app = app_of(v->wsi);

	viewer_wait(v, 0);
	frame_unref(v->cur);
	v->cur = f;
	v->off = 0;
	hub_sub_count_sent(&v->sub, f->len);
	hub_sub_keep_warm(&v->sub, app->cfg->keep_warm_s);
	hub_unsubscribe(app->hub, &v->sub);
	if (http_write_head(v->wsi, HTTP_STATUS_OK, type, f->len, extra, n_extra))
		return -1;
	lws_set_timeout(v->wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	lws_callback_on_writable(v->wsi);
	return 0;
}

int viewer_http_body(struct viewer *v)
{
	struct lws *wsi = v->wsi;
	int last = viewer_write_next(v, LWS_WRITE_HTTP, LWS_WRITE_HTTP_FINAL);
	if (last < 0)
		return -1;
	if (!last) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
		lws_callback_on_writable(wsi);
		return 0;
	}
	viewer_finish(v); /* before the transaction ends: lws frees @v there */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int viewer_http_callback(struct viewer *v, struct lws *wsi, enum lws_callback_reasons reason,
	void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return v && viewer_live(v) ? v->kind->http_writeable(v) : 0;
	case LWS_CALLBACK_TIMER:
		if (v)
			viewer_on_timer(v);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (v)
			viewer_finish(v);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

int viewer_http_fail(struct viewer *v, const struct cs_error *err)
{
	struct lws *wsi = v->wsi;
	struct cs_error e = *err;
	log_msg(e.code == CS_BAD_REQUEST ? LOG_DEBUG : LOG_INFO, "%s %s: %s (%s)",
		v->kind ? v->kind->what : "viewer", viewer_label(v), e.msg, cs_err_code(e.code));
	viewer_finish(v);
	return http_reply_cs(wsi, &e);
}
