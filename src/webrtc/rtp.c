/* rtp: see rtp.h */
#include "rtp.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"

#define FU_A 28
#define NAL_AUD 9
#define NAL_FILLER 12

/* Walks the units of @au once: with @out NULL it only counts (and checks), else it describes
 * (the caller made sure @out holds the count). */
static int split(const uint8_t *au, size_t len, size_t max_payload, struct rtp_desc *out)
{
	size_t at = 0, n = 0;

	if (max_payload < 16 || len > UINT32_MAX)
		return -EINVAL;
	if (max_payload > UINT16_MAX)
		max_payload = UINT16_MAX; /* a description's length is 16 bits */
	while (at < len) {
		if (len - at < 4)
			return -EINVAL;
		uint32_t unit = get32(au + at);
		at += 4;
		if (unit == 0 || unit > len - at)
			return -EINVAL;
		uint8_t nal = au[at], type = nal & 0x1f;
		if (type == NAL_AUD || type == NAL_FILLER || type == 0 || type >= 24) {
			at += unit;
			continue;
		}
		if (unit <= max_payload) {
			if (out)
				out[n] = (struct rtp_desc){ .off = (uint32_t)at, .len = (uint16_t)unit };
			n++;
		} else {
			/* the header byte travels in the FU indicator and header, not in the data */
			size_t chunk = max_payload - 2, off = at + 1, left = unit - 1;
			bool first = true;
			while (left) {
				size_t k = left < chunk ? left : chunk;
				if (out) {
					struct rtp_desc *d = &out[n];
					*d = (struct rtp_desc){ .off = (uint32_t)off, .len = (uint16_t)k,
						.fu_len = 2 };
					d->fu[0] = (uint8_t)((nal & 0xe0) | FU_A);
					d->fu[1] = (uint8_t)((first ? 0x80 : 0) | (k == left ? 0x40 : 0) |
						type);
				}
				n++;
				first = false;
				off += k;
				left -= k;
			}
		}
		at += unit;
	}
	if (n > INT32_MAX)
		return -EINVAL;
	if (out && n)
		out[n - 1].last = true;
	return (int)n;
}

int rtp_h264_count(const uint8_t *au, size_t len, size_t max_payload)
{
	return split(au, len, max_payload, NULL);
}

int rtp_h264_split(const uint8_t *au, size_t len, size_t max_payload, struct rtp_desc *out,
	size_t cap)
{
	int n = split(au, len, max_payload, NULL);

	if (n <= 0)
		return n;
	if ((size_t)n > cap)
		return -ENOSPC;
	return split(au, len, max_payload, out);
}

void rtp_write_header(uint8_t *out, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
	uint32_t ssrc)
{
	out[0] = 0x80; /* version 2 */
	out[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	out[2] = (uint8_t)(seq >> 8);
	out[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		out[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

size_t rtp_write(uint8_t *out, size_t cap, uint8_t pt, bool marker, uint16_t seq,
	uint32_t ts, uint32_t ssrc, const struct rtp_desc *d, const uint8_t *base)
{
	size_t fu = d->fu_len > 2 ? 2 : d->fu_len;
	size_t n = RTP_HEADER + fu + d->len;

	if (cap < n)
		return 0;
	rtp_write_header(out, pt, marker, seq, ts, ssrc);
	memcpy(out + RTP_HEADER, d->fu, fu);
	if (d->len)
		memcpy(out + RTP_HEADER + fu, base + d->off, d->len);
	return n;
}

int rtp_parse_header(const uint8_t *p, size_t n, struct rtp_header *h)
{
	size_t len = RTP_HEADER;

	if (n < RTP_HEADER || (p[0] >> 6) != 2)
		return -EINVAL;
	len += 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (n < len + 4)
			return -EINVAL;
		len += 4 + 4u * ((size_t)p[len + 2] << 8 | p[len + 3]);
	}
	if (len > n)
		return -EINVAL;
	h->padding = 0;
	if (p[0] & 0x20) {
		h->padding = p[n - 1];
		if (h->padding == 0 || h->padding > n - len)
			return -EINVAL;
	}
	h->pt = p[1] & 0x7f;
	h->marker = p[1] & 0x80;
	h->seq = (uint16_t)(p[2] << 8 | p[3]);
	h->ts = get32(p + 4);
	h->ssrc = get32(p + 8);
	h->header_len = len;
	return 0;
}
