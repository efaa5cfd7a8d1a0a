/* coded_feed: whether an access unit is a key picture, which decides where a decoder may
 * open, also for units the log cannot take. Parameter sets are real libx264 output
 * (data/param_sets.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

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

int main(void)
{
	RUN(test_unit_types_decide_over_the_hint);
	RUN(test_a_unit_the_log_refuses_is_still_judged_by_its_types);
	RUN(test_a_unit_malformed_after_its_idr_slice_is_key);
	RUN(test_units_that_say_nothing_keep_the_hint);
	return CHECK_DONE();
}
