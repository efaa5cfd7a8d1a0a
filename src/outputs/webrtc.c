/* webrtc: the registry of WebRTC sessions, the UDP socket they share (STUN, DTLS and SRTCP
 * in, demultiplexed by first byte and address) and the sessions' deadlines. */
#include "webrtc_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "random.h"
#include "stun.h"

/* ---- small things ---- */

/* @n characters of ICE's alphabet (RFC 8839 ice-char: letters, digits, '+', '/'). */
void rtc_random_ice_chars(char *out, size_t n)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t raw[64];
	random_bytes(raw, n);
	for (size_t i = 0; i < n; i++)
		out[i] = set[raw[i] & 63];
	out[n] = '\0';
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
	const struct sockaddr_storage *b, socklen_t blen)
{
	if (alen != blen || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
			!memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}
/* ---- the UDP socket ---- */

static struct rtc_session *by_ufrag(struct webrtc *w, const uint8_t *user, size_t len)
{
	const uint8_t *colon = memchr(user, ':', len);
	size_t n = colon ? (size_t)(colon - user) : len;
	for (struct rtc_session *s = w->sessions; s; s = s->next)
		if (s->state != S_PENDING && !s->ending && strlen(s->ufrag) == n &&
			!memcmp(s->ufrag, user, n))
			return s;
	return NULL;
}

static struct rtc_session *by_addr(struct webrtc *w, const struct sockaddr_storage *from,
	socklen_t len)
{
	for (struct rtc_session *s = w->sessions; s; s = s->next)
		if (s->peer_len && !s->ending && same_addr(&s->peer, s->peer_len, from, len))
			return s;
	return NULL;
}

static void on_stun(struct webrtc *w, const uint8_t *p, size_t n,
	const struct sockaddr_storage *from, socklen_t from_len)
{
	struct stun_msg m;
	/* RFC 8445 §7.2.2: an ICE check carries USERNAME, MESSAGE-INTEGRITY and FINGERPRINT */
	if (stun_parse(p, n, &m) != 0 || m.type != STUN_BINDING_REQUEST || !m.username ||
		!m.has_fingerprint) {
		w->m.dropped++;   /* indications, responses, garbage: nothing to answer */
		return;
	}
	struct rtc_session *s = by_ufrag(w, m.username, m.username_len);
	if (!s || !stun_check_integrity(p, n, &m, s->pwd, strlen(s->pwd))) {
		w->m.dropped++;
		return;
	}
	uint8_t out[128];
	size_t len = stun_binding_success(out, sizeof(out), m.txid,
		(const struct sockaddr *)from, s->pwd, strlen(s->pwd));
	if (len)
		rtc_send_to(w, from, from_len, out, len);
	int64_t now = mono_now();
	/* the browser nominates the pair it will use; until then the first one that checked */
	if (!s->peer_len || m.use_candidate) {
		s->peer = *from;
		s->peer_len = from_len;
	}
	/* consent (RFC 7675) is given by checks on the pair the media goes to: a check from
	 * elsewhere is answered (ICE) but does not keep sending to an address that went quiet */
	if (same_addr(&s->peer, s->peer_len, from, from_len))
		s->last_stun_us = now;
	if (s->state == S_ICE) {
		s->state = S_DTLS;
		s->first_stun_us = now;
	}
}

static void on_dtls(struct webrtc *w, struct rtc_session *s, const uint8_t *p, size_t n)
{
	enum dtls_state before = dtls_srtp_state(s->dtls);
	enum dtls_state st = dtls_srtp_input(s->dtls, p, n);
	if (st == before)
		return;
	if (st == DTLS_CONNECTED) {
		s->hist = calloc(HISTORY, sizeof(*s->hist));
		if (!s->hist) {
			log_warn("webrtc %s: out of memory", s->label);
			rtc_session_free(s);
			return;
		}
		log_info("webrtc %s: connected (%s)", s->label, dtls_srtp_profile(s->dtls));
		s->state = S_LIVE;
		s->restart = true;       /* from the cached key picture */
		s->restart_us = mono_now();
		random_bytes(&s->ts_next, sizeof(s->ts_next));
		rtc_pump(s);
	} else if (st == DTLS_FAILED) {
		log_info("webrtc %s: DTLS failed: %s", s->label, dtls_srtp_error(s->dtls));
		w->m.dtls_failures++;
		rtc_session_free(s);
	} else if (st == DTLS_CLOSED) {
		log_info("webrtc %s: the browser closed the session", s->label);
		rtc_session_free(s);
	}
}

static void on_srtcp(struct webrtc *w, struct rtc_session *s, uint8_t *p, size_t n)
{
	if (s->state != S_LIVE || !rtcp_is(p, n)) {
		w->m.dropped++;   /* RTP from a receive-only peer, or SRTCP before the keys */
		return;
	}
	if (dtls_srtp_unprotect_rtcp(s->dtls, p, &n) != 0) {
		w->m.dropped++;
		return;
	}
	rtcp_parse(p, n, rtc_on_rtcp_item, s);
}

static void on_datagram(struct webrtc *w, uint8_t *p, size_t n,
	const struct sockaddr_storage *from, socklen_t from_len)
{
	if (n == 0) {
		w->m.dropped++;
		return;
	}
	/* RFC 7983: the first byte says which protocol */
	if (p[0] <= 3) {
		on_stun(w, p, n, from, from_len);
		return;
	}
	struct rtc_session *s = by_addr(w, from, from_len);
	if (!s)
		w->m.dropped++;
	else if (p[0] >= 20 && p[0] <= 63)
		on_dtls(w, s, p, n);
	else if (p[0] >= 128 && p[0] <= 191)
		on_srtcp(w, s, p, n);
	else
		w->m.dropped++;
}

static int udp_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct app *app = app_of(wsi);
	struct webrtc *w = app ? app->webrtc : NULL;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE: {
		if (!w)
			return 0;
		static uint8_t buf[2048 + DTLS_SRTP_TRAILER];
		for (int i = 0; i < READS_PER_CALL; i++) {
			struct sockaddr_storage from;
			socklen_t from_len = sizeof(from);
			ssize_t r = recvfrom(w->fd, buf, 2048, MSG_DONTWAIT, (struct sockaddr *)&from,
				&from_len);
			if (r < 0)
				break;
			on_datagram(w, buf, (size_t)r, &from, from_len);
		}
		return 0;
	}
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (w && w->udp == wsi) {
			/* the answered sessions' viewers name this socket: they end with it */
			w->fd = -1;
			for (struct rtc_session *s = w->sessions, *next; s; s = next) {
				next = s->next;
				if (s->v.wsi == wsi) {
					rtc_end_session_log(s, "the UDP socket closed");
					rtc_session_free(s);
				}
			}
			w->udp = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols webrtc_udp_protocol = {
	.name = "camstream-webrtc-udp",
	.callback = udp_callback,
};

/* ---- sessions ---- */

void rtc_end_session_log(struct rtc_session *s, const char *why)
{
	log_info("webrtc %s: session ended (%s)", s->label, why);
}

void rtc_session_free(struct rtc_session *s)
{
	struct webrtc *w = s->w;
	rtc_say_goodbye(s);
	for (struct rtc_session **p = &w->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			w->n_sessions--;
			break;
		}
	w->ended++;
	if (s->req) {
		s->req->s = NULL;
		s->req = NULL;
	}
	if (s->sub.entry && w->app->hub)
		hub_unsubscribe(w->app->hub, &s->sub);
	viewer_finish(&s->v);
	dtls_srtp_destroy(s->dtls);
	for (size_t i = 0; s->hist && i < HISTORY; i++)
		coded_entry_unref(s->hist[i].e);
	free(s->hist);
	coded_entry_unref(s->held);
	free(s->offer);
	free(s);
}

static void sweep(lws_sorted_usec_list_t *sul);

void rtc_arm_sweep(struct webrtc *w)
{
	if (!w->sweeping && !w->closing && w->sessions) {
		w->sweeping = true;
		lws_sul_schedule(w->cx, 0, &w->sweep, sweep, SWEEP_US);
	}
}

/* Deadlines, DTLS retransmissions, sender reports, and the sessions that ended. */
static void sweep(lws_sorted_usec_list_t *sul)
{
	struct webrtc *w = lws_container_of(sul, struct webrtc, sweep);
	int64_t now = mono_now();
	w->sweeping = false;
	for (struct rtc_session *s = w->sessions, *next; s; s = next) {
		next = s->next;
		const char *late = NULL;
		if (s->state == S_ICE && now - s->answered_us > ICE_DEADLINE_US)
			late = "no ICE check came within 10 s of the answer";
		else if (s->state == S_DTLS && now - s->first_stun_us > DTLS_DEADLINE_US)
			late = "the DTLS handshake did not finish within 10 s";
		else if (s->state >= S_DTLS && now - s->last_stun_us > CONSENT_US)
			late = "no consent check for 30 s: the browser is gone";
		if (late) {
			w->m.timeouts++;
			rtc_end_session_log(s, late);
			rtc_session_free(s);
			continue;
		}
		if (s->ending) {
			rtc_end_session_log(s, "the stream ended");
			rtc_session_free(s);
			continue;
		}
		if (s->state == S_DTLS)
			dtls_srtp_timer(s->dtls);
		if (s->state == S_LIVE && s->sent_any && now - s->last_sr_us >= SR_EVERY_US)
			rtc_send_sr(s, now);
	}
	/* a burst of sessions that ended (a page reloaded by many, or abandoned offers) leaves
	 * the heap's free pages to the system, as HLS does after a burst of held requests */
	if (w->ended >= TRIM_AFTER_ENDED) {
		w->ended = 0;
		malloc_trim(0);
	}
	rtc_arm_sweep(w);
}

static struct rtc_session *session_of(struct hub_sub *sub)
{
	return (struct rtc_session *)(void *)((char *)sub - offsetof(struct rtc_session, sub));
}

void rtc_on_news(struct hub_sub *sub)
{
	struct rtc_session *s = session_of(sub);
	if (s->state == S_PENDING && s->req)
		lws_callback_on_writable(s->req->wsi);
	else
		rtc_pump(s);
}

struct rtc_session *rtc_by_id(struct webrtc *w, const char *id)
{
	for (struct rtc_session *s = w->sessions; s; s = s->next)
		if (s->state != S_PENDING && access_equal(s->id, ID_LEN, id, strlen(id)))
			return s;
	return NULL;
}
/* ---- the registry ---- */

static bool is_wildcard(const char *host)
{
	return !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "*");
}

static void add_host(struct webrtc *w, const char *h)
{
	size_t n = strlen(h);
	if (w->n_hosts < MAX_HOSTS && n < sizeof(w->hosts[0])) {
		memcpy(w->hosts[w->n_hosts], h, n + 1);
		w->host_ptrs[w->n_hosts] = w->hosts[w->n_hosts];
		w->n_hosts++;
	}
}

/* The addresses the answers announce: --webrtc-host, else the one --host binds, else the
 * machine's own (IPv4 first; no loopback unless there is nothing else). */
static void pick_hosts(struct webrtc *w, const struct config *cfg)
{
	if (cfg->webrtc_host[0]) {
		char buf[sizeof(cfg->webrtc_host)], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", cfg->webrtc_host);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			add_host(w, t);
		return;
	}
	if (!is_wildcard(cfg->host)) {
		add_host(w, cfg->host);
		return;
	}
	struct ifaddrs *ifs = NULL;
	bool v6 = !strcmp(cfg->host, "::");
	if (getifaddrs(&ifs) == 0) {
		for (int fam = 0; fam < 2; fam++)
			for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
				if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
					continue;
				char text[INET6_ADDRSTRLEN];
				if (fam == 0 && i->ifa_addr->sa_family == AF_INET) {
					inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
						text, sizeof(text));
					add_host(w, text);
				} else if (fam == 1 && v6 && i->ifa_addr->sa_family == AF_INET6) {
					const struct in6_addr *a =
						&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
					if (IN6_IS_ADDR_LINKLOCAL(a))
						continue;
					inet_ntop(AF_INET6, a, text, sizeof(text));
					add_host(w, text);
				}
			}
		freeifaddrs(ifs);
	}
	if (!w->n_hosts)
		add_host(w, "127.0.0.1");
}

static int bind_udp(const struct config *cfg, int *port, struct cs_error *err)
{
	bool v6 = strchr(cfg->host, ':') != NULL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (v6) {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)cfg->webrtc_port);
		if (inet_pton(AF_INET6, cfg->host, &a->sin6_addr) != 1)
			a->sin6_addr = in6addr_any;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)cfg->webrtc_port);
		if (is_wildcard(cfg->host) || inet_pton(AF_INET, cfg->host, &a->sin_addr) != 1)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*a);
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cs_fail(err, CS_INTERNAL, "WebRTC: no UDP socket: %s", strerror(errno));
		return -1;
	}
	/* a key picture goes out at once to every session: 4 MiB of send buffer, past
	 * net.core.wmem_max when allowed to (CAP_NET_ADMIN); the kernel reports twice what it
	 * was asked for */
	int big = 4 << 20, got = 0;
	socklen_t got_len = sizeof(got);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &got_len) == 0 && got / 2 < big)
		log_warn("webrtc: the UDP send buffer is %d KiB (net.core.wmem_max): key pictures "
			"sent to many sessions at once may be dropped (sysctl -w "
			"net.core.wmem_max=4194304 raises it)", got / 2048);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		cs_fail(err, CS_INTERNAL, "WebRTC: cannot bind UDP %s:%d: %s", cfg->host,
			cfg->webrtc_port, strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port :
		((struct sockaddr_in *)(void *)&ss)->sin_port);
	return fd;
}

struct webrtc *webrtc_create(struct app *app, struct lws_context *cx, struct lws_vhost *vh,
	int *port, struct cs_error *err)
{
	struct webrtc *w = calloc(1, sizeof(*w));
	if (!w) {
		cs_fail_oom(err);
		return NULL;
	}
	w->app = app;
	w->cx = cx;
	w->fd = -1;
	if (dtls_srtp_library_init() != 0) {
		free(w);
		cs_fail(err, CS_INTERNAL, "WebRTC: libsrtp2 did not initialise");
		return NULL;
	}
	w->cert = dtls_cert_create();
	if (!w->cert) {
		webrtc_destroy(w);
		cs_fail(err, CS_INTERNAL, "WebRTC: no DTLS certificate could be made");
		return NULL;
	}
	w->fd = bind_udp(app->cfg, &w->port, err);
	if (w->fd < 0) {
		webrtc_destroy(w);
		return NULL;
	}
	lws_sock_file_fd_type fd = { .filefd = w->fd };
	w->udp = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd,
		webrtc_udp_protocol.name, NULL);
	if (!w->udp) {
		close(w->fd);
		w->fd = -1;
		webrtc_destroy(w);
		cs_fail(err, CS_INTERNAL, "WebRTC: lws did not take the UDP socket");
		return NULL;
	}
	pick_hosts(w, app->cfg);
	*port = w->port;
	return w;
}

/* Ends the sessions, but with @answer_waiting those still waiting for their key picture are
 * left to their request's next writeable, which answers 503 (whep.c). */
static void end_sessions(struct webrtc *w, bool answer_waiting)
{
	if (!w)
		return;
	lws_sul_cancel(&w->sweep);
	w->closing = true;
	struct rtc_session **p = &w->sessions;
	while (*p) {
		struct rtc_session *s = *p;
		if (answer_waiting && s->state == S_PENDING && s->req) {
			lws_callback_on_writable(s->req->wsi);
			p = &s->next;
		} else {
			rtc_session_free(s);   /* unlinks it */
		}
	}
}

void webrtc_begin_shutdown(struct webrtc *w)
{
	end_sessions(w, true);
}

void webrtc_shutdown(struct webrtc *w)
{
	end_sessions(w, false);
}

void webrtc_destroy(struct webrtc *w)
{
	if (!w)
		return;
	webrtc_shutdown(w);
	dtls_cert_destroy(w->cert);
	dtls_srtp_library_end();
	free(w);
}

void webrtc_get_metrics(const struct webrtc *w, struct webrtc_metrics *m)
{
	memset(m, 0, sizeof(*m));
	if (!w)
		return;
	*m = w->m;
	m->sessions = w->n_sessions;
}
