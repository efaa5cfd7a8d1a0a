/* coded_feed: whether an access unit is a key picture, which decides where a decoder may
 * open, also for units the log cannot take; and the audio the log carries, AAC only, known
 * before its first frame. Parameter sets are real libx264 output (data/param_sets.h); audio
 * is made by libavcodec's encoders (audio_gen.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "audio_gen.h"
#include "check.h"
#include "coded_feed.h"
#include "codedlog.h"
#include "data/param_sets.h"

struct fixture {
	struct coded_log *log;
	struct coded_feed *feed;
};

/* An H.264 feed whose parameters come from @extradata (an avcC record: length-prefixed
 * units follow) or, with NULL, from nothing (Annex B, in band). */
static bool setup(struct fixture *fx, enum AVCodecID id, const uint8_t *extradata, size_t n)
{
	fx->log = coded_log_create(1 << 20, 64);
	fx->feed = fx->log ? coded_feed_create(fx->log, "test:") : NULL;
	AVCodecParameters *par = avcodec_parameters_alloc();
	bool ok = fx->feed && par;
	if (ok) {
		par->codec_type = AVMEDIA_TYPE_VIDEO;
		par->codec_id = id;
		if (extradata) {
			par->extradata = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE);
			ok = par->extradata != NULL;
			if (ok) {
				memcpy(par->extradata, extradata, n);
				par->extradata_size = (int)n;
			}
		}
	}
	if (ok)
		coded_feed_video(fx->feed, par);
	avcodec_parameters_free(&par);
	return ok;
}

static void teardown(struct fixture *fx)
{
	coded_feed_destroy(fx->feed);
	coded_log_destroy(fx->log);
}

static bool picture(struct fixture *fx, const uint8_t *au, size_t len, bool hint)
{
	return coded_feed_picture(fx->feed, au, len, 0, 0, 0, hint, NULL);
}

/* Slice headers: enough of a unit for its type. */
#define IDR 0x65, 0x88, 0x84, 0x00
#define NON_IDR 0x41, 0x9a, 0x02, 0x00

static void test_unit_types_decide_over_the_hint(void)
{
	struct fixture fx;
	CHECK(setup(&fx, AV_CODEC_ID_H264, b320_avcc, sizeof(b320_avcc)));
	static const uint8_t idr[] = { 0, 0, 0, 4, IDR };
	static const uint8_t p[] = { 0, 0, 0, 4, NON_IDR };
	CHECK(picture(&fx, idr, sizeof(idr), false));
	CHECK(!picture(&fx, p, sizeof(p), true));
	teardown(&fx);
}

static void test_a_unit_the_log_refuses_is_still_judged_by_its_types(void)
{
	struct fixture fx;
	CHECK(setup(&fx, AV_CODEC_ID_H264, NULL, 0));
	/* an SPS that does not parse makes the unit unusable for the log */
	static const uint8_t bad_sps_idr[] = { 0, 0, 0, 1, 0x67, 0xff, 0, 0, 0, 1, IDR };
	static const uint8_t bad_sps_p[] = { 0, 0, 0, 1, 0x67, 0xff, 0, 0, 0, 1, NON_IDR };
	CHECK(picture(&fx, bad_sps_idr, sizeof(bad_sps_idr), false));
	CHECK(!picture(&fx, bad_sps_p, sizeof(bad_sps_p), true));
	teardown(&fx);
}

static void test_a_unit_malformed_after_its_idr_slice_is_key(void)
{
	struct fixture fx;
	CHECK(setup(&fx, AV_CODEC_ID_H264, b320_avcc, sizeof(b320_avcc)));
	/* a length past the end after a whole IDR slice */
	static const uint8_t cut[] = { 0, 0, 0, 4, IDR, 0, 0, 1, 0, 0x65 };
	CHECK(picture(&fx, cut, sizeof(cut), false));
	teardown(&fx);
}

static void test_units_that_say_nothing_keep_the_hint(void)
{
	struct fixture fx;
	CHECK(setup(&fx, AV_CODEC_ID_H264, b320_avcc, sizeof(b320_avcc)));
	static const uint8_t garbage[] = { 0, 0, 9, 9, 1, 2, 3 };
	CHECK(picture(&fx, garbage, sizeof(garbage), true));
	CHECK(!picture(&fx, garbage, sizeof(garbage), false));
	teardown(&fx);
	/* a codec the log does not carry: the demuxer's word is all there is */
	CHECK(setup(&fx, AV_CODEC_ID_MJPEG, NULL, 0));
	static const uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xd9 };
	CHECK(picture(&fx, jpeg, sizeof(jpeg), true));
	CHECK(!picture(&fx, jpeg, sizeof(jpeg), false));
	teardown(&fx);
}

/* ---- audio ---- */

/* Camera audio made by encoder @name, or false: a skip when this FFmpeg cannot make it. */
static bool input(struct gen_audio *g, const char *name, int rate, int channels,
	int64_t bit_rate, double seconds, int64_t start_us)
{
	const char *why = gen_missing(name);
	memset(g, 0, sizeof(*g));
	if (why) {
		SKIP(why);
		return false;
	}
	bool ok = gen_audio(g, name, rate, channels, bit_rate, seconds, 1000, start_us);
	CHECK(ok);
	return ok;
}

/* @fx on an H.264 camera whose audio is @g, made by input(); false, as input(), when it was
 * not made. */
static bool setup_audio(struct fixture *fx, struct gen_audio *g, const char *name, int rate,
	int channels, int64_t bit_rate, double seconds, int64_t start_us)
{
	if (!input(g, name, rate, channels, bit_rate, seconds, start_us))
		return false;
	CHECK(setup(fx, AV_CODEC_ID_H264, b320_avcc, sizeof(b320_avcc)));
	coded_feed_audio(fx->feed, g->par);
	return true;
}

/* The log's current audio params: AAC at @rate with @channels and a config. */
static bool announced_aac(struct coded_log *log, unsigned rate, unsigned channels)
{
	struct coded_params *p = coded_log_params(log, CODED_AUDIO);
	bool ok = p && p->codec == CODED_AAC && p->sample_rate == rate &&
		p->channels == channels && p->config_len >= 2;
	coded_params_unref(p);
	return ok;
}

static void test_g711_audio_is_announced_as_aac_before_its_first_frame(void)
{
	struct fixture fx;
	struct gen_audio g;
	if (!setup_audio(&fx, &g, "pcm_alaw", 8000, 1, 0, 0.1, 0))
		return;
	CHECK(announced_aac(fx.log, 16000, 1));
	gen_free(&g);
	teardown(&fx);
}

/* A reader of the log: a key picture, then @g's packets; what it reads of the audio. */
static size_t read_audio(struct fixture *fx, const struct gen_audio *g, int64_t *pts,
	size_t max, bool *all_aac)
{
	static const uint8_t idr[] = { 0, 0, 0, 4, IDR };
	CHECK(picture(fx, idr, sizeof(idr), true));
	for (size_t i = 0; i < g->n; i++)
		coded_feed_audio_frame(fx->feed, g->pkts[i].data, g->pkts[i].len, g->pkts[i].pts_us,
			0);
	struct coded_cursor cur = { 0 };
	struct coded_entry *e;
	size_t n = 0;
	*all_aac = true;
	while (coded_log_read(fx->log, &cur, 0, &e)) {
		if (e->kind == CODED_AUDIO) {
			*all_aac &= e->params && e->params->codec == CODED_AAC && e->len > 0;
			if (n < max)
				pts[n++] = e->pts_us;
		}
		coded_entry_unref(e);
	}
	return n;
}

static void test_transcoded_audio_enters_the_log_as_aac_on_the_camera_clock(void)
{
	struct fixture fx;
	struct gen_audio g;
	int64_t pts[64];
	bool aac;
	if (!setup_audio(&fx, &g, "g722", 16000, 1, 0, 1.0, 3000000))
		return;
	size_t n = read_audio(&fx, &g, pts, N(pts), &aac);
	CHECK(aac && n >= 16000 / 1024 - 2);
	CHECK(n && pts[0] == g.pkts[0].pts_us); /* the encoder's start is before 3 s */
	for (size_t i = 1; i < n; i++)
		CHECK(pts[i] - pts[i - 1] == 64000);
	gen_free(&g);
	teardown(&fx);
}

static void test_camera_aac_is_copied_as_it_is(void)
{
	struct fixture fx;
	struct gen_audio g;
	int64_t pts[64];
	bool aac;
	if (!setup_audio(&fx, &g, "aac", 44100, 2, 96000, 0.5, 0))
		return;
	CHECK(announced_aac(fx.log, 44100, 2));
	size_t n = read_audio(&fx, &g, pts, N(pts), &aac);
	CHECK(aac && n == g.n);
	gen_free(&g);
	teardown(&fx);
}

/* G.711 is also kept as it came (kind CODED_SOUND, for WebRTC), packet for packet, beside
 * its AAC form; AAC from the camera has no such copy, and a reconnect forgets it. */
static void test_g711_is_kept_as_it_came_beside_its_aac(void)
{
	struct fixture fx;
	struct gen_audio g;
	if (!setup_audio(&fx, &g, "pcm_alaw", 8000, 1, 0, 0.5, 1000000))
		return;
	struct coded_params *sp = coded_log_params(fx.log, CODED_SOUND);
	CHECK(sp && sp->kind == CODED_SOUND && sp->codec == CODED_PCMA && sp->sample_rate == 8000 &&
		sp->channels == 1);
	coded_params_unref(sp);
	static const uint8_t idr[] = { 0, 0, 0, 4, IDR };
	CHECK(picture(&fx, idr, sizeof(idr), true));
	for (size_t i = 0; i < g.n; i++)
		coded_feed_audio_frame(fx.feed, g.pkts[i].data, g.pkts[i].len, g.pkts[i].pts_us, 0);
	struct coded_cursor cur = { 0 };
	struct coded_entry *e;
	size_t sound = 0, aac = 0;
	while (coded_log_read(fx.log, &cur, 0, &e)) {
		if (e->kind == CODED_SOUND) {
			CHECK(sound < g.n && e->len == g.pkts[sound].len &&
				!memcmp(e->data, g.pkts[sound].data, e->len) &&
				e->pts_us == g.pkts[sound].pts_us && e->params->codec == CODED_PCMA);
			sound++;
		} else if (e->kind == CODED_AUDIO) {
			aac++;
		}
		coded_entry_unref(e);
	}
	CHECK(sound == g.n && aac > 0);
	AVCodecParameters *v = avcodec_parameters_alloc();
	CHECK(v);
	if (v) {
		v->codec_type = AVMEDIA_TYPE_VIDEO;
		v->codec_id = AV_CODEC_ID_H264;
		coded_feed_video(fx.feed, v);
		avcodec_parameters_free(&v);
	}
	CHECK(coded_log_params(fx.log, CODED_SOUND) == NULL);
	gen_free(&g);
	teardown(&fx);

	if (!setup_audio(&fx, &g, "aac", 44100, 2, 96000, 0.2, 0))
		return;
	CHECK(coded_log_params(fx.log, CODED_SOUND) == NULL);
	gen_free(&g);
	teardown(&fx);
}

static void test_a_session_without_usable_audio_announces_none(void)
{
	struct fixture fx;
	struct gen_audio g;
	if (!setup_audio(&fx, &g, "pcm_mulaw", 8000, 1, 0, 0.1, 0))
		return;
	CHECK(announced_aac(fx.log, 16000, 1));
	/* the camera reconnects without audio */
	AVCodecParameters *v = avcodec_parameters_alloc();
	CHECK(v);
	if (v) {
		v->codec_type = AVMEDIA_TYPE_VIDEO;
		v->codec_id = AV_CODEC_ID_H264;
		coded_feed_video(fx.feed, v);
	}
	CHECK(coded_log_params(fx.log, CODED_AUDIO) == NULL);
	/* then with audio no one transcodes */
	g.par->codec_id = AV_CODEC_ID_PCM_S16BE;
	coded_feed_audio(fx.feed, g.par);
	CHECK(coded_log_params(fx.log, CODED_AUDIO) == NULL);
	/* and audio beside video the log does not carry is left out */
	g.par->codec_id = AV_CODEC_ID_PCM_MULAW;
	if (v) {
		v->codec_id = AV_CODEC_ID_MJPEG;
		coded_feed_video(fx.feed, v);
	}
	coded_feed_audio(fx.feed, g.par);
	CHECK(coded_log_params(fx.log, CODED_AUDIO) == NULL);
	avcodec_parameters_free(&v);
	gen_free(&g);
	teardown(&fx);
}

int main(void)
{
	av_log_set_level(AV_LOG_FATAL);
	RUN(test_unit_types_decide_over_the_hint);
	RUN(test_a_unit_the_log_refuses_is_still_judged_by_its_types);
	RUN(test_a_unit_malformed_after_its_idr_slice_is_key);
	RUN(test_units_that_say_nothing_keep_the_hint);
	RUN(test_g711_audio_is_announced_as_aac_before_its_first_frame);
	RUN(test_transcoded_audio_enters_the_log_as_aac_on_the_camera_clock);
	RUN(test_camera_aac_is_copied_as_it_is);
	RUN(test_g711_is_kept_as_it_came_beside_its_aac);
	RUN(test_a_session_without_usable_audio_announces_none);
	return CHECK_DONE();
}
