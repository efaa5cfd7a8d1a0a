/* rtcp: the RTCP a WebRTC sender reads and writes (src/webrtc/rtcp.c). What we write is
 * checked byte for byte against RFC 3550's and RFC 4585's layouts and read back; packets
 * made by hand after RFC 3550, 4585, 5104, REMB and transport-wide CC are walked item by
 * item; the malformed ones are refused after the items before them. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rtcp.h"

/* what a walk reported */
struct seen {
	struct rtcp_item items[64];
	size_t n;
};

static void collect(void *ctx, const struct rtcp_item *item)
{
	struct seen *s = ctx;
	if (s->n < N(s->items))
		s->items[s->n] = *item;
	s->n++;
}

static int walk(const uint8_t *p, size_t n, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return rtcp_parse(p, n, collect, s);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A packet header: version 2, @count, @pt, @len bytes in all. */
static void hdr(uint8_t *p, unsigned count, uint8_t pt, size_t len)
{
	p[0] = (uint8_t)(0x80 | count);
	p[1] = pt;
	p[2] = (uint8_t)((len / 4 - 1) >> 8);
	p[3] = (uint8_t)(len / 4 - 1);
}

static void rtcp_is_follows_rfc5761(void)
{
	uint8_t p[8] = { 0x80, 200 };
	for (unsigned pt = 0; pt < 256; pt++) {
		p[1] = (uint8_t)pt;
		CHECK(rtcp_is(p, sizeof(p)) == (pt >= 192 && pt <= 223));
	}
	p[1] = 201;
	CHECK(rtcp_is(p, 2));
	CHECK(!rtcp_is(p, 1));
	p[0] = 0x00; /* STUN's first byte */
	CHECK(!rtcp_is(p, sizeof(p)));
	p[0] = 0x16; /* DTLS */
	CHECK(!rtcp_is(p, sizeof(p)));
	p[0] = 0xbf;
	CHECK(rtcp_is(p, sizeof(p)));
	p[0] = 0xc0;
	CHECK(!rtcp_is(p, sizeof(p)));
}

static void sender_report_is_written_as_rfc3550_says(void)
{
	uint8_t out[40];
	static const uint8_t want[28] = {
		0x80, 200, 0x00, 0x06,                 /* V=2, RC=0, SR, 7 words */
		0x11, 0x22, 0x33, 0x44,                /* SSRC */
		0xe8, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, /* NTP 32.32 */
		0x00, 0x01, 0x5f, 0x90,                /* RTP timestamp */
		0x00, 0x00, 0x00, 0x2a,                /* packets */
		0x00, 0x01, 0x00, 0x00,                /* octets */
	};
	CHECK(rtcp_write_sr(out, sizeof(out), 0x11223344u, 0xe800000180000000ull, 90000, 42,
		65536) == 28);
	CHECK(memcmp(out, want, 28) == 0);
	CHECK(rtcp_write_sr(out, 27, 1, 2, 3, 4, 5) == 0);

	struct seen s;
	CHECK(walk(out, 28, &s) == 1);
	CHECK(s.items[0].kind == RTCP_SR && s.items[0].pt == 200 && s.items[0].fmt == 0);
	CHECK(s.items[0].sender_ssrc == 0x11223344u);
}

static void sdes_carries_one_cname_padded_to_four(void)
{
	uint8_t out[300];
	char cname[257];
	for (size_t len = 0; len <= 256; len++) {
		memset(cname, 'c', len);
		cname[len] = '\0';
		memset(out, 0xee, sizeof(out));
		size_t n = rtcp_write_sdes(out, sizeof(out), 0xaabbccddu, cname);
		if (len > 255) {
			CHECK(n == 0);
			continue;
		}
		/* header, SSRC, type, length, text, one to four zero bytes */
		CHECK(n % 4 == 0 && n >= 10 + len + 1 && n <= 10 + len + 4);
		CHECK(out[0] == 0x81 && out[1] == 202);
		CHECK(((size_t)out[2] << 8 | out[3]) == n / 4 - 1);
		CHECK(out[4] == 0xaa && out[7] == 0xdd);
		CHECK(out[8] == 1 && out[9] == len && memcmp(out + 10, cname, len) == 0);
		for (size_t i = 10 + len; i < n; i++)
			CHECK(out[i] == 0);
		CHECK(out[n] == 0xee); /* nothing written past it */
		CHECK(rtcp_write_sdes(out, n - 1, 1, cname) == 0);
		struct seen s;
		CHECK(walk(out, n, &s) == 1);
		CHECK(s.items[0].kind == RTCP_OTHER && s.items[0].pt == 202);
		CHECK(s.items[0].sender_ssrc == 0xaabbccddu);
	}
}

static void compound_sr_and_sdes_is_walked_in_order(void)
{
	uint8_t out[128];
	size_t n = rtcp_write_sr(out, sizeof(out), 7, 0, 0, 0, 0);
	n += rtcp_write_sdes(out + n, sizeof(out) - n, 7, "camstream");
	struct seen s;
	CHECK(walk(out, n, &s) == 2);
	CHECK(s.items[0].kind == RTCP_SR && s.items[1].kind == RTCP_OTHER);
	CHECK(s.items[1].pt == 202);
}

/* A goodbye: SR, then a BYE naming the video's and the sound's sources. */
static void bye_names_its_sources_after_a_sender_report(void)
{
	uint8_t out[64];
	const uint32_t ssrcs[2] = { 0x01020304, 0xa0b0c0d0 };
	size_t n = rtcp_write_sr(out, sizeof(out), ssrcs[0], 0, 0, 0, 0);
	size_t m = rtcp_write_bye(out + n, sizeof(out) - n, ssrcs, 2);
	CHECK(m == 12);
	CHECK(out[n] == 0x82 && out[n + 1] == 203 && out[n + 2] == 0 && out[n + 3] == 2);
	CHECK(!memcmp(out + n + 4, "\x01\x02\x03\x04\xa0\xb0\xc0\xd0", 8));
	struct seen s;
	CHECK(walk(out, n + m, &s) == 2);
	CHECK(s.items[0].kind == RTCP_SR && s.items[1].kind == RTCP_OTHER && s.items[1].pt == 203);
	CHECK(rtcp_write_bye(out, 7, ssrcs, 1) == 0);   /* no room */
	CHECK(rtcp_write_bye(out, sizeof(out), ssrcs, 0) == 0);
	CHECK(rtcp_write_bye(out, sizeof(out), NULL, 1) == 0);
}

static void receiver_report_reads_back(void)
{
	uint8_t out[64];
	struct rtcp_item b = { 0 };
	b.media_ssrc = 0x01020304u;
	b.fraction_lost = 25;
	b.cumulative_lost = 0x123456;
	b.highest_seq = 0x00017000u;
	b.jitter = 321;
	b.lsr = 0xdeadbeefu;
	b.dlsr = 65536;
	CHECK(rtcp_write_rr(out, sizeof(out), 0x99u, &b) == 32);
	CHECK(rtcp_write_rr(out, 31, 0x99u, &b) == 0);
	CHECK(out[0] == 0x81 && out[1] == 201 && out[3] == 7);
	CHECK(out[12] == 25 && out[13] == 0x12 && out[14] == 0x34 && out[15] == 0x56);
	struct seen s;
	CHECK(walk(out, 32, &s) == 1);
	const struct rtcp_item *r = &s.items[0];
	CHECK(r->kind == RTCP_RR && r->pt == 201 && r->fmt == 1);
	CHECK(r->sender_ssrc == 0x99u && r->media_ssrc == 0x01020304u);
	CHECK(r->fraction_lost == 25 && r->cumulative_lost == 0x123456);
	CHECK(r->highest_seq == 0x00017000u && r->jitter == 321);
	CHECK(r->lsr == 0xdeadbeefu && r->dlsr == 65536);
}

static void sender_report_blocks_are_rr_items(void)
{
	uint8_t p[28 + 2 * 24] = { 0 };
	hdr(p, 2, 200, sizeof(p));
	put32(p + 4, 0x55u);
	put32(p + 28, 0xa1u);
	p[32] = 3;
	put32(p + 28 + 24, 0xa2u);
	put32(p + 28 + 24 + 16, 77);
	struct seen s;
	CHECK(walk(p, sizeof(p), &s) == 3);
	CHECK(s.items[0].kind == RTCP_SR && s.items[0].sender_ssrc == 0x55u);
	CHECK(s.items[1].kind == RTCP_RR && s.items[1].pt == 200);
	CHECK(s.items[1].sender_ssrc == 0x55u && s.items[1].media_ssrc == 0xa1u);
	CHECK(s.items[1].fraction_lost == 3);
	CHECK(s.items[2].kind == RTCP_RR && s.items[2].media_ssrc == 0xa2u);
	CHECK(s.items[2].lsr == 77);
}

static void nack_reads_back_and_names_its_sequence_numbers(void)
{
	uint8_t out[32];
	static const uint8_t want[16] = { 0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x12,
		0x34, 0x80, 0x05 };
	CHECK(rtcp_write_nack(out, sizeof(out), 1, 2, 0x1234, 0x8005) == 16);
	CHECK(memcmp(out, want, 16) == 0);
	CHECK(rtcp_write_nack(out, 15, 1, 2, 3, 4) == 0);
	struct seen s;
	CHECK(walk(out, 16, &s) == 1);
	const struct rtcp_item *it = &s.items[0];
	CHECK(it->kind == RTCP_NACK && it->pt == 205 && it->fmt == 1);
	CHECK(it->sender_ssrc == 1 && it->media_ssrc == 2);
	CHECK(it->pid == 0x1234 && it->blp == 0x8005);

	uint16_t seqs[17];
	CHECK(rtcp_nack_seqs(it, seqs) == 4);
	CHECK(seqs[0] == 0x1234 && seqs[1] == 0x1235 && seqs[2] == 0x1237 && seqs[3] == 0x1244);

	struct rtcp_item all = { .kind = RTCP_NACK, .pid = 65530, .blp = 0xffff };
	CHECK(rtcp_nack_seqs(&all, seqs) == 17);
	for (unsigned i = 0; i < 17; i++)
		CHECK(seqs[i] == (uint16_t)(65530 + i)); /* wraps through 0 */
	struct rtcp_item pli = { .kind = RTCP_PLI };
	CHECK(rtcp_nack_seqs(&pli, seqs) == 0);
}

static void nack_with_three_entries_is_three_items(void)
{
	uint8_t p[12 + 3 * 4] = { 0 };
	hdr(p, 1, 205, sizeof(p));
	put32(p + 4, 9);
	put32(p + 8, 10);
	put32(p + 12, 100u << 16 | 1);
	put32(p + 16, 200u << 16);
	put32(p + 20, 65535u << 16 | 0x8000);
	struct seen s;
	CHECK(walk(p, sizeof(p), &s) == 3);
	for (size_t i = 0; i < 3; i++)
		CHECK(s.items[i].kind == RTCP_NACK && s.items[i].media_ssrc == 10);
	CHECK(s.items[0].pid == 100 && s.items[0].blp == 1);
	CHECK(s.items[1].pid == 200 && s.items[1].blp == 0);
	CHECK(s.items[2].pid == 65535 && s.items[2].blp == 0x8000);
}

static void pli_reads_back(void)
{
	uint8_t out[16];
	static const uint8_t want[12] = { 0x81, 206, 0x00, 0x02, 0, 0, 0, 5, 0, 0, 0, 6 };
	CHECK(rtcp_write_pli(out, sizeof(out), 5, 6) == 12);
	CHECK(memcmp(out, want, 12) == 0);
	CHECK(rtcp_write_pli(out, 11, 5, 6) == 0);
	struct seen s;
	CHECK(walk(out, 12, &s) == 1);
	CHECK(s.items[0].kind == RTCP_PLI && s.items[0].pt == 206 && s.items[0].fmt == 1);
	CHECK(s.items[0].sender_ssrc == 5 && s.items[0].media_ssrc == 6);
}

/* RFC 5104 §4.3.1: the media source field is 0; each FCI entry names a source and a
 * sequence number */
static void fir_entries_are_items_with_their_own_source(void)
{
	uint8_t p[12 + 2 * 8] = { 0 };
	hdr(p, 4, 206, sizeof(p));
	put32(p + 4, 0x77u);
	put32(p + 12, 0xabcdu);
	p[16] = 9;
	put32(p + 20, 0xef01u);
	p[24] = 255;
	struct seen s;
	CHECK(walk(p, sizeof(p), &s) == 2);
	CHECK(s.items[0].kind == RTCP_FIR && s.items[0].sender_ssrc == 0x77u);
	CHECK(s.items[0].media_ssrc == 0xabcdu && s.items[0].fir_seq == 9);
	CHECK(s.items[1].kind == RTCP_FIR && s.items[1].media_ssrc == 0xef01u);
	CHECK(s.items[1].fir_seq == 255);
}

static void remb_and_twcc_are_recognised(void)
{
	/* REMB: PSFB fmt 15, media 0, "REMB", one SSRC, a bitrate */
	uint8_t remb[24] = { 0 };
	hdr(remb, 15, 206, sizeof(remb));
	put32(remb + 4, 1);
	memcpy(remb + 12, "REMB", 4);
	remb[16] = 1;
	remb[17] = 0x0b;
	put32(remb + 20, 0x1234u);
	struct seen s;
	CHECK(walk(remb, sizeof(remb), &s) == 1);
	CHECK(s.items[0].kind == RTCP_REMB && s.items[0].fmt == 15);

	/* another application-layer feedback is not REMB */
	memcpy(remb + 12, "ABCD", 4);
	CHECK(walk(remb, sizeof(remb), &s) == 1 && s.items[0].kind == RTCP_OTHER);

	/* transport-wide CC: RTPFB fmt 15 */
	uint8_t twcc[20] = { 0 };
	hdr(twcc, 15, 205, sizeof(twcc));
	put32(twcc + 4, 1);
	put32(twcc + 8, 2);
	CHECK(walk(twcc, sizeof(twcc), &s) == 1);
	CHECK(s.items[0].kind == RTCP_TWCC && s.items[0].media_ssrc == 2);
}

static void bye_app_xr_and_unknown_feedback_are_other(void)
{
	uint8_t p[8 + 12 + 8 + 12 + 12] = { 0 };
	size_t at = 0;
	hdr(p, 1, 203, 8); /* BYE */
	put32(p + 4, 0x42u);
	at += 8;
	hdr(p + at, 0, 204, 12); /* APP */
	at += 12;
	hdr(p + at, 0, 207, 8); /* XR */
	at += 8;
	hdr(p + at, 3, 205, 12); /* TMMBR */
	at += 12;
	hdr(p + at, 2, 206, 12); /* SLI */
	at += 12;
	struct seen s;
	CHECK(walk(p, at, &s) == 5);
	static const uint8_t pts[5] = { 203, 204, 207, 205, 206 };
	for (size_t i = 0; i < 5; i++)
		CHECK(s.items[i].kind == RTCP_OTHER && s.items[i].pt == pts[i]);
	CHECK(s.items[0].sender_ssrc == 0x42u);
}

static void padding_is_taken_off(void)
{
	/* a PLI with 4 bytes of padding (P bit, last byte 4) */
	uint8_t p[16] = { 0 };
	hdr(p, 1, 206, sizeof(p));
	p[0] |= 0x20;
	put32(p + 4, 1);
	put32(p + 8, 2);
	p[15] = 4;
	struct seen s;
	CHECK(walk(p, sizeof(p), &s) == 1 && s.items[0].kind == RTCP_PLI);
	/* a NACK whose padding would leave half an FCI entry: no entry */
	uint8_t q[16] = { 0 };
	hdr(q, 1, 205, sizeof(q));
	q[0] |= 0x20;
	q[15] = 2;
	CHECK(walk(q, sizeof(q), &s) == 0);
	p[15] = 0; /* a padding count of 0 */
	CHECK(walk(p, sizeof(p), &s) == -EINVAL);
	p[15] = 13; /* into the header */
	CHECK(walk(p, sizeof(p), &s) == -EINVAL);
	p[15] = 8; /* the feedback would be shorter than its 12 bytes */
	CHECK(walk(p, sizeof(p), &s) == -EINVAL);
}

static void malformed_packets_are_refused_after_the_items_before(void)
{
	uint8_t p[64] = { 0 };
	struct seen s;
	size_t n = rtcp_write_pli(p, sizeof(p), 1, 2);

	/* too short for a header */
	CHECK(walk(p, 0, &s) == -EINVAL && s.n == 0);
	CHECK(walk(p, 3, &s) == -EINVAL && s.n == 0);
	/* a length running past the end */
	CHECK(walk(p, n - 4, &s) == -EINVAL && s.n == 0);
	/* version 1 */
	p[0] = (p[0] & 0x3f) | 0x40;
	CHECK(walk(p, n, &s) == -EINVAL && s.n == 0);
	p[0] = (p[0] & 0x3f) | 0x80;

	/* a PLI, then a second packet with version 3 or cut short: the PLI is reported */
	n += rtcp_write_pli(p + n, sizeof(p) - n, 3, 4);
	p[12] |= 0xc0;
	CHECK(walk(p, n, &s) == -EINVAL && s.n == 1 && s.items[0].kind == RTCP_PLI);
	p[12] = (p[12] & 0x3f) | 0x80;
	CHECK(walk(p, n, &s) == 2);
	CHECK(walk(p, n - 1, &s) == -EINVAL && s.n == 1);
	CHECK(walk(p, n + 2, &s) == -EINVAL && s.n == 2); /* two bytes of a header */

	/* an RR whose count says 2 blocks with room for one */
	struct rtcp_item b = { 0 };
	n = rtcp_write_rr(p, sizeof(p), 1, &b);
	p[0] = 0x82;
	CHECK(walk(p, n, &s) == -EINVAL && s.n == 0);
	/* an SR shorter than its sender info */
	hdr(p, 0, 200, 24);
	CHECK(walk(p, 24, &s) == -EINVAL && s.n == 0);
	/* feedback shorter than its two SSRCs */
	hdr(p, 1, 205, 8);
	CHECK(walk(p, 8, &s) == -EINVAL && s.n == 0);
}

int main(void)
{
	RUN(rtcp_is_follows_rfc5761);
	RUN(sender_report_is_written_as_rfc3550_says);
	RUN(sdes_carries_one_cname_padded_to_four);
	RUN(compound_sr_and_sdes_is_walked_in_order);
	RUN(bye_names_its_sources_after_a_sender_report);
	RUN(receiver_report_reads_back);
	RUN(sender_report_blocks_are_rr_items);
	RUN(nack_reads_back_and_names_its_sequence_numbers);
	RUN(nack_with_three_entries_is_three_items);
	RUN(pli_reads_back);
	RUN(fir_entries_are_items_with_their_own_source);
	RUN(remb_and_twcc_are_recognised);
	RUN(bye_app_xr_and_unknown_feedback_are_other);
	RUN(padding_is_taken_off);
	RUN(malformed_packets_are_refused_after_the_items_before);
	return CHECK_DONE();
}
