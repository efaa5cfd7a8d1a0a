/* webrtc_media: a session's media out: the coded log's H.264 as RTP (RFC 6184), replays from
 * the key picture, the camera's G.711 or Opus, and RTCP: sender reports, NACKs and PLIs
 * answered, the goodbye. */
#include "webrtc_session.h"

#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "nal.h"

/* Scratch of the service thread (the only thread here). */
static struct rtp_desc descs[MAX_DESCS];
static uint8_t pkt[PKT_CAP];

/* ---- sending media ---- */

void rtc_send_to(struct webrtc *w, const struct sockaddr_storage *to, socklen_t len,
	const void *p, size_t n)
{
	if (w->fd < 0)
		return;
	/* a full send buffer drops the packet: the receiver's NACK asks for it again */
	if (sendto(w->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to, len) < 0)
		w->m.send_failures++;
}

void rtc_dtls_out(void *ctx, const uint8_t *p, size_t n)
{
	struct rtc_session *s = ctx;
	if (s->peer_len)
		rtc_send_to(s->w, &s->peer, s->peer_len, p, n);
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
	rtc_send_to(s->w, &s->peer, s->peer_len, pkt, n);
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
		/* a step back of less than TS_REORDER is a picture shown before the last one sent
		 * (B-pictures), not a jump */
		if (s->sent_any && (step <= -TS_REORDER || step > TS_JUMP)) {
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
	rtc_send_to(s->w, &s->peer, s->peer_len, pkt, n);
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

void rtc_pump(struct rtc_session *s)
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
	rtc_pump(s);
}

/* ---- RTCP ---- */

void rtc_on_rtcp_item(void *ctx, const struct rtcp_item *it)
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
		rtc_send_to(s->w, &s->peer, s->peer_len, buf, n);
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

void rtc_send_sr(struct rtc_session *s, int64_t now)
{
	send_one_sr(s, s->ssrc, s->last_ts, now - s->last_send_us, 90000, s->packets, s->octets);
	if (s->a_sent_any)
		send_one_sr(s, s->assrc, s->a_last_ts, now - s->a_last_send_us, s->aclock,
			s->a_packets, s->a_octets);
	s->last_sr_us = now;
}

/* The browser is told the session ended, so its page sees the track end at once instead of
 * at its own consent timeout: an RTCP BYE of each source sent (after a sender report, as a
 * compound packet must start), then DTLS's close_notify. */
void rtc_say_goodbye(struct rtc_session *s)
{
	if (!s->dtls || dtls_srtp_state(s->dtls) != DTLS_CONNECTED || !s->peer_len)
		return;
	uint32_t ssrcs[2] = { s->ssrc, s->assrc };
	uint8_t buf[128 + DTLS_SRTP_TRAILER];
	int64_t now = mono_now();
	size_t n = s->sent_any ? write_sr(buf, 100, s->ssrc, s->last_ts, now - s->last_send_us,
		90000, s->packets, s->octets) : s->a_sent_any ? write_sr(buf, 100, s->assrc,
		s->a_last_ts, now - s->a_last_send_us, s->aclock, s->a_packets, s->a_octets) : 0;
	/* the video's source, and the sound's when it sent any */
	size_t m = n ? rtcp_write_bye(buf + n, 100 - n, s->sent_any ? ssrcs : ssrcs + 1,
		s->sent_any && s->a_sent_any ? 2 : 1) : 0;
	if (m)
		send_rtcp(s, buf, n + m, sizeof(buf));
	dtls_srtp_close(s->dtls);
}
