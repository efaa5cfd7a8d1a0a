#include "webrtc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "codedlog.h"
#include "dtls_srtp.h"
#include "http_reply.h"
#include "hub.h"
#include "log.h"
#include "nal.h"
#include "random.h"
#include "rtcp.h"
#include "rtp.h"
#include "sdp.h"
#include "strbuf.h"
#include "stun.h"
#include "viewer.h"

#define WHEP_PATH "/whep"
#define SESSION_PREFIX "/whep/session/"
#define ID_LEN 32
#define BODY_MAX (64 * 1024)
#define MAX_HOSTS 8
#define MTU 1200                      /* DTLS datagrams; RTP packets are smaller still */
#define HISTORY 1024                  /* packets a NACK can ask for again (a power of 2) */
#define MAX_DESCS 8192                /* packets of one access unit: 9.7 MB at most */
#define SWEEP_US 250000
#define ICE_DEADLINE_US 10000000      /* from the answer to the first binding request */
#define DTLS_DEADLINE_US 10000000     /* from the first binding request to the keys */
#define CONSENT_US 30000000           /* RFC 7675: consent expires 30 s after the last check */
#define SR_EVERY_US 1000000
#define RESTART_MIN_US 300000         /* replays from the key picture at most this often */
#define RESEND_MIN_US 30000           /* one packet is sent again at most this often */
#define RESEND_TOKENS_MAX 512         /* retransmits a session may have in hand */
#define READS_PER_CALL 256            /* datagrams read per readable callback */
#define PKT_CAP (1500 + DTLS_SRTP_TRAILER)
#define TS_JUMP (5 * 90000)
#define TRIM_AFTER_ENDED 32           /* sessions ended between two trims of the heap */
#define G711_PACKET 160
#define PD_EXT 8                      /* the playout-delay extension's bytes in a packet */               /* 20 ms at 8 kHz, a byte a sample */           /* a camera clock step larger than this is re-based */

enum rtc_state { S_PENDING, S_ICE, S_DTLS, S_LIVE };

/* One packet sent, described: enough to send it again, byte for byte, for a NACK. */
struct sent {
	struct coded_entry *e;      /* one reference; NULL for an empty slot */
	struct rtp_desc d;
	uint32_t ts;
	uint16_t seq;
	bool marker, from_sets;     /* the payload is in e->params->sets, not e->data */
	int64_t resent_us;          /* when a NACK last had it sent again, 0: never */
};

struct rtc_session {
	struct rtc_session *next;
	struct webrtc *w;
	struct viewer v;                /* the lifecycle; v.wsi is the UDP socket's once answered */
	struct hub_sub sub;             /* the session's coded reader */
	struct whep_req *req;           /* the POST, until answered */
	struct sdp_offer *offer;        /* until answered */
	enum rtc_state state;
	bool ending;                    /* let go at the next sweep (not from inside on_news) */
	char id[ID_LEN + 1];
	char ufrag[9], pwd[33];         /* ours */
	char label[160];
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct dtls_srtp *dtls;
	uint8_t peer_fp[32];
	int pt;
	int pd_id;                      /* the playout-delay extension's id, 0: not agreed */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t last_ts, ts_next, ts_off;
	bool sent_any;
	bool restart;                   /* the next read starts over at the key picture */
	struct coded_entry *held;       /* a replay's entry waiting to know whether it is the last */
	int64_t answered_us, first_stun_us, last_stun_us, last_sr_us, last_send_us, restart_us;
	uint32_t packets, octets;
	/* retransmits in hand: each video packet sent earns one (at most RESEND_TOKENS_MAX), each
	 * packet sent again spends one, so a receiver's NACKs can at most double its stream */
	unsigned resend_tokens;
	/* sound: the camera's G.711 or Opus as it came (apt -1: none, the section is inactive) */
	int apt;
	enum coded_codec acodec;
	unsigned aclock;
	uint32_t assrc, a_last_ts, a_off;
	uint16_t aseq;
	bool a_sent_any;
	uint32_t a_packets, a_octets;
	uint8_t a_carry[G711_PACKET];   /* G.711 bytes short of a whole packet */
	size_t a_carry_len;
	uint32_t a_carry_ts;
	int64_t a_last_send_us;
	struct sent *hist;              /* HISTORY slots, made when DTLS is done (a session that
	                                 * never gets that far costs a few hundred bytes) */
};

struct webrtc {
	struct app *app;
	struct lws_context *cx;
	struct lws *udp;                /* the adopted socket; NULL once closed */
	int fd;
	int port;
	struct dtls_cert *cert;
	char hosts[MAX_HOSTS][INET6_ADDRSTRLEN];
	const char *host_ptrs[MAX_HOSTS];
	size_t n_hosts;
	struct rtc_session *sessions;
	unsigned n_sessions;
	lws_sorted_usec_list_t sweep;
	bool sweeping, closing;
	unsigned ended;                 /* sessions freed since the heap was last trimmed */
	struct webrtc_metrics m;
};

/* Scratch of the service thread (the only thread here). */
static struct rtp_desc descs[MAX_DESCS];
static uint8_t pkt[PKT_CAP];

static void session_free(struct rtc_session *s);
static void end_session_log(struct rtc_session *s, const char *why);
static void pump(struct rtc_session *s);
static void send_sound(struct rtc_session *s, const struct coded_entry *e);

/* ---- small things ---- */

/* @n characters of ICE's alphabet (RFC 8839 ice-char: letters, digits, '+', '/'). */
static void random_ice_chars(char *out, size_t n)
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

static void send_to(struct webrtc *w, const struct sockaddr_storage *to, socklen_t len,
	const void *p, size_t n)
{
	if (w->fd < 0)
		return;
	/* a full send buffer drops the packet: the receiver's NACK asks for it again */
	if (sendto(w->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to, len) < 0)
		w->m.send_failures++;
}

static void dtls_out(void *ctx, const uint8_t *p, size_t n)
{
	struct rtc_session *s = ctx;
	if (s->peer_len)
		send_to(s->w, &s->peer, s->peer_len, p, n);
}

/* ---- sending media ---- */

static int64_t mono_now(void)
{
	return clock_mono_us();
}

static void send_slot(struct rtc_session *s, const struct sent *h)
{
	const uint8_t *base = h->from_sets ? h->e->params->sets : h->e->data;
	size_t ext = s->pd_id ? PD_EXT : 0;
	/* with the extension, the packet is written PD_EXT bytes on and its 12-byte header
	 * moved back in front of the extension: the payload is written once, where it goes */
	size_t n = rtp_write(pkt + ext, PKT_CAP - DTLS_SRTP_TRAILER - ext, (uint8_t)s->pt,
		h->marker, h->seq, h->ts, s->ssrc, &h->d, base);
	if (n && ext) {
		/* the playout-delay extension (one-byte header, RFC 8285), min 0 and max 0: show
		 * each picture as soon as it is decoded, as a live camera wants (Chromium's jitter
		 * buffer otherwise holds pictures back for smoothness, 20-30 ms here) */
		static const uint8_t pd[4] = { 0xbe, 0xde, 0, 1 };
		memmove(pkt, pkt + ext, RTP_HEADER);
		memcpy(pkt + RTP_HEADER, pd, 4);
		pkt[RTP_HEADER + 4] = (uint8_t)(s->pd_id << 4 | 2);
		memset(pkt + RTP_HEADER + 5, 0, 3);
		pkt[0] |= 0x10;
		n += ext;
	}
	if (!n || dtls_srtp_protect(s->dtls, pkt, &n, PKT_CAP) != 0) {
		s->w->m.send_failures++;
		return;
	}
	send_to(s->w, &s->peer, s->peer_len, pkt, n);
	s->w->m.packets_sent++;
	s->w->m.bytes_sent += n;
}

static void send_packet(struct rtc_session *s, struct coded_entry *e, bool from_sets,
	const struct rtp_desc *d, bool marker, uint32_t ts)
{
	struct sent *h = &s->hist[s->seq & (HISTORY - 1)];
	coded_entry_unref(h->e);
	h->e = coded_entry_ref(e);
	h->d = *d;
	h->ts = ts;
	h->seq = s->seq++;
	h->marker = marker;
	h->from_sets = from_sets;
	h->resent_us = 0;
	send_slot(s, h);
	if (s->resend_tokens < RESEND_TOKENS_MAX)
		s->resend_tokens++;
	s->packets++;
	s->octets += (uint32_t)(d->fu_len + d->len);
}

/* Whether the access unit @e carries an SPS of its own. */
static bool has_sps(const struct coded_entry *e)
{
	struct nal_iter it;
	struct nal_unit u;
	nal_iter_lp(&it, e->data, e->len, 4);
	while (nal_iter_next(&it, &u) == 1)
		if (nal_type(NAL_H264, u.data, u.len) == NAL_H264_SPS)
			return true;
	return false;
}

enum ts_mode { TS_LIVE, TS_BACKLOG, TS_LAST_OF_REPLAY };

static uint32_t pts90(const struct coded_entry *e)
{
	return (uint32_t)((uint64_t)e->pts_us * 9 / 100);
}

/* The RTP timestamp of @e. Live pictures keep the camera's spacing (its clock, shifted); a
 * replay from the key picture (a join, a PLI) goes out at once, 1 ms apart, and its last
 * picture re-bases the clock, so the receiver decodes the replay at once and plays on from
 * the present instead of holding the replay back for the time it spanned. */
static uint32_t next_ts(struct rtc_session *s, const struct coded_entry *e, enum ts_mode mode)
{
	uint32_t ts;
	if (mode != TS_LIVE) {
		ts = s->ts_next;
		if (mode == TS_LAST_OF_REPLAY)
			s->ts_off = ts - pts90(e);
	} else {
		ts = pts90(e) + s->ts_off;
		int32_t step = (int32_t)(ts - s->last_ts);
		/* a step back of less than TS_JUMP is a picture shown before the last one sent
		 * (B-pictures), not a jump */
		if (s->sent_any && (step < -TS_JUMP || step > TS_JUMP)) {
			/* the camera's clock stepped (a reconnect, an RTCP re-sync): one frame on */
			ts = s->last_ts + 3600;
			s->ts_off = ts - pts90(e);
		}
	}
	s->last_ts = ts;
	s->ts_next = ts + 90;
	s->sent_any = true;
	return ts;
}

static void send_au(struct rtc_session *s, struct coded_entry *e, enum ts_mode mode)
{
	int n_sets = 0;
	if (e->key && !has_sps(e) && e->params->sets_len) {
		n_sets = rtp_h264_split(e->params->sets, e->params->sets_len, RTP_MAX_PAYLOAD,
			descs, MAX_DESCS);
		if (n_sets < 0)
			n_sets = 0;
	}
	int n = rtp_h264_split(e->data, e->len, RTP_MAX_PAYLOAD, descs + n_sets,
		MAX_DESCS - (size_t)n_sets);
	if (n <= 0) {
		s->w->m.send_failures++;
		return;
	}
	uint32_t ts = next_ts(s, e, mode);
	for (int i = 0; i < n_sets + n; i++)
		send_packet(s, e, i < n_sets, &descs[i], i == n_sets + n - 1, ts);
	s->last_send_us = mono_now();
}

static void send_sound_packet(struct rtc_session *s, const uint8_t *p, size_t len, uint32_t ts)
{
	rtp_write_header(pkt, (uint8_t)s->apt, !s->a_sent_any, s->aseq++, ts, s->assrc);
	memcpy(pkt + RTP_HEADER, p, len);
	size_t n = RTP_HEADER + len;
	s->a_last_ts = ts;
	s->a_sent_any = true;
	s->a_packets++;
	s->a_octets += (uint32_t)len;
	if (dtls_srtp_protect(s->dtls, pkt, &n, PKT_CAP) != 0) {
		s->w->m.send_failures++;
		return;
	}
	send_to(s->w, &s->peer, s->peer_len, pkt, n);
	s->w->m.packets_sent++;
	s->w->m.bytes_sent += n;
}

/* The camera's sound as it came, on the camera's clock at the codec's rate. G.711 (a byte a
 * sample) goes in packets of 20 ms, WebRTC's usual ptime, whatever the camera's packets were
 * (cameras send 20 to 128 ms; aiortc takes 20 ms only); an Opus packet as it is. */
static void send_sound(struct rtc_session *s, const struct coded_entry *e)
{
	if (s->apt < 0 || !e->len || (s->acodec == CODED_OPUS && e->len > RTP_MAX_PAYLOAD))
		return;
	uint32_t ts = (uint32_t)((uint64_t)e->pts_us * s->aclock / 1000000) + s->a_off;
	int32_t step = (int32_t)(ts - s->a_last_ts);
	if (s->a_sent_any && (step <= 0 || step > (int32_t)(5 * s->aclock))) {
		ts = s->a_last_ts + s->aclock / 50;   /* the clock stepped: 20 ms on */
		s->a_off = ts - (uint32_t)((uint64_t)e->pts_us * s->aclock / 1000000);
	}
	s->a_last_send_us = mono_now();
	if (s->acodec == CODED_OPUS) {
		send_sound_packet(s, e->data, e->len, ts);
		return;
	}
	/* whole 20 ms packets; the rest waits for the next packet of the camera, which goes on
	 * where it stops (else the rest, under 20 ms, is dropped) */
	const uint8_t *p = e->data;
	size_t len = e->len;
	if (s->a_carry_len && ts == s->a_carry_ts + s->a_carry_len) {
		size_t take = G711_PACKET - s->a_carry_len < len ? G711_PACKET - s->a_carry_len : len;
		memcpy(s->a_carry + s->a_carry_len, p, take);
		s->a_carry_len += take;
		p += take;
		len -= take;
		ts += (uint32_t)take;
		if (s->a_carry_len < G711_PACKET)
			return;
		send_sound_packet(s, s->a_carry, G711_PACKET, s->a_carry_ts);
	}
	s->a_carry_len = 0;
	for (; len >= G711_PACKET; p += G711_PACKET, len -= G711_PACKET, ts += G711_PACKET)
		send_sound_packet(s, p, G711_PACKET, ts);
	memcpy(s->a_carry, p, len);
	s->a_carry_len = len;
	s->a_carry_ts = ts;
}

/* The session's news: every picture of the log not sent yet goes out. */
/* Whether the session's stream ended; it is then let go at the next sweep. */
static void check_stream_end(struct rtc_session *s)
{
	struct cs_error err;
	if (hub_sub_error(&s->sub, &err) != CS_OK) {
		log_info("webrtc %s: the stream ended (%s): session closed", s->label, err.msg);
		s->ending = true;
	}
}

static void pump(struct rtc_session *s)
{
	if (s->ending)
		return;
	if (s->state != S_LIVE) {
		/* answered, keys not yet made: nothing to send, but a stream that ended ends the
		 * session now rather than at the ICE or DTLS deadline */
		if (s->state != S_PENDING)
			check_stream_end(s);
		return;
	}
	for (;;) {
		struct coded_entry *e = hub_sub_coded_next(&s->sub, 0);
		if (!e)
			break;
		if (e->kind == CODED_SOUND) {
			/* live sound only: what a replay passes over is in the past */
			if (!s->restart && e->params && e->params->codec == s->acodec)
				send_sound(s, e);
			coded_entry_unref(e);
			continue;
		}
		if (e->kind != CODED_VIDEO || !e->params || e->params->codec != CODED_H264) {
			coded_entry_unref(e);
			continue;
		}
		if (!s->restart) {
			send_au(s, e, TS_LIVE);
			coded_entry_unref(e);
			continue;
		}
		/* a replay: an entry is known to be the last only when no other follows */
		if (s->held)
			send_au(s, s->held, TS_BACKLOG);
		coded_entry_unref(s->held);
		s->held = e;
	}
	if (s->held) {
		send_au(s, s->held, TS_LAST_OF_REPLAY);
		coded_entry_unref(s->held);
		s->held = NULL;
		s->restart = false;
	}
	check_stream_end(s);
}

/* Starts over at the cached key picture: a join, or a receiver that lost one (PLI, FIR).
 * An RTSP camera cannot be asked for a key picture; the log keeps the last one. */
static void replay_from_key(struct rtc_session *s)
{
	int64_t now = mono_now();
	if (s->restart || (s->restart_us && now - s->restart_us < RESTART_MIN_US))
		return;
	s->restart_us = now;
	s->restart = true;
	memset(&s->sub.cursor, 0, sizeof(s->sub.cursor));
	s->w->m.key_resends++;
	pump(s);
}

/* ---- RTCP ---- */

static void on_rtcp_item(void *ctx, const struct rtcp_item *it)
{
	struct rtc_session *s = ctx;
	uint16_t seqs[17];
	switch (it->kind) {
	case RTCP_NACK: {
		/* only the video is kept to be sent again; a NACK of another stream names
		 * sequence numbers that are not ours */
		if (it->media_ssrc != s->ssrc || !s->hist)
			break;
		size_t n = rtcp_nack_seqs(it, seqs);
		int64_t now = mono_now();
		s->w->m.nacks += n;
		for (size_t i = 0; i < n; i++) {
			struct sent *h = &s->hist[seqs[i] & (HISTORY - 1)];
			if (!h->e || h->seq != seqs[i])
				continue;   /* older than the history: gone */
			if ((h->resent_us && now - h->resent_us < RESEND_MIN_US) || !s->resend_tokens) {
				s->w->m.retransmits_refused++;   /* asked again at once, or over budget */
				continue;
			}
			h->resent_us = now;
			s->resend_tokens--;
			send_slot(s, h);
			s->w->m.retransmits++;
		}
		break;
	}
	case RTCP_PLI:
	case RTCP_FIR:
		s->w->m.plis++;
		replay_from_key(s);
		break;
	default:
		break;   /* reports, REMB, transport-wide feedback: nothing to do for a relay */
	}
}

/* A sender report of @ssrc, whose last packet had @last_ts @since_us ago at @clock Hz, into
 * @buf: the RTP time of now against the wall clock, for each stream alike (lip sync). Its
 * length, or 0. */
static size_t write_sr(uint8_t *buf, size_t cap, uint32_t ssrc, uint32_t last_ts,
	int64_t since_us, unsigned clock, uint32_t packets, uint32_t octets)
{
	int64_t wall = clock_wall_us();
	uint64_t ntp = ((uint64_t)(wall / 1000000) + 2208988800ull) << 32 |
		(uint64_t)(((wall % 1000000) << 32) / 1000000);
	uint32_t rtp_ts = last_ts + (uint32_t)((uint64_t)since_us * clock / 1000000);
	return rtcp_write_sr(buf, cap, ssrc, ntp, rtp_ts, packets, octets);
}

/* Sends the compound RTCP packet in @buf (@n bytes, @cap of room) as SRTCP. */
static void send_rtcp(struct rtc_session *s, uint8_t *buf, size_t n, size_t cap)
{
	if (dtls_srtp_protect_rtcp(s->dtls, buf, &n, cap) == 0)
		send_to(s->w, &s->peer, s->peer_len, buf, n);
}

static void send_one_sr(struct rtc_session *s, uint32_t ssrc, uint32_t last_ts,
	int64_t since_us, unsigned clock, uint32_t packets, uint32_t octets)
{
	uint8_t buf[128 + DTLS_SRTP_TRAILER];
	size_t n = write_sr(buf, 100, ssrc, last_ts, since_us, clock, packets, octets);
	size_t m = n ? rtcp_write_sdes(buf + n, 100 - n, ssrc, "camstream") : 0;
	if (m)
		send_rtcp(s, buf, n + m, sizeof(buf));
}

static void send_sr(struct rtc_session *s, int64_t now)
{
	send_one_sr(s, s->ssrc, s->last_ts, now - s->last_send_us, 90000, s->packets, s->octets);
	if (s->a_sent_any)
		send_one_sr(s, s->assrc, s->a_last_ts, now - s->a_last_send_us, s->aclock,
			s->a_packets, s->a_octets);
	s->last_sr_us = now;
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
		send_to(w, from, from_len, out, len);
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
			session_free(s);
			return;
		}
		log_info("webrtc %s: connected (%s)", s->label, dtls_srtp_profile(s->dtls));
		s->state = S_LIVE;
		s->restart = true;       /* from the cached key picture */
		s->restart_us = mono_now();
		random_bytes(&s->ts_next, sizeof(s->ts_next));
		pump(s);
	} else if (st == DTLS_FAILED) {
		log_info("webrtc %s: DTLS failed: %s", s->label, dtls_srtp_error(s->dtls));
		w->m.dtls_failures++;
		session_free(s);
	} else if (st == DTLS_CLOSED) {
		log_info("webrtc %s: the browser closed the session", s->label);
		session_free(s);
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
	rtcp_parse(p, n, on_rtcp_item, s);
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
					end_session_log(s, "the UDP socket closed");
					session_free(s);
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

static void end_session_log(struct rtc_session *s, const char *why)
{
	log_info("webrtc %s: session ended (%s)", s->label, why);
}

/* The browser is told the session ended, so its page sees the track end at once instead of
 * at its own consent timeout: an RTCP BYE of each source sent (after a sender report, as a
 * compound packet must start), then DTLS's close_notify. */
static void say_goodbye(struct rtc_session *s)
{
	if (!s->dtls || dtls_srtp_state(s->dtls) != DTLS_CONNECTED || !s->peer_len)
		return;
	uint32_t ssrcs[2] = { s->ssrc, s->assrc };
	uint8_t buf[128 + DTLS_SRTP_TRAILER];
	size_t n = !s->sent_any ? 0 : write_sr(buf, 100, s->ssrc, s->last_ts, mono_now() - s->last_send_us, 90000,
		s->packets, s->octets);
	size_t m = n ? rtcp_write_bye(buf + n, 100 - n, ssrcs, s->a_sent_any ? 2 : 1) : 0;
	if (m)
		send_rtcp(s, buf, n + m, sizeof(buf));
	dtls_srtp_close(s->dtls);
}

static void session_free(struct rtc_session *s)
{
	struct webrtc *w = s->w;
	say_goodbye(s);
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

static void arm_sweep(struct webrtc *w)
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
			end_session_log(s, late);
			session_free(s);
			continue;
		}
		if (s->ending) {
			end_session_log(s, "the stream ended");
			session_free(s);
			continue;
		}
		if (s->state == S_DTLS)
			dtls_srtp_timer(s->dtls);
		if (s->state == S_LIVE && s->sent_any && now - s->last_sr_us >= SR_EVERY_US)
			send_sr(s, now);
	}
	/* a burst of sessions that ended (a page reloaded by many, or abandoned offers) leaves
	 * the heap's free pages to the system, as HLS does after a burst of held requests */
	if (w->ended >= TRIM_AFTER_ENDED) {
		w->ended = 0;
		malloc_trim(0);
	}
	arm_sweep(w);
}

static struct rtc_session *session_of(struct hub_sub *sub)
{
	return (struct rtc_session *)(void *)((char *)sub - offsetof(struct rtc_session, sub));
}

static void on_news(struct hub_sub *sub)
{
	struct rtc_session *s = session_of(sub);
	if (s->state == S_PENDING && s->req)
		lws_callback_on_writable(s->req->wsi);
	else
		pump(s);
}

static struct rtc_session *by_id(struct webrtc *w, const char *id)
{
	for (struct rtc_session *s = w->sessions; s; s = s->next)
		if (s->state != S_PENDING && access_equal(s->id, ID_LEN, id, strlen(id)))
			return s;
	return NULL;
}

/* ---- WHEP over HTTP ---- */

static const struct viewer_kind whep_kind = {
	.what = "webrtc session",
	.path = "/whep",
	.coded = true,
	.no_fps = true,
	.deferred = true,             /* the session subscribes its own reader */
};

static int req_fail(struct whep_req *r, const struct cs_error *err)
{
	struct rtc_session *s = r->s;
	log_msg(err->code == CS_BAD_REQUEST || err->code == CS_NOT_FOUND ? LOG_DEBUG : LOG_INFO,
		"whep: %s (%s)", err->msg, cs_err_code(err->code));
	r->replied = true;
	if (s) {
		r->s = NULL;
		s->req = NULL;
		session_free(s);
	}
	/* a codec WebRTC cannot carry is the media type's fault (415), not the camera's */
	return http_reply_error(r->wsi, err->code == CS_UNSUPPORTED_CODEC ?
		HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE : 0, err->code, err->msg);
}

static int req_failf(struct whep_req *r, enum cs_err code, const char *msg)
{
	struct cs_error err = { .code = code };
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	return req_fail(r, &err);
}

/* An error before the body was read: the connection cannot carry another request. */
static int refuse_early(struct whep_req *r, unsigned status, enum cs_err code, const char *msg)
{
	r->replied = true;
	http_reply_error(r->wsi, status, code, msg);
	return -1;
}

/* The profile-level-id of the stream: profile, compatibility and level, which the avcC
 * record the log keeps has at bytes 1 to 3 (ISO/IEC 14496-15 5.3.3.1), copied from its SPS. */
static bool profile_of(const struct coded_params *p, uint8_t iop[3])
{
	if (!p->config || p->config_len < 4)
		return false;
	memcpy(iop, p->config + 1, 3);
	return true;
}

/* The payload type of the camera's sound @sp in the offered audio section @m (*@send), or
 * one to leave the section inactive with; -1 when it offers nothing at all. */
/* Whether @m is a video section we can send H.264 on: offered (a port, or bundle-only in
 * the bundle), receiving, with an H.264 type in packetization mode 1. */
static bool video_usable(const struct sdp_media *m)
{
	return sdp_media_offered(m) && sdp_media_receives(m) && !strcmp(m->kind, "video") &&
		sdp_pick_h264(m, (const uint8_t[3]){ 0x42, 0xe0, 0x1f }) >= 0;
}

static int audio_pt(const struct sdp_media *m, const struct coded_params *sp, bool *send)
{
	static const struct {
		enum coded_codec codec;
		const char *name;
		unsigned rate;     /* the camera's rate that fits; the RTP clock */
		unsigned clock;
	} codecs[] = {
		{ CODED_PCMU, "PCMU", 8000, 8000 },
		{ CODED_PCMA, "PCMA", 8000, 8000 },
		{ CODED_OPUS, "opus", 48000, 48000 },
	};
	*send = false;
	for (size_t i = 0; sp && i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (sp->codec != codecs[i].codec || sp->sample_rate != codecs[i].rate)
			continue;
		int pt = sdp_pick_codec(m, codecs[i].name, codecs[i].clock);
		if (pt >= 0) {
			*send = true;
			return pt;
		}
	}
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].name[0])
			return m->codecs[i].pt;   /* the first the offer named: the section is inactive */
	return -1;
}

/* Answers the offer once the source has a key picture; 0 while it waits. */
static int try_answer(struct whep_req *r)
{
	struct rtc_session *s = r->s;
	struct webrtc *w = s->w;
	struct cs_error err;
	if (hub_sub_error(&s->sub, &err) != CS_OK)
		return req_fail(r, &err);
	struct coded_entry *key = hub_sub_newest_key(&s->sub);
	struct source_stats st;
	if (!key && hub_sub_stats(&s->sub, &st) && st.coded == SOURCE_CODED_NO) {
		cs_fail(&err, CS_UNSUPPORTED_CODEC, "%s sends %s: WebRTC carries H.264 only here "
			"(the JPEG endpoints show it)", s->label,
			st.codec[0] ? st.codec : "pictures WebRTC cannot carry");
		return req_fail(r, &err);
	}
	if (!key) {
		if (s->v.expired)
			return req_failf(r, CS_TIMEOUT, "the camera gave no key picture in time");
		return 0;
	}
	struct coded_params *params = coded_params_ref(key->params);
	coded_entry_unref(key);
	uint8_t iop[3];
	bool h264 = params && params->codec == CODED_H264 && profile_of(params, iop);
	enum coded_codec codec = params ? params->codec : CODED_NONE;
	coded_params_unref(params);
	if (!h264)
		return req_failf(r, CS_UNSUPPORTED_CODEC, codec == CODED_H265 ?
			"the camera sends H.265, which browsers do not receive over WebRTC: play it "
			"as HTTP-FLV with mpegts.js, or as HLS" :
			"the camera's pictures are not H.264: WebRTC carries H.264 only here");

	struct sdp_answer *a = calloc(1, sizeof(*a));
	if (!a)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	snprintf(a->ice_ufrag, sizeof(a->ice_ufrag), "%s", s->ufrag);
	snprintf(a->ice_pwd, sizeof(a->ice_pwd), "%s", s->pwd);
	snprintf(a->fingerprint, sizeof(a->fingerprint), "%s", dtls_cert_fingerprint(w->cert));
	snprintf(a->cname, sizeof(a->cname), "camstream");
	snprintf(a->stream_id, sizeof(a->stream_id), "camstream");
	a->hosts = w->host_ptrs;
	a->n_hosts = w->n_hosts;
	a->port = (unsigned)w->port;
	random_bytes(&a->session_id, sizeof(a->session_id));
	a->session_id >>= 2;
	bool video = false, sound = false;
	struct coded_params *sp = hub_sub_coded_params(&s->sub, CODED_SOUND);
	for (size_t i = 0; i < s->offer->n_media; i++) {
		const struct sdp_media *m = &s->offer->media[i];
		struct sdp_answer_media *am = &a->media[i];
		if (!sdp_media_offered(m))
			continue;
		if (!video && video_usable(m)) {
			am->pt = sdp_pick_h264(m, iop);
			if (am->pt < 0)
				continue;
			/* the profile the offer gave that type (a receiver refuses one it did not
			 * offer), the stream's level: browsers decode the stream whatever its
			 * profile (Chromium offers no High), the profile-level-id only names one */
			if (!sdp_h264_fmtp(m, am->pt, iop[2], am->fmtp, sizeof(am->fmtp)))
				continue;
			video = true;
			am->accept = am->sending = true;
			am->ssrc = s->ssrc;
			am->playout_delay_id = m->playout_delay_id;
			s->pt = am->pt;
			s->pd_id = m->playout_delay_id;
		} else if (!strcmp(m->kind, "audio") && s->offer->bundle) {
			/* the camera's G.711 or Opus goes as it came; AAC, which WebRTC does not carry,
			 * leaves the section in the bundle, inactive (as does an offer that sends
			 * only). Without a bundle only the video is taken: one ICE pair a session. */
			bool send = false;
			am->pt = audio_pt(m, sound || !sdp_media_receives(m) ? NULL : sp, &send);
			am->accept = am->pt >= 0;
			if (am->accept && send) {
				sound = true;
				am->sending = true;
				am->ssrc = s->assrc;
				s->apt = am->pt;
				s->acodec = sp->codec;
				s->aclock = sp->codec == CODED_OPUS ? 48000 : 8000;
			}
		}
	}
	coded_params_unref(sp);
	struct strbuf sb = STRBUF_INIT;
	int rc = video ? sdp_build_answer(s->offer, a, &sb) : -EINVAL;
	free(a);
	char *text = rc == 0 ? sb_take(&sb) : NULL;
	sb_free(&sb);
	if (!video)
		return req_failf(r, CS_BAD_REQUEST, "the offer has no H.264 video this stream's "
			"profile can use (packetization-mode=1)");
	if (!text)
		return req_failf(r, CS_SERVER_BUSY, "the answer could not be made");

	/* the session's URL names its source too, for a balancer that hashes on it */
	char *kq = viewer_key_query(&s->v);
	size_t loc_len = sizeof(SESSION_PREFIX) + ID_LEN + (kq ? strlen(kq) : 0);
	char *location = malloc(loc_len);
	if (!kq || !location) {
		free(kq);
		free(location);
		free(text);
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	}
	snprintf(location, loc_len, SESSION_PREFIX "%s%s", s->id, kq);
	free(kq);
	struct http_header extra[] = {
		{ "location:", location },
		{ "access-control-expose-headers:", "Location" },
	};
	r->replied = true;
	int wr = http_write_response(r->wsi, 201, "application/sdp", text,
		strlen(text), extra, 2);
	free(text);
	free(location);
	/* from here on the session lives without the request */
	free(s->offer);
	s->offer = NULL;
	s->req = NULL;
	r->s = NULL;
	viewer_wait(&s->v, 0);
	s->v.wsi = w->udp;
	s->state = S_ICE;
	s->answered_us = mono_now();
	log_info("webrtc %s: answered (session %.8s…, %u sessions)", s->label, s->id,
		w->n_sessions);
	arm_sweep(w);
	if (wr)
		return -1;
	return lws_http_transaction_completed(r->wsi) ? -1 : 0;
}

static int start_session(struct whep_req *r)
{
	struct webrtc *w = app_of(r->wsi)->webrtc;
	struct cs_error err;
	char why[160] = "";
	struct sdp_offer *o = calloc(1, sizeof(*o));
	if (!o)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	if (sdp_parse_offer(r->body ? r->body : "", r->len, o, why, sizeof(why)) != 0) {
		free(o);
		snprintf(err.msg, sizeof(err.msg), "the SDP offer is malformed: %s", why);
		err.code = CS_BAD_REQUEST;
		return req_fail(r, &err);
	}
	const char *bad = NULL;
	bool video = false, h264 = false;
	size_t vi = 0;
	for (size_t i = 0; i < o->n_media && !video; i++) {
		const struct sdp_media *m = &o->media[i];
		if (video_usable(m)) {
			video = true;
			vi = i;
		} else if (sdp_media_offered(m) && !strcmp(m->kind, "video") &&
			sdp_pick_h264(m, (const uint8_t[3]){ 0x42, 0xe0, 0x1f }) >= 0) {
			h264 = true;   /* H.264, but sendonly or inactive */
		}
	}
	if (!video)
		bad = h264 ? "the offer's video does not receive (a=sendonly or a=inactive): a WHEP "
			"offer receives video (a=recvonly or a=sendrecv)" :
			"the offer has no H.264 video with packetization-mode=1";
	else if (!o->media[vi].mid[0])
		bad = "the offer's video section has no a=mid";
	else if (o->ice_lite)
		bad = "the offer is ICE-lite too: one side must run full ICE";
	else if (!o->media[vi].ice_ufrag[0] || !o->media[vi].ice_pwd[0])
		bad = "the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)";
	else if (!o->media[vi].rtcp_mux)
		bad = "the offer must multiplex RTCP with RTP (a=rtcp-mux)";
	else if (!strcmp(o->media[vi].setup, "passive"))
		bad = "the offer wants to be DTLS passive: so are we (a=setup:actpass or active)";
	struct rtc_session *s = NULL;
	if (!bad && !(s = calloc(1, sizeof(*s))))
		bad = "out of memory";
	if (s && !sdp_parse_fingerprint(o->media[vi].fingerprint, s->peer_fp)) {
		free(s);
		s = NULL;
		bad = "the offer has no sha-256 fingerprint (a=fingerprint)";
	}
	if (!s) {
		free(o);
		return req_failf(r, bad && strcmp(bad, "out of memory") ? CS_BAD_REQUEST :
			CS_SERVER_BUSY, bad);
	}
	s->w = w;
	s->offer = o;
	s->req = r;
	r->s = s;
	s->sub.on_news = on_news;
	random_hex(s->id, ID_LEN);
	random_ice_chars(s->ufrag, 8);
	random_ice_chars(s->pwd, 32);
	random_bytes(&s->ssrc, sizeof(s->ssrc));
	random_bytes(&s->seq, sizeof(s->seq));
	random_bytes(&s->assrc, sizeof(s->assrc));
	random_bytes(&s->aseq, sizeof(s->aseq));
	random_bytes(&s->a_off, sizeof(s->a_off));
	if (s->assrc == s->ssrc)
		s->assrc ^= 1;
	s->apt = -1;
	s->next = w->sessions;
	w->sessions = s;
	w->n_sessions++;
	if (viewer_start(&s->v, r->wsi, &whep_kind, r->name[0] ? r->name : NULL, &err) != CS_OK)
		return req_fail(r, &err);
	snprintf(s->label, sizeof(s->label), "%s", viewer_label(&s->v));
	s->dtls = dtls_srtp_create(w->cert, true, s->peer_fp, MTU, dtls_out, s);
	if (!s->dtls)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	if (viewer_subscribe(&s->v, &s->sub, &err) != CS_OK)
		return req_fail(r, &err);
	w->m.sessions_total++;   /* admitted: a viewer of its stream */
	viewer_wait(&s->v, viewer_first_wait_us(r->wsi));
	arm_sweep(w);
	return try_answer(r);
}

static bool content_type_is_sdp(struct lws *wsi)
{
	char ct[128];
	if (lws_hdr_copy(wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0)
		return false;
	size_t n = strlen("application/sdp");
	return !strncasecmp(ct, "application/sdp", n) && (ct[n] == '\0' || ct[n] == ';' ||
		ct[n] == ' ');
}

/* DELETE and PATCH on /whep/session/{id}. */
static int on_session_path(struct whep_req *r, int method, const char *id)
{
	struct webrtc *w = app_of(r->wsi)->webrtc;
	struct rtc_session *s = w ? by_id(w, id) : NULL;
	r->replied = true;
	if (method == LWSHUMETH_PATCH) {
		struct http_header allow = { "allow:", "DELETE" };
		char *text = http_error_json(CS_BAD_REQUEST, "camstream is ICE-lite: its candidates "
			"are in the answer, and it takes no trickled ones");
		int rc = text ? http_write_response(r->wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
			"application/json", text, strlen(text), &allow, 1) : -1;
		free(text);
		return rc || lws_http_transaction_completed(r->wsi) ? -1 : 0;
	}
	if (method != LWSHUMETH_DELETE)
		return http_reply_error(r->wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"a WHEP session takes DELETE (hang up) only");
	if (!s)
		return http_reply_error(r->wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND,
			"no such WebRTC session (it ended)");
	end_session_log(s, "the client hung up (DELETE)");
	session_free(s);
	return http_reply_json(r->wsi, HTTP_STATUS_OK, "{\"ok\":true}");
}

/* A page of another origin asks before it POSTs an offer or DELETEs a session (neither is a
 * "simple" request): every origin may, as every other answer says (access-control-allow-
 * origin: *); --token still guards the POST itself. */
static int preflight(struct whep_req *r, bool session)
{
	struct http_header h[] = {
		{ "access-control-allow-methods:", session ? "DELETE, PATCH, OPTIONS" :
			"POST, OPTIONS" },
		{ "access-control-allow-headers:", "content-type, authorization, if-match" },
		{ "access-control-expose-headers:", "Location" },
		{ "access-control-max-age:", "600" },
	};
	r->replied = true;
	if (http_write_response(r->wsi, HTTP_STATUS_NO_CONTENT, "text/plain", "", 0, h, 4))
		return -1;
	return lws_http_transaction_completed(r->wsi) ? -1 : 0;
}

static int on_http(struct lws *wsi, struct whep_req *r, const char *name)
{
	char *uri = NULL;
	int uri_len = 0, ret;
	memset(r, 0, sizeof(*r));
	r->wsi = wsi;
	if (name)
		snprintf(r->name, sizeof(r->name), "%s", name);
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	r->method = method;
	struct webrtc *w = app_of(wsi)->webrtc;
	char path[128] = "";
	if (uri && uri_len > 0 && (size_t)uri_len < sizeof(path)) {
		memcpy(path, uri, (size_t)uri_len);
		path[uri_len] = '\0';
	}
	size_t sp = strlen(SESSION_PREFIX);
	bool session = !name && !strncmp(path, SESSION_PREFIX, sp);
	if (!name && !session && strcmp(path, WHEP_PATH))
		return refuse_early(r, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
	if (method == LWSHUMETH_OPTIONS)
		return preflight(r, session);
	if (session) {
		if (!access_http_check(wsi, false, NULL, &ret))
			return ret;
		/* a trickle PATCH has a body (a candidate fragment) that is not read: its 405
		 * closes the connection */
		if (http_content_length(wsi) > 0 || lws_hdr_total_length(wsi,
			WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			if (method == LWSHUMETH_PATCH) {
				on_session_path(r, method, path + sp);
				return -1;
			}
			return refuse_early(r, HTTP_STATUS_BAD_REQUEST, CS_BAD_REQUEST,
				"a WHEP session's DELETE has no body");
		}
		return on_session_path(r, method, path + sp);
	}
	if (method != LWSHUMETH_POST)
		return refuse_early(r, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"WHEP: POST an SDP offer (application/sdp) here");
	if (!access_http_check(wsi, true, NULL, &ret))
		return -1;
	if (!w)
		return refuse_early(r, HTTP_STATUS_SERVICE_UNAVAILABLE, CS_SERVER_BUSY,
			"WebRTC is off on this server (--webrtc-port)");
	if (!content_type_is_sdp(wsi))
		return refuse_early(r, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, CS_BAD_REQUEST,
			"WHEP: the offer's Content-Type must be application/sdp");
	long long cl = http_content_length(wsi);
	if (cl > BODY_MAX)
		return refuse_early(r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
			"the offer is larger than 64 KiB");
	if (cl <= 0)
		return refuse_early(r, cl < 0 ? HTTP_STATUS_LENGTH_REQUIRED : HTTP_STATUS_BAD_REQUEST,
			CS_BAD_REQUEST, "WHEP: send the SDP offer as the body, with a Content-Length");
	return 0;   /* the body follows */
}

static void take_body(struct whep_req *r, const void *in, size_t len)
{
	if (r->too_big || !len)
		return;
	if (r->len + len > BODY_MAX) {
		r->too_big = true;
		return;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b) {
			r->too_big = true;
			return;
		}
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, in, len);
	r->len += len;
	r->body[r->len] = '\0';
}

static void req_end(struct whep_req *r)
{
	if (r->s) {
		struct rtc_session *s = r->s;
		r->s = NULL;
		s->req = NULL;
		session_free(s);   /* the client left before its answer */
	}
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
}

int whep_begin(struct lws *wsi, struct whep_req *r, const char *name)
{
	return on_http(wsi, r, name);
}

int whep_callback(struct lws *wsi, enum lws_callback_reasons reason, struct whep_req *r,
	void *in, size_t len)
{
	if (!r)
		return lws_callback_http_dummy(wsi, reason, NULL, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		if (!r->replied)
			take_body(r, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->replied)
			return 0;
		if (r->too_big)
			return refuse_early(r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
				"the offer is larger than 64 KiB");
		return start_session(r);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (r->s && !r->replied)
			return try_answer(r);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		req_end(r);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, NULL, in, len);
	}
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct whep_req *r = user;
	if (reason == LWS_CALLBACK_HTTP && r) {
		req_end(r);
		return on_http(wsi, r, NULL);
	}
	return whep_callback(wsi, reason, r, in, len);
}

const struct lws_protocols webrtc_http_protocol = {
	.name = "camstream-whep",
	.callback = http_callback,
	.per_session_data_size = sizeof(struct whep_req),
	.tx_packet_size = 16 * 1024,
};

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
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &got_len) == 0 && got < big)
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

void webrtc_shutdown(struct webrtc *w)
{
	if (!w)
		return;
	lws_sul_cancel(&w->sweep);
	w->closing = true;
	while (w->sessions)
		session_free(w->sessions);
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
