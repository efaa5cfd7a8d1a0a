/* fuzz_rtp: H.264 packetization (src/webrtc/rtp.c). The first two bytes of the input give
 * the payload limit (any value, also below the 16 the splitter needs and above what a
 * description's 16-bit length holds); the rest is an access unit of length-prefixed NAL
 * units, as the coded-picture log holds them. The whole input is also read as an RTP packet.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - the count equals the split's result, and -ENOSPC comes exactly when the descriptions do
 *   not fit;
 * - the split refuses exactly what an independent walk of the units finds malformed;
 * - every packet is within the limit, only the last one is marked last, and the packets,
 *   written out and depacketized as a receiver does (FU-A reassembly), give back the access
 *   unit without its delimiters, filler data and unspecified types;
 * - a packet header that parses lies inside the packet, and writing its fields again gives
 *   the same first 12 bytes but for the flags the writer does not set. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtp.h"

#define CAP 2048

static struct rtp_desc descs[CAP];
static uint8_t expect[1 << 17], got[1 << 17], pkt[70000];

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* What a receiver should get from @au: its units but delimiters, filler and the unspecified
 * types, or -1 if the framing is malformed. */
static long reference(const uint8_t *au, size_t len)
{
	size_t at = 0, out = 0;
	while (at < len) {
		if (len - at < 4)
			return -1;
		size_t n = be32(au + at);
		if (n == 0 || n > len - at - 4)
			return -1;
		uint8_t type = au[at + 4] & 0x1f;
		if (type != 9 && type != 12 && type != 0 && type < 24) {
			memcpy(expect + out, au + at, 4 + n);
			out += 4 + n;
		}
		at += 4 + n;
	}
	return (long)out;
}

static void check_header(const uint8_t *p, size_t n)
{
	struct rtp_header h;
	uint8_t again[RTP_HEADER];
	if (rtp_parse_header(p, n, &h))
		return;
	FUZZ_CHECK(h.header_len >= RTP_HEADER && h.header_len <= n &&
		h.padding <= n - h.header_len, "header %zu padding %zu of %zu", h.header_len,
		h.padding, n);
	rtp_write_header(again, h.pt, h.marker, h.seq, h.ts, h.ssrc);
	FUZZ_CHECK(again[0] == 0x80 && (p[0] & 0xc0) == 0x80 && memcmp(again + 1, p + 1, 11) == 0,
		"header written back differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > sizeof(expect))
		return 0;
	check_header(data, size);
	if (size < 2)
		return 0;
	size_t mp = (size_t)data[0] << 8 | data[1];
	if (data[0] == 0xff)
		mp = (size_t)data[1] << 12; /* past 65535 too */
	const uint8_t *au = data + 2;
	size_t len = size - 2;

	long want = reference(au, len);
	int n = rtp_h264_count(au, len, mp);
	int s = rtp_h264_split(au, len, mp, descs, CAP);
	if (want < 0 || mp < 16) {
		FUZZ_CHECK(n == -EINVAL && s == -EINVAL, "malformed taken: %d %d", n, s);
		return 0;
	}
	FUZZ_CHECK(n >= 0, "well-formed refused: %d", n);
	if (n > CAP) {
		FUZZ_CHECK(s == -ENOSPC, "%d descriptions in %d", n, CAP);
		return 0;
	}
	FUZZ_CHECK(s == n, "split %d, count %d", s, n);
	FUZZ_CHECK((n == 0) == (want == 0), "%d packets for %ld bytes", n, want);

	size_t out = 0, unit_at = 0, limit = mp > 65535 ? 65535 : mp;
	bool in_fu = false;
	for (int i = 0; i < n; i++) {
		const struct rtp_desc *d = &descs[i];
		FUZZ_CHECK(d->len >= 1 && (size_t)d->len + d->fu_len <= limit &&
			(d->fu_len == 0 || d->fu_len == 2) && d->last == (i == n - 1) &&
			d->off + (size_t)d->len <= len, "description %d", i);
		size_t pn = rtp_write(pkt, sizeof(pkt), 96, d->last, (uint16_t)i, 0, 1, d, au);
		FUZZ_CHECK(pn == RTP_HEADER + (size_t)d->fu_len + d->len, "written %zu", pn);
		FUZZ_CHECK(rtp_write(pkt, pn - 1, 96, d->last, (uint16_t)i, 0, 1, d, au) == 0,
			"a short buffer taken");
		const uint8_t *pl = pkt + RTP_HEADER;
		pn -= RTP_HEADER;
		if ((pl[0] & 0x1f) != 28) {
			FUZZ_CHECK(!in_fu && d->fu_len == 0, "a unit inside a fragmented one");
			put32(got + out, pn);
			memcpy(got + out + 4, pl, pn);
			out += 4 + pn;
			continue;
		}
		FUZZ_CHECK(d->fu_len == 2 && pn > 2 && !(pl[1] & 0x20), "FU-A %d", i);
		bool start = pl[1] & 0x80, end = pl[1] & 0x40;
		FUZZ_CHECK(start == !in_fu, "FU-A start bit %d", i);
		if (start) {
			unit_at = out;
			out += 4;
			got[out++] = (uint8_t)((pl[0] & 0xe0) | (pl[1] & 0x1f));
			in_fu = true;
		}
		memcpy(got + out, pl + 2, pn - 2);
		out += pn - 2;
		if (end) {
			put32(got + unit_at, out - unit_at - 4);
			in_fu = false;
		}
	}
	FUZZ_CHECK(!in_fu, "the last unit has no end");
	FUZZ_CHECK(out == (size_t)want && memcmp(got, expect, out) == 0,
		"depacketized %zu bytes, want %ld", out, want);
	return 0;
}
