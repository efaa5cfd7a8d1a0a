/* fuzz_sdp: any bytes as the SDP offer a WHEP client POSTs (src/webrtc/sdp.c), then the answer
 * the server would give to what parsed: H.264 on the profile sdp_pick_h264 chooses for a
 * stream profile taken from the input's first bytes (fmtp from sdp_h264_fmtp), audio accepted
 * inactive on PCMU or else its first named codec, the rest rejected.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - a refusal has a reason;
 * - a parsed offer stays in its bounds: sections and codecs within their counts, every text
 *   field a C string inside its array, payload types 0..127 and each listed once, mids and
 *   kinds tokens;
 * - a chosen H.264 type is an offered H.264 type that sdp_h264_fmtp takes; a codec picked by
 *   name has that name and clock;
 * - a fingerprint that parses prints back, in upper case, to the text it came from;
 * - the answer builds exactly when some section is accepted, and parses again as an offer
 *   would: as many sections, the same kinds and mids, an accepted one on our port with the
 *   one payload type and our direction, a rejected one on port 0. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "sdp.h"
#include "strbuf.h"

static struct sdp_offer offer, back;

#define IN_FIELD(s) FUZZ_CHECK(memchr((s), '\0', sizeof(s)) != NULL, "%s unterminated", #s)

static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`{|}~", *s))
			return false;
	return true;
}

static void check_bounds(const struct sdp_offer *o)
{
	FUZZ_CHECK(o->n_media <= SDP_MAX_MEDIA, "%zu sections", o->n_media);
	for (size_t i = 0; i < o->n_media; i++) {
		const struct sdp_media *m = &o->media[i];
		IN_FIELD(m->kind);
		IN_FIELD(m->proto);
		IN_FIELD(m->mid);
		IN_FIELD(m->first_fmt);
		IN_FIELD(m->ice_ufrag);
		IN_FIELD(m->ice_pwd);
		IN_FIELD(m->fingerprint);
		IN_FIELD(m->setup);
		FUZZ_CHECK(token(m->kind) && m->first_fmt[0], "kind %s", m->kind);
		FUZZ_CHECK(!m->mid[0] || token(m->mid), "mid %s", m->mid);
		FUZZ_CHECK(m->port <= 65535 && m->dir <= SDP_INACTIVE, "port %u", m->port);
		FUZZ_CHECK(m->n_codecs <= SDP_MAX_CODECS, "%zu codecs", m->n_codecs);
		for (size_t k = 0; k < m->n_codecs; k++) {
			const struct sdp_codec *c = &m->codecs[k];
			IN_FIELD(c->name);
			IN_FIELD(c->fmtp);
			FUZZ_CHECK(c->pt >= 0 && c->pt <= 127 && c->apt >= -1 && c->apt <= 127,
				"pt %d apt %d", c->pt, c->apt);
			for (size_t j = 0; j < k; j++)
				FUZZ_CHECK(m->codecs[j].pt != c->pt, "pt %d twice", c->pt);
		}
	}
}

static const struct sdp_codec *codec_of(const struct sdp_media *m, int pt)
{
	for (size_t k = 0; k < m->n_codecs; k++)
		if (m->codecs[k].pt == pt)
			return &m->codecs[k];
	return NULL;
}

static void check_fingerprint(const char *text)
{
	uint8_t d[32];
	char hex[100];
	if (!sdp_parse_fingerprint(text, d))
		return;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * (size_t)i, "%02X%s", d[i], i < 31 ? ":" : "");
	const char *sp = strrchr(text, ' ');
	FUZZ_CHECK(sp && strcasecmp(sp + 1, hex) == 0 && strncasecmp(text, "sha-256 ", 8) == 0,
		"%s read as %s", text, hex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "192.0.2.1", "2001:db8::1" };
	char why[96];
	uint8_t pli[3] = { 0x64, 0x00, 0x28 };

	if (size > SDP_MAX_OFFER + 16)
		return 0;
	if (size >= 3)
		memcpy(pli, data, 3); /* bytes of the text, also a stream profile to choose for */
	int r = sdp_parse_offer((const char *)data, size, &offer, why, sizeof(why));
	if (r) {
		FUZZ_CHECK(r == -EINVAL && why[0] && memchr(why, '\0', sizeof(why)), "r %d", r);
		return 0;
	}
	check_bounds(&offer);

	struct sdp_answer a;
	memset(&a, 0, sizeof(a));
	snprintf(a.ice_ufrag, sizeof(a.ice_ufrag), "ufrag");
	snprintf(a.ice_pwd, sizeof(a.ice_pwd), "0123456789abcdef01234567");
	snprintf(a.fingerprint, sizeof(a.fingerprint), "sha-256 %s",
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
	snprintf(a.cname, sizeof(a.cname), "cam");
	snprintf(a.stream_id, sizeof(a.stream_id), "stream");
	a.hosts = hosts;
	a.n_hosts = size % 2 ? 2 : 1;
	a.port = 8189;
	a.session_id = size;
	size_t accepted = 0;
	for (size_t i = 0; i < offer.n_media; i++) {
		const struct sdp_media *m = &offer.media[i];
		struct sdp_answer_media *am = &a.media[i];
		check_fingerprint(m->fingerprint);
		int h = sdp_pick_h264(m, pli);
		if (h >= 0) {
			const struct sdp_codec *c = codec_of(m, h);
			FUZZ_CHECK(c && strcasecmp(c->name, "H264") == 0, "pt %d", h);
			FUZZ_CHECK(sdp_h264_fmtp(m, h, pli[2], am->fmtp, sizeof(am->fmtp)),
				"fmtp of %d: %s", h, c->fmtp);
		}
		int pcmu = sdp_pick_codec(m, "pcmu", 8000);
		if (pcmu >= 0) {
			const struct sdp_codec *c = codec_of(m, pcmu);
			FUZZ_CHECK(c && strcasecmp(c->name, "PCMU") == 0 && c->clock == 8000, "pcmu");
		}
		if (!m->mid[0])
			continue;
		if (strcmp(m->kind, "video") == 0 && h >= 0) {
			am->accept = am->sending = true;
			am->pt = h;
			am->ssrc = (uint32_t)i * 0x01010101u;
		} else if (strcmp(m->kind, "audio") == 0) {
			am->pt = pcmu;
			for (size_t k = 0; am->pt < 0 && k < m->n_codecs; k++)
				if (m->codecs[k].name[0] && m->codecs[k].clock)
					am->pt = m->codecs[k].pt;
			am->accept = am->pt >= 0;
		}
		accepted += am->accept;
	}

	struct strbuf b = STRBUF_INIT;
	r = sdp_build_answer(&offer, &a, &b);
	if (!accepted) {
		FUZZ_CHECK(r == -EINVAL && b.len == 0, "nothing accepted: %d", r);
		sb_free(&b);
		return 0;
	}
	FUZZ_CHECK(r == 0 && !b.failed, "build: %d", r);
	r = sdp_parse_offer(b.p, b.len, &back, why, sizeof(why));
	FUZZ_CHECK(r == 0, "the answer does not parse: %s\n%s", why, b.p);
	FUZZ_CHECK(back.n_media == offer.n_media && back.ice_lite, "%zu sections", back.n_media);
	for (size_t i = 0; i < offer.n_media; i++) {
		const struct sdp_media *m = &offer.media[i], *k = &back.media[i];
		const struct sdp_answer_media *am = &a.media[i];
		FUZZ_CHECK(strcmp(m->kind, k->kind) == 0 && strcmp(m->mid, k->mid) == 0 &&
			strcmp(m->proto, k->proto) == 0, "section %zu", i);
		if (!am->accept) {
			FUZZ_CHECK(k->port == 0 && k->dir == SDP_INACTIVE, "rejected %zu", i);
			continue;
		}
		FUZZ_CHECK(k->port == 8189 && k->n_codecs == 1 && k->codecs[0].pt == am->pt &&
			k->rtcp_mux && strcmp(k->setup, "passive") == 0 &&
			strcmp(k->ice_ufrag, "ufrag") == 0, "accepted %zu\n%s", i, b.p);
		FUZZ_CHECK(k->dir == (am->sending ? SDP_SENDONLY : SDP_INACTIVE), "dir %zu", i);
		FUZZ_CHECK(strcmp(k->codecs[0].fmtp, am->fmtp) == 0, "fmtp %zu", i);
		FUZZ_CHECK(strcasecmp(k->codecs[0].name, codec_of(m, am->pt)->name) == 0,
			"name %zu", i);
	}
	sb_free(&b);
	return 0;
}
