/* rtcp: the RTCP a WebRTC sender reads and writes (RFC 3550, RFC 4585, RFC 5104).
 *
 * Read: a compound packet (after SRTCP decryption) is walked item by item: receiver and
 * sender reports' report blocks, generic NACK (RTPFB fmt 1) one item per FCI entry, PLI
 * (PSFB fmt 1), FIR (PSFB fmt 4) one item per FCI entry, REMB (PSFB fmt 15, application
 * layer "REMB") and transport-wide CC (RTPFB fmt 15) reported as such so the caller can
 * ignore them, anything else as RTCP_OTHER. Written: a sender report without report blocks.
 *
 * Pure, bounded, no allocation. Fuzzed by tests/fuzz/fuzz_rtcp.c. */
#ifndef CAMSTREAM_WEBRTC_RTCP_H
#define CAMSTREAM_WEBRTC_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rtcp_kind {
	RTCP_SR = 1,        /* a sender report's own part (sender_ssrc, no report) */
	RTCP_RR,            /* one report block, of an SR or an RR */
	RTCP_NACK,          /* one FCI entry: pid and blp */
	RTCP_PLI,
	RTCP_FIR,           /* one FCI entry: media_ssrc and fir_seq */
	RTCP_REMB,
	RTCP_TWCC,
	RTCP_OTHER,         /* SDES, BYE, APP, XR, unknown feedback */
};

struct rtcp_item {
	enum rtcp_kind kind;
	uint8_t pt;                 /* the packet's type (200..206) */
	uint8_t fmt;                /* the count/format field */
	uint32_t sender_ssrc;
	uint32_t media_ssrc;        /* feedback: the media source; RR: the reported source */
	/* RTCP_NACK */
	uint16_t pid, blp;
	/* RTCP_FIR */
	uint8_t fir_seq;
	/* RTCP_RR */
	uint8_t fraction_lost;
	uint32_t cumulative_lost;   /* 24 bits */
	uint32_t highest_seq, jitter, lsr, dlsr;
};

/* Whether a datagram demultiplexed as RTP/RTCP (first byte 128..191) is RTCP: the second
 * byte (payload type with the marker bit) in 192..223 (RFC 5761 §4). */
bool rtcp_is(const uint8_t *p, size_t n);

/* Walks the compound packet @p (@n bytes), calling @fn for each item in order. Returns the
 * number of items, or -EINVAL when the packet is malformed (version not 2, a length running
 * past the end, less than a header); items before the malformed part have been reported. */
typedef void (*rtcp_item_fn)(void *ctx, const struct rtcp_item *item);
int rtcp_parse(const uint8_t *p, size_t n, rtcp_item_fn fn, void *ctx);

/* The sequence numbers a NACK item names: pid and each set bit i of blp (pid + i + 1), at
 * most 17, into @out. Returns their count. */
size_t rtcp_nack_seqs(const struct rtcp_item *item, uint16_t out[17]);

/* Writes a sender report (28 bytes, no report blocks) for @ssrc: @ntp (NTP format, 32.32),
 * @rtp_ts, @packets and @octets sent. 28, or 0 if @cap is smaller. */
size_t rtcp_write_sr(uint8_t *out, size_t cap, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
	uint32_t packets, uint32_t octets);

/* Writes an SDES with one CNAME chunk for @ssrc (@cname at most 255 bytes), padded to 4
 * bytes. Its length, or 0 if @cap is too small. (A compound RTCP packet starts with an SR or
 * RR and carries an SDES CNAME: RFC 3550 §6.1.) */
size_t rtcp_write_sdes(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname);

/* Writes a BYE (RFC 3550 §6.6, no reason) for the @n (1..31) sources @ssrcs: the sender
 * leaves. Its length (4 + 4 @n), or 0 if @cap is too small. Goes after an SR in a compound
 * packet. */
size_t rtcp_write_bye(uint8_t *out, size_t cap, const uint32_t *ssrcs, size_t n);

/* For tests and the fuzz seeds: a generic NACK from @sender for @media with one FCI entry,
 * a PLI, and a receiver report from @sender with one block (the RTCP_RR fields of @block:
 * media_ssrc, fraction_lost, cumulative_lost, highest_seq, jitter, lsr, dlsr). Their length
 * (16, 12, 32), or 0. */
size_t rtcp_write_nack(uint8_t *out, size_t cap, uint32_t sender, uint32_t media,
	uint16_t pid, uint16_t blp);
size_t rtcp_write_pli(uint8_t *out, size_t cap, uint32_t sender, uint32_t media);
size_t rtcp_write_rr(uint8_t *out, size_t cap, uint32_t sender, const struct rtcp_item *block);

#endif
