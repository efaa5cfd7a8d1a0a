/* fuzz_rtcp: any bytes as a decrypted compound RTCP packet from a viewer (src/webrtc/rtcp.c):
 * rtcp_is, rtcp_parse and, for each NACK item, rtcp_nack_seqs.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - rtcp_parse returns the number of items it reported, or -EINVAL; it never reports more
 *   than one item per 4 bytes;
 * - a packet that walks whole has version 2 in every header and lengths that tile the input;
 * - every item has a known kind; a NACK names 1 to 17 sequence numbers, pid first, each
 *   after pid within 16; an RR's cumulative loss fits 24 bits;
 * - an SR, RR, NACK or PLI item written back by our writers reads back as the same item;
 *   an SDES with a CNAME made of the input reads back as one item with its SSRC. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtcp.h"

#define MAX_ITEMS 4096

struct seen {
	struct rtcp_item items[MAX_ITEMS];
	size_t n;
};

static void collect(void *ctx, const struct rtcp_item *item)
{
	struct seen *s = ctx;
	if (s->n < MAX_ITEMS)
		s->items[s->n] = *item;
	s->n++;
}

/* Whether the packet headers of @p tile it exactly with version 2. */
static bool tiles(const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		if (n - off < 4 || (p[off] >> 6) != 2)
			return false;
		size_t len = ((size_t)(p[off + 2] << 8 | p[off + 3]) + 1) * 4;
		if (len > n - off)
			return false;
		off += len;
	}
	return n > 0;
}

static bool same_rr(const struct rtcp_item *a, const struct rtcp_item *b)
{
	return a->media_ssrc == b->media_ssrc && a->fraction_lost == b->fraction_lost &&
		a->cumulative_lost == b->cumulative_lost && a->highest_seq == b->highest_seq &&
		a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

/* An item written back and read again: one item of the same kind and values. */
static void write_back(const struct rtcp_item *it)
{
	static struct seen again;
	uint8_t out[64];
	size_t n = 0;

	switch (it->kind) {
	case RTCP_SR:
		n = rtcp_write_sr(out, sizeof(out), it->sender_ssrc, 1, 2, 3, 4);
		break;
	case RTCP_RR:
		n = rtcp_write_rr(out, sizeof(out), it->sender_ssrc, it);
		break;
	case RTCP_NACK:
		n = rtcp_write_nack(out, sizeof(out), it->sender_ssrc, it->media_ssrc, it->pid,
			it->blp);
		break;
	case RTCP_PLI:
		n = rtcp_write_pli(out, sizeof(out), it->sender_ssrc, it->media_ssrc);
		break;
	default:
		return;
	}
	FUZZ_CHECK(n > 0, "kind %d not written\n", it->kind);
	again.n = 0;
	int rc = rtcp_parse(out, n, collect, &again);
	FUZZ_CHECK(rc == 1 && again.n == 1, "kind %d written back gives %d items\n", it->kind, rc);
	const struct rtcp_item *b = &again.items[0];
	FUZZ_CHECK(b->kind == it->kind && b->sender_ssrc == it->sender_ssrc,
		"kind %d read back as %d\n", it->kind, b->kind);
	if (it->kind == RTCP_RR)
		FUZZ_CHECK(same_rr(it, b), "report block read back differs\n");
	if (it->kind == RTCP_NACK)
		FUZZ_CHECK(b->media_ssrc == it->media_ssrc && b->pid == it->pid && b->blp == it->blp,
			"NACK read back differs\n");
	if (it->kind == RTCP_PLI)
		FUZZ_CHECK(b->media_ssrc == it->media_ssrc, "PLI read back differs\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen s;

	if (size > 16384)
		return 0;
	(void)rtcp_is(data, size);
	s.n = 0;
	int rc = rtcp_parse(data, size, collect, &s);
	FUZZ_CHECK(rc == -EINVAL || (rc >= 0 && (size_t)rc == s.n), "rc %d, %zu items\n", rc, s.n);
	FUZZ_CHECK(s.n <= size / 4, "%zu items from %zu bytes\n", s.n, size);
	FUZZ_CHECK(rc < 0 || tiles(data, size), "a packet that does not tile walked whole\n");

	for (size_t i = 0; i < s.n && i < MAX_ITEMS; i++) {
		const struct rtcp_item *it = &s.items[i];
		FUZZ_CHECK(it->kind >= RTCP_SR && it->kind <= RTCP_OTHER, "kind %d\n", it->kind);
		FUZZ_CHECK(it->fmt < 32, "fmt %u\n", it->fmt);
		if (it->kind == RTCP_NACK) {
			uint16_t seqs[17];
			size_t k = rtcp_nack_seqs(it, seqs);
			FUZZ_CHECK(k >= 1 && k <= 17 && seqs[0] == it->pid, "%zu seqs\n", k);
			for (size_t j = 1; j < k; j++) {
				uint16_t d = (uint16_t)(seqs[j] - it->pid);
				FUZZ_CHECK(d >= 1 && d <= 16 && (it->blp >> (d - 1) & 1), "seq %u\n", seqs[j]);
			}
		}
		if (it->kind == RTCP_RR)
			FUZZ_CHECK(it->cumulative_lost <= 0xffffffu, "lost %u\n", it->cumulative_lost);
		write_back(it);
	}

	/* an SDES whose CNAME is the input's first bytes (up to a NUL, at most 255) */
	char cname[256];
	size_t clen = size < 255 ? size : 255;
	memcpy(cname, data, clen);
	cname[clen] = '\0';
	clen = strlen(cname);
	uint8_t out[300];
	size_t n = rtcp_write_sdes(out, sizeof(out), 0x01020304u, cname);
	FUZZ_CHECK(n % 4 == 0 && n >= 11 + clen && n <= 14 + clen, "SDES of %zu: %zu\n", clen, n);
	s.n = 0;
	FUZZ_CHECK(rtcp_parse(out, n, collect, &s) == 1 && s.items[0].pt == 202 &&
		s.items[0].sender_ssrc == 0x01020304u, "SDES read back\n");
	return 0;
}
