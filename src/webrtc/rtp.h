/* rtp: RTP packets (RFC 3550) of the camera's own pictures and sound, as a WebRTC sender
 * makes them: H.264 per RFC 6184 in packetization mode 1 (single NAL unit packets and FU-A;
 * no STAP-A: parameter sets go as single units with the picture's timestamp, which browsers
 * take), and audio frames (G.711, Opus) one per packet.
 *
 * Packets are described, not copied: a description says which bytes of the access unit a
 * packet carries and the two bytes of FU-A header in front, so a sender can keep a history
 * of descriptions (for NACK) and write a packet again from the shared access unit when it is
 * asked for. H.265 (RFC 7798) is not here: browsers do not receive it.
 *
 * Pure, bounded, no allocation. Fuzzed by tests/fuzz/fuzz_rtp.c. */
#ifndef CAMSTREAM_WEBRTC_RTP_H
#define CAMSTREAM_WEBRTC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER 12
/* Payload bytes per packet: 1200 with the 12-byte header, SRTP's 10-byte tag, UDP and IPv6
 * headers stays under 1280, the smallest MTU IPv6 allows (what browsers assume too). */
#define RTP_MAX_PAYLOAD 1188

/* One packet's payload: @len bytes from offset @off of the unit data given to
 * rtp_h264_split, after @fu_len (0 or 2) bytes of FU-A indicator and header. */
struct rtp_desc {
	uint32_t off;
	uint16_t len;
	uint8_t fu_len;
	uint8_t fu[2];
	bool last;        /* the last packet of what rtp_h264_split was given (the marker bit
	                   * when that was a whole access unit) */
};

/* Splits @au (@len bytes of H.264 NAL units, each after a 4-byte big-endian length: the
 * coded-picture log's form) into packets of at most @max_payload bytes (>= 16), described in
 * @out (at most @cap). Access unit delimiters (type 9), filler data (type 12) and the types
 * H.264 leaves unspecified (0, 24..31: a receiver would read 24..29 as RTP's own aggregation
 * and fragmentation packets) are left out; every other unit goes as a single NAL unit packet when it fits, else as FU-A
 * fragments (the NAL header's F and NRI bits in the indicator, type 28; S and E bits and the
 * type in the header; the unit's header byte itself not repeated in the fragments). Returns
 * the number of packets (0 when nothing is left to send), or -EINVAL for malformed bytes (a
 * length past the end, a zero-length unit) or -ENOSPC when @cap is too small. */
int rtp_h264_split(const uint8_t *au, size_t len, size_t max_payload, struct rtp_desc *out,
	size_t cap);

/* The packet count rtp_h264_split would return, without describing them; -EINVAL alike. */
int rtp_h264_count(const uint8_t *au, size_t len, size_t max_payload);

/* Writes the 12-byte RTP header (version 2, no padding, extension or CSRC) into @out. */
void rtp_write_header(uint8_t *out, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
	uint32_t ssrc);

/* Writes the packet @d describes (header, FU bytes, payload from @base) into @out (@cap
 * bytes). Its length, or 0 if @cap is too small. */
size_t rtp_write(uint8_t *out, size_t cap, uint8_t pt, bool marker, uint16_t seq,
	uint32_t ts, uint32_t ssrc, const struct rtp_desc *d, const uint8_t *base);

/* What an RTP packet's header says (tests and the receiving side of tests): 0 or -EINVAL. */
struct rtp_header {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts, ssrc;
	size_t header_len;        /* with CSRCs and the extension */
	size_t padding;           /* bytes of padding at the end (P bit, count included), or 0 */
};
int rtp_parse_header(const uint8_t *p, size_t n, struct rtp_header *h);

#endif
