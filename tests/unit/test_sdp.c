/* sdp: the WHEP offer parser and the ICE-lite answer (src/webrtc/sdp.c), on real offers from
 * Chromium 156 and aiortc 1.4 (tests/unit/data/chromium_offer.sdp and aiortc_offer.sdp, captured with
 * `new RTCPeerConnection()`, a recvonly video and a recvonly audio transceiver, createOffer)
 * and on made-up ones at and past the bounds. Answers built from the captures were taken by
 * Chromium's and aiortc's setRemoteDescription when this was written; here they are read back
 * by our own parser. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sdp.h"
#include "strbuf.h"

static struct sdp_offer offer, again; /* big: not on the stack */

static char *load(const char *name, size_t *n)
{
	const char *dir = getenv("CAMSTREAM_TEST_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *d = malloc(SDP_MAX_OFFER + 1);
	*n = fread(d, 1, SDP_MAX_OFFER, f);
	fclose(f);
	d[*n] = '\0';
	return d;
}

static int parse_text(const char *t, struct sdp_offer *o)
{
	char why[128];
	return sdp_parse_offer(t, strlen(t), o, why, sizeof(why));
}

static bool load_offer(const char *name, struct sdp_offer *o)
{
	size_t n = 0;
	char *t = load(name, &n), why[128] = "";
	if (!t)
		return false;
	int r = sdp_parse_offer(t, n, o, why, sizeof(why));
	if (r)
		printf("# %s: %s\n", name, why);
	free(t);
	return r == 0;
}

static const struct sdp_codec *codec(const struct sdp_media *m, int pt)
{
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

static const uint8_t high_40[3] = { 0x64, 0x00, 0x28 }, cbase_31[3] = { 0x42, 0xe0, 0x1f },
	main_31[3] = { 0x4d, 0x00, 0x1f }, base_cs01[3] = { 0x42, 0xc0, 0x1e },
	main_cs1[3] = { 0x4d, 0x40, 0x1f }, base_31[3] = { 0x42, 0x00, 0x1f },
	hi444[3] = { 0xf4, 0x00, 0x1f };

/* ---- real offers ---- */

static void chromium_offer_is_read(void)
{
	CHECK(load_offer("chromium_offer.sdp", &offer));
	CHECK(offer.n_media == 2 && !offer.ice_lite);
	const struct sdp_media *v = &offer.media[0], *a = &offer.media[1];
	CHECK_STR(v->kind, "video");
	CHECK_STR(v->mid, "0");
	CHECK_STR(v->proto, "UDP/TLS/RTP/SAVPF");
	CHECK_STR(v->first_fmt, "96");
	CHECK(v->port == 9 && v->dir == SDP_RECVONLY && v->rtcp_mux);
	CHECK_STR(v->ice_ufrag, "0DOW");
	CHECK_STR(v->ice_pwd, "dVIugzY2xW/oiisUJw4OL1vK");
	CHECK(strncmp(v->fingerprint, "sha-256 DA:08:E4:7E", 19) == 0);
	CHECK_STR(v->setup, "actpass");
	CHECK(v->n_codecs == 34);
	const struct sdp_codec *h = codec(v, 108);
	CHECK(h && strcmp(h->name, "H264") == 0 && h->clock == 90000 && h->channels == 1);
	CHECK(h && h->nack && h->pli && h->fir && h->apt == -1);
	CHECK_STR(h ? h->fmtp : NULL,
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
	const struct sdp_codec *rtx = codec(v, 109);
	CHECK(rtx && strcmp(rtx->name, "rtx") == 0 && rtx->apt == 108 && !rtx->nack);

	CHECK_STR(a->kind, "audio");
	CHECK_STR(a->mid, "1");
	CHECK(a->dir == SDP_RECVONLY && a->rtcp_mux && a->n_codecs == 8);
	const struct sdp_codec *opus = codec(a, 111);
	CHECK(opus && strcmp(opus->name, "opus") == 0 && opus->clock == 48000 &&
		opus->channels == 2);
	CHECK_STR(a->ice_ufrag, "0DOW");
}

static void aiortc_offer_is_read(void)
{
	CHECK(load_offer("aiortc_offer.sdp", &offer)); /* LF line ends, ICE values per section */
	CHECK(offer.n_media == 2);
	const struct sdp_media *v = &offer.media[0], *a = &offer.media[1];
	CHECK(v->port == 45097 && v->dir == SDP_RECVONLY && v->rtcp_mux && v->n_codecs == 6);
	CHECK_STR(v->ice_ufrag, "WRCt");
	CHECK_STR(a->ice_ufrag, "3W55");
	CHECK_STR(a->ice_pwd, "DCXFnH4OYjym3KWucApd7W");
	CHECK(codec(v, 99) && codec(v, 99)->nack && codec(v, 99)->pli && !codec(v, 99)->fir);
	CHECK(codec(v, 102) && codec(v, 102)->apt == 101);
	CHECK(codec(a, 0) && strcmp(codec(a, 0)->name, "PCMU") == 0);
}

/* ---- choosing what to send ---- */

static void h264_pick_prefers_the_streams_profile(void)
{
	CHECK(load_offer("chromium_offer.sdp", &offer));
	const struct sdp_media *v = &offer.media[0];
	CHECK(sdp_pick_h264(v, cbase_31) == 108);
	CHECK(sdp_pick_h264(v, main_31) == 116);  /* not 39: that one is packetization-mode 0 */
	CHECK(sdp_pick_h264(v, base_31) == 102);
	CHECK(sdp_pick_h264(v, hi444) == 41);
}

static void h264_pick_constrained_baseline_takes_cs1_streams(void)
{
	CHECK(load_offer("chromium_offer.sdp", &offer));
	CHECK(sdp_pick_h264(&offer.media[0], base_cs01) == 108);
	CHECK(sdp_pick_h264(&offer.media[0], main_cs1) == 108);
}

static void h264_pick_falls_back_to_the_first_mode1(void)
{
	/* Chromium 156 offers no High profile at all */
	CHECK(load_offer("chromium_offer.sdp", &offer));
	CHECK(sdp_pick_h264(&offer.media[0], high_40) == 102);
	CHECK(sdp_pick_h264(&offer.media[1], high_40) == -1);
	CHECK(parse_text("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
		"a=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f\r\n"
		"a=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=0;profile-level-id=42e01f\r\n",
		&offer) == 0);
	CHECK(sdp_pick_h264(&offer.media[0], cbase_31) == -1); /* mode 0 only (the default) */
	/* no profile-level-id: RFC 6184's default, baseline level 1 */
	CHECK(parse_text("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98 96\r\na=rtpmap:98 VP8/90000\r\n"
		"a=rtpmap:96 h264/90000\r\na=fmtp:96 packetization-mode=1\r\n", &offer) == 0);
	CHECK(sdp_pick_h264(&offer.media[0], base_31) == 96);
	CHECK(sdp_pick_h264(&offer.media[0], high_40) == 96);
}

static void h264_fmtp_has_the_offered_profile_and_our_level(void)
{
	char f[256];
	CHECK(load_offer("chromium_offer.sdp", &offer));
	const struct sdp_media *v = &offer.media[0];
	CHECK(sdp_h264_fmtp(v, 102, 0x28, f, sizeof(f)));
	CHECK_STR(f, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=420028");
	CHECK(sdp_h264_fmtp(v, 108, 0x33, f, sizeof(f)));
	CHECK_STR(f, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e033");
	CHECK(sdp_h264_fmtp(v, 116, 0x07, f, sizeof(f))); /* not a level: the offered one */
	CHECK_STR(f, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f");
	CHECK(!sdp_h264_fmtp(v, 104, 0x28, f, sizeof(f))); /* packetization-mode 0 */
	CHECK(!sdp_h264_fmtp(v, 96, 0x28, f, sizeof(f)));  /* VP8 */
	CHECK(!sdp_h264_fmtp(v, 102, 0x28, f, 20));
}

static void codec_pick_by_name_and_clock(void)
{
	CHECK(load_offer("chromium_offer.sdp", &offer));
	const struct sdp_media *a = &offer.media[1];
	CHECK(sdp_pick_codec(a, "PCMU", 8000) == 0);
	CHECK(sdp_pick_codec(a, "pcma", 8000) == 8);
	CHECK(sdp_pick_codec(a, "OPUS", 48000) == 111);
	CHECK(sdp_pick_codec(a, "opus", 8000) == -1);
	CHECK(sdp_pick_codec(a, "PCM", 8000) == -1);
	CHECK(sdp_pick_codec(a, "telephone-event", 8000) == 126);
	/* a static payload type without its rtpmap is still known */
	CHECK(parse_text("v=0\nm=audio 9 RTP/AVP 8 0\n", &offer) == 0);
	CHECK(sdp_pick_codec(&offer.media[0], "PCMU", 8000) == 0);
	CHECK(sdp_pick_codec(&offer.media[0], "PCMA", 8000) == 8);
}

/* H.264 at another clock than 90 kHz is not picked: the answer could not name it (the
 * fuzzer's finding: an offer of "H264/0" was picked, then the answer refused to build) */
static void h264_needs_its_90khz_clock(void)
{
	static const uint8_t cb[3] = { 0x42, 0xe0, 0x1f };
	CHECK(parse_text("v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\na=mid:v\n"
		"a=rtpmap:96 H264/0\na=fmtp:96 packetization-mode=1\n"
		"a=rtpmap:97 H264/45000\na=fmtp:97 packetization-mode=1\n", &offer) == 0);
	CHECK(sdp_pick_h264(&offer.media[0], cb) == -1);
	char f[256];
	CHECK(!sdp_h264_fmtp(&offer.media[0], 96, 0x1f, f, sizeof(f)));
	CHECK(parse_text("v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\na=mid:v\n"
		"a=rtpmap:96 H264/0\na=fmtp:96 packetization-mode=1\n"
		"a=rtpmap:97 H264/90000\na=fmtp:97 packetization-mode=1\n", &offer) == 0);
	CHECK(sdp_pick_h264(&offer.media[0], cb) == 97);
}

/* ---- what the parser takes and refuses ---- */

static void session_values_are_copied_down(void)
{
	CHECK(parse_text("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:sess\r\n"
		"a=ice-pwd:sesspwd\r\na=fingerprint:sha-256 AA:BB\r\na=setup:active\r\n"
		"a=sendonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:own\r\n"
		"a=setup:actpass\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=recvonly\r\n", &offer) == 0);
	CHECK(offer.n_media == 2);
	CHECK_STR(offer.media[0].ice_ufrag, "own");
	CHECK_STR(offer.media[0].ice_pwd, "sesspwd");
	CHECK_STR(offer.media[0].fingerprint, "sha-256 AA:BB");
	CHECK_STR(offer.media[0].setup, "actpass");
	CHECK(offer.media[0].dir == SDP_SENDONLY);
	CHECK_STR(offer.media[1].ice_ufrag, "sess");
	CHECK_STR(offer.media[1].setup, "active");
	CHECK(offer.media[1].dir == SDP_RECVONLY);
	CHECK(!offer.media[0].rtcp_mux);
}

static void first_fingerprint_wins_and_ice_lite_is_seen(void)
{
	CHECK(parse_text("v=0\na=ice-lite\nm=video 9 UDP/TLS/RTP/SAVPF 96\n"
		"a=fingerprint:sha-256 AA\na=fingerprint:sha-1 BB\n", &offer) == 0);
	CHECK(offer.ice_lite);
	CHECK_STR(offer.media[0].fingerprint, "sha-256 AA");
	CHECK(offer.media[0].dir == SDP_SENDRECV);
}

static void rtcp_fb_star_and_unlisted_types(void)
{
	CHECK(parse_text("v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\na=rtpmap:96 H264/90000\n"
		"a=rtpmap:97 VP8/90000\na=rtcp-fb:* nack\na=rtcp-fb:97 ccm fir\n"
		"a=rtpmap:98 VP9/90000\na=fmtp:98 x=1\na=rtcp-fb:98 nack pli\n", &offer) == 0);
	const struct sdp_media *m = &offer.media[0];
	CHECK(m->n_codecs == 2); /* 98 is not on the m= line: ignored */
	CHECK(codec(m, 96)->nack && !codec(m, 96)->fir && !codec(m, 96)->pli);
	CHECK(codec(m, 97)->nack && codec(m, 97)->fir);
}

static void datachannel_section_is_kept(void)
{
	CHECK(parse_text("v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:2\n",
		&offer) == 0);
	CHECK(offer.n_media == 1 && offer.media[0].n_codecs == 0);
	CHECK_STR(offer.media[0].kind, "application");
	CHECK_STR(offer.media[0].first_fmt, "webrtc-datachannel");
}

static void malformed_offers_are_refused(void)
{
	static const char *const bad[] = {
		"",
		"v=1\r\n",
		"o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n",
		"v=0\r\nhello\r\n",
		"v=0\r\nA=b\r\n",
		"v=0\r\nm=video\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF\r\n",
		"v=0\r\nm=video 70000 UDP/TLS/RTP/SAVPF 96\r\n",
		"v=0\r\nm=video x UDP/TLS/RTP/SAVPF 96\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 128\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF webrtc-datachannel\r\n",
		"v=0\r\nm=vi\"deo 9 UDP/TLS/RTP/SAVPF 96\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:a b\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:012345678901234567890123456789012\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/fast\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H 264/90000\r\n",
		("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
		 "a=rtpmap:96 H264H264H264H264H264H264H264H264/90000\r\n"),
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=setup:actpassactpassactpass\r\n",
		"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=x\ry\r\n",
	};
	char why[128];
	for (size_t i = 0; i < N(bad); i++) {
		int r = sdp_parse_offer(bad[i], strlen(bad[i]), &offer, why, sizeof(why));
		if (r != -EINVAL)
			printf("# taken: %s\n", bad[i]);
		CHECK(r == -EINVAL && why[0]);
	}
	static const char nul[] = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\0\r\n";
	CHECK(sdp_parse_offer(nul, sizeof(nul) - 1, &offer, why, sizeof(why)) == -EINVAL);
	CHECK(sdp_parse_offer("v=0\n", 4, &offer, NULL, 0) == 0); /* no reason wanted */
}

/* An offer "v=0\n" followed by @body repeated until @total bytes, cut to fit. */
static char *offer_of_size(const char *line, size_t total)
{
	char *t = malloc(total + 1);
	size_t at = 4, n = strlen(line);
	memcpy(t, "v=0\n", 4);
	while (at + n <= total) {
		memcpy(t + at, line, n);
		at += n;
	}
	memset(t + at, '\n', total - at);
	t[total] = '\0';
	return t;
}

static void bounds_of_size(void)
{
	char why[128];
	char *t = offer_of_size("a=x\n", SDP_MAX_OFFER);
	CHECK(sdp_parse_offer(t, SDP_MAX_OFFER, &offer, why, sizeof(why)) == 0);
	free(t);
	t = offer_of_size("a=x\n", SDP_MAX_OFFER + 1);
	CHECK(sdp_parse_offer(t, SDP_MAX_OFFER + 1, &offer, why, sizeof(why)) == -EINVAL);
	free(t);

	/* a line of 4096 bytes is taken (CR not counted), one of 4097 not */
	static char line[4200];
	memcpy(line, "v=0\r\na=", 7);
	memset(line + 7, 'x', 4094);
	memcpy(line + 7 + 4094, "\r\n", 3);
	CHECK(sdp_parse_offer(line, strlen(line), &offer, why, sizeof(why)) == 0);
	memset(line + 7, 'x', 4095);
	memcpy(line + 7 + 4095, "\r\n", 3);
	CHECK(sdp_parse_offer(line, strlen(line), &offer, why, sizeof(why)) == -EINVAL);

	/* an fmtp of 511 bytes fits, 512 does not */
	char fm[700];
	int n = snprintf(fm, sizeof(fm), "v=0\nm=video 9 RTP/AVP 96\na=fmtp:96 %0511d\n", 0);
	CHECK(n > 0 && sdp_parse_offer(fm, strlen(fm), &offer, why, sizeof(why)) == 0);
	CHECK(strlen(offer.media[0].codecs[0].fmtp) == 511);
	snprintf(fm, sizeof(fm), "v=0\nm=video 9 RTP/AVP 96\na=fmtp:96 %0512d\n", 0);
	CHECK(sdp_parse_offer(fm, strlen(fm), &offer, why, sizeof(why)) == -EINVAL);
}

static void bounds_of_sections_and_codecs(void)
{
	struct strbuf b = STRBUF_INIT;
	sb_puts(&b, "v=0\n");
	for (int i = 0; i < SDP_MAX_MEDIA; i++)
		sb_printf(&b, "m=audio 9 RTP/AVP 0\na=mid:%d\n", i);
	CHECK(parse_text(b.p, &offer) == 0 && offer.n_media == SDP_MAX_MEDIA);
	sb_puts(&b, "m=audio 9 RTP/AVP 0\n");
	CHECK(parse_text(b.p, &offer) == -EINVAL);
	sb_free(&b);

	sb_puts(&b, "v=0\nm=video 9 RTP/AVP");
	for (int pt = 0; pt < SDP_MAX_CODECS + 10; pt++)
		sb_printf(&b, " %d", 127 - pt);
	sb_printf(&b, " 127\na=rtpmap:%d VP8/90000\n", 127 - SDP_MAX_CODECS);
	CHECK(parse_text(b.p, &offer) == 0);
	CHECK(offer.media[0].n_codecs == SDP_MAX_CODECS); /* the rest, and the repeat, ignored */
	CHECK(offer.media[0].codecs[0].pt == 127);
	CHECK(sdp_pick_codec(&offer.media[0], "VP8", 90000) == -1);
	sb_free(&b);
}

/* ---- the answer ---- */

static const char *const hosts2[] = { "192.0.2.7", "2001:db8::7" };

static void answer_defaults(struct sdp_answer *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->ice_ufrag, sizeof(a->ice_ufrag), "Ufrag123");
	snprintf(a->ice_pwd, sizeof(a->ice_pwd), "passwordpasswordpassword");
	snprintf(a->fingerprint, sizeof(a->fingerprint), "sha-256 %s",
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
	snprintf(a->cname, sizeof(a->cname), "camstream");
	snprintf(a->stream_id, sizeof(a->stream_id), "cam-front");
	a->hosts = hosts2;
	a->n_hosts = 2;
	a->port = 8189;
	a->session_id = 18446744073709551615ull;
}

/* The answer to @o the server would give: H.264 on the stream's profile, audio inactive. */
static char *answer_for(const struct sdp_offer *o, struct sdp_answer *a, int *r)
{
	struct strbuf b = STRBUF_INIT;
	answer_defaults(a);
	for (size_t i = 0; i < o->n_media; i++) {
		const struct sdp_media *m = &o->media[i];
		struct sdp_answer_media *am = &a->media[i];
		if (strcmp(m->kind, "video") == 0) {
			am->pt = sdp_pick_h264(m, high_40);
			am->accept = am->pt >= 0 &&
				sdp_h264_fmtp(m, am->pt, high_40[2], am->fmtp, sizeof(am->fmtp));
			am->sending = true;
			am->ssrc = 0xdeadbeef;
		} else if (strcmp(m->kind, "audio") == 0) {
			am->pt = sdp_pick_codec(m, "PCMU", 8000);
			am->accept = am->pt >= 0;
		}
	}
	*r = sdp_build_answer(o, a, &b);
	return sb_take(&b);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void answer_to_chromium_reads_back(void)
{
	struct sdp_answer a;
	int r;
	CHECK(load_offer("chromium_offer.sdp", &offer));
	char *t = answer_for(&offer, &a, &r);
	CHECK(r == 0 && t);
	if (!t)
		return;
	CHECK(strncmp(t, "v=0\r\no=- 18446744073709551615 2 IN IP4 ", 39) == 0);
	CHECK(strstr(t, "\r\na=ice-lite\r\na=group:BUNDLE 0 1\r\n") != NULL);
	CHECK(strstr(t, "m=video 8189 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 192.0.2.7\r\n"));
	CHECK(strstr(t, "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"
		"profile-level-id=420028\r\n"));
	CHECK(strstr(t, "a=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\na=rtcp-fb:102 ccm fir\r\n"));
	CHECK(strstr(t, "a=ssrc:3735928559 cname:camstream\r\n"));
	CHECK(strstr(t, "a=msid:cam-front video-0\r\n"));
	CHECK(strstr(t, "a=candidate:1 1 udp 2130706431 192.0.2.7 8189 typ host\r\n"));
	CHECK(strstr(t, "a=candidate:2 1 udp 2130706430 2001:db8::7 8189 typ host\r\n"));
	CHECK(count_of(t, "a=end-of-candidates\r\n") == 2);
	CHECK(count_of(t, "a=setup:passive\r\n") == 2);
	CHECK(count_of(t, "a=ssrc:") == 1); /* audio does not send */
	CHECK(strstr(t, "m=audio 8189 UDP/TLS/RTP/SAVPF 0\r\n"));
	CHECK(strstr(t, "a=rtpmap:0 PCMU/8000\r\n"));
	CHECK_NOT_CONTAINS(t, "\n\n");
	CHECK_NOT_CONTAINS(t, "rtx");

	CHECK(parse_text(t, &again) == 0);
	CHECK(again.ice_lite && again.n_media == 2);
	CHECK_STR(again.media[0].mid, "0");
	CHECK_STR(again.media[1].mid, "1");
	CHECK(again.media[0].dir == SDP_SENDONLY && again.media[1].dir == SDP_INACTIVE);
	CHECK(again.media[0].n_codecs == 1 && again.media[0].codecs[0].pt == 102);
	CHECK(again.media[0].rtcp_mux && again.media[1].rtcp_mux);
	CHECK_STR(again.media[1].ice_pwd, "passwordpasswordpassword");
	CHECK_STR(again.media[0].setup, "passive");
	uint8_t d[32];
	CHECK(sdp_parse_fingerprint(again.media[0].fingerprint, d) && d[1] == 0x11);
	free(t);
}

static void answer_to_aiortc_reads_back(void)
{
	struct sdp_answer a;
	int r;
	CHECK(load_offer("aiortc_offer.sdp", &offer));
	char *t = answer_for(&offer, &a, &r);
	CHECK(r == 0 && t);
	CHECK(t && strstr(t, "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;"
		"profile-level-id=420028\r\n"));
	CHECK(t && strstr(t, "a=rtcp-fb:99 nack\r\na=rtcp-fb:99 nack pli\r\na=msid"));
	CHECK(t && parse_text(t, &again) == 0 && again.n_media == 2);
	free(t);
}

static void rejected_sections_keep_their_place(void)
{
	CHECK(parse_text("v=0\na=group:BUNDLE a v d\n"
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:a\na=rtpmap:111 opus/48000/2\n"
		"m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:v\na=rtpmap:96 H264/90000\n"
		"a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\n"
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:d\n", &offer) == 0);
	struct sdp_answer a;
	answer_defaults(&a);
	a.hosts = &hosts2[1];
	a.n_hosts = 1;
	a.media[1] = (struct sdp_answer_media){ .accept = true, .pt = 96, .ssrc = 1,
		.sending = true };
	struct strbuf b = STRBUF_INIT;
	CHECK(sdp_build_answer(&offer, &a, &b) == 0);
	char *t = sb_take(&b);
	CHECK(t && strstr(t, "a=group:BUNDLE v\r\n"));
	CHECK(t && strstr(t, "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP6 2001:db8::7\r\n"
		"a=mid:a\r\na=inactive\r\n"));
	CHECK(t && strstr(t, "a=rtpmap:111 opus/48000/2\r\n"));
	CHECK(t && strstr(t, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
	CHECK(t && strstr(t, "m=video 8189 UDP/TLS/RTP/SAVPF 96\r\n"));
	CHECK(t && strstr(t, "a=mid:d\r\na=inactive\r\na=ice-ufrag:Ufrag123\r\na=ice-pwd:"));
	CHECK(t && count_of(t, "a=rtcp-mux") == 2); /* not in the SCTP section */
	CHECK(t && count_of(t, "a=fmtp") == 0);     /* @fmtp "" writes none */
	CHECK(t && parse_text(t, &again) == 0 && again.n_media == 3 &&
		again.media[0].port == 0 && again.media[2].port == 0 && again.media[1].port == 8189);
	free(t);
}

/* Firefox's max-bundle: every section after the first has port 0 and a=bundle-only, and
 * is offered all the same when its mid is in the BUNDLE group (RFC 8843 §6). */
static void bundle_only_sections_are_offered(void)
{
	CHECK(parse_text("v=0\na=group:BUNDLE 0 1 \n"
		"m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:0\na=recvonly\n"
		"m=audio 0 UDP/TLS/RTP/SAVPF 0\na=mid:1\na=bundle-only\na=recvonly\n"
		"m=audio 0 UDP/TLS/RTP/SAVPF 8\na=mid:2\na=bundle-only\n"
		"m=audio 0 UDP/TLS/RTP/SAVPF 8\na=mid:3\n", &offer) == 0);
	CHECK(offer.bundle && offer.n_media == 4);
	CHECK(offer.media[0].bundled && !offer.media[0].bundle_only &&
		sdp_media_offered(&offer.media[0]));
	CHECK(offer.media[1].bundled && offer.media[1].bundle_only &&
		sdp_media_offered(&offer.media[1]));
	/* bundle-only outside the group, and port 0 without bundle-only: rejected */
	CHECK(!offer.media[2].bundled && offer.media[2].bundle_only &&
		!sdp_media_offered(&offer.media[2]));
	CHECK(!sdp_media_offered(&offer.media[3]));
	/* audio first, then video bundle-only with no transport of its own: it takes the first
	 * bundled section's ICE, DTLS and rtcp-mux values (RFC 8829 §5.2.1) */
	CHECK(parse_text("v=0\na=group:BUNDLE a v\n"
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\na=mid:a\na=ice-ufrag:uf1\na=ice-pwd:pw1pw1pw1pw1pw1pw1pw1pw1\n"
		"a=fingerprint:sha-256 AB:CD\na=setup:actpass\na=rtcp-mux\n"
		"m=video 0 UDP/TLS/RTP/SAVPF 96\na=mid:v\na=bundle-only\n", &offer) == 0);
	CHECK(sdp_media_offered(&offer.media[1]) && offer.media[1].rtcp_mux);
	CHECK(!strcmp(offer.media[1].ice_ufrag, "uf1") &&
		!strcmp(offer.media[1].ice_pwd, "pw1pw1pw1pw1pw1pw1pw1pw1") &&
		!strcmp(offer.media[1].fingerprint, "sha-256 AB:CD") &&
		!strcmp(offer.media[1].setup, "actpass"));
	/* a group of another semantics, or none: no bundle */
	CHECK(parse_text("v=0\na=group:LS 0\nm=video 0 UDP/TLS/RTP/SAVPF 96\na=mid:0\n"
		"a=bundle-only\n", &offer) == 0);
	CHECK(!offer.bundle && !offer.media[0].bundled && !sdp_media_offered(&offer.media[0]));
}

static void answer_has_a_bundle_group_only_when_the_offer_has(void)
{
	static const char *const body = "m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:v\n"
		"a=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\n";
	char text[512];
	struct sdp_answer a;
	struct strbuf b = STRBUF_INIT;
	snprintf(text, sizeof(text), "v=0\n%s", body);
	CHECK(parse_text(text, &offer) == 0 && !offer.bundle);
	answer_defaults(&a);
	a.media[0] = (struct sdp_answer_media){ .accept = true, .pt = 96, .ssrc = 1,
		.sending = true };
	CHECK(sdp_build_answer(&offer, &a, &b) == 0);
	char *t = sb_take(&b);
	CHECK(t && !strstr(t, "a=group:") && strstr(t, "a=ice-lite\r\na=msid-semantic:"));
	free(t);
	snprintf(text, sizeof(text), "v=0\na=group:BUNDLE v\n%s", body);
	CHECK(parse_text(text, &offer) == 0 && offer.bundle);
	CHECK(sdp_build_answer(&offer, &a, &b) == 0);
	t = sb_take(&b);
	CHECK(t && strstr(t, "a=ice-lite\r\na=group:BUNDLE v\r\n"));
	free(t);
}

/* Only a section that receives takes our media: RFC 3264 §6.1. */
static void direction_says_whether_a_section_receives(void)
{
	CHECK(parse_text("v=0\nm=video 9 P 96\nm=video 9 P 96\na=sendrecv\nm=video 9 P 96\n"
		"a=recvonly\nm=video 9 P 96\na=sendonly\nm=video 9 P 96\na=inactive\n", &offer) == 0);
	CHECK(sdp_media_receives(&offer.media[0]) && sdp_media_receives(&offer.media[1]) &&
		sdp_media_receives(&offer.media[2]));
	CHECK(!sdp_media_receives(&offer.media[3]) && !sdp_media_receives(&offer.media[4]));
	/* the session's direction where a section has none */
	CHECK(parse_text("v=0\na=sendonly\nm=video 9 P 96\nm=video 9 P 96\na=recvonly\n",
		&offer) == 0);
	CHECK(!sdp_media_receives(&offer.media[0]) && sdp_media_receives(&offer.media[1]));
}

static void bad_answers_are_refused(void)
{
	static const char *const bad_host[] = { "localhost" };
	struct sdp_answer a;
	struct strbuf b = STRBUF_INIT;
	int r;
	CHECK(load_offer("chromium_offer.sdp", &offer));
	free(answer_for(&offer, &a, &r));
	CHECK(r == 0);

	struct sdp_answer x = a;
	x.media[0].accept = x.media[1].accept = false;
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	x.hosts = bad_host;
	x.n_hosts = 1;
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	x.n_hosts = 0;
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	x.media[0].pt = 50; /* not offered */
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	snprintf(x.ice_ufrag, sizeof(x.ice_ufrag), "a b");
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	snprintf(x.media[0].fmtp, sizeof(x.media[0].fmtp), "a=1\r\na=evil");
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	x.cname[0] = '\0';
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	x = a;
	x.port = 0;
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	CHECK(b.len == 0);

	/* a section without a mid cannot be in the BUNDLE group */
	CHECK(parse_text("v=0\nm=video 9 RTP/AVP 96\na=rtpmap:96 H264/90000\n", &offer) == 0);
	x = a;
	x.media[1].accept = false;
	x.media[0].pt = 96;
	CHECK(sdp_build_answer(&offer, &x, &b) == -EINVAL);
	sb_free(&b);
}

/* ---- fingerprints ---- */

static void fingerprint_parse(void)
{
	uint8_t d[32];
	const char *hex = "00:11:22:33:44:55:66:77:88:99:aa:BB:CC:DD:EE:FF:"
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:Fe";
	char t[200];
	snprintf(t, sizeof(t), "sha-256 %s", hex);
	CHECK(sdp_parse_fingerprint(t, d) && d[0] == 0 && d[10] == 0xaa && d[31] == 0xfe);
	snprintf(t, sizeof(t), "SHA-256 %s", hex);
	CHECK(sdp_parse_fingerprint(t, d));
	snprintf(t, sizeof(t), "sha-1 %s", hex);
	CHECK(!sdp_parse_fingerprint(t, d));
	snprintf(t, sizeof(t), "sha-256 %s:00", hex);
	CHECK(!sdp_parse_fingerprint(t, d));
	snprintf(t, sizeof(t), "sha-256 %.92s", hex);
	CHECK(!sdp_parse_fingerprint(t, d));
	snprintf(t, sizeof(t), "sha-256 %s", hex);
	t[8 + 2] = '-';
	CHECK(!sdp_parse_fingerprint(t, d));
	snprintf(t, sizeof(t), "sha-256 %s", hex);
	t[8 + 4] = 'g';
	CHECK(!sdp_parse_fingerprint(t, d));
	CHECK(!sdp_parse_fingerprint("sha-256", d));
	CHECK(!sdp_parse_fingerprint("", d));
}

int main(void)
{
	RUN(chromium_offer_is_read);
	RUN(aiortc_offer_is_read);
	RUN(h264_pick_prefers_the_streams_profile);
	RUN(h264_pick_constrained_baseline_takes_cs1_streams);
	RUN(h264_pick_falls_back_to_the_first_mode1);
	RUN(h264_fmtp_has_the_offered_profile_and_our_level);
	RUN(codec_pick_by_name_and_clock);
	RUN(h264_needs_its_90khz_clock);
	RUN(session_values_are_copied_down);
	RUN(first_fingerprint_wins_and_ice_lite_is_seen);
	RUN(rtcp_fb_star_and_unlisted_types);
	RUN(datachannel_section_is_kept);
	RUN(malformed_offers_are_refused);
	RUN(bounds_of_size);
	RUN(bounds_of_sections_and_codecs);
	RUN(answer_to_chromium_reads_back);
	RUN(answer_to_aiortc_reads_back);
	RUN(rejected_sections_keep_their_place);
	RUN(bundle_only_sections_are_offered);
	RUN(answer_has_a_bundle_group_only_when_the_offer_has);
	RUN(direction_says_whether_a_section_receives);
	RUN(bad_answers_are_refused);
	RUN(fingerprint_parse);
	return CHECK_DONE();
}
