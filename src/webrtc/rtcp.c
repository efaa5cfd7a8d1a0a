/* rtcp: see rtcp.h */
#include "rtcp.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"

/* packet types (RFC 3550 §12.1, RFC 4585 §6.1) */
enum {
	PT_SR = 200,
	PT_RR = 201,
	PT_SDES = 202,
	PT_BYE = 203,
	PT_RTPFB = 205,
	PT_PSFB = 206,
};

/* feedback formats (RFC 4585 §6.2-6.4, RFC 5104 §4.3, draft-alvestrand-rmcat-remb,
 * draft-holmer-rmcat-transport-wide-cc-extensions) */
enum {
	FMT_NACK = 1,
	FMT_TWCC = 15,
	FMT_PLI = 1,
	FMT_FIR = 4,
	FMT_AFB = 15,
};

#define REPORT_BLOCK 24

bool rtcp_is(const uint8_t *p, size_t n)
{
	return p && n >= 2 && p[0] >= 128 && p[0] <= 191 && p[1] >= 192 && p[1] <= 223;
}

/* The report blocks of an SR or RR (@b, @count of them) as RTCP_RR items. */
static void report_blocks(const uint8_t *b, unsigned count, struct rtcp_item *it,
	rtcp_item_fn fn, void *ctx, int *items)
{
	for (unsigned i = 0; i < count; i++, b += REPORT_BLOCK) {
		it->kind = RTCP_RR;
		it->media_ssrc = get32(b);
		it->fraction_lost = b[4];
		it->cumulative_lost = get32(b + 4) & 0xffffffu;
		it->highest_seq = get32(b + 8);
		it->jitter = get32(b + 12);
		it->lsr = get32(b + 16);
		it->dlsr = get32(b + 20);
		fn(ctx, it);
		++*items;
	}
}

/* One packet of a compound (@p, @len bytes, padding removed): its items. -EINVAL when what
 * its header says does not fit in it. */
static int one_packet(const uint8_t *p, size_t len, rtcp_item_fn fn, void *ctx, int *items)
{
	struct rtcp_item it;
	memset(&it, 0, sizeof(it));
	it.pt = p[1];
	it.fmt = p[0] & 0x1f;
	if (len >= 8)
		it.sender_ssrc = get32(p + 4);

	switch (it.pt) {
	case PT_SR:
		if (len < 28 + (size_t)it.fmt * REPORT_BLOCK)
			return -EINVAL;
		it.kind = RTCP_SR;
		fn(ctx, &it);
		++*items;
		report_blocks(p + 28, it.fmt, &it, fn, ctx, items);
		return 0;
	case PT_RR:
		if (len < 8 + (size_t)it.fmt * REPORT_BLOCK)
			return -EINVAL;
		report_blocks(p + 8, it.fmt, &it, fn, ctx, items);
		return 0;
	case PT_RTPFB:
	case PT_PSFB:
		break;
	default:
		it.kind = RTCP_OTHER;
		fn(ctx, &it);
		++*items;
		return 0;
	}

	/* feedback: header, sender, media source, then the FCI (RFC 4585 §6.1) */
	if (len < 12)
		return -EINVAL;
	it.media_ssrc = get32(p + 8);
	const uint8_t *fci = p + 12;
	size_t fci_len = len - 12;

	if (it.pt == PT_RTPFB && it.fmt == FMT_NACK) {
		for (size_t at = 0; at + 4 <= fci_len; at += 4) {
			it.kind = RTCP_NACK;
			it.pid = get16(fci + at);
			it.blp = get16(fci + at + 2);
			fn(ctx, &it);
			++*items;
		}
		return 0;
	}
	if (it.pt == PT_PSFB && it.fmt == FMT_FIR) {
		/* each entry names its own source; the header's media source is unused (0) */
		for (size_t at = 0; at + 8 <= fci_len; at += 8) {
			it.kind = RTCP_FIR;
			it.media_ssrc = get32(fci + at);
			it.fir_seq = fci[at + 4];
			fn(ctx, &it);
			++*items;
		}
		return 0;
	}
	if (it.pt == PT_RTPFB && it.fmt == FMT_TWCC)
		it.kind = RTCP_TWCC;
	else if (it.pt == PT_PSFB && it.fmt == FMT_PLI)
		it.kind = RTCP_PLI;
	else if (it.pt == PT_PSFB && it.fmt == FMT_AFB && fci_len >= 4 &&
		memcmp(fci, "REMB", 4) == 0)
		it.kind = RTCP_REMB;
	else
		it.kind = RTCP_OTHER;
	fn(ctx, &it);
	++*items;
	return 0;
}

int rtcp_parse(const uint8_t *p, size_t n, rtcp_item_fn fn, void *ctx)
{
	int items = 0;
	size_t off = 0;

	if (!p || !fn || n < 4)
		return -EINVAL;
	while (off < n) {
		if (n - off < 4 || (p[off] >> 6) != 2)
			return -EINVAL;
		size_t len = ((size_t)get16(p + off + 2) + 1) * 4;
		if (len > n - off)
			return -EINVAL;
		size_t body = len;
		if (p[off] & 0x20) {
			/* padding: its count in the last byte, at least 1, never into the header */
			size_t pad = p[off + len - 1];
			if (pad == 0 || pad > len - 4)
				return -EINVAL;
			body = len - pad;
		}
		int err = one_packet(p + off, body, fn, ctx, &items);
		if (err)
			return err;
		off += len;
	}
	return items;
}

size_t rtcp_nack_seqs(const struct rtcp_item *item, uint16_t out[17])
{
	size_t k = 0;

	if (!item || item->kind != RTCP_NACK)
		return 0;
	out[k++] = item->pid;
	for (unsigned i = 0; i < 16; i++)
		if (item->blp & (1u << i))
			out[k++] = (uint16_t)(item->pid + i + 1);
	return k;
}

/* The common header: version 2, no padding, @count, @pt, the length in 32-bit words less one. */
static void header(uint8_t *out, unsigned count, uint8_t pt, size_t len)
{
	out[0] = (uint8_t)(0x80 | (count & 0x1f));
	out[1] = pt;
	put16(out + 2, (uint16_t)(len / 4 - 1));
}

size_t rtcp_write_sr(uint8_t *out, size_t cap, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
	uint32_t packets, uint32_t octets)
{
	if (!out || cap < 28)
		return 0;
	header(out, 0, PT_SR, 28);
	put32(out + 4, ssrc);
	put32(out + 8, (uint32_t)(ntp >> 32));
	put32(out + 12, (uint32_t)ntp);
	put32(out + 16, rtp_ts);
	put32(out + 20, packets);
	put32(out + 24, octets);
	return 28;
}

size_t rtcp_write_sdes(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname)
{
	if (!out || !cname)
		return 0;
	size_t clen = strlen(cname);
	if (clen > 255)
		return 0;
	/* header, SSRC, CNAME item (type 1, length, text), then at least one zero byte that
	 * ends the chunk's items, up to the next multiple of 4 (RFC 3550 §6.5) */
	size_t len = (4 + 4 + 2 + clen + 1 + 3) & ~(size_t)3;
	if (cap < len)
		return 0;
	memset(out, 0, len);
	header(out, 1, PT_SDES, len);
	put32(out + 4, ssrc);
	out[8] = 1;
	out[9] = (uint8_t)clen;
	memcpy(out + 10, cname, clen);
	return len;
}

size_t rtcp_write_bye(uint8_t *out, size_t cap, const uint32_t *ssrcs, size_t n)
{
	size_t len = 4 + 4 * n;
	if (!out || !ssrcs || n < 1 || n > 31 || cap < len)
		return 0;
	header(out, (unsigned)n, PT_BYE, len);
	for (size_t i = 0; i < n; i++)
		put32(out + 4 + 4 * i, ssrcs[i]);
	return len;
}

size_t rtcp_write_nack(uint8_t *out, size_t cap, uint32_t sender, uint32_t media,
	uint16_t pid, uint16_t blp)
{
	if (!out || cap < 16)
		return 0;
	header(out, FMT_NACK, PT_RTPFB, 16);
	put32(out + 4, sender);
	put32(out + 8, media);
	put16(out + 12, pid);
	put16(out + 14, blp);
	return 16;
}

size_t rtcp_write_pli(uint8_t *out, size_t cap, uint32_t sender, uint32_t media)
{
	if (!out || cap < 12)
		return 0;
	header(out, FMT_PLI, PT_PSFB, 12);
	put32(out + 4, sender);
	put32(out + 8, media);
	return 12;
}

size_t rtcp_write_rr(uint8_t *out, size_t cap, uint32_t sender, const struct rtcp_item *block)
{
	if (!out || !block || cap < 32)
		return 0;
	header(out, 1, PT_RR, 32);
	put32(out + 4, sender);
	uint8_t *b = out + 8;
	put32(b, block->media_ssrc);
	put32(b + 4, (uint32_t)block->fraction_lost << 24 | (block->cumulative_lost & 0xffffffu));
	put32(b + 8, block->highest_seq);
	put32(b + 12, block->jitter);
	put32(b + 16, block->lsr);
	put32(b + 20, block->dlsr);
	return 32;
}
