/* sdp: the offer a WHEP client POSTs and the answer camstream gives (RFC 8866 for the text,
 * RFC 8829/JSEP for what browsers put in it, RFC 8843 BUNDLE, RFC 8839 ICE attributes,
 * RFC 8842 DTLS attributes, RFC 6184 §8 the H.264 parameters).
 *
 * The offer is read line by line into a bounded struct: at most SDP_MAX_MEDIA media sections
 * (more make the offer malformed: the answer must have as many sections as the offer) and
 * SDP_MAX_CODECS payload types per section (more are ignored), lines of at most 4096 bytes,
 * the whole at most SDP_MAX_OFFER bytes. Values that do not fit their fields make the offer
 * malformed, not truncated; so do a mid, media kind or proto that are not tokens (they are
 * written back into the answer).
 *
 * The answer is ICE-lite, DTLS passive, rtcp-mux, every accepted section in one BUNDLE
 * group on our one port, candidates inline with a=end-of-candidates.
 *
 * Pure: text in, text out (strbuf), no I/O. Fuzzed by tests/fuzz/fuzz_sdp.c. */
#ifndef CAMSTREAM_WEBRTC_SDP_H
#define CAMSTREAM_WEBRTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define SDP_MAX_OFFER 65536
#define SDP_MAX_MEDIA 8
#define SDP_MAX_CODECS 48

enum sdp_dir {
	SDP_SENDRECV = 0,   /* the default when a section says none */
	SDP_SENDONLY,
	SDP_RECVONLY,
	SDP_INACTIVE,
};

struct sdp_codec {
	int pt;                 /* 0..127 */
	char name[32];          /* as written: "H264", "opus", "PCMU", "rtx", ... */
	unsigned clock;         /* 90000, 48000, 8000 */
	unsigned channels;      /* 1 unless given */
	char fmtp[512];         /* the a=fmtp parameters as written, "" if none */
	bool nack, pli, fir;    /* a=rtcp-fb: "nack", "nack pli", "ccm fir" */
	int apt;                /* rtx: the associated payload type from fmtp, else -1 */
};

struct sdp_media {
	char kind[16];          /* "video", "audio", "application", ... */
	unsigned port;          /* 0: the offerer rejected it, or it is bundle-only */
	char proto[40];         /* "UDP/TLS/RTP/SAVPF" */
	char first_fmt[32];     /* the m= line's first format as written: "96", or
	                         * "webrtc-datachannel" (what a rejected section echoes) */
	char mid[33];           /* "" if none */
	enum sdp_dir dir;
	bool rtcp_mux;
	bool bundle_only;       /* a=bundle-only (RFC 8843 §6: port 0, carried on the bundle) */
	bool bundled;           /* its mid is in the offer's a=group:BUNDLE */
	/* the a=extmap id (1..14) of the playout-delay header extension
	 * (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay), 0 if not offered */
	int playout_delay_id;
	/* per section, or else the session-level values (copied down when parsing ends) */
	char ice_ufrag[257], ice_pwd[257];
	char fingerprint[128];  /* "sha-256 AB:CD:..." as written (first one), "" if none */
	char setup[16];         /* "actpass", "active", "passive", "" */
	struct sdp_codec codecs[SDP_MAX_CODECS];
	size_t n_codecs;
};

struct sdp_offer {
	struct sdp_media media[SDP_MAX_MEDIA];
	size_t n_media;
	bool ice_lite;          /* the offerer is ICE-lite too (we refuse: nobody would check) */
	bool bundle;            /* the offer has a=group:BUNDLE */
};

/* Whether the offerer offers section @m: a port, or port 0 with a=bundle-only in the
 * BUNDLE group (Firefox's max-bundle offers every section but the first that way). */
bool sdp_media_offered(const struct sdp_media *m);

/* Whether section @m receives what we send: sendrecv or recvonly (a sendonly or inactive
 * section takes nothing: RFC 3264 §6.1 lets the answer only say inactive). */
bool sdp_media_receives(const struct sdp_media *m);

/* Parses the offer @text (@len bytes; need not be NUL-terminated; CRLF or LF). 0, or
 * -EINVAL with a short reason (no 'v=0' first, a line without "x=", too long, an m= line that
 * does not parse, an rtpmap/fmtp for a payload type the m= line does not list is ignored,
 * not an error) in @why (@why_len bytes). Sections that are not audio or video are kept (to
 * be rejected in the answer). */
int sdp_parse_offer(const char *text, size_t len, struct sdp_offer *o, char *why,
	size_t why_len);

/* The H.264 payload type of @m to send on: packetization-mode=1, and among those the one
 * whose profile-level-id has the same profile_idc and profile-iop as @profile_iop (the
 * 3-byte profile-level-id, e.g. {0x42,0xe0,0x1f}) — constrained baseline (42 with the
 * constraint_set1 bit, 0x40) also takes a stream of baseline 42 and main 4d whose
 * constraint_set1 is set; then the first H.264 with packetization-mode=1. -1 when
 * there is none. */
int sdp_pick_h264(const struct sdp_media *m, const uint8_t profile_iop[3]);

/* Our a=fmtp for H.264 payload type @pt of @m, into @out (@cap bytes):
 * "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=PPIILL" with the
 * profile_idc PP and profile-iop II that the offer gave @pt, and the level LL @level_idc (the
 * stream's, from its SPS; the offered level when @level_idc is not one of H.264's levels).
 * Receivers match the answer's profile against what they offered: aiortc 1.4 refuses an
 * answer whose profile it did not offer (a High 64 stream answered on a 42e01f type), so the
 * profile comes from the offer, not from the stream. false when @pt is not an H.264
 * packetization-mode=1 type of @m or @cap is too small. */
bool sdp_h264_fmtp(const struct sdp_media *m, int pt, uint8_t level_idc, char *out,
	size_t cap);

/* The payload type of codec @name (case-insensitive) at @clock Hz in @m, the first one
 * offered; -1 if none. */
int sdp_pick_codec(const struct sdp_media *m, const char *name, unsigned clock);

/* What goes into the answer for one offered section. */
struct sdp_answer_media {
	bool accept;            /* false: port 0, not in the BUNDLE group (RFC 8843 §7.3.3) */
	int pt;                 /* the payload type we send */
	char fmtp[256];         /* our a=fmtp for it, "" for none */
	uint32_t ssrc;
	bool sending;           /* a=sendonly; else a=inactive */
	int playout_delay_id;   /* > 0: the answer keeps the playout-delay extension on this id */
};

struct sdp_answer {
	char ice_ufrag[33], ice_pwd[65];
	char fingerprint[128];          /* "sha-256 AB:CD:..." */
	char cname[33], stream_id[65];  /* a=ssrc cname and a=msid's stream id */
	const char *const *hosts;       /* candidate addresses, numeric IPv4/IPv6 */
	size_t n_hosts;
	unsigned port;
	uint64_t session_id;            /* o= line */
	struct sdp_answer_media media[SDP_MAX_MEDIA];  /* in the offer's order */
};

/* Writes the answer to @o into @out: one section per offered section, in order, with its
 * mid. An accepted section: port @a->port, c= the first host, a=mid, a=sendonly or
 * a=inactive, a=ice-ufrag/pwd, a=fingerprint, a=setup:passive, a=rtcp-mux, a=rtpmap (and
 * a=fmtp, a=rtcp-fb nack/nack pli/ccm fir for video as offered) for the one payload type,
 * a=msid and a=ssrc cname when sending, the candidates (one per host, "typ host", UDP,
 * foundation and priority fixed), a=end-of-candidates. A rejected section: port 0, its
 * first format, a=mid, a=inactive, and also a=ice-ufrag/pwd, a=fingerprint, a=setup, and for
 * RTP a=rtcp-mux and the first format's a=rtpmap when known (aiortc 1.4 checks those in every
 * section, rejected or not, and needs a codec it knows in every audio/video section: answer
 * audio accepted with @sending false, not rejected, when aiortc may be the client). The
 * session part: v=0, o=, s=-, t=0 0,
 * a=ice-lite, a=group:BUNDLE with the accepted mids when the offer has a BUNDLE group (a
 * caller answering an offer without one accepts one section only), a=msid-semantic. 0, or -EINVAL when
 * no section is accepted, a host is not a numeric address, an accepted section has no mid
 * or its @pt is not one the section offered, or a value would not be one word (spaces or
 * control bytes); -ENOMEM when @out failed. */
int sdp_build_answer(const struct sdp_offer *o, const struct sdp_answer *a,
	struct strbuf *out);

#define SDP_PLAYOUT_DELAY_URI "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

/* The fingerprint text "sha-256 AB:CD:..." (95 characters of hex and colons) parsed into
 * @digest (32 bytes). false if it is not a sha-256 fingerprint. */
bool sdp_parse_fingerprint(const char *text, uint8_t digest[32]);

#endif
