/* rtp: H.264 in RTP per RFC 6184, packetization mode 1, and the RFC 3550 header
 * (src/webrtc/rtp.c). What is packetized is written out as packets and depacketized again here
 * (single NAL unit packets and FU-A reassembly, as a receiver does); the result must be the
 * access unit that went in, without its delimiters, filler data and unspecified types. Units
 * at, just under and just over the payload limit and the FU-A fragment boundaries are the
 * interesting sizes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtp.h"

#define AU_CAP (1 << 20)
#define DESC_CAP 4096

static uint8_t au[AU_CAP], expect[AU_CAP], got[AU_CAP];
static struct rtp_desc descs[DESC_CAP];

struct au_builder {
	uint8_t *p;
	size_t len;
	size_t kept; /* bytes of it a receiver gets back (AUD and filler left out) */
	uint8_t *kept_p;
};

static uint32_t rng = 12345;

static uint8_t rnd8(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

/* Appends a NAL unit of @n bytes (@n >= 1) with header byte @hdr and pseudo-random data. */
static void add_unit(struct au_builder *b, uint8_t hdr, size_t n)
{
	uint8_t *at = b->p + b->len;
	at[0] = (uint8_t)(n >> 24);
	at[1] = (uint8_t)(n >> 16);
	at[2] = (uint8_t)(n >> 8);
	at[3] = (uint8_t)n;
	at[4] = hdr;
	for (size_t i = 1; i < n; i++)
		at[4 + i] = rnd8();
	b->len += 4 + n;
	uint8_t type = hdr & 0x1f;
	if (type != 9 && type != 12 && type != 0 && type < 24) {
		memcpy(b->kept_p + b->kept, at, 4 + n);
		b->kept += 4 + n;
	}
}

static struct au_builder builder(void)
{
	return (struct au_builder){ .p = au, .kept_p = expect };
}

/* Packetizes @b's unit with @mp, writes each packet, depacketizes them like a receiver, and
 * checks the result equals what the receiver should get. Returns the packet count (or the
 * error). */
static int round_trip(const struct au_builder *b, size_t mp)
{
	int n = rtp_h264_split(b->p, b->len, mp, descs, DESC_CAP);
	if (n < 0)
		return n;
	CHECK(rtp_h264_count(b->p, b->len, mp) == n);
	size_t out = 0, unit_at = 0;
	bool in_fu = false;
	static uint8_t pkt[70000];
	for (int i = 0; i < n; i++) {
		const struct rtp_desc *d = &descs[i];
		CHECK(d->len + d->fu_len <= mp);
		CHECK(d->last == (i == n - 1));
		size_t len = rtp_write(pkt, sizeof(pkt), 102, d->last, (uint16_t)(65530 + i),
			90000u * 7, 0x01020304, d, b->p);
		CHECK(len == (size_t)RTP_HEADER + d->fu_len + d->len);
		struct rtp_header h;
		CHECK(rtp_parse_header(pkt, len, &h) == 0);
		CHECK(h.pt == 102 && h.marker == d->last && h.seq == (uint16_t)(65530 + i));
		CHECK(h.ts == 630000 && h.ssrc == 0x01020304 && h.header_len == RTP_HEADER &&
			h.padding == 0);
		const uint8_t *pl = pkt + h.header_len;
		size_t pn = len - h.header_len;
		CHECK(pn >= 1);
		if ((pl[0] & 0x1f) != 28) {
			CHECK(!in_fu);
			/* a single NAL unit packet: the unit itself */
			got[out] = (uint8_t)(pn >> 24);
			got[out + 1] = (uint8_t)(pn >> 16);
			got[out + 2] = (uint8_t)(pn >> 8);
			got[out + 3] = (uint8_t)pn;
			memcpy(got + out + 4, pl, pn);
			out += 4 + pn;
			continue;
		}
		CHECK(pn > 2);
		bool s = pl[1] & 0x80, e = pl[1] & 0x40;
		CHECK(!(pl[1] & 0x20)); /* R is zero */
		CHECK(s == !in_fu);
		if (s) {
			unit_at = out;
			out += 4;
			got[out++] = (uint8_t)((pl[0] & 0xe0) | (pl[1] & 0x1f));
			in_fu = true;
		}
		memcpy(got + out, pl + 2, pn - 2);
		out += pn - 2;
		if (e) {
			size_t un = out - unit_at - 4;
			got[unit_at] = (uint8_t)(un >> 24);
			got[unit_at + 1] = (uint8_t)(un >> 16);
			got[unit_at + 2] = (uint8_t)(un >> 8);
			got[unit_at + 3] = (uint8_t)un;
			in_fu = false;
		}
	}
	CHECK(!in_fu);
	CHECK(out == b->kept && memcmp(got, expect, out) == 0);
	return n;
}

/* The packets a unit of @n bytes takes at @mp. */
static int packets_for(size_t n, size_t mp)
{
	if (n <= mp)
		return 1;
	return (int)((n - 1 + (mp - 2) - 1) / (mp - 2));
}

static void sizes_around_the_limit(void)
{
	static const size_t mps[] = { RTP_MAX_PAYLOAD, 16, 17, 1200 };
	for (size_t k = 0; k < N(mps); k++) {
		size_t mp = mps[k], fr = mp - 2;
		const size_t sizes[] = { 1, 2, mp - 1, mp, mp + 1, mp + 2, fr + 1, fr + 2,
			2 * fr, 2 * fr + 1, 2 * fr + 2, 3 * fr + 1, 10 * fr + 1, 10 * fr + 2, 50000 };
		for (size_t i = 0; i < N(sizes); i++) {
			if (sizes[i] < 1)
				continue;
			struct au_builder b = builder();
			add_unit(&b, 0x65, sizes[i]);
			int n = round_trip(&b, mp);
			if (n != packets_for(sizes[i], mp))
				printf("# mp %zu size %zu: %d packets\n", mp, sizes[i], n);
			CHECK(n == packets_for(sizes[i], mp));
		}
	}
}

static void a_whole_access_unit(void)
{
	struct au_builder b = builder();
	add_unit(&b, 0x09, 2);   /* AUD: left out */
	add_unit(&b, 0x67, 25);  /* SPS */
	add_unit(&b, 0x68, 4);   /* PPS */
	add_unit(&b, 0x06, 30);  /* SEI */
	add_unit(&b, 0x65, RTP_MAX_PAYLOAD * 5 + 3);
	add_unit(&b, 0x0c, 100); /* filler: left out */
	add_unit(&b, 0x25, RTP_MAX_PAYLOAD); /* a second slice, exactly one packet */
	int n = round_trip(&b, RTP_MAX_PAYLOAD);
	CHECK(n == 3 + packets_for(RTP_MAX_PAYLOAD * 5 + 3, RTP_MAX_PAYLOAD) + 1);
	CHECK(descs[0].fu_len == 0 && descs[0].len == 25 && descs[0].off == 4 + 2 + 4);
	CHECK(descs[3].fu_len == 2 && descs[3].fu[0] == (0x60 | 28) && descs[3].fu[1] == 0x85);
	CHECK(descs[4].fu[1] == 0x05);
	CHECK(descs[n - 2].fu[1] == 0x45);
	CHECK(descs[n - 1].fu_len == 0 && descs[n - 1].last);
}

static void fu_indicator_keeps_f_and_nri(void)
{
	struct au_builder b = builder();
	add_unit(&b, 0x80 | 0x20 | 0x01, 100); /* F set, NRI 1, a non-IDR slice */
	CHECK(round_trip(&b, 40) == packets_for(100, 40));
	CHECK(descs[0].fu[0] == (0x80 | 0x20 | 28) && descs[0].fu[1] == (0x80 | 0x01));
}

static void random_access_units(void)
{
	for (int round = 0; round < 300; round++) {
		struct au_builder b = builder();
		int units = 1 + rnd8() % 6;
		for (int u = 0; u < units; u++) {
			size_t n = 1 + ((size_t)rnd8() << 8 | rnd8()) % (round % 3 ? 4000 : 40000);
			/* types 1..23 (24..31 are RTP's own), F and NRI any */
			add_unit(&b, (uint8_t)((rnd8() & 0xe0) | (1 + rnd8() % 23)), n);
		}
		size_t mp = (round % 3 ? 16 : 200) + rnd8() % 1400;
		int r = round_trip(&b, mp);
		CHECK(r >= 0);
		if (!b.kept)
			CHECK(r == 0);
	}
}

static void unspecified_types_are_left_out(void)
{
	struct au_builder b = builder();
	add_unit(&b, 0x67, 10);
	add_unit(&b, 0x7c, 3000); /* 28: would read as an FU-A */
	add_unit(&b, 0x78, 20);   /* 24: a STAP-A */
	add_unit(&b, 0x60, 20);   /* 0 */
	add_unit(&b, 0x7f, 20);   /* 31 */
	add_unit(&b, 0x65, 10);
	CHECK(round_trip(&b, RTP_MAX_PAYLOAD) == 2);
}

static void nothing_to_send(void)
{
	struct au_builder b = builder();
	CHECK(rtp_h264_split(au, 0, RTP_MAX_PAYLOAD, descs, DESC_CAP) == 0);
	add_unit(&b, 0x09, 2);
	add_unit(&b, 0x0c, 3000);
	CHECK(rtp_h264_split(b.p, b.len, RTP_MAX_PAYLOAD, descs, 0) == 0);
	CHECK(rtp_h264_count(b.p, b.len, RTP_MAX_PAYLOAD) == 0);
}

static void malformed_units_are_refused(void)
{
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	static const uint8_t past[] = { 0, 0, 0, 5, 0x65, 1, 2, 3 };
	static const uint8_t short_len[] = { 0, 0, 0, 1, 0x65, 0, 0, 0 };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0x65 };
	static const uint8_t good[] = { 0, 0, 0, 1, 0x65 };
	CHECK(rtp_h264_split(zero, sizeof(zero), 100, descs, DESC_CAP) == -EINVAL);
	CHECK(rtp_h264_split(past, sizeof(past), 100, descs, DESC_CAP) == -EINVAL);
	CHECK(rtp_h264_split(short_len, sizeof(short_len), 100, descs, DESC_CAP) == -EINVAL);
	CHECK(rtp_h264_split(huge, sizeof(huge), 100, descs, DESC_CAP) == -EINVAL);
	CHECK(rtp_h264_count(past, sizeof(past), 100) == -EINVAL);
	CHECK(rtp_h264_split(good, sizeof(good), 15, descs, DESC_CAP) == -EINVAL);
	CHECK(rtp_h264_split(good, sizeof(good), 16, descs, DESC_CAP) == 1);
	CHECK(descs[0].off == 4 && descs[0].len == 1 && descs[0].last);
}

static void too_few_descriptions(void)
{
	struct au_builder b = builder();
	add_unit(&b, 0x65, 1000);
	int n = rtp_h264_count(b.p, b.len, 100);
	CHECK(n == packets_for(1000, 100));
	CHECK(rtp_h264_split(b.p, b.len, 100, descs, (size_t)n - 1) == -ENOSPC);
	CHECK(rtp_h264_split(b.p, b.len, 100, descs, (size_t)n) == n);
}

static void large_payload_limits_are_capped(void)
{
	struct au_builder b = builder();
	add_unit(&b, 0x65, 70000);
	int n = round_trip(&b, 1u << 20);
	CHECK(n == packets_for(70000, 65535));
}

static void header_bytes(void)
{
	uint8_t p[RTP_HEADER];
	rtp_write_header(p, 96, true, 0xabcd, 0x11223344, 0xa1b2c3d4);
	static const uint8_t want[] = { 0x80, 0xe0, 0xab, 0xcd, 0x11, 0x22, 0x33, 0x44,
		0xa1, 0xb2, 0xc3, 0xd4 };
	CHECK(memcmp(p, want, sizeof(want)) == 0);
	rtp_write_header(p, 0xff, false, 0, 0, 0);
	CHECK(p[1] == 0x7f); /* the payload type is 7 bits */
}

static void write_needs_room(void)
{
	static const uint8_t data[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct rtp_desc d = { .off = 2, .len = 5, .fu_len = 2, .fu = { 0x7c, 0x85 } };
	uint8_t out[64];
	CHECK(rtp_write(out, RTP_HEADER + 6, 96, false, 1, 2, 3, &d, data) == 0);
	CHECK(rtp_write(out, RTP_HEADER + 7, 96, false, 1, 2, 3, &d, data) == RTP_HEADER + 7);
	CHECK(out[12] == 0x7c && out[13] == 0x85 && memcmp(out + 14, data + 2, 5) == 0);
}

static void header_parse(void)
{
	struct rtp_header h;
	uint8_t p[64] = { 0 };
	rtp_write_header(p, 111, false, 7, 8, 9);
	CHECK(rtp_parse_header(p, 12, &h) == 0 && h.header_len == 12 && h.pt == 111 &&
		!h.marker && h.seq == 7 && h.ts == 8 && h.ssrc == 9);
	CHECK(rtp_parse_header(p, 11, &h) == -EINVAL);
	p[0] = 0x40; /* version 1 */
	CHECK(rtp_parse_header(p, 12, &h) == -EINVAL);
	p[0] = 0x82; /* two CSRCs */
	CHECK(rtp_parse_header(p, 20, &h) == 0 && h.header_len == 20);
	CHECK(rtp_parse_header(p, 19, &h) == -EINVAL);
	p[0] = 0x91; /* one CSRC and an extension of 2 words */
	p[16] = 0xbe;
	p[17] = 0xde;
	p[18] = 0;
	p[19] = 2;
	CHECK(rtp_parse_header(p, 28, &h) == 0 && h.header_len == 28);
	CHECK(rtp_parse_header(p, 27, &h) == -EINVAL);
	CHECK(rtp_parse_header(p, 19, &h) == -EINVAL);
	p[0] = 0xa0; /* padding: the last byte counts it */
	p[29] = 3;
	CHECK(rtp_parse_header(p, 30, &h) == 0 && h.padding == 3 && h.header_len == 12);
	p[29] = 18;
	CHECK(rtp_parse_header(p, 30, &h) == 0 && h.padding == 18);
	p[29] = 19;
	CHECK(rtp_parse_header(p, 30, &h) == -EINVAL);
	p[29] = 0;
	CHECK(rtp_parse_header(p, 30, &h) == -EINVAL);
}

int main(void)
{
	RUN(sizes_around_the_limit);
	RUN(a_whole_access_unit);
	RUN(fu_indicator_keeps_f_and_nri);
	RUN(random_access_units);
	RUN(unspecified_types_are_left_out);
	RUN(nothing_to_send);
	RUN(malformed_units_are_refused);
	RUN(too_few_descriptions);
	RUN(large_payload_limits_are_capped);
	RUN(header_bytes);
	RUN(write_needs_room);
	RUN(header_parse);
	return CHECK_DONE();
}
