/* The FLV byte writer (src/media/flv.c): each piece read back field by field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codedlog.h"
#include "data/param_sets.h"
#include "flv.h"

static const uint8_t asc_16k_mono[] = { 0x14, 0x08 }; /* AAC LC, 16 kHz, 1 channel */

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static struct coded_params *h264_params(void)
{
	const uint8_t *sets[] = { b320_sps, b320_pps };
	const size_t lens[] = { sizeof(b320_sps), sizeof(b320_pps) };
	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *h265_params(void)
{
	const uint8_t *sets[] = { e720_vps, e720_sps, e720_pps };
	const size_t lens[] = { sizeof(e720_vps), sizeof(e720_sps), sizeof(e720_pps) };
	return coded_params_video(CODED_H265, sets, lens, 3);
}

/* A piece starts with the previous tag's size, then the tag header. */
struct tag {
	uint32_t prev;
	int type;
	uint32_t size, ts;
	const uint8_t *body;
};

static struct tag read_tag(const uint8_t *p)
{
	struct tag t = {
		.prev = be(p, 4),
		.type = p[4],
		.size = be(p + 5, 3),
		.ts = be(p + 8, 3) | (uint32_t)p[11] << 24,
		.body = p + 15,
	};
	CHECK(be(p + 12, 3) == 0); /* stream id */
	return t;
}

static void test_header_flags_audio_only_when_asked(void)
{
	uint8_t h[FLV_HEADER_LEN];
	flv_header(h, false);
	CHECK(!memcmp(h, "FLV\x01", 4));
	CHECK(h[4] == 0x01);
	CHECK(be(h + 5, 4) == 9);
	flv_header(h, true);
	CHECK(h[4] == 0x05);
}

static void test_carries_h264_h265_aac_only(void)
{
	CHECK(flv_carries(CODED_H264));
	CHECK(flv_carries(CODED_H265));
	CHECK(flv_carries(CODED_AAC));
	CHECK(!flv_carries(CODED_PCMA));
	CHECK(!flv_carries(CODED_OPUS));
	CHECK(!flv_carries(CODED_NONE));
}

static double amf_double(const uint8_t *p)
{
	uint64_t bits = 0;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | p[i];
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void test_metadata_is_an_ecma_array_of_what_is_known(void)
{
	struct flv_meta m = { .width = 1280, .height = 720, .fps = 25, .video = CODED_H264,
		.audio = CODED_AAC, .sample_rate = 16000, .channels = 1 };
	size_t need = flv_metadata(NULL, 0, 0, &m, NULL);
	uint8_t *buf = malloc(need + 1);
	buf[need] = 0xee;
	uint32_t tag_size = 0;
	CHECK(flv_metadata(buf, need, 7, &m, &tag_size) == need);
	CHECK(buf[need] == 0xee);
	struct tag t = read_tag(buf);
	CHECK(t.prev == 7 && t.type == 18 && t.ts == 0);
	CHECK(t.size == need - 15 && tag_size == 11 + t.size);
	const uint8_t *p = t.body;
	CHECK(p[0] == 2 && be(p + 1, 2) == 10 && !memcmp(p + 3, "onMetaData", 10));
	p += 13;
	CHECK(*p++ == 8);
	uint32_t count = be(p, 4);
	p += 4;
	int found = 0;
	for (uint32_t i = 0; i < count; i++) {
		char key[32] = "";
		size_t kn = be(p, 2);
		if (kn < sizeof(key))
			memcpy(key, p + 2, kn);
		p += 2 + kn;
		if (*p == 0) {
			double d = amf_double(p + 1);
			found |= !strcmp(key, "width") && d == 1280 ? 1 : 0;
			found |= !strcmp(key, "height") && d == 720 ? 2 : 0;
			found |= !strcmp(key, "framerate") && d == 25 ? 4 : 0;
			found |= !strcmp(key, "videocodecid") && d == 7 ? 8 : 0;
			found |= !strcmp(key, "audiocodecid") && d == 10 ? 16 : 0;
			found |= !strcmp(key, "audiosamplerate") && d == 16000 ? 32 : 0;
			p += 9;
		} else if (*p == 1) {
			found |= !strcmp(key, "stereo") && p[1] == 0 ? 64 : 0;
			p += 2;
		} else if (*p == 2) {
			p += 3 + be(p + 1, 2);
		} else {
			CHECK(!"an AMF type the writer does not use");
			break;
		}
	}
	CHECK(found == 127);
	CHECK(p[0] == 0 && p[1] == 0 && p[2] == 9);
	CHECK(p + 3 == buf + need);
	free(buf);
}

static void test_metadata_names_h265_by_its_fourcc(void)
{
	struct flv_meta m = { .video = CODED_H265 };
	uint8_t buf[512];
	size_t n = flv_metadata(buf, sizeof(buf), 0, &m, NULL);
	CHECK(n > 0 && n <= sizeof(buf));
	const uint8_t *hit = NULL;
	for (size_t i = 0; i + 12 < n && !hit; i++)
		if (!memcmp(buf + i, "videocodecid", 12))
			hit = buf + i + 12;
	CHECK(hit && hit[0] == 0 && amf_double(hit + 1) == (double)0x68766331u);
	for (size_t i = 0; i + 12 < n; i++) /* no audio: not mentioned */
		CHECK(memcmp(buf + i, "audiocodecid", 12) != 0);
}

static void test_short_buffer_writes_nothing(void)
{
	struct coded_params *p = h264_params();
	size_t need = flv_config(NULL, 0, 0, p, 0, NULL);
	uint8_t buf[256];
	memset(buf, 0xee, sizeof(buf));
	CHECK(need > 0 && need < sizeof(buf));
	CHECK(flv_config(buf, need - 1, 0, p, 0, NULL) == need);
	size_t untouched = 0;
	while (untouched < sizeof(buf) && buf[untouched] == 0xee)
		untouched++;
	CHECK(untouched == sizeof(buf));
	struct flv_meta m = { .width = 320, .height = 240, .video = CODED_H264 };
	need = flv_metadata(NULL, 0, 0, &m, NULL);
	CHECK(need > 0 && need < sizeof(buf));
	CHECK(flv_metadata(buf, need - 1, 0, &m, NULL) == need);
	for (untouched = 0; untouched < sizeof(buf) && buf[untouched] == 0xee; untouched++)
		;
	CHECK(untouched == sizeof(buf));
	coded_params_unref(p);
}

static void test_avc_sequence_header_carries_the_avcc_record(void)
{
	struct coded_params *p = h264_params();
	uint8_t buf[256];
	uint32_t tag_size;
	size_t n = flv_config(buf, sizeof(buf), 99, p, 1234, &tag_size);
	struct tag t = read_tag(buf);
	CHECK(t.prev == 99 && t.type == 9 && t.ts == 1234);
	CHECK(t.size == 5 + p->config_len && n == 15 + t.size && tag_size == 11 + t.size);
	CHECK(t.body[0] == 0x17 && t.body[1] == 0 && be(t.body + 2, 3) == 0);
	CHECK(!memcmp(t.body + 5, p->config, p->config_len));
	coded_params_unref(p);
}

static void test_hevc_sequence_header_is_enhanced_flv(void)
{
	struct coded_params *p = h265_params();
	CHECK(p != NULL);
	uint8_t buf[512];
	size_t n = flv_config(buf, sizeof(buf), 0, p, 0, NULL);
	struct tag t = read_tag(buf);
	CHECK(n == 15 + t.size && t.size == 5 + p->config_len);
	CHECK(t.body[0] == (0x80 | 0x10 | 0)); /* IsExHeader, key frame, SequenceStart */
	CHECK(!memcmp(t.body + 1, "hvc1", 4));
	CHECK(!memcmp(t.body + 5, p->config, p->config_len));
	coded_params_unref(p);
}

static void test_aac_sequence_header_carries_the_config(void)
{
	struct coded_params *p = coded_params_audio(CODED_AAC, 16000, 1, asc_16k_mono,
		sizeof(asc_16k_mono));
	uint8_t buf[64];
	size_t n = flv_config(buf, sizeof(buf), 0, p, 40, NULL);
	struct tag t = read_tag(buf);
	CHECK(n == 15 + 4 && t.type == 8 && t.ts == 40);
	CHECK(t.body[0] == 0xaf && t.body[1] == 0 && !memcmp(t.body + 2, asc_16k_mono, 2));
	coded_params_unref(p);
}

static void test_no_config_for_codecs_flv_does_not_carry(void)
{
	struct coded_params *p = coded_params_audio(CODED_PCMA, 8000, 1, NULL, 0);
	CHECK(p != NULL);
	CHECK(flv_config(NULL, 0, 0, p, 0, NULL) == 0);
	CHECK(flv_config(NULL, 0, 0, NULL, 0, NULL) == 0);
	struct coded_entry *e = coded_entry_create(10);
	e->kind = CODED_AUDIO;
	e->params = p; /* the entry's reference */
	uint8_t pre[FLV_PREFIX_MAX];
	CHECK(flv_entry_prefix(pre, 0, e, 0, 0, NULL) == 0);
	coded_entry_unref(e);
}

/* An entry with @len bytes of data and @p (a new reference). */
static struct coded_entry *entry(enum coded_kind kind, struct coded_params *p, bool key,
	size_t len)
{
	struct coded_entry *e = coded_entry_create(len);
	e->kind = kind;
	e->key = key;
	e->params = coded_params_ref(p);
	return e;
}

/* The prefix sits at the end of the buffer, right before where the data goes. */
static struct tag prefix_tag(const uint8_t pre[FLV_PREFIX_MAX], size_t n)
{
	return read_tag(pre + FLV_PREFIX_MAX - n);
}

static void test_avc_picture_prefix(void)
{
	struct coded_params *p = h264_params();
	struct coded_entry *k = entry(CODED_VIDEO, p, true, 1000);
	struct coded_entry *i = entry(CODED_VIDEO, p, false, 300);
	uint8_t pre[FLV_PREFIX_MAX];
	uint32_t tag_size;
	size_t n = flv_entry_prefix(pre, 55, k, 0x01234567, 80, &tag_size);
	CHECK(n == 4 + 11 + 5);
	struct tag t = prefix_tag(pre, n);
	CHECK(t.prev == 55 && t.type == 9 && t.size == 5 + 1000 && tag_size == 11 + 5 + 1000);
	CHECK(t.ts == 0x01234567); /* the high byte goes into the extension */
	CHECK(t.body[0] == 0x17 && t.body[1] == 1 && be(t.body + 2, 3) == 80);
	n = flv_entry_prefix(pre, 0, i, 40, -40, NULL);
	t = prefix_tag(pre, n);
	CHECK(t.body[0] == 0x27 && be(t.body + 2, 3) == 0xffffd8); /* -40 as SI24 */
	coded_entry_unref(k);
	coded_entry_unref(i);
	coded_params_unref(p);
}

static void test_hevc_picture_prefix_is_coded_frames(void)
{
	struct coded_params *p = h265_params();
	struct coded_entry *k = entry(CODED_VIDEO, p, true, 10);
	struct coded_entry *i = entry(CODED_VIDEO, p, false, 10);
	uint8_t pre[FLV_PREFIX_MAX];
	size_t n = flv_entry_prefix(pre, 0, k, 0, 0, NULL);
	CHECK(n == FLV_PREFIX_MAX);
	struct tag t = prefix_tag(pre, n);
	CHECK(t.size == 8 + 10);
	CHECK(t.body[0] == (0x80 | 0x10 | 1) && !memcmp(t.body + 1, "hvc1", 4));
	CHECK(be(t.body + 5, 3) == 0);
	n = flv_entry_prefix(pre, 0, i, 0, 33, NULL);
	t = prefix_tag(pre, n);
	CHECK(t.body[0] == (0x80 | 0x20 | 1) && be(t.body + 5, 3) == 33);
	coded_entry_unref(k);
	coded_entry_unref(i);
	coded_params_unref(p);
}

static void test_aac_frame_prefix(void)
{
	struct coded_params *p = coded_params_audio(CODED_AAC, 16000, 1, asc_16k_mono,
		sizeof(asc_16k_mono));
	struct coded_entry *a = entry(CODED_AUDIO, p, false, 200);
	uint8_t pre[FLV_PREFIX_MAX];
	size_t n = flv_entry_prefix(pre, 0, a, 64, 0, NULL);
	CHECK(n == 4 + 11 + 2);
	struct tag t = prefix_tag(pre, n);
	CHECK(t.type == 8 && t.size == 202 && t.ts == 64);
	CHECK(t.body[0] == 0xaf && t.body[1] == 1);
	coded_entry_unref(a);
	coded_params_unref(p);
}

static void test_a_kind_that_does_not_match_its_params_is_refused(void)
{
	struct coded_params *p = h264_params();
	struct coded_entry *e = entry(CODED_AUDIO, p, false, 10);
	uint8_t pre[FLV_PREFIX_MAX];
	CHECK(flv_entry_prefix(pre, 0, e, 0, 0, NULL) == 0);
	coded_entry_unref(e);
	coded_params_unref(p);
}

static void test_data_over_a_tags_limit_is_refused(void)
{
	struct coded_params *p = h264_params();
	struct coded_entry *e = entry(CODED_VIDEO, p, true, FLV_MAX_DATA - 5 + 1);
	uint8_t pre[FLV_PREFIX_MAX];
	CHECK(e != NULL);
	CHECK(flv_entry_prefix(pre, 0, e, 0, 0, NULL) == 0);
	coded_entry_unref(e);
	e = entry(CODED_VIDEO, p, true, FLV_MAX_DATA - 5);
	CHECK(flv_entry_prefix(pre, 0, e, 0, 0, NULL) == 20);
	coded_entry_unref(e);
	coded_params_unref(p);
}

int main(void)
{
	RUN(test_header_flags_audio_only_when_asked);
	RUN(test_carries_h264_h265_aac_only);
	RUN(test_metadata_is_an_ecma_array_of_what_is_known);
	RUN(test_metadata_names_h265_by_its_fourcc);
	RUN(test_short_buffer_writes_nothing);
	RUN(test_avc_sequence_header_carries_the_avcc_record);
	RUN(test_hevc_sequence_header_is_enhanced_flv);
	RUN(test_aac_sequence_header_carries_the_config);
	RUN(test_no_config_for_codecs_flv_does_not_carry);
	RUN(test_avc_picture_prefix);
	RUN(test_hevc_picture_prefix_is_coded_frames);
	RUN(test_aac_frame_prefix);
	RUN(test_a_kind_that_does_not_match_its_params_is_refused);
	RUN(test_data_over_a_tags_limit_is_refused);
	return CHECK_DONE();
}
