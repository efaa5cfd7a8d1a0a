/* webrtc_session: what the three parts of WebRTC share, private to them. webrtc.c keeps the
 * registry, the UDP socket (STUN, DTLS and SRTCP in) and the sessions' lives; webrtc_media.c
 * sends a session's media (RTP from the coded log, replays, sound) and its RTCP (sender
 * reports, NACK and PLI answered, the goodbye); whep.c speaks WHEP over HTTP (the offer, the
 * answer, DELETE). All of it runs on the service thread. */
#ifndef CAMSTREAM_WEBRTC_SESSION_H
#define CAMSTREAM_WEBRTC_SESSION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "app.h"
#include "clock.h"
#include "codedlog.h"
#include "dtls_srtp.h"
#include "hub.h"
#include "rtcp.h"
#include "rtp.h"
#include "sdp.h"
#include "viewer.h"
#include "webrtc.h"

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
#define TS_JUMP (5 * 90000)           /* a camera clock step larger than this is re-based */
#define TS_REORDER 45000              /* B-pictures step back less than this (0.5 s) */
#define TRIM_AFTER_ENDED 32           /* sessions ended between two trims of the heap */
#define G711_PACKET 160               /* 20 ms at 8 kHz, a byte a sample */
#define PD_EXT 8                      /* the playout-delay extension's bytes in a packet */

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

static inline int64_t mono_now(void)
{
	return clock_mono_us();
}

/* ---- webrtc.c ---- */

/* @n characters of ICE's alphabet (RFC 8839 ice-char), NUL-terminated; @n <= 64. */
void rtc_random_ice_chars(char *out, size_t n);
/* The session whose id is @id (compared in constant time), or NULL. */
struct rtc_session *rtc_by_id(struct webrtc *w, const char *id);
/* The hub's news for a session's reader: answer the POST, or send. */
void rtc_on_news(struct hub_sub *sub);
/* Deadlines, sender reports and ended sessions are looked at every 250 ms while any exist. */
void rtc_arm_sweep(struct webrtc *w);
void rtc_end_session_log(struct rtc_session *s, const char *why);
/* Says goodbye (when DTLS is up), lets go of everything the session holds and frees it. */
void rtc_session_free(struct rtc_session *s);

/* ---- webrtc_media.c ---- */

/* A datagram to @to on the shared socket; one the send buffer refuses is counted. */
void rtc_send_to(struct webrtc *w, const struct sockaddr_storage *to, socklen_t len,
	const void *p, size_t n);
/* dtls_srtp's send function: DTLS records to the session's peer. */
void rtc_dtls_out(void *ctx, const uint8_t *p, size_t n);
/* Sends what the session's reader has (once its keys are made); notices a stream that ended. */
void rtc_pump(struct rtc_session *s);
/* rtcp_parse's function for the browser's feedback: NACK, PLI, FIR. */
void rtc_on_rtcp_item(void *ctx, const struct rtcp_item *it);
void rtc_send_sr(struct rtc_session *s, int64_t now);
/* An RTCP BYE of each source sent and DTLS's close_notify, when DTLS is up. */
void rtc_say_goodbye(struct rtc_session *s);

#endif
