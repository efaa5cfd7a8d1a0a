/* aac_transcode: a camera's G.711, G.722, G.726, Opus or MP3 audio comes out as AAC that
 * decodes to the same sound, as long, with timestamps on the camera's clock that never go
 * back. The input is a sine made by libavcodec's own encoders (audio_gen.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "aac_transcode.h"
#include "audio_gen.h"
#include "check.h"

#define START_US INT64_C(5000000)   /* the camera's clock at the first sample */
#define FREQ 1000.0

/* What came out: the frames' pts, and their sound decoded again. */
struct collect {
	int64_t *pts;
	size_t n, cap;
	struct gen_aac_decoder dec;
	bool ok;
};

static void sink(void *arg, const uint8_t *frame, size_t len, int64_t pts_us)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		int64_t *n = realloc(c->pts, cap * sizeof(*n));
		if (!n) {
			c->ok = false;
			return;
		}
		c->pts = n;
		c->cap = cap;
	}
	c->pts[c->n++] = pts_us;
	c->ok &= gen_aac_frame(&c->dec, frame, len);
}

static bool collect_open(struct collect *c, const struct aac_transcode *t)
{
	size_t n;
	memset(c, 0, sizeof(*c));
	c->ok = true;
	const uint8_t *cfg = aac_transcode_config(t, &n);
	return gen_aac_open(&c->dec, cfg, n);
}

static void collect_free(struct collect *c)
{
	gen_aac_close(&c->dec);
	gen_pcm_free(&c->dec.pcm);
	free(c->pts);
}

/* Feeds every packet of @g, packet i's pts moved by @shift_us from packet @from on. */
static void feed(struct aac_transcode *t, const struct gen_audio *g, struct collect *c,
	size_t from, int64_t shift_us)
{
	for (size_t i = 0; i < g->n; i++)
		aac_transcode_push(t, g->pkts[i].data, g->pkts[i].len,
			g->pkts[i].pts_us + (i >= from ? shift_us : 0), sink, c);
}

static bool strictly_increasing(const int64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i] <= v[i - 1])
			return false;
	return true;
}

static int64_t frame_us(const struct aac_transcode *t)
{
	return 1024 * INT64_C(1000000) / aac_transcode_rate(t);
}

/* The fields of an AudioSpecificConfig: object type, rate, channels (ISO 14496-3 1.6.2.1). */
static void parse_asc(const uint8_t *c, size_t len, unsigned *type, unsigned *rate,
	unsigned *channels)
{
	static const unsigned rates[] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
		22050, 16000, 12000, 11025, 8000, 7350 };
	*type = *rate = *channels = 0;
	if (len < 2)
		return;
	*type = c[0] >> 3;
	unsigned idx = (c[0] & 7u) << 1 | c[1] >> 7;
	*rate = idx < N(rates) ? rates[idx] : 0;
	*channels = (c[1] >> 3) & 15u;
}

/* The input, or false: a skip when this FFmpeg cannot make it, else a failure. */
static bool input(struct gen_audio *g, const char *name, int rate, int channels,
	int64_t bit_rate, double seconds)
{
	const char *why = gen_missing(name);
	memset(g, 0, sizeof(*g));
	if (why) {
		SKIP(why);
		return false;
	}
	bool ok = gen_audio(g, name, rate, channels, bit_rate, seconds, FREQ, START_US);
	CHECK(ok);
	return ok;
}

static struct aac_transcode *make(const struct gen_audio *g)
{
	char why[128];
	struct aac_transcode *t = aac_transcode_create(g->par, why, sizeof(why));
	if (!t)
		CHECK_SAY_("#   not made: %s\n", why);
	return t;
}

/* A transcoder of @g's audio and @c open on what it gives; NULL, @g freed, when it could not
 * be made. */
static struct aac_transcode *start(struct gen_audio *g, struct collect *c)
{
	struct aac_transcode *t = make(g);
	CHECK(t && collect_open(c, t));
	if (!t)
		gen_free(g);
	return t;
}

static void finish(struct aac_transcode *t, struct collect *c, struct gen_audio *g)
{
	collect_free(c);
	aac_transcode_destroy(t);
	gen_free(g);
}

static void test_alaw_is_announced_as_16khz_mono_aac_lc_before_any_packet(void)
{
	struct gen_audio g;
	if (!input(&g, "pcm_alaw", 8000, 1, 0, 0.1))
		return;
	struct aac_transcode *t = make(&g);
	CHECK(t);
	if (t) {
		size_t len;
		const uint8_t *cfg = aac_transcode_config(t, &len);
		unsigned type, rate, ch;
		parse_asc(cfg, len, &type, &rate, &ch);
		CHECK(aac_transcode_rate(t) == 16000 && aac_transcode_channels(t) == 1);
		CHECK(type == 2 && rate == 16000 && ch == 1);
	}
	aac_transcode_destroy(t);
	gen_free(&g);
}

/* The tests the cases are grouped in. */
enum codec_group { G711, G722, G726, OPUS_MP3 };

struct codec_case {
	enum codec_group group;
	const char *encoder;
	int rate, channels;
	int64_t bit_rate;
	unsigned out_rate;
	bool bits_from_rate_only; /* G.726: par says the bit rate, not bits_per_coded_sample */
};

/* One case: 2 s of sine through; the decoded AAC is as long as the input less what the
 * encoder still holds (two frames of look-ahead, less than one waiting to be whole), has the
 * sine's frequency in every channel, and the frames' pts start at the input's first pts and
 * go on a frame apart. */
static void check_case(const struct codec_case *k)
{
	struct gen_audio g;
	if (!input(&g, k->encoder, k->rate, k->channels, k->bit_rate, 2.0))
		return;
	if (!strncmp(k->encoder, "g726", 4)) {
		if (k->bits_from_rate_only)
			g.par->bits_per_coded_sample = 0;
		else
			g.par->bit_rate = 0;
	}
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	feed(t, &g, &c, 0, 0);
	CHECK(c.ok);
	CHECK(aac_transcode_rate(t) == k->out_rate);
	CHECK(aac_transcode_channels(t) == (unsigned)k->channels);
	CHECK(c.dec.pcm.rate == (int)k->out_rate && c.dec.pcm.channels == k->channels);
	CHECK(c.dec.pcm.errors == 0);

	const struct gen_packet *last = &g.pkts[g.n - 1];
	int64_t in_us = last->pts_us + last->dur_us - g.pkts[0].pts_us;
	int64_t out_us = c.dec.pcm.n * INT64_C(1000000) / (c.dec.pcm.rate ? c.dec.pcm.rate : 1);
	CHECK(out_us <= in_us - 2 * frame_us(t) && out_us >= in_us - 3 * frame_us(t) - 5000);

	for (int ch = 0; ch < k->channels; ch++) {
		double f = gen_frequency(&c.dec.pcm, ch, 2048);
		CHECK(f > FREQ * 0.98 && f < FREQ * 1.02);
	}

	CHECK(c.n > 0 && c.pts[0] == g.pkts[0].pts_us);
	CHECK(strictly_increasing(c.pts, c.n));
	for (size_t i = 1; i < c.n; i++)
		if (llabs(c.pts[i] - c.pts[i - 1] - frame_us(t)) > 1) {
			CHECK_SAY_("#   frame %zu is %lld µs after the one before\n", i,
				(long long)(c.pts[i] - c.pts[i - 1]));
			CHECK(0);
			break;
		}
	struct aac_transcode_stats st;
	aac_transcode_get_stats(t, &st);
	CHECK(st.packets == g.n && st.dropped == 0 && st.frames == c.n && st.anchors == 1);

	finish(t, &c, &g);
}

/* Every case, each under the test that runs it. */
static const struct codec_case codec_cases[] = {
	{ G711, "pcm_alaw", 8000, 1, 0, 16000, false },
	{ G711, "pcm_mulaw", 8000, 1, 0, 16000, false },
	{ G711, "pcm_alaw", 8000, 2, 0, 16000, false },
	{ G722, "g722", 16000, 1, 0, 16000, false },
	{ G726, "g726", 8000, 1, 16000, 16000, false },
	{ G726, "g726", 8000, 1, 24000, 16000, false },
	{ G726, "g726", 8000, 1, 32000, 16000, false },
	{ G726, "g726", 8000, 1, 40000, 16000, false },
	{ G726, "g726le", 8000, 1, 32000, 16000, false },
	{ G726, "g726", 8000, 1, 24000, 16000, true },
	{ OPUS_MP3, "libopus", 48000, 2, 64000, 48000, false },
	{ OPUS_MP3, "libopus", 48000, 1, 32000, 48000, false },
	{ OPUS_MP3, "libmp3lame", 22050, 1, 48000, 22050, false },
};

static void run_cases(enum codec_group group)
{
	for (size_t i = 0; i < N(codec_cases); i++) {
		const struct codec_case *k = &codec_cases[i];
		if (k->group != group)
			continue;
		int before = check_failed_;
		check_case(k);
		if (check_failed_ != before)
			CHECK_SAY_("#   in the case of %s at %d Hz, %d channel(s), %lld bit/s\n",
				k->encoder, k->rate, k->channels, (long long)k->bit_rate);
	}
}

static void test_g711_becomes_aac_of_the_same_sound_and_length(void)
{
	run_cases(G711);
}

static void test_g722_becomes_aac_of_the_same_sound_and_length(void)
{
	run_cases(G722);
}

static void test_g726_at_every_bit_rate_becomes_aac_of_the_same_sound(void)
{
	run_cases(G726);
}

static void test_opus_and_mp3_become_aac_of_the_same_sound(void)
{
	run_cases(OPUS_MP3);
}

static void test_the_sound_starts_at_its_timestamp(void)
{
	/* silence, then the sine from 0.5 s: heard 0.5 s after the first frame's pts, not a
	 * frame later (the encoder's leading silence is not handed over) */
	struct gen_audio g;
	if (gen_missing("pcm_alaw")) {
		SKIP(gen_missing("pcm_alaw"));
		return;
	}
	struct gen_signal late = { .freq = FREQ, .onset_s = 0.5 };
	CHECK(gen_audio_signal(&g, "pcm_alaw", 8000, 1, 0, 1.5, &late, START_US));
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	feed(t, &g, &c, 0, 0);
	int64_t first = -1;
	for (int64_t i = 0; i < c.dec.pcm.n && first < 0; i++)
		if (c.dec.pcm.ch[0][i] > 0.25f || c.dec.pcm.ch[0][i] < -0.25f)
			first = i;
	int64_t heard_us = c.n ? c.pts[0] + first * 1000000 / c.dec.pcm.rate : 0;
	CHECK(c.n && c.pts[0] == START_US && first > 0);
	CHECK(llabs(heard_us - (START_US + 500000)) <= 2000);
	finish(t, &c, &g);
}

/* 3 s of A-law whose pts step by @shift_us after the first second. false when it could not
 * be done (nothing to free then). */
static bool jump(int64_t shift_us, struct collect *c, struct aac_transcode_stats *st,
	struct gen_audio *g)
{
	if (!input(g, "pcm_alaw", 8000, 1, 0, 3.0))
		return false;
	struct aac_transcode *t = make(g);
	bool ok = t && collect_open(c, t);
	CHECK(ok);
	if (ok) {
		feed(t, g, c, g->n / 3, shift_us);
		aac_transcode_get_stats(t, st);
	} else if (t) {
		collect_free(c);
	}
	aac_transcode_destroy(t);
	if (!ok)
		gen_free(g);
	return ok;
}

static void test_a_backwards_jump_of_the_input_does_not_make_output_go_back(void)
{
	struct gen_audio g;
	struct collect c;
	struct aac_transcode_stats st;
	if (!jump(-3000000, &c, &st, &g))
		return;
	CHECK(c.n > 40 && strictly_increasing(c.pts, c.n));
	CHECK(c.pts[0] == START_US);
	CHECK(st.anchors == 2 && st.dropped == 0);
	/* nothing lost: 3 s at 16 kHz less what the encoder holds */
	CHECK(c.n >= 3 * 16000 / 1024 - 3);
	collect_free(&c);
	gen_free(&g);
}

static void test_a_gap_in_the_input_moves_the_output_forward(void)
{
	struct gen_audio g;
	struct collect c;
	struct aac_transcode_stats st;
	if (!jump(2000000, &c, &st, &g))
		return;
	CHECK(strictly_increasing(c.pts, c.n));
	CHECK(st.anchors == 2);
	int64_t widest = 0;
	for (size_t i = 1; i < c.n; i++)
		if (c.pts[i] - c.pts[i - 1] > widest)
			widest = c.pts[i] - c.pts[i - 1];
	CHECK(widest >= 2000000 && widest <= 2000000 + 2 * 64000);
	/* the last frame lies where the input's last samples lie, less what the encoder holds */
	const struct gen_packet *last = &g.pkts[g.n - 1];
	int64_t end = last->pts_us + 2000000 + last->dur_us;
	CHECK(c.n && c.pts[c.n - 1] + 64000 <= end && c.pts[c.n - 1] >= end - 4 * 64000);
	collect_free(&c);
	gen_free(&g);
}

static void test_jitter_under_the_threshold_keeps_the_sample_count(void)
{
	struct gen_audio g;
	if (!input(&g, "pcm_alaw", 8000, 1, 0, 2.0))
		return;
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	srand(7);
	for (size_t i = 0; i < g.n; i++)
		aac_transcode_push(t, g.pkts[i].data, g.pkts[i].len,
			g.pkts[i].pts_us + (rand() % 100001) - 50000, sink, &c);
	struct aac_transcode_stats st;
	aac_transcode_get_stats(t, &st);
	CHECK(st.anchors == 1);
	for (size_t i = 1; i < c.n; i++)
		CHECK(c.pts[i] - c.pts[i - 1] == 64000);
	finish(t, &c, &g);
}

static void test_a_packet_without_pts_follows_the_one_before(void)
{
	struct gen_audio g;
	if (!input(&g, "pcm_mulaw", 8000, 1, 0, 1.0))
		return;
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	for (size_t i = 0; i < g.n; i++)
		aac_transcode_push(t, g.pkts[i].data, g.pkts[i].len,
			i % 2 ? AV_NOPTS_VALUE : g.pkts[i].pts_us, sink, &c);
	CHECK(c.n > 10 && c.pts[0] == START_US);
	for (size_t i = 1; i < c.n; i++)
		CHECK(c.pts[i] - c.pts[i - 1] == 64000);
	finish(t, &c, &g);
}

/* Random bytes of random lengths into @t; then the real packets of @g still come out. */
static void garbage_then_real(const char *encoder, int rate, int channels)
{
	struct gen_audio g;
	if (!input(&g, encoder, rate, channels, 0, 1.0))
		return;
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	uint8_t junk[300];
	srand(11);
	static const int64_t odd_pts[] = { INT64_MAX, INT64_MIN, AV_NOPTS_VALUE, -1, 0,
		INT64_MAX - 1, INT64_MIN + 1 };
	for (int i = 0; i < 300; i++) {
		size_t len = 1 + (size_t)rand() % sizeof(junk);
		for (size_t j = 0; j < len; j++)
			junk[j] = (uint8_t)rand();
		int64_t pts = i % 3 ? START_US + i * 20000 : odd_pts[i % N(odd_pts)];
		aac_transcode_push(t, junk, len, pts, sink, &c);
	}
	CHECK(strictly_increasing(c.pts, c.n));
	size_t before = c.n;
	int64_t last = c.n ? c.pts[c.n - 1] : INT64_MIN;
	feed(t, &g, &c, 0, 10000000);
	CHECK(c.n > before + 5);
	CHECK(c.n == before || c.pts[before] > last);
	CHECK(strictly_increasing(c.pts, c.n));
	struct aac_transcode_stats st;
	aac_transcode_get_stats(t, &st);
	CHECK(st.packets == 300 + g.n);
	if (!strcmp(encoder, "libopus") || !strcmp(encoder, "libmp3lame"))
		CHECK(st.dropped > 0);
	finish(t, &c, &g);
}

static void test_garbage_packets_are_dropped_without_harm(void)
{
	garbage_then_real("libopus", 48000, 2);
	garbage_then_real("libmp3lame", 22050, 1);
	garbage_then_real("g726", 8000, 1);
	garbage_then_real("g722", 16000, 1);
	garbage_then_real("pcm_alaw", 8000, 1);
}

static void test_packets_too_big_or_empty_are_dropped_and_counted(void)
{
	struct gen_audio g;
	if (!input(&g, "pcm_alaw", 8000, 1, 0, 0.1))
		return;
	struct collect c;
	struct aac_transcode *t = start(&g, &c);
	if (!t)
		return;
	static uint8_t big[AAC_TRANSCODE_MAX_PACKET + 1];
	CHECK(aac_transcode_push(t, big, sizeof(big), START_US, sink, &c) == -EINVAL);
	CHECK(aac_transcode_push(t, big, 0, START_US, sink, &c) == -EINVAL);
	CHECK(aac_transcode_push(t, NULL, 10, START_US, sink, &c) == -EINVAL);
	/* 1.5 s of A-law in one packet: more than a packet may hold */
	CHECK(aac_transcode_push(t, big, 12000, START_US, sink, &c) == -EINVAL);
	struct aac_transcode_stats st;
	aac_transcode_get_stats(t, &st);
	CHECK(st.packets == 4 && st.dropped == 4 && st.frames == 0 && c.n == 0);
	finish(t, &c, &g);
}

static void test_what_cannot_be_transcoded_is_refused_with_a_reason(void)
{
	AVCodecParameters *par = avcodec_parameters_alloc();
	CHECK(par);
	if (!par)
		return;
	char why[128];
	par->codec_type = AVMEDIA_TYPE_AUDIO;
	av_channel_layout_default(&par->ch_layout, 1);
	par->sample_rate = 8000;

	par->codec_id = AV_CODEC_ID_PCM_S16BE; /* L16: not one of ours */
	CHECK(!aac_transcode_create(par, why, sizeof(why)) && why[0]);
	par->codec_id = AV_CODEC_ID_AAC;       /* copied, not transcoded */
	CHECK(!aac_transcode_handles(par->codec_id));
	CHECK(!aac_transcode_create(par, why, sizeof(why)) && why[0]);

	par->codec_id = AV_CODEC_ID_ADPCM_G726; /* neither bits per sample nor bit rate */
	CHECK(!aac_transcode_create(par, why, sizeof(why)) && strstr(why, "bit rate"));
	par->bits_per_coded_sample = 4;
	struct aac_transcode *t = aac_transcode_create(par, why, sizeof(why));
	CHECK(t);
	aac_transcode_destroy(t);

	par->codec_id = AV_CODEC_ID_PCM_ALAW;
	par->sample_rate = 0;
	CHECK(!aac_transcode_create(par, why, sizeof(why)) && strstr(why, "unusable"));
	par->sample_rate = 8000;
	av_channel_layout_uninit(&par->ch_layout);
	CHECK(!aac_transcode_create(par, NULL, 0));
	avcodec_parameters_free(&par);
	aac_transcode_destroy(NULL);
}

int main(void)
{
	av_log_set_level(AV_LOG_FATAL); /* garbage makes the decoders talk */
	RUN(test_alaw_is_announced_as_16khz_mono_aac_lc_before_any_packet);
	RUN(test_g711_becomes_aac_of_the_same_sound_and_length);
	RUN(test_g722_becomes_aac_of_the_same_sound_and_length);
	RUN(test_g726_at_every_bit_rate_becomes_aac_of_the_same_sound);
	RUN(test_opus_and_mp3_become_aac_of_the_same_sound);
	RUN(test_the_sound_starts_at_its_timestamp);
	RUN(test_a_backwards_jump_of_the_input_does_not_make_output_go_back);
	RUN(test_a_gap_in_the_input_moves_the_output_forward);
	RUN(test_jitter_under_the_threshold_keeps_the_sample_count);
	RUN(test_a_packet_without_pts_follows_the_one_before);
	RUN(test_garbage_packets_are_dropped_without_harm);
	RUN(test_packets_too_big_or_empty_are_dropped_and_counted);
	RUN(test_what_cannot_be_transcoded_is_refused_with_a_reason);
	return CHECK_DONE();
}
