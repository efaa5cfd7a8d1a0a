/* server: the composition root. It builds the house (the hub with its inputs, the named
 * streams, the app every handler reaches), routes every endpoint to its room with lws mounts
 * (one protocol per endpoint), and runs the one service thread until the stop signal. */
#include "server.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <libwebsockets.h>

#include "access.h"
#include "app.h"
#include "av_pull.h"
#include "avlog.h"
#include "clock.h"
#include "demo.h"
#include "flv_http.h"
#include "flv_ws.h"
#include "hls.h"
#include "webrtc.h"
#include "hub.h"
#include "log.h"
#include "lws_glue.h"
#include "metrics.h"
#include "mjpeg.h"
#include "onvif.h"
#include "onvif_api.h"
#include "rtmp_api.h"
#include "rtmp_push.h"
#include "rtmp_server.h"
#include "site.h"
#include "snapshot.h"
#include "streams.h"
#include "streams_api.h"
#include "ws_jpeg.h"

/* The paths that take a WebSocket. */
static const char *const ws_paths[] = { "/ws/stream", FLV_WS_PATH };

struct server {
	struct app app;               /* the context's user data: every handler's app_of() */
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;  /* wakes the loop so it notices the stop flag */
	volatile sig_atomic_t *stop;
	char js_dir[4200], css_dir[4200];
	struct lws_http_mount mounts[14];
};

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

/* Every protocol's callback passes this gate first. A WebSocket upgrade is confirmed here,
 * whichever protocol lws asks: the first request of a connection goes to the vhost's
 * default (the WebSocket protocol), but after a kept-alive transaction lws 4.1.6 binds
 * protocols[0] again and asks that; the other protocols are gated too, so no binding lws
 * might keep can skip the checks. And any callback means no request head is overflowing now
 * (lws_glue.c). */
static int gate(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len, lws_callback_function *inner)
{
	lws_glue_no_overflow();
	if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
		return access_confirm_upgrade(wsi, ws_paths, sizeof(ws_paths) / sizeof(ws_paths[0]));
	return inner(wsi, reason, user, in, len);
}

/* protocols[0]: what no mount takes (site.c), and the wake-up from workers, which lws
 * delivers to every protocol: this one runs the hub's poll. */
static int main_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		struct app *app = app_of(wsi);
		if (app && app->hub)
			hub_poll(app->hub);
		if (app)
			onvif_api_poll(app->onvif);
		return 0; /* non-zero would close the event pipe */
	}
	return site_callback(wsi, reason, user, in, len);
}

#define GATED(name, inner) \
	static int name(struct lws *wsi, enum lws_callback_reasons reason, void *user, \
		void *in, size_t len) \
	{ \
		return gate(wsi, reason, user, in, len, inner); \
	}

/* The WebSocket protocol is the vhost's default (browsers name none). */
GATED(gated_main, main_callback)
GATED(gated_mjpeg, mjpeg_protocol.callback)
GATED(gated_snapshot, snapshot_protocol.callback)
GATED(gated_metrics, metrics_protocol.callback)
GATED(gated_api, streams_api_protocol.callback)
GATED(gated_flv, flv_http_protocol.callback)
GATED(gated_rtmp_api, rtmp_api_protocol.callback)
GATED(gated_hls, hls_protocol.callback)
GATED(gated_whep, webrtc_http_protocol.callback)
GATED(gated_onvif, onvif_api_protocol.callback)

/* WebSockets. Browsers and mpegts.js name no subprotocol, so lws gives every upgrade the
 * vhost's default protocol, whatever the path (a mount does not bind one in lws 4.1.6). This
 * one picks the endpoint's protocol by the path when the connection is established and hands
 * it every callback, with its own part of the session data. */
struct ws_route {
	const struct lws_protocols *inner; /* NULL until ESTABLISHED */
	_Alignas(max_align_t) unsigned char pss[];
};

static size_t ws_route_size(void)
{
	size_t a = ws_jpeg_protocol.per_session_data_size;
	size_t b = flv_ws_protocol.per_session_data_size;
	return sizeof(struct ws_route) + (a > b ? a : b);
}

static int ws_route_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct ws_route *r = user;
	if (reason == LWS_CALLBACK_ESTABLISHED && r) {
		char path[sizeof(FLV_WS_PATH) + 1];
		int n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
		r->inner = n > 0 && !strcmp(path, FLV_WS_PATH) ? &flv_ws_protocol
			: &ws_jpeg_protocol;
	}
	if (r && r->inner)
		return r->inner->callback(wsi, reason, r->pss, in, len);
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
GATED(gated_ws, ws_route_callback)

enum { P_MAIN, P_WS, P_MJPEG, P_SNAPSHOT, P_METRICS, P_API, P_FLV, P_RTMP_API, P_HLS, P_WHEP,
	P_WEBRTC_UDP, P_ONVIF, P_END };
static struct lws_protocols protocols[P_END + 1];

static void build_protocols(void)
{
	protocols[P_MAIN] = (struct lws_protocols){ .name = "http", .callback = gated_main,
		.per_session_data_size = SITE_SESSION_SIZE,
		.tx_packet_size = WS_JPEG_FRAGMENT + 64 };
	protocols[P_WS] = ws_jpeg_protocol;
	protocols[P_WS].callback = gated_ws;
	protocols[P_WS].per_session_data_size = ws_route_size();
	protocols[P_MJPEG] = mjpeg_protocol;
	protocols[P_MJPEG].callback = gated_mjpeg;
	protocols[P_SNAPSHOT] = snapshot_protocol;
	protocols[P_SNAPSHOT].callback = gated_snapshot;
	protocols[P_METRICS] = metrics_protocol;
	protocols[P_METRICS].callback = gated_metrics;
	protocols[P_API] = streams_api_protocol;
	protocols[P_API].callback = gated_api;
	protocols[P_FLV] = flv_http_protocol;
	protocols[P_FLV].callback = gated_flv;
	protocols[P_RTMP_API] = rtmp_api_protocol;
	protocols[P_RTMP_API].callback = gated_rtmp_api;
	protocols[P_HLS] = hls_protocol;
	protocols[P_HLS].callback = gated_hls;
	protocols[P_WHEP] = webrtc_http_protocol;
	protocols[P_WHEP].callback = gated_whep;
	protocols[P_WEBRTC_UDP] = webrtc_udp_protocol;
	protocols[P_ONVIF] = onvif_api_protocol;
	protocols[P_ONVIF].callback = gated_onvif;
	protocols[P_END] = (struct lws_protocols){ 0 };
}

/* Browsers open a WebSocket without naming a subprotocol: make ours the default. */
static const struct lws_protocol_vhost_options pvo_default = { NULL, NULL, "default", "1" };
static const struct lws_protocol_vhost_options pvo = { NULL, &pvo_default, WS_JPEG_PROTOCOL,
	"" };

/* Each endpoint's path and the protocol that takes it; the page's files from the web root. */
static void build_mounts(struct server *s)
{
	static const struct {
		const char *path;
		int protocol;
	} routes[] = {
		{ "/mjpeg", P_MJPEG }, { "/snapshot", P_SNAPSHOT }, { "/metrics", P_METRICS },
		{ "/api/streams", P_API }, { "/api/config", P_API }, { "/flv", P_FLV },
		{ "/live", P_HLS }, { "/hls", P_HLS }, { "/rtmp", P_RTMP_API }, { "/whep", P_WHEP },
		{ "/api/onvif", P_ONVIF }, { "/openapi", P_ONVIF },
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++, n++)
		s->mounts[n] = (struct lws_http_mount){
			.mountpoint = routes[i].path,
			.mountpoint_len = (unsigned char)strlen(routes[i].path),
			.origin = protocols[routes[i].protocol].name,
			.origin_protocol = LWSMPRO_CALLBACK,
		};
	snprintf(s->js_dir, sizeof(s->js_dir), "%s/js", s->app.cfg->web_root);
	snprintf(s->css_dir, sizeof(s->css_dir), "%s/css", s->app.cfg->web_root);
	s->mounts[n++] = (struct lws_http_mount){ .mountpoint = "/js", .mountpoint_len = 3,
		.origin = s->js_dir, .origin_protocol = LWSMPRO_FILE };
	s->mounts[n++] = (struct lws_http_mount){ .mountpoint = "/css", .mountpoint_len = 4,
		.origin = s->css_dir, .origin_protocol = LWSMPRO_FILE };
	for (size_t i = 0; i + 1 < n; i++)
		s->mounts[i].mount_next = &s->mounts[i + 1];
}

/* Dead viewers are pinged after 30 s of silence and dropped 15 s later. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 45,
};

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
	if (s->app.hub && !s->app.shutting_down) {
		hub_tick(s->app.hub);
		rtmp_server_tick(s->app.rtmp);
	}
	rtmp_api_tick(s->app.rtmp_api);
	onvif_api_poll(s->app.onvif);
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, 100 * LWS_US_PER_MS);
}

static bool is_wildcard(const char *host)
{
	return !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "*");
}

static void announce(const struct config *cfg, int port, int rtmp_port, int webrtc_port)
{
	bool v6 = strchr(cfg->host, ':') != NULL;
	const char *scheme = cfg->tls_cert[0] ? "https" : "http";
	printf("camstream listening on %s://%s%s%s:%d\n", scheme, v6 ? "[" : "", cfg->host,
		v6 ? "]" : "", port);
	if (rtmp_port >= 0)
		printf("camstream rtmp on rtmp://%s%s%s:%d/live/\n", v6 ? "[" : "", cfg->host,
			v6 ? "]" : "", rtmp_port);
	if (webrtc_port >= 0)
		printf("camstream webrtc on udp://%s%s%s:%d\n", v6 ? "[" : "", cfg->host,
			v6 ? "]" : "", webrtc_port);
	fflush(stdout);
	if (is_wildcard(cfg->host))
		log_info("open %s://127.0.0.1:%d/ in a browser", scheme, port);
}

/* Sends close 1001 to every viewer and services the loop until they are gone (1.2 s most). */
static void drain_viewers(struct server *s)
{
	s->app.shutting_down = true;
	hub_stop_all(s->app.hub);
	hub_notify_all(s->app.hub);
	rtmp_server_close_all(s->app.rtmp);
	int64_t deadline = clock_mono_us() + 1200000;
	while ((s->app.clients > 0 || rtmp_server_connections(s->app.rtmp) > 0) &&
		clock_mono_us() < deadline)
		lws_service(s->ctx, 0);
	if (s->app.clients > 0)
		log_warn("%d viewer(s) did not close in time", s->app.clients);
}

int server_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct server s = { .app.cfg = cfg, .stop = stop };
	int ret = -1;

	raise_fd_limit();
	lws_glue_logging(cfg->log_level >= LOG_DEBUG, !cfg->tls_cert[0]);
	avlog_route(cfg->log_level >= LOG_DEBUG);
	build_protocols();
	build_mounts(&s);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = cfg->port;
	info.iface = is_wildcard(cfg->host) ? NULL : cfg->host;
	info.protocols = protocols;
	info.pvo = &pvo;
	info.mounts = s.mounts;
	info.user = &s.app;
	/* room for an 8 KB camera URL, percent-encoded, plus a browser's other headers; a longer
	 * request still reaches us and is answered 414 */
	info.max_http_header_data = 49152;
	/* the service thread's read buffer: a raw socket (an RTMP publisher) is read into it, so
	 * at lws' default of 4 KB a 125 KB key picture took 31 reads, each after a poll */
	info.pt_serv_buf_size = 65536;
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

	struct push_registry *push_reg = push_registry_create();
	if (!push_reg) {
		log_error("out of memory");
		return -1;
	}
	s.ctx = lws_create_context(&info);
	if (!s.ctx) {
		push_registry_destroy(push_reg);
		log_error("cannot listen on %s:%d (address in use, not ours, or a TLS certificate or "
			"key that cannot be read?)", cfg->host, cfg->port);
		avlog_restore();
		return -1;
	}
	onvif_global_init(); /* libcurl's and libxml2's, before any thread of ours */
	struct hub_config hc = {
		.open_timeout_us = (int64_t)cfg->open_timeout_ms * 1000,
		.read_timeout_us = (int64_t)cfg->read_timeout_ms * 1000,
		.isolate = cfg->isolate,
		.no_slice_release = cfg->no_slice_release,
		.decoder_linger_us = (int64_t)(cfg->keep_warm_s * 1e6),
		.max_sources = cfg->max_sources,
		.max_sessions_per_host = cfg->max_sessions_per_host,
		.hosts = cfg->hosts.n ? &cfg->hosts : NULL,
		.pull_input = &av_pull_input,
		.demo_input = &demo_input,
		.push_input = cfg->rtmp_port >= 0 ? &rtmp_push_input : NULL,
		.push_ctx = push_reg,
	};
	waker_set(s.ctx);
	s.app.hub = hub_create(&hc, wake, NULL);
	s.app.streams = s.app.hub ? streams_create(s.app.hub, &cfg->policy) : NULL;
	if (s.app.streams)
		streams_set_cluster(s.app.streams, &cfg->cluster, cfg->token);
	s.app.rtmp_api = s.app.streams ? rtmp_api_create(&s.app) : NULL;
	s.app.hls = s.app.rtmp_api ? hls_create(&s.app, s.ctx) : NULL;
	s.app.onvif = s.app.hls ? onvif_api_create(&s.app, wake, NULL) : NULL;
	if (!s.app.onvif) {
		log_error("out of memory");
		goto out_hub;
	}
	if (cfg->config_file[0]) {
		struct cs_error err;
		if (!streams_load_file(s.app.streams, cfg->config_file, cfg->config_write, &err)) {
			log_error("%s", err.msg);
			goto out_hub;
		}
	}
	s.app.started_wall_us = clock_wall_us();

	int rtmp_port = -1;
	if (cfg->rtmp_port >= 0) {
		struct cs_error err;
		s.app.rtmp = rtmp_server_create(s.ctx, &s.app, push_reg, &rtmp_port, &err);
		if (!s.app.rtmp && cfg->rtmp_port_given) {
			log_error("%s", err.msg);
			goto out_hub;
		}
		if (!s.app.rtmp) {
			log_warn("%s: running without RTMP ingest (--rtmp-port picks another port, "
				"--rtmp-port off says so)", err.msg);
			rtmp_port = -1;
		}
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(s.ctx, "default");
	int webrtc_port = -1;
	if (cfg->webrtc_port >= 0) {
		struct cs_error err;
		s.app.webrtc = vh ? webrtc_create(&s.app, s.ctx, vh, &webrtc_port, &err) : NULL;
		if (!s.app.webrtc && !vh)
			snprintf(err.msg, sizeof(err.msg), "WebRTC: no vhost");
		if (!s.app.webrtc && cfg->webrtc_port_given) {
			log_error("%s", err.msg);
			goto out_hub;
		}
		if (!s.app.webrtc) {
			log_warn("%s: running without WebRTC (--webrtc-port picks another port, "
				"--webrtc-port off says so)", err.msg);
			webrtc_port = -1;
		}
	}
	announce(cfg, vh ? lws_get_vhost_listen_port(vh) : cfg->port, rtmp_port, webrtc_port);
	lws_sul_schedule(s.ctx, 0, &s.tick, on_tick, 100 * LWS_US_PER_MS);

	while (!*stop) {
		lws_service(s.ctx, 0);
		lws_glue_no_overflow(); /* a flag left by a pass must not outlive it */
	}

	log_info("stopping: closing %d viewer(s), %d source(s)", s.app.clients,
		hub_source_count(s.app.hub));
	webrtc_begin_shutdown(s.app.webrtc);
	drain_viewers(&s);
	ret = 0;

out_hub:
	webrtc_shutdown(s.app.webrtc);
	hls_shutdown(s.app.hls);
	rtmp_api_destroy(s.app.rtmp_api);
	s.app.rtmp_api = NULL;
	onvif_api_destroy(s.app.onvif); /* cancels its jobs and joins their threads */
	s.app.onvif = NULL;
	streams_destroy(s.app.streams);
	s.app.streams = NULL;
	/* workers call lws_cancel_service(ctx): join them (or give up on stuck ones, within the
	 * 2 s a shutdown may take) and disarm the wake-up before the context goes */
	hub_destroy(s.app.hub, 400 * 1000);
	s.app.hub = NULL;
	waker_set(NULL);
	lws_sul_cancel(&s.tick);
	/* the RTMP connections close with the context: their publishers end in the registry */
	lws_context_destroy(s.ctx);
	hls_destroy(s.app.hls);
	s.app.hls = NULL;
	webrtc_destroy(s.app.webrtc);
	s.app.webrtc = NULL;
	rtmp_server_destroy(s.app.rtmp);
	s.app.rtmp = NULL;
	push_registry_destroy(push_reg);
	avlog_restore();
	onvif_global_cleanup();
	return ret;
}
