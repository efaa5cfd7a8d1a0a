#include "server.h"

#include <netinet/in.h>
#include <linux/tcp.h> /* its tcp_info has tcpi_snd_wnd; glibc's does not */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <linux/sockios.h>

#include <libavutil/log.h>
#include <libwebsockets.h>

#include "frame.h"
#include "http_api.h"
#include "hub.h"
#include "log.h"
#include "streams.h"
#include "ws_stream.h"

_Static_assert(FRAME_HEADROOM >= LWS_PRE, "frames need LWS_PRE bytes of headroom");

/* Context user data: the whole server's state (service thread only, but for ctx and the
 * atomically-read fields the workers never touch). */
struct server {
	struct server_state st;
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;  /* wakes the loop so it notices the stop flag */
	volatile sig_atomic_t *stop;
};

struct server_state *server_get(struct lws *wsi)
{
	struct server *s = lws_context_user(lws_get_context(wsi));
	return &s->st;
}

bool server_send_backlogged(struct lws *wsi, struct send_gate *g)
{
	int fd = lws_get_socket_fd(wsi);
	int unsent = 0;
	if (fd < 0 || ioctl(fd, SIOCOUTQNSD, &unsent) < 0)
		return false;
	if (unsent > 0)
		return true;
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
	if (now - g->held_since < SEND_GATE_PATIENCE_US)
		return true;
	g->max_wnd = ti.tcpi_snd_wnd;
	g->held_since = 0;
	return false;
}

/* Called by workers after publishing: the one lws call allowed off the service thread.
 * It goes through this process-wide latch so that a worker abandoned at shutdown (see
 * hub_destroy) can never reach a destroyed context. */
static pthread_mutex_t waker_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lws_context *waker_ctx; /* under waker_lock */

static void wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&waker_lock);
	if (waker_ctx)
		lws_cancel_service(waker_ctx);
	pthread_mutex_unlock(&waker_lock);
}

static void waker_set(struct lws_context *ctx)
{
	pthread_mutex_lock(&waker_lock);
	waker_ctx = ctx;
	pthread_mutex_unlock(&waker_lock);
}

/* protocols[0]: plain HTTP, plus the wake-up from workers. */
static int callback_main(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		struct server *s = lws_context_user(lws_get_context(wsi));
		if (s && s->st.hub)
			hub_poll(s->st.hub);
		return 0; /* non-zero would close the event pipe */
	}
	return http_api_callback(wsi, reason, user, in, len);
}

/* The WebSocket protocol: lws asks it, as the default protocol, to confirm upgrades. */
static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
		return http_api_confirm_upgrade(wsi);
	return ws_stream_callback(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
	{ "http", callback_main, 0, 0, 0, NULL, WS_STREAM_FRAGMENT + 64 },
	{ WS_STREAM_PROTOCOL, callback_ws, 0, 4096, 0, NULL, WS_STREAM_FRAGMENT + 64 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Browsers open a WebSocket without naming a subprotocol: make ours the default. */
static const struct lws_protocol_vhost_options pvo_default = { NULL, NULL, "default", "1" };
static const struct lws_protocol_vhost_options pvo = { NULL, &pvo_default, WS_STREAM_PROTOCOL,
	"" };

/* Dead viewers are pinged after 30 s of silence and dropped 15 s later. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 45,
};

static void lws_log_to_ours(int level, const char *line)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "lws: %s", line);
	log_msg(level & LLL_ERR ? LOG_WARN : LOG_DEBUG, "%s", buf);
}

/* FFmpeg logs from worker and codec threads; log_msg is thread-safe. Its messages are detail
 * for debugging: the worker reports each failure itself in plain words. */
static void av_log_to_ours(void *avcl, int level, const char *fmt, va_list vl)
{
	if (level > av_log_get_level() || log_get_level() < LOG_DEBUG)
		return;
	char line[1024];
	int print_prefix = 1;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	log_msg(LOG_DEBUG, "ffmpeg: %s", line);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("could not raise the open file limit");
	}
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct server *s = lws_container_of(sul, struct server, tick);
	if (s->st.hub && !s->st.shutting_down)
		hub_tick(s->st.hub);
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, 100 * LWS_US_PER_MS);
}

static bool is_wildcard(const char *host)
{
	return !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "*");
}

static void announce(const struct config *cfg, int port)
{
	bool v6 = strchr(cfg->host, ':') != NULL;
	const char *scheme = cfg->tls_cert[0] ? "https" : "http";
	printf("camstream listening on %s://%s%s%s:%d\n", scheme, v6 ? "[" : "", cfg->host,
		v6 ? "]" : "", port);
	fflush(stdout);
	if (is_wildcard(cfg->host))
		log_info("open %s://127.0.0.1:%d/ in a browser", scheme, port);
}

/* Sends close 1001 to every viewer and services the loop until they are gone (1.2 s most). */
static void drain_viewers(struct server *s)
{
	s->st.shutting_down = 1;
	hub_stop_all(s->st.hub);
	hub_notify_all(s->st.hub);
	int64_t deadline = clock_mono_us() + 1200000;
	while (s->st.clients > 0 && clock_mono_us() < deadline)
		lws_service(s->ctx, 0);
	if (s->st.clients > 0)
		log_warn("%d viewer(s) did not close in time", s->st.clients);
}

int server_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct server s = { .st.cfg = cfg, .stop = stop };
	int ret = -1;

	raise_fd_limit();
	lws_set_log_level(cfg->log_level >= LOG_DEBUG ? LLL_ERR | LLL_WARN | LLL_NOTICE
		: LLL_ERR, lws_log_to_ours);
	av_log_set_level(cfg->log_level >= LOG_DEBUG ? AV_LOG_INFO : AV_LOG_ERROR);
	av_log_set_callback(av_log_to_ours);

	protocols[0].per_session_data_size = http_api_session_size();
	protocols[1].per_session_data_size = ws_stream_session_size();

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = cfg->port;
	info.iface = is_wildcard(cfg->host) ? NULL : cfg->host;
	info.protocols = protocols;
	info.pvo = &pvo;
	info.user = &s;
	/* room for an 8 KB camera URL, percent-encoded, plus a browser's other headers; a longer
	 * request still reaches us and is answered 414 (lws would drop it without a word) */
	info.max_http_header_data = 49152;
	info.retry_and_idle_policy = &idle_policy;
	info.options = 0;
	if (strchr(cfg->host, '.'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->tls_cert[0]) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
		/* WebSockets stay on HTTP/1.1: over HTTP/2 a 64 KB fragment exceeds the 16 KB frame
		 * browsers accept, and they drop the connection */
		info.alpn = "http/1.1";
	}

	s.ctx = lws_create_context(&info);
	if (!s.ctx) {
		log_error("cannot listen on %s:%d (address in use, not ours, or a TLS certificate or "
			"key that cannot be read?)", cfg->host, cfg->port);
		return -1;
	}
	struct hub_config hc = {
		.open_timeout_us = (int64_t)cfg->open_timeout_ms * 1000,
		.read_timeout_us = (int64_t)cfg->read_timeout_ms * 1000,
		.isolate = cfg->isolate,
		.max_sources = cfg->max_sources,
		.max_sessions_per_host = cfg->max_sessions_per_host,
		.hosts = cfg->hosts.n ? &cfg->hosts : NULL,
	};
	waker_set(s.ctx);
	s.st.hub = hub_create(&hc, wake, NULL);
	s.st.streams = s.st.hub ? streams_create(s.st.hub, &cfg->policy) : NULL;
	if (!s.st.streams) {
		log_error("out of memory");
		goto out_hub;
	}
	if (cfg->config_file[0]) {
		char err[512];
		if (!streams_load_file(s.st.streams, cfg->config_file, cfg->config_write, err,
			sizeof(err))) {
			log_error("%s", err);
			goto out_hub;
		}
	}
	s.st.started_wall_us = clock_wall_us();

	struct lws_vhost *vh = lws_get_vhost_by_name(s.ctx, "default");
	announce(cfg, vh ? lws_get_vhost_listen_port(vh) : cfg->port);
	lws_sul_schedule(s.ctx, 0, &s.tick, on_tick, 100 * LWS_US_PER_MS);

	while (!*stop)
		lws_service(s.ctx, 0);

	log_info("stopping: closing %d viewer(s), %d source(s)", s.st.clients,
		hub_source_count(s.st.hub));
	drain_viewers(&s);
	ret = 0;

out_hub:
	streams_destroy(s.st.streams);
	s.st.streams = NULL;
	/* workers call lws_cancel_service(ctx): join them (or give up on stuck ones, within the
	 * 2 s a shutdown may take) and disarm the wake-up before the context goes */
	hub_destroy(s.st.hub, 400 * 1000);
	s.st.hub = NULL;
	waker_set(NULL);
	lws_sul_cancel(&s.tick);
	lws_context_destroy(s.ctx);
	av_log_set_callback(av_log_default_callback);
	return ret;
}
