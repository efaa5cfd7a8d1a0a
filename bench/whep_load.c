/* whep_load: the WebRTC benchmark's load client (bench/run.sh --webrtc; docs/PERFORMANCE.md,
 * "WebRTC"). One process, N WHEP sessions of one endpoint, each received as a browser would
 * receive it, and counted: no decoding, no player.
 *
 * Per session: a minimal recvonly H.264 offer (one video section, rtcp-mux, our ICE
 * credentials and certificate fingerprint) POSTed over a plain TCP socket; from the answer its
 * ufrag, pwd, fingerprint and first UDP candidate; a UDP socket of its own, connected to that
 * candidate; STUN binding requests with USE-CANDIDATE (src/webrtc/stun.c) every 100 ms until
 * one is answered, then one every 2 s for consent; a DTLS client handshake
 * (src/webrtc/dtls_srtp.c, client side) once the first is answered; then every SRTP packet
 * unprotected and its RTP header read (src/webrtc/rtp.c): packets, bytes, pictures (marker
 * bits), sequence gaps. It answers nothing else: no RTCP (no receiver reports, no NACK, no
 * PLI), so what the server sends is what it sends on its own.
 *
 * When every session has its first picture (or --connect-timeout passed), --warmup seconds
 * later it prints "READY <sessions with pictures>", measures --seconds, prints one line per
 * session to stderr and "RESULT {json}" to stdout, and hangs up every session (DELETE).
 *
 *   build/tests/whep_load --url 'http://127.0.0.1:8000/whep?rtsp_url=ENC' [--sessions 50]
 *       [--seconds 10] [--warmup 2] [--connect-timeout 20] [--no-delete]
 *
 * Bounded: every wait has a deadline, the run ends by itself. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "dtls_srtp.h"
#include "rtp.h"
#include "stun.h"

#define MAX_SESSIONS 2000
#define HTTP_MAX (256 * 1024)
#define STUN_FAST_US 100000        /* binding requests until one is answered */
#define STUN_CONSENT_US 2000000    /* then one every 2 s (the server waits 30 s) */
#define DTLS_MTU 1200
#define RCVBUF (1 << 20)

struct session {
	int idx;
	int fd;                        /* UDP, connected to the answer's candidate */
	char location[160];            /* the session's path, for DELETE */
	char ufrag[9], pwd[25];        /* ours */
	char r_ufrag[64], r_pwd[128];  /* the answer's */
	uint8_t r_fp[32];
	struct dtls_srtp *dtls;
	bool answered, ice_ok, connected, failed;
	char why[160];
	int64_t next_stun_us;
	int64_t post_us, answer_us, ice_us, dtls_us, first_frame_us;
	/* the whole run */
	uint64_t packets, bytes, frames, rtcp, unprotect_failed;
	/* the window */
	uint64_t w_packets, w_bytes, w_frames, w_lost;
	int64_t w_last_frame_us, w_max_gap_us;
	bool have_seq;
	uint16_t next_seq;
};

static struct {
	char host[256], port[16], path[4096];
	int sessions;
	double seconds, warmup, connect_timeout;
	bool no_delete;
} opt = { .sessions = 50, .seconds = 10, .warmup = 2, .connect_timeout = 20 };

static struct session *sessions;
static struct dtls_cert *cert;
static int ep = -1;
static bool in_window;
static int64_t window_from, window_to;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fail(struct session *s, const char *why)
{
	if (s->failed)
		return;
	s->failed = true;
	snprintf(s->why, sizeof s->why, "%s", why);
}

/* @n characters of [A-Za-z0-9] (ICE's ice-char less '+' and '/'), NUL-terminated. */
static void random_text(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t raw[64];
	if (getrandom(raw, n, 0) != (ssize_t)n)
		abort();
	for (size_t i = 0; i < n; i++)
		out[i] = set[raw[i] % (sizeof set - 1)];
	out[n] = '\0';
}

/* ------------------------------------------------------------------ HTTP, plain sockets */

static int tcp_connect(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	if (getaddrinfo(opt.host, opt.port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 30 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* One request on its own connection ("Connection: close"); the answer's status (or -1), its
 * Location header into @location and its body into @body (NUL-terminated, at most @cap - 1
 * bytes). */
static int http(const char *method, const char *path, const char *type, const char *payload,
	char *location, size_t location_cap, char *body, size_t cap)
{
	int fd = tcp_connect();
	if (fd < 0)
		return -1;
	size_t plen = payload ? strlen(payload) : 0;
	char *req = malloc(plen + 8192);
	if (!req) {
		close(fd);
		return -1;
	}
	int hl = snprintf(req, 8192, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n%s%s%sContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", method, path, opt.host, opt.port,
		type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "", plen);
	if (hl < 0 || hl >= 8192) {
		free(req);
		close(fd);
		return -1;
	}
	if (plen)
		memcpy(req + hl, payload, plen);
	size_t total = (size_t)hl + plen, off = 0;
	while (off < total) {
		ssize_t w = send(fd, req + off, total - off, MSG_NOSIGNAL);
		if (w <= 0) {
			free(req);
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	free(req);
	char *buf = malloc(HTTP_MAX + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	long want = -1;               /* header length + Content-Length, once known */
	for (;;) {
		if (want >= 0 && got >= (size_t)want)
			break;
		ssize_t r = recv(fd, buf + got, HTTP_MAX - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end && want < 0) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl && cl < end)
				want = (end + 4 - buf) + strtol(cl + 17, NULL, 10);
		}
		if (got == HTTP_MAX)
			break;
	}
	close(fd);
	buf[got] = '\0';
	int status = -1;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		free(buf);
		return -1;
	}
	char *end = strstr(buf, "\r\n\r\n");
	if (location && location_cap) {
		location[0] = '\0';
		const char *loc = strcasestr(buf, "\r\nlocation:");
		if (loc && (!end || loc < end)) {
			loc += 11;
			while (*loc == ' ')
				loc++;
			size_t n = strcspn(loc, "\r\n");
			if (n < location_cap) {
				memcpy(location, loc, n);
				location[n] = '\0';
			}
		}
	}
	if (body && cap) {
		const char *b = end ? end + 4 : "";
		snprintf(body, cap, "%s", b);
	}
	free(buf);
	return status;
}

/* ------------------------------------------------------------------ SDP, the little we need */

static void offer_of(const struct session *s, char *out, size_t cap)
{
	snprintf(out, cap,
		"v=0\r\n"
		"o=- %d 2 IN IP4 127.0.0.1\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"a=group:BUNDLE 0\r\n"
		"a=msid-semantic: WMS\r\n"
		"m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"a=rtcp:9 IN IP4 0.0.0.0\r\n"
		"a=ice-ufrag:%s\r\n"
		"a=ice-pwd:%s\r\n"
		"a=fingerprint:%s\r\n"
		"a=setup:actpass\r\n"
		"a=mid:0\r\n"
		"a=recvonly\r\n"
		"a=rtcp-mux\r\n"
		"a=rtpmap:102 H264/90000\r\n"
		"a=rtcp-fb:102 nack\r\n"
		"a=rtcp-fb:102 nack pli\r\n"
		"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n",
		1000 + s->idx, s->ufrag, s->pwd, dtls_cert_fingerprint(cert));
}

/* The value of the first "a=@name:" line of @sdp into @out; false if none or too long. */
static bool attr(const char *sdp, const char *name, char *out, size_t cap)
{
	char key[64];
	snprintf(key, sizeof key, "a=%s:", name);
	for (const char *p = sdp; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, strlen(key)) == 0) {
			p += strlen(key);
			size_t n = strcspn(p, "\r\n");
			if (n >= cap)
				return false;
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

static bool parse_fingerprint(const char *text, uint8_t fp[32])
{
	if (strncasecmp(text, "sha-256 ", 8) != 0)
		return false;
	const char *p = text + 8;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			return false;
		fp[i] = (uint8_t)v;
		p += 2;
		if (i < 31) {
			if (*p != ':')
				return false;
			p++;
		}
	}
	return true;
}

/* The first UDP candidate of @sdp as an address; false if none. */
static bool first_candidate(const char *sdp, struct sockaddr_storage *ss, socklen_t *len)
{
	for (const char *p = sdp; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "a=candidate:", 12) != 0)
			continue;
		char foundation[64], transport[16], addr[64], port[16];
		unsigned comp;
		unsigned long prio;
		if (sscanf(p + 12, "%63s %u %15s %lu %63s %15s", foundation, &comp, transport, &prio,
				addr, port) != 6 || strcasecmp(transport, "udp") != 0)
			continue;
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST },
			*res;
		if (getaddrinfo(addr, port, &hints, &res) != 0)
			continue;
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ one session */

static void dtls_send(void *ctx, const uint8_t *p, size_t n)
{
	struct session *s = ctx;
	send(s->fd, p, n, MSG_DONTWAIT);
}

static void send_stun(struct session *s, int64_t now)
{
	uint8_t msg[512], txid[12];
	char username[200];
	if (getrandom(txid, sizeof txid, 0) != sizeof txid)
		abort();
	snprintf(username, sizeof username, "%s:%s", s->r_ufrag, s->ufrag);
	size_t n = stun_binding_request(msg, sizeof msg, txid, username, 0x6e7f1effu,
		((uint64_t)s->idx << 32) | 0x5eed, true, s->r_pwd, strlen(s->r_pwd));
	if (n)
		send(s->fd, msg, n, MSG_DONTWAIT);
	s->next_stun_us = now + (s->ice_ok ? STUN_CONSENT_US : STUN_FAST_US);
}

/* POSTs the offer; on 201 a connected UDP socket and the first binding request. */
static void open_session(struct session *s)
{
	static char offer[4096], answer[HTTP_MAX];
	random_text(s->ufrag, 8);
	random_text(s->pwd, 24);
	offer_of(s, offer, sizeof offer);
	s->post_us = now_us();
	int status = http("POST", opt.path, "application/sdp", offer, s->location,
		sizeof s->location, answer, sizeof answer);
	s->answer_us = now_us();
	if (status != 201) {
		char why[160];
		snprintf(why, sizeof why, "POST: %d %.*s", status, 100, answer);
		for (char *c = why; *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = ' ';
		fail(s, why);
		return;
	}
	s->answered = true;
	char fp[160];
	struct sockaddr_storage peer;
	socklen_t peer_len = 0;
	if (!attr(answer, "ice-ufrag", s->r_ufrag, sizeof s->r_ufrag) ||
			!attr(answer, "ice-pwd", s->r_pwd, sizeof s->r_pwd) ||
			!attr(answer, "fingerprint", fp, sizeof fp) || !parse_fingerprint(fp, s->r_fp) ||
			!first_candidate(answer, &peer, &peer_len)) {
		fail(s, "the answer lacks ice-ufrag, ice-pwd, a sha-256 fingerprint or a UDP candidate");
		return;
	}
	s->fd = socket(peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail(s, "socket");
		return;
	}
	int size = RCVBUF;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (connect(s->fd, (struct sockaddr *)&peer, peer_len) != 0) {
		fail(s, "connect to the candidate");
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	s->dtls = dtls_srtp_create(cert, false, s->r_fp, DTLS_MTU, dtls_send, s);
	if (!s->dtls) {
		fail(s, "dtls_srtp_create");
		return;
	}
	send_stun(s, now_us());
}

static void on_rtp(struct session *s, uint8_t *p, size_t n, int64_t now)
{
	size_t len = n;
	if (dtls_srtp_unprotect(s->dtls, p, &len) != 0) {
		s->unprotect_failed++;
		return;
	}
	struct rtp_header h;
	if (rtp_parse_header(p, len, &h) != 0) {
		s->unprotect_failed++;
		return;
	}
	s->packets++;
	s->bytes += n;
	if (in_window) {
		s->w_packets++;
		s->w_bytes += n;
		if (s->have_seq && h.seq != s->next_seq) {
			uint16_t ahead = (uint16_t)(h.seq - s->next_seq);
			if (ahead < 0x8000)
				s->w_lost += ahead;   /* a late packet after a gap is not subtracted */
		}
	}
	if (!s->have_seq || (uint16_t)(h.seq - s->next_seq) < 0x8000) {
		s->next_seq = (uint16_t)(h.seq + 1);
		s->have_seq = true;
	}
	if (h.marker) {
		s->frames++;
		if (!s->first_frame_us)
			s->first_frame_us = now;
		if (in_window) {
			s->w_frames++;
			if (s->w_last_frame_us && now - s->w_last_frame_us > s->w_max_gap_us)
				s->w_max_gap_us = now - s->w_last_frame_us;
			s->w_last_frame_us = now;
		}
	}
}

static void on_datagram(struct session *s, uint8_t *p, size_t n, int64_t now)
{
	if (n == 0)
		return;
	uint8_t b = p[0];
	if (b <= 3) {
		struct stun_msg m;
		if (stun_is(p, n) && stun_parse(p, n, &m) == 0 && m.type == STUN_BINDING_SUCCESS &&
				!s->ice_ok) {
			s->ice_ok = true;
			s->ice_us = now;
			s->next_stun_us = now + STUN_CONSENT_US;
			dtls_srtp_start(s->dtls);
		}
	} else if (b >= 20 && b <= 63) {
		enum dtls_state st = dtls_srtp_input(s->dtls, p, n);
		if (st == DTLS_CONNECTED && !s->connected) {
			s->connected = true;
			s->dtls_us = now;
		} else if (st == DTLS_FAILED) {
			char why[160];
			snprintf(why, sizeof why, "DTLS: %s", dtls_srtp_error(s->dtls));
			fail(s, why);
		} else if (st == DTLS_CLOSED) {
			fail(s, "DTLS: the server closed the session");
		}
	} else if (b >= 128 && b <= 191 && s->connected && n >= 12) {
		uint8_t pt = p[1] & 0x7f;
		if (pt >= 64 && pt <= 95)   /* RTCP (RFC 5761 §4): counted, not read */
			s->rtcp++;
		else
			on_rtp(s, p, n, now);
	}
}

/* Timers of every session: binding requests, DTLS retransmissions. */
static void timers(int64_t now)
{
	for (int i = 0; i < opt.sessions; i++) {
		struct session *s = &sessions[i];
		if (!s->answered || s->failed)
			continue;
		if (now >= s->next_stun_us)
			send_stun(s, now);
		if (s->ice_ok && !s->connected) {
			int64_t t = dtls_srtp_timeout_us(s->dtls);
			if (t == 0)
				dtls_srtp_timer(s->dtls);
		}
	}
}

/* Reads what came for @ms milliseconds at most (0: what is there now). */
static void pump(int ms)
{
	static uint8_t buf[2048];
	struct epoll_event evs[64];
	int64_t until = now_us() + (int64_t)ms * 1000;
	static int64_t next_timers;
	do {
		int64_t now = now_us();
		int wait = (int)((until - now) / 1000);
		if (wait < 0)
			wait = 0;
		if (wait > 10)
			wait = 10;
		int n = epoll_wait(ep, evs, 64, wait);
		now = now_us();
		for (int i = 0; i < n; i++) {
			struct session *s = evs[i].data.ptr;
			for (int k = 0; k < 256; k++) {
				ssize_t r = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
				if (r < 0)
					break;
				on_datagram(s, buf, (size_t)r, now);
			}
		}
		if (in_window && now >= window_to)
			return;
		if (now >= next_timers) {
			timers(now);
			next_timers = now + 10000;
		}
	} while (now_us() < until);
}

/* ------------------------------------------------------------------ the run */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static bool parse_url(const char *url)
{
	if (strncmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7, *slash = strchr(h, '/');
	if (!slash)
		return false;
	snprintf(opt.path, sizeof opt.path, "%s", slash);
	size_t hl = (size_t)(slash - h);
	char hostport[sizeof opt.host];
	if (hl >= sizeof hostport)
		return false;
	memcpy(hostport, h, hl);
	hostport[hl] = '\0';
	char *colon = strrchr(hostport, ':');
	if (hostport[0] == '[') {
		char *close = strchr(hostport, ']');
		if (!close)
			return false;
		*close = '\0';
		snprintf(opt.host, sizeof opt.host, "%s", hostport + 1);
		snprintf(opt.port, sizeof opt.port, "%s", close[1] == ':' ? close + 2 : "80");
	} else if (colon) {
		*colon = '\0';
		snprintf(opt.host, sizeof opt.host, "%s", hostport);
		snprintf(opt.port, sizeof opt.port, "%s", colon + 1);
	} else {
		snprintf(opt.host, sizeof opt.host, "%s", hostport);
		snprintf(opt.port, sizeof opt.port, "80");
	}
	return true;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: whep_load --url http://HOST:PORT/whep?rtsp_url=ENC [--sessions N] "
		"[--seconds S] [--warmup S] [--connect-timeout S] [--no-delete]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-delete")) {
			opt.no_delete = true;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--url"))
			url = v;
		else if (!strcmp(a, "--sessions"))
			opt.sessions = atoi(v);
		else if (!strcmp(a, "--seconds"))
			opt.seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			opt.warmup = atof(v);
		else if (!strcmp(a, "--connect-timeout"))
			opt.connect_timeout = atof(v);
		else
			usage();
		i++;
	}
	if (!url || !parse_url(url) || opt.sessions < 1 || opt.sessions > MAX_SESSIONS ||
			opt.seconds <= 0)
		usage();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.sessions + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (dtls_srtp_library_init() != 0 || !(cert = dtls_cert_create())) {
		fprintf(stderr, "whep_load: no DTLS (libsrtp2 or the certificate)\n");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	sessions = calloc((size_t)opt.sessions, sizeof *sessions);
	if (ep < 0 || !sessions)
		return 1;
	int64_t t0 = now_us();
	for (int i = 0; i < opt.sessions; i++) {
		sessions[i].idx = i;
		sessions[i].fd = -1;
		open_session(&sessions[i]);
		pump(0);
	}
	int64_t posted = now_us();

	/* until every session that was answered has its first picture */
	int64_t deadline = t0 + (int64_t)(opt.connect_timeout * 1e6);
	for (;;) {
		int waiting = 0;
		for (int i = 0; i < opt.sessions; i++) {
			struct session *s = &sessions[i];
			if (s->answered && !s->failed && !s->first_frame_us)
				waiting++;
		}
		if (!waiting || now_us() >= deadline)
			break;
		pump(20);
	}
	int64_t all_first = now_us();
	pump((int)(opt.warmup * 1000));

	int live = 0;
	for (int i = 0; i < opt.sessions; i++)
		live += sessions[i].first_frame_us && !sessions[i].failed;
	printf("READY %d\n", live);
	fflush(stdout);
	double cpu0 = cpu_s();
	window_from = now_us();
	window_to = window_from + (int64_t)(opt.seconds * 1e6);
	in_window = true;
	while (now_us() < window_to)
		pump((int)((window_to - now_us()) / 1000) + 1);
	in_window = false;
	int64_t window_end = now_us();
	double cpu1 = cpu_s();
	double span = (window_end - window_from) / 1e6;

	/* per session, and the summary */
	double *fps = calloc((size_t)opt.sessions, sizeof *fps);
	double *answer_ms = calloc((size_t)opt.sessions, sizeof *answer_ms);
	double *first_ms = calloc((size_t)opt.sessions, sizeof *first_ms);
	int n_fps = 0, n_answer = 0, n_first = 0, failed = 0;
	uint64_t packets = 0, bytes = 0, lost = 0, bad = 0, rtcp = 0;
	double max_gap_ms = 0;
	char first_error[200] = "";
	for (int i = 0; i < opt.sessions; i++) {
		struct session *s = &sessions[i];
		double f = s->w_frames / span;
		fprintf(stderr, "session %3d: %6.2f fps, %5" PRIu64 " packets/s, %7.0f kbit/s, lost %"
			PRIu64 ", max gap %.0f ms, answer %.0f ms, first picture %.0f ms after it%s%s\n",
			i, f, (uint64_t)(s->w_packets / span), s->w_bytes * 8 / span / 1000, s->w_lost,
			s->w_max_gap_us / 1000.0, (s->answer_us - s->post_us) / 1000.0,
			s->first_frame_us ? (s->first_frame_us - s->answer_us) / 1000.0 : -1.0,
			s->failed ? "  FAILED: " : "", s->failed ? s->why : "");
		if (s->failed) {
			failed++;
			if (!first_error[0])
				snprintf(first_error, sizeof first_error, "%s", s->why);
		}
		fps[n_fps++] = f;
		if (s->answered)
			answer_ms[n_answer++] = (s->answer_us - s->post_us) / 1000.0;
		if (s->first_frame_us)
			first_ms[n_first++] = (s->first_frame_us - s->answer_us) / 1000.0;
		packets += s->w_packets;
		bytes += s->w_bytes;
		lost += s->w_lost;
		bad += s->unprotect_failed;
		rtcp += s->rtcp;
		if (s->w_max_gap_us / 1000.0 > max_gap_ms)
			max_gap_ms = s->w_max_gap_us / 1000.0;
	}
	qsort(fps, (size_t)n_fps, sizeof *fps, cmp_double);
	qsort(answer_ms, (size_t)n_answer, sizeof *answer_ms, cmp_double);
	qsort(first_ms, (size_t)n_first, sizeof *first_ms, cmp_double);
	for (char *c = first_error; *c; c++)
		if (*c == '"' || *c == '\\')
			*c = '\'';
	printf("RESULT {\"sessions\": %d, \"live\": %d, \"failed\": %d, \"window_s\": %.3f, "
		"\"fps_min\": %.3f, \"fps_median\": %.3f, \"fps_max\": %.3f, "
		"\"packets_per_s\": %.1f, \"kbit_per_s\": %.1f, \"lost\": %" PRIu64 ", "
		"\"max_gap_ms\": %.1f, \"unprotect_failed\": %" PRIu64 ", \"rtcp\": %" PRIu64 ", "
		"\"answer_ms_median\": %.1f, \"answer_ms_max\": %.1f, "
		"\"first_picture_ms_median\": %.1f, \"first_picture_ms_max\": %.1f, "
		"\"post_all_s\": %.3f, \"connect_all_s\": %.3f, \"client_cpu_s_per_s\": %.4f, "
		"\"error\": \"%s\"}\n",
		opt.sessions, live, failed, span,
		n_fps ? fps[0] : 0, n_fps ? fps[n_fps / 2] : 0, n_fps ? fps[n_fps - 1] : 0,
		packets / span, bytes * 8 / span / 1000, lost, max_gap_ms, bad, rtcp,
		n_answer ? answer_ms[n_answer / 2] : -1, n_answer ? answer_ms[n_answer - 1] : -1,
		n_first ? first_ms[n_first / 2] : -1, n_first ? first_ms[n_first - 1] : -1,
		(posted - t0) / 1e6, (all_first - t0) / 1e6, (cpu1 - cpu0) / span, first_error);
	fflush(stdout);

	for (int i = 0; i < opt.sessions; i++) {
		struct session *s = &sessions[i];
		if (!opt.no_delete && s->answered && s->location[0]) {
			char path[200];
			const char *loc = s->location;
			if (!strncmp(loc, "http://", 7) && strchr(loc + 7, '/'))
				loc = strchr(loc + 7, '/');
			snprintf(path, sizeof path, "%s", loc);
			http("DELETE", path, NULL, NULL, NULL, 0, NULL, 0);
		}
		dtls_srtp_destroy(s->dtls);
		if (s->fd >= 0)
			close(s->fd);
	}
	free(fps);
	free(answer_ms);
	free(first_ms);
	free(sessions);
	close(ep);
	dtls_cert_destroy(cert);
	dtls_srtp_library_end();
	return live == opt.sessions ? 0 : 1;
}
