/* fmp4: the fragmented-MP4 writer (src/media/fmp4.c). The boxes are read back field by field
 * against ISO/IEC 14496-12/-14/-15; then whole streams made of real libx264, libx265 and aac
 * encoder output are read back by libavformat's mov demuxer and decoded by libavcodec, and
 * by the ffmpeg command, as players would. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "audio_gen.h"
#include "check.h"
#include "codedlog.h"
#include "data/param_sets.h"
#include "fmp4.h"
#include "mp4_read.h"
#include "strbuf.h"
#include "video_gen.h"

static const uint8_t asc_lc_48k_stereo[] = { 0x11, 0x90 };   /* AAC LC, 48 kHz, 2 ch */
static const uint8_t asc_he_24k_mono[] = { 0x2b, 0x08 };     /* SBR (5), 24 kHz, 1 ch */

/* ---- reading boxes back ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

struct box {
	char type[5];
	const uint8_t *p;       /* the box's first byte */
	size_t size;
	const uint8_t *body;    /* after size and type (a full box's version/flags included) */
	size_t body_len;
};

/* Bytes between a box's header and its first child, for the boxes the tests enter. */
static size_t children_at(const char *type)
{
	if (!strcmp(type, "stsd") || !strcmp(type, "dref"))
		return 8;
	if (!strcmp(type, "avc1") || !strcmp(type, "hvc1"))
		return 78;
	if (!strcmp(type, "mp4a"))
		return 28;
	return 0;
}

static bool is_container(const char *type)
{
	static const char *const c[] = { "moov", "trak", "mdia", "minf", "dinf", "dref", "stbl",
		"stsd", "avc1", "hvc1", "mp4a", "mvex", "moof", "traf" };
	for (size_t i = 0; i < N(c); i++)
		if (!strcmp(type, c[i]))
			return true;
	return false;
}

/* The box at @p, if [p, p + len) holds all of it. */
static bool box_read(const uint8_t *p, size_t len, struct box *b)
{
	if (len < 8 || be32(p) < 8 || be32(p) > len)
		return false;
	memcpy(b->type, p + 4, 4);
	b->type[4] = '\0';
	b->p = p;
	b->size = be32(p);
	b->body = p + 8;
	b->body_len = b->size - 8;
	return true;
}

/* Whether the boxes in [p, p + len) fill it exactly, and so do the children of each
 * container among them, all the way down. */
static bool tree_ok(const uint8_t *p, size_t len)
{
	struct box b;
	while (len) {
		if (!box_read(p, len, &b))
			return false;
		if (is_container(b.type)) {
			size_t at = children_at(b.type);
			if (at > b.body_len || !tree_ok(b.body + at, b.body_len - at))
				return false;
		}
		p += b.size;
		len -= b.size;
	}
	return true;
}

/* The @nth (from 0) box of @type among those in [p, p + len). */
static bool box_find(const uint8_t *p, size_t len, const char *type, int nth, struct box *b)
{
	while (len && box_read(p, len, b)) {
		if (!strcmp(b->type, type) && nth-- == 0)
			return true;
		p += b->size;
		len -= b->size;
	}
	return false;
}

/* Follows @path from the top level: "moov/trak.1/mdia/mdhd", ".N" the Nth of its type. */
static bool box_at(const uint8_t *buf, size_t len, const char *path, struct box *b)
{
	char step[16];
	const uint8_t *p = buf;
	size_t n = len;
	while (*path) {
		size_t k = strcspn(path, "/");
		if (k >= sizeof(step))
			return false;
		memcpy(step, path, k);
		step[k] = '\0';
		path += k + (path[k] == '/');
		int nth = 0;
		char *dot = strchr(step, '.');
		if (dot) {
			*dot = '\0';
			nth = (int)strtol(dot + 1, NULL, 10);
		}
		if (!box_find(p, n, step, nth, b))
			return false;
		size_t at = children_at(b->type);
		p = b->body + (at <= b->body_len ? at : b->body_len);
		n = b->body_len - (at <= b->body_len ? at : b->body_len);
	}
	return true;
}

/* ---- parameters ---- */

static struct coded_params *h264_params(void)
{
	const uint8_t *sets[] = { b320_sps, b320_pps };
	const size_t lens[] = { sizeof(b320_sps), sizeof(b320_pps) };
	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *h264_1080_params(void)
{
	const uint8_t *sets[] = { h1080_sps, h1080_pps };
	const size_t lens[] = { sizeof(h1080_sps), sizeof(h1080_pps) };
	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *h265_params(void)
{
	const uint8_t *sets[] = { e720_vps, e720_sps, e720_pps };
	const size_t lens[] = { sizeof(e720_vps), sizeof(e720_sps), sizeof(e720_pps) };
	return coded_params_video(CODED_H265, sets, lens, 3);
}

static struct coded_params *aac_params(void)
{
	return coded_params_audio(CODED_AAC, 48000, 2, asc_lc_48k_stereo,
		sizeof(asc_lc_48k_stereo));
}

/* Parameters on the stack around bytes a test made (a record the log would never make). */
static struct coded_params raw_params(enum coded_kind kind, enum coded_codec codec,
	const uint8_t *config, size_t len)
{
	struct coded_params p = { .kind = kind, .codec = codec, .config = config,
		.config_len = len, .width = 320, .height = 240, .sample_rate = 48000,
		.channels = 2 };
	return p;
}

/* ---- the init segment ---- */

struct init {
	struct strbuf sb;
	const uint8_t *p;
	size_t len;
};

static bool make_init(struct init *in, const struct coded_params *v,
	const struct coded_params *a)
{
	in->sb = (struct strbuf)STRBUF_INIT;
	int r = fmp4_init(&in->sb, v, a);
	in->p = (const uint8_t *)in->sb.p;
	in->len = in->sb.len;
	return r == 0 && in->p && in->len;
}

static void test_init_is_ftyp_then_moov_and_every_box_fits(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	struct init in;
	CHECK(make_init(&in, v, a));
	struct box ftyp, moov;
	CHECK(box_read(in.p, in.len, &ftyp) && !strcmp(ftyp.type, "ftyp"));
	CHECK(box_read(in.p + ftyp.size, in.len - ftyp.size, &moov) && !strcmp(moov.type, "moov"));
	CHECK(ftyp.size + moov.size == in.len);
	CHECK(tree_ok(in.p, in.len));
	sb_free(&in.sb);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_ftyp_claims_cmaf_only_for_one_track(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, NULL));
	CHECK(box_at(in.p, in.len, "ftyp", &b));
	CHECK(b.body_len == 8 + 6 * 4);
	CHECK(!memcmp(b.body, "iso6\0\0\0\0iso6cmfcisomiso5dashmp41", 32));
	sb_free(&in.sb);
	CHECK(make_init(&in, v, a));
	CHECK(box_at(in.p, in.len, "ftyp", &b));
	CHECK(b.body_len == 8 + 5 * 4);
	CHECK(!memcmp(b.body, "iso6\0\0\0\0iso6isomiso5dashmp41", 28));
	sb_free(&in.sb);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_mvhd_has_a_millisecond_timescale_and_the_next_track_id(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, a));
	CHECK(box_at(in.p, in.len, "moov/mvhd", &b));
	CHECK(b.size == 108);
	CHECK(be32(b.body) == 0);               /* version 0, no flags */
	CHECK(be32(b.body + 12) == 1000);       /* timescale */
	CHECK(be32(b.body + 16) == 0);          /* duration */
	CHECK(be32(b.body + 20) == 0x00010000); /* rate */
	CHECK(be32(b.body + 96) == 3);          /* next_track_ID */
	sb_free(&in.sb);
	CHECK(make_init(&in, v, NULL));
	CHECK(box_at(in.p, in.len, "moov/mvhd", &b) && be32(b.body + 96) == 2);
	sb_free(&in.sb);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_video_track_headers(void)
{
	struct coded_params *v = h264_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, NULL));
	CHECK(box_at(in.p, in.len, "moov/trak/tkhd", &b));
	CHECK(b.size == 92);
	CHECK(be32(b.body) == 3);               /* version 0, enabled | in movie */
	CHECK(be32(b.body + 12) == FMP4_VIDEO_TRACK);
	CHECK(be16(b.body + 36) == 0);          /* volume */
	CHECK(be32(b.body + 40) == 0x00010000); /* matrix a */
	CHECK(be32(b.body + 72) == 0x40000000); /* matrix w */
	CHECK(be32(b.body + 76) == 320u << 16);
	CHECK(be32(b.body + 80) == 240u << 16);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/mdhd", &b));
	CHECK(b.size == 32 && be32(b.body + 12) == FMP4_VIDEO_TIMESCALE);
	CHECK(be16(b.body + 20) == 0x55c4);     /* "und" */
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/hdlr", &b));
	CHECK(!memcmp(b.body + 8, "vide", 4));
	CHECK(b.body[b.body_len - 1] == '\0');
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/vmhd", &b));
	CHECK(b.size == 20 && be32(b.body) == 1);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/dinf/dref", &b) && be32(b.body + 4) == 1);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/dinf/dref/url ", &b));
	CHECK(b.size == 12 && be32(b.body) == 1); /* self-contained */
	CHECK(!box_at(in.p, in.len, "moov/trak.1", &b));
	sb_free(&in.sb);
	coded_params_unref(v);
}

static void test_sample_tables_are_empty(void)
{
	struct coded_params *v = h264_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, NULL));
	static const char *const t[] = { "stts", "stsc", "stco" };
	for (size_t i = 0; i < N(t); i++) {
		char path[64];
		snprintf(path, sizeof(path), "moov/trak/mdia/minf/stbl/%s", t[i]);
		CHECK(box_at(in.p, in.len, path, &b) && b.size == 16 && be32(b.body + 4) == 0);
	}
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsz", &b));
	CHECK(b.size == 20 && be32(b.body + 4) == 0 && be32(b.body + 8) == 0);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd", &b) && be32(b.body + 4) == 1);
	sb_free(&in.sb);
	coded_params_unref(v);
}

static void test_avc1_entry_carries_the_size_and_the_avcc_record(void)
{
	struct coded_params *v = h264_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, NULL));
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd/avc1", &b));
	CHECK(be16(b.body + 6) == 1);           /* data_reference_index */
	CHECK(be16(b.body + 24) == 320 && be16(b.body + 26) == 240);
	CHECK(be32(b.body + 28) == 0x00480000);
	CHECK(be16(b.body + 40) == 1);          /* frame_count */
	CHECK(be16(b.body + 74) == 0x18);       /* depth */
	CHECK(be16(b.body + 76) == 0xffff);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC", &b));
	CHECK(b.body_len == v->config_len && !memcmp(b.body, v->config, v->config_len));
	CHECK(!memcmp(b.body, b320_avcc, sizeof(b320_avcc)));
	sb_free(&in.sb);
	coded_params_unref(v);
}

static void test_hvc1_entry_carries_the_hvcc_record(void)
{
	struct coded_params *v = h265_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, NULL));
	CHECK(tree_ok(in.p, in.len));
	CHECK(!box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd/avc1", &b));
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd/hvc1", &b));
	CHECK(be16(b.body + 24) == 1280 && be16(b.body + 26) == 720);
	CHECK(box_at(in.p, in.len, "moov/trak/mdia/minf/stbl/stsd/hvc1/hvcC", &b));
	CHECK(b.body_len == v->config_len && !memcmp(b.body, v->config, v->config_len));
	CHECK(box_at(in.p, in.len, "moov/trak/tkhd", &b) && be32(b.body + 76) == 1280u << 16);
	sb_free(&in.sb);
	coded_params_unref(v);
}

static void test_audio_track_is_mp4a_with_the_asc_in_esds(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, a));
	CHECK(box_at(in.p, in.len, "moov/trak.1/tkhd", &b));
	CHECK(be32(b.body + 12) == FMP4_AUDIO_TRACK);
	CHECK(be16(b.body + 34) == 1);          /* alternate_group */
	CHECK(be16(b.body + 36) == 0x0100);     /* volume */
	CHECK(be32(b.body + 76) == 0 && be32(b.body + 80) == 0);
	CHECK(box_at(in.p, in.len, "moov/trak.1/mdia/mdhd", &b) && be32(b.body + 12) == 48000);
	CHECK(box_at(in.p, in.len, "moov/trak.1/mdia/hdlr", &b) && !memcmp(b.body + 8, "soun", 4));
	CHECK(box_at(in.p, in.len, "moov/trak.1/mdia/minf/smhd", &b) && b.size == 16);
	CHECK(box_at(in.p, in.len, "moov/trak.1/mdia/minf/stbl/stsd/mp4a", &b));
	CHECK(be16(b.body + 6) == 1);
	CHECK(be16(b.body + 16) == 2);          /* channelcount */
	CHECK(be16(b.body + 18) == 16);         /* samplesize */
	CHECK(be32(b.body + 24) == 48000u << 16);
	CHECK(box_at(in.p, in.len, "moov/trak.1/mdia/minf/stbl/stsd/mp4a/esds", &b));
	const uint8_t *d = b.body + 4;          /* after version and flags */
	/* ES_Descriptor, its 4-byte size, ES_ID, flags */
	CHECK(d[0] == 0x03 && (d[1] & 0x80) && d[4] == 3 + 5 + 13 + 5 + 2 + 5 + 1);
	CHECK(be16(d + 5) == FMP4_AUDIO_TRACK && d[7] == 0);
	d += 8;                                 /* DecoderConfigDescriptor */
	CHECK(d[0] == 0x04 && d[4] == 13 + 5 + 2);
	CHECK(d[5] == 0x40 && d[6] == 0x15);    /* 14496-3 audio; AudioStream, reserved 1 */
	d += 5 + 13;                            /* DecoderSpecificInfo */
	CHECK(d[0] == 0x05 && d[4] == 2 && !memcmp(d + 5, asc_lc_48k_stereo, 2));
	d += 7;                                 /* SLConfigDescriptor */
	CHECK(d[0] == 0x06 && d[4] == 1 && d[5] == 2);
	CHECK(d + 6 == b.p + b.size);
	sb_free(&in.sb);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_mvex_has_a_trex_per_track(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	struct init in;
	struct box b;
	CHECK(make_init(&in, v, a));
	for (int t = 0; t < 2; t++) {
		char path[32];
		snprintf(path, sizeof(path), "moov/mvex/trex.%d", t);
		CHECK(box_at(in.p, in.len, path, &b) && b.size == 32);
		CHECK(be32(b.body + 4) == (uint32_t)t + 1);
		CHECK(be32(b.body + 8) == 1);
	}
	CHECK(!box_at(in.p, in.len, "moov/mvex/trex.2", &b));
	sb_free(&in.sb);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_init_appends_to_what_the_buffer_holds(void)
{
	struct coded_params *v = h264_params();
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "xyz");
	CHECK(fmp4_init(&sb, v, NULL) == 0);
	CHECK(!memcmp(sb.p, "xyz", 3) && box_read((uint8_t *)sb.p + 3, sb.len - 3,
		&(struct box){ 0 }));
	CHECK(tree_ok((uint8_t *)sb.p + 3, sb.len - 3));
	sb_free(&sb);
	coded_params_unref(v);
}

/* -EINVAL and nothing appended. */
static void check_refused(const struct coded_params *v, const struct coded_params *a)
{
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "xyz");
	CHECK(fmp4_init(&sb, v, a) == -EINVAL);
	CHECK(sb.len == 3 && !sb.failed);
	sb_free(&sb);
}

static void test_init_refuses_other_codecs_and_kinds(void)
{
	struct coded_params *v = h264_params(), *a = aac_params();
	check_refused(NULL, NULL);
	check_refused(NULL, a);
	check_refused(a, NULL);
	check_refused(v, v);
	struct coded_params pcma = raw_params(CODED_AUDIO, CODED_PCMA, asc_lc_48k_stereo, 2);
	check_refused(v, &pcma);
	/* an avcC record called H.265 does not parse as hvcC */
	struct coded_params wrong = raw_params(CODED_VIDEO, CODED_H265, v->config, v->config_len);
	check_refused(&wrong, NULL);
	CHECK(fmp4_init(NULL, v, NULL) == -EINVAL);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_init_refuses_every_truncation_of_a_record(void)
{
	struct coded_params *v = h264_params(), *h = h265_params();
	for (size_t n = 0; n < sizeof(b320_avcc); n++) {
		struct coded_params p = raw_params(CODED_VIDEO, CODED_H264, b320_avcc, n);
		check_refused(&p, NULL);
	}
	for (size_t n = 0; n < h->config_len; n++) {
		struct coded_params p = raw_params(CODED_VIDEO, CODED_H265, h->config, n);
		check_refused(&p, NULL);
	}
	struct coded_params nul = raw_params(CODED_VIDEO, CODED_H264, NULL, 10);
	check_refused(&nul, NULL);
	coded_params_unref(v);
	coded_params_unref(h);
}

static void test_init_refuses_records_samples_could_not_follow(void)
{
	struct coded_params *v = h264_params();
	uint8_t rec[sizeof(b320_avcc)];
	/* 2-byte lengths: the log's samples have 4 */
	memcpy(rec, b320_avcc, sizeof(rec));
	rec[4] = 0xfd;
	struct coded_params p = raw_params(CODED_VIDEO, CODED_H264, rec, sizeof(rec));
	check_refused(&p, NULL);
	/* no PPS */
	memcpy(rec, b320_avcc, sizeof(rec));
	rec[32] = 0;
	p = raw_params(CODED_VIDEO, CODED_H264, rec, 33);
	check_refused(&p, NULL);
	/* another version */
	memcpy(rec, b320_avcc, sizeof(rec));
	rec[0] = 2;
	p = raw_params(CODED_VIDEO, CODED_H264, rec, sizeof(rec));
	check_refused(&p, NULL);
	/* no size, or one a 16-bit field cannot hold */
	p = raw_params(CODED_VIDEO, CODED_H264, b320_avcc, sizeof(b320_avcc));
	p.width = 0;
	check_refused(&p, NULL);
	p.width = 65536;
	check_refused(&p, NULL);
	/* and the record as it was is taken: each refusal above was for what was changed */
	struct strbuf sb = STRBUF_INIT;
	p = raw_params(CODED_VIDEO, CODED_H264, b320_avcc, sizeof(b320_avcc));
	CHECK(fmp4_init(&sb, &p, NULL) == 0);
	sb_free(&sb);
	coded_params_unref(v);
}

static void test_init_refuses_audio_it_cannot_describe(void)
{
	struct coded_params *v = h264_params();
	static const uint8_t one[] = { 0x11 };
	static const uint8_t aot0[] = { 0x01, 0x90 };
	struct coded_params a = raw_params(CODED_AUDIO, CODED_AAC, one, 1);
	check_refused(v, &a);
	a = raw_params(CODED_AUDIO, CODED_AAC, aot0, 2);
	check_refused(v, &a);
	a = raw_params(CODED_AUDIO, CODED_AAC, asc_lc_48k_stereo, 2);
	a.sample_rate = 0;
	check_refused(v, &a);
	a = raw_params(CODED_AUDIO, CODED_AAC, asc_lc_48k_stereo, 2);
	a.channels = 0;
	check_refused(v, &a);
	a = raw_params(CODED_AUDIO, CODED_AAC, asc_lc_48k_stereo, FMP4_MAX_CONFIG + 1);
	check_refused(v, &a);
	coded_params_unref(v);
}

/* ---- fragments ---- */

struct moof {
	uint8_t buf[4096];
	size_t len;
};

static size_t write_moof(struct moof *m, uint32_t seq, const struct fmp4_run *runs, size_t n)
{
	m->len = fmp4_moof_write(m->buf, sizeof(m->buf), seq, runs, n);
	return m->len;
}

static const struct fmp4_sample video3[] = {
	{ .size = 1000, .duration = 3600, .cts = 7200, .key = true },
	{ .size = 300, .duration = 3600, .cts = -3600, .key = false },
	{ .size = 200, .duration = 3000, .cts = 0, .key = false },
};
static const struct fmp4_sample audio2[] = {
	{ .size = 371, .duration = 1024, .key = false },
	{ .size = 12, .duration = 1024, .key = true },
};

static void test_moof_layout(void)
{
	struct fmp4_run runs[] = {
		{ FMP4_VIDEO_TRACK, 0x123456789ull, video3, N(video3) },
		{ FMP4_AUDIO_TRACK, 480000, audio2, N(audio2) },
	};
	struct moof m;
	size_t n = write_moof(&m, 77, runs, 2);
	CHECK(n == fmp4_moof_size(runs, 2));
	size_t moof_len = 8 + 16 + (8 + 16 + 20 + 20 + 3 * 16) + (8 + 16 + 20 + 20 + 2 * 12);
	CHECK(n == moof_len + 8);
	struct box b;
	CHECK(box_read(m.buf, n, &b) && !strcmp(b.type, "moof") && b.size == moof_len);
	CHECK(tree_ok(m.buf, moof_len));
	CHECK(!memcmp(m.buf + moof_len + 4, "mdat", 4));
	CHECK(be32(m.buf + moof_len) == 8 + 1500 + 383); /* the header and every sample */
	CHECK(box_at(m.buf, n, "moof/mfhd", &b) && b.size == 16 && be32(b.body + 4) == 77);

	CHECK(box_at(m.buf, n, "moof/traf/tfhd", &b) && b.size == 16);
	CHECK(be32(b.body) == 0x020000 && be32(b.body + 4) == FMP4_VIDEO_TRACK);
	CHECK(box_at(m.buf, n, "moof/traf/tfdt", &b) && b.size == 20);
	CHECK(b.body[0] == 1 && be64(b.body + 4) == 0x123456789ull);
	CHECK(box_at(m.buf, n, "moof/traf/trun", &b));
	CHECK(be32(b.body) == (1u << 24 | 0xf01)); /* version 1; offset, dur, size, flags, cts */
	CHECK(be32(b.body + 4) == 3);
	const uint8_t *s = b.body + 12;
	for (size_t i = 0; i < N(video3); i++, s += 16) {
		CHECK(be32(s) == video3[i].duration);
		CHECK(be32(s + 4) == video3[i].size);
		CHECK(be32(s + 8) == (video3[i].key ? 0x02000000u : 0x01010000u));
		CHECK((int32_t)be32(s + 12) == video3[i].cts);
	}
	CHECK(s == b.p + b.size);

	CHECK(box_at(m.buf, n, "moof/traf.1/tfhd", &b) && be32(b.body + 4) == FMP4_AUDIO_TRACK);
	CHECK(box_at(m.buf, n, "moof/traf.1/tfdt", &b) && be64(b.body + 4) == 480000);
	CHECK(box_at(m.buf, n, "moof/traf.1/trun", &b));
	CHECK(be32(b.body) == 0x701 && be32(b.body + 4) == 2); /* version 0, no cts */
	s = b.body + 12;
	for (size_t i = 0; i < N(audio2); i++, s += 12) {
		CHECK(be32(s) == 1024 && be32(s + 4) == audio2[i].size);
		CHECK(be32(s + 8) == 0x02000000u); /* every audio sample is a sync sample */
	}
	CHECK(s == b.p + b.size);
}

static void test_data_offsets_point_at_each_runs_first_sample(void)
{
	struct fmp4_run runs[] = {
		{ FMP4_AUDIO_TRACK, 0, audio2, N(audio2) },
		{ FMP4_VIDEO_TRACK, 0, video3, N(video3) },
		{ FMP4_AUDIO_TRACK, 2048, audio2, 1 },
	};
	struct moof m;
	size_t n = write_moof(&m, 1, runs, N(runs));
	CHECK(n > 0);
	/* the fragment as sent: moof, mdat header, then each run's samples, each sample's
	 * bytes its run and sample number */
	static uint8_t frag[8192];
	memcpy(frag, m.buf, n);
	size_t at = n;
	for (size_t r = 0; r < N(runs); r++)
		for (size_t k = 0; k < runs[r].n; k++) {
			memset(frag + at, (int)(r << 4 | k), runs[r].samples[k].size);
			at += runs[r].samples[k].size;
		}
	CHECK(be32(frag + n - 8) == at - (n - 8));
	for (size_t r = 0; r < N(runs); r++) {
		char path[32];
		struct box b;
		snprintf(path, sizeof(path), "moof/traf.%zu/trun", r);
		CHECK(box_at(frag, n, path, &b));
		uint32_t off = be32(b.body + 8);
		CHECK(off >= n && off < at);
		CHECK(frag[off] == (uint8_t)(r << 4));
		/* the run's last sample ends where the next run starts */
		size_t len = 0;
		for (size_t k = 0; k < runs[r].n; k++)
			len += runs[r].samples[k].size;
		CHECK(frag[off + len - 1] == (uint8_t)(r << 4 | (runs[r].n - 1)));
	}
}

static void test_moof_size_is_what_is_written_and_a_short_buffer_gets_nothing(void)
{
	struct fmp4_run run = { FMP4_VIDEO_TRACK, 0, video3, N(video3) };
	size_t need = fmp4_moof_size(&run, 1);
	CHECK(need == 8 + 16 + 8 + 16 + 20 + 20 + 3 * 16 + 8);
	uint8_t buf[512];
	memset(buf, 0xa5, sizeof(buf));
	CHECK(fmp4_moof_write(buf, need - 1, 1, &run, 1) == 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK(buf[i] == 0xa5);
	CHECK(fmp4_moof_write(buf, need, 1, &run, 1) == need);
	CHECK(buf[need] == 0xa5);
}

static void test_moof_refuses_runs_it_cannot_write(void)
{
	uint8_t buf[512];
	struct fmp4_run ok = { FMP4_VIDEO_TRACK, 0, video3, N(video3) };
	CHECK(fmp4_moof_size(NULL, 1) == 0 && fmp4_moof_write(buf, sizeof(buf), 1, NULL, 1) == 0);
	CHECK(fmp4_moof_size(&ok, 0) == 0 && fmp4_moof_write(buf, sizeof(buf), 1, &ok, 0) == 0);
	CHECK(fmp4_moof_write(NULL, sizeof(buf), 1, &ok, 1) == 0);
	struct fmp4_run bad[] = {
		{ FMP4_VIDEO_TRACK, 0, video3, 0 },
		{ FMP4_VIDEO_TRACK, 0, NULL, 3 },
		{ 0, 0, video3, N(video3) },
		{ 3, 0, video3, N(video3) },
	};
	for (size_t i = 0; i < N(bad); i++) {
		struct fmp4_run two[] = { ok, bad[i] };
		CHECK(fmp4_moof_size(&bad[i], 1) == 0);
		CHECK(fmp4_moof_size(two, 2) == 0);
		CHECK(fmp4_moof_write(buf, sizeof(buf), 1, two, 2) == 0);
	}
	/* an mdat whose offsets a signed 32-bit data_offset cannot reach */
	struct fmp4_sample big[] = {
		{ .size = 0x40000000, .duration = 1, .key = true },
		{ .size = 0x40000000, .duration = 1 },
	};
	struct fmp4_run huge = { FMP4_VIDEO_TRACK, 0, big, 2 };
	CHECK(fmp4_moof_size(&huge, 1) == 0);
	huge.n = 1;
	CHECK(fmp4_moof_size(&huge, 1) == 8 + 16 + 8 + 16 + 20 + 20 + 16 + 8);
	struct fmp4_sample max = { .size = UINT32_MAX, .duration = 1, .key = true };
	struct fmp4_run all = { FMP4_AUDIO_TRACK, 0, &max, 1 };
	CHECK(fmp4_moof_size(&all, 1) == 0);
}

/* ---- codecs names ---- */

static void check_name(const struct coded_params *p, const char *want)
{
	char buf[64];
	CHECK(fmp4_codec_string(p, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, want);
	/* exactly the room it needs, and one byte less */
	size_t n = strlen(want);
	CHECK(fmp4_codec_string(p, buf, n + 1) == 0);
	CHECK(fmp4_codec_string(p, buf, n) == -EINVAL && buf[0] == '\0');
}

static void test_codec_string_of_h264_is_profile_compat_level(void)
{
	struct coded_params *b = h264_params(), *h = h264_1080_params();
	check_name(b, "avc1.42c00d");
	check_name(h, "avc1.640028");
	coded_params_unref(b);
	coded_params_unref(h);
}

static void test_codec_string_of_h265_follows_14496_15_annex_e(void)
{
	struct coded_params *h = h265_params();
	check_name(h, "hvc1.1.6.L93.90");
	uint8_t rec[128];
	CHECK(h->config_len <= sizeof(rec));
	memcpy(rec, h->config, h->config_len);
	/* profile space 1, high tier, Main 10 compatible with Main 10 only, level 5.1, the
	 * constraint bytes B0 00 00 00 00 01 */
	rec[1] = 0x40 | 0x20 | 2;
	rec[2] = 0x20, rec[3] = 0, rec[4] = 0, rec[5] = 0;
	rec[6] = 0xb0, rec[11] = 0x01;
	rec[12] = 153;
	struct coded_params p = raw_params(CODED_VIDEO, CODED_H265, rec, h->config_len);
	check_name(&p, "hvc1.A2.4.H153.B0.0.0.0.0.1");
	/* no constraint flags at all */
	memset(rec + 6, 0, 6);
	rec[1] = 0xc1;
	rec[2] = 0x60;
	check_name(&p, "hvc1.C1.6.L153");
	coded_params_unref(h);
}

static void test_codec_string_of_aac_is_the_audio_object_type(void)
{
	struct coded_params *lc = aac_params();
	check_name(lc, "mp4a.40.2");
	struct coded_params he = raw_params(CODED_AUDIO, CODED_AAC, asc_he_24k_mono, 2);
	check_name(&he, "mp4a.40.5");
	static const uint8_t escape[] = { 0xf8, 0x20, 0x00 }; /* 31, then 1: type 33 */
	struct coded_params esc = raw_params(CODED_AUDIO, CODED_AAC, escape, 3);
	check_name(&esc, "mp4a.40.33");
	coded_params_unref(lc);
}

static void test_codec_string_refuses_other_codecs_and_short_records(void)
{
	char buf[64] = "x";
	struct coded_params pcma = raw_params(CODED_AUDIO, CODED_PCMA, asc_lc_48k_stereo, 2);
	CHECK(fmp4_codec_string(&pcma, buf, sizeof(buf)) == -EINVAL && buf[0] == '\0');
	struct coded_params aac_as_video = raw_params(CODED_VIDEO, CODED_AAC, asc_lc_48k_stereo, 2);
	CHECK(fmp4_codec_string(&aac_as_video, buf, sizeof(buf)) == -EINVAL);
	struct coded_params avc = raw_params(CODED_VIDEO, CODED_H264, b320_avcc, 3);
	CHECK(fmp4_codec_string(&avc, buf, sizeof(buf)) == -EINVAL);
	struct coded_params hevc = raw_params(CODED_VIDEO, CODED_H265, e720_hvcc, 22);
	CHECK(fmp4_codec_string(&hevc, buf, sizeof(buf)) == -EINVAL);
	struct coded_params aac = raw_params(CODED_AUDIO, CODED_AAC, asc_lc_48k_stereo, 1);
	CHECK(fmp4_codec_string(&aac, buf, sizeof(buf)) == -EINVAL);
	CHECK(fmp4_codec_string(NULL, buf, sizeof(buf)) == -EINVAL && buf[0] == '\0');
	CHECK(fmp4_codec_string(&avc, NULL, 10) == -EINVAL);
	CHECK(fmp4_codec_string(&avc, buf, 0) == -EINVAL);
}

/* ---- video samples ---- */

static void test_video_sample_leaves_out_parameter_sets_and_delimiters(void)
{
	static const uint8_t au[] = {
		0, 0, 0, 2, 0x09, 0xf0,                 /* AUD */
		0, 0, 0, 3, 0x67, 0x42, 0xc0,           /* SPS (enough of one for its type) */
		0, 0, 0, 2, 0x68, 0xcb,                 /* PPS */
		0, 0, 0, 3, 0x06, 0x05, 0x01,           /* SEI */
		0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00,     /* IDR slice */
	};
	uint8_t out[64];
	static const uint8_t want[] = {
		0, 0, 0, 3, 0x06, 0x05, 0x01, 0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00,
	};
	CHECK(fmp4_video_sample(CODED_H264, au, sizeof(au), NULL, 0) == sizeof(want));
	CHECK(fmp4_video_sample(CODED_H264, au, sizeof(au), out, sizeof(want)) == sizeof(want));
	CHECK(!memcmp(out, want, sizeof(want)));
	memset(out, 0xa5, sizeof(out));
	CHECK(fmp4_video_sample(CODED_H264, au, sizeof(au), out, sizeof(want) - 1) ==
		sizeof(want));
	CHECK(out[0] == 0xa5);
	/* H.265: VPS, SPS, PPS (32..34) and AUD (35) go; an IDR_W_RADL (19) stays */
	static const uint8_t hau[] = {
		0, 0, 0, 3, 0x46, 0x01, 0x50,
		0, 0, 0, 2, 0x40, 0x01, 0, 0, 0, 2, 0x42, 0x01, 0, 0, 0, 2, 0x44, 0x01,
		0, 0, 0, 3, 0x26, 0x01, 0xaf,
	};
	CHECK(fmp4_video_sample(CODED_H265, hau, sizeof(hau), out, sizeof(out)) == 7);
	CHECK(!memcmp(out, hau + sizeof(hau) - 7, 7));
	/* nothing left, malformed, another codec */
	CHECK(fmp4_video_sample(CODED_H264, au + 6, 13, out, sizeof(out)) == 0);
	CHECK(fmp4_video_sample(CODED_H264, au, sizeof(au) - 1, out, sizeof(out)) == 0);
	CHECK(fmp4_video_sample(CODED_AAC, au, sizeof(au), out, sizeof(out)) == 0);
}

/* ---- whole streams, read back by FFmpeg ---- */

/* A sample as the test means it: its track, decode time, bytes. */
struct tsample {
	unsigned track;
	uint64_t dts;
	struct fmp4_sample s;
	uint8_t *bytes;
};

struct stream {
	struct tsample *v, *a;
	size_t nv, na;
	struct coded_params *vp, *ap;
	struct strbuf file;     /* init, then every fragment */
	size_t fragments;
};

static void stream_free(struct stream *st)
{
	for (size_t i = 0; i < st->nv; i++)
		free(st->v[i].bytes);
	for (size_t i = 0; i < st->na; i++)
		free(st->a[i].bytes);
	free(st->v);
	free(st->a);
	coded_params_unref(st->vp);
	coded_params_unref(st->ap);
	sb_free(&st->file);
	memset(st, 0, sizeof(*st));
}

/* The pictures as a source logs them (coded_entry_from_au), made samples; pts - dts - @shift
 * frames is each one's composition offset (with @shift 0, pts >= dts as encoders give). */
static bool stream_video(struct stream *st, enum coded_codec codec, const struct gen_video *g,
	int shift)
{
	uint32_t frame = FMP4_VIDEO_TIMESCALE / (uint32_t)g->fps;
	st->v = calloc(g->n, sizeof(*st->v));
	if (!st->v)
		return false;
	for (size_t i = 0; i < g->n; i++) {
		const struct gen_picture *pic = &g->pics[i];
		struct coded_entry *e = NULL;
		struct coded_params *changed = NULL;
		if (coded_entry_from_au(codec, pic->data, pic->len, 0, st->vp, &e, &changed) != 0)
			return false;
		if (changed) {
			if (st->vp)
				return false; /* the encoder repeats the same sets */
			st->vp = changed;
		}
		struct tsample *t = &st->v[st->nv++];
		size_t n = fmp4_video_sample(codec, e->data, e->len, NULL, 0);
		t->bytes = n ? malloc(n) : NULL;
		if (!t->bytes || fmp4_video_sample(codec, e->data, e->len, t->bytes, n) != n) {
			coded_entry_unref(e);
			return false;
		}
		coded_entry_unref(e);
		t->track = FMP4_VIDEO_TRACK;
		t->dts = (uint64_t)(pic->dts - g->pics[0].dts) * frame;
		t->s = (struct fmp4_sample){ .size = (uint32_t)n, .duration = frame,
			.cts = (int32_t)((pic->pts - pic->dts - shift) * frame), .key = pic->key };
	}
	return st->vp != NULL;
}

static bool stream_audio(struct stream *st, const struct gen_audio *g)
{
	st->ap = coded_params_audio(CODED_AAC, (unsigned)g->par->sample_rate,
		(unsigned)g->par->ch_layout.nb_channels, g->par->extradata,
		(size_t)g->par->extradata_size);
	st->a = calloc(g->n, sizeof(*st->a));
	if (!st->ap || !st->a)
		return false;
	for (size_t i = 0; i < g->n; i++) {
		struct tsample *t = &st->a[st->na++];
		t->bytes = malloc(g->pkts[i].len);
		if (!t->bytes)
			return false;
		memcpy(t->bytes, g->pkts[i].data, g->pkts[i].len);
		t->track = FMP4_AUDIO_TRACK;
		t->dts = (uint64_t)i * 1024;
		t->s = (struct fmp4_sample){ .size = (uint32_t)g->pkts[i].len, .duration = 1024,
			.key = true };
	}
	return true;
}

/* One fragment: video samples [v0, v1), then the audio samples that start before the
 * fragment's end time. */
static bool stream_fragment(struct stream *st, size_t v0, size_t v1, size_t *a0, bool last)
{
	struct fmp4_sample vs[64], as[64];
	struct fmp4_run runs[2];
	size_t n_runs = 0, nv = 0, na = 0;
	if (v1 - v0 > N(vs))
		return false;
	for (size_t i = v0; i < v1; i++)
		vs[nv++] = st->v[i].s;
	runs[n_runs++] = (struct fmp4_run){ FMP4_VIDEO_TRACK, st->v[v0].dts, vs, nv };
	uint64_t end = v1 < st->nv ? st->v[v1].dts : UINT64_MAX; /* 90 kHz */
	size_t a_first = *a0;
	if (st->ap) {
		while (*a0 < st->na && na < N(as) && (last || st->a[*a0].dts *
			FMP4_VIDEO_TIMESCALE / st->ap->sample_rate < end))
			as[na++] = st->a[(*a0)++].s;
		if (na)
			runs[n_runs++] = (struct fmp4_run){ FMP4_AUDIO_TRACK, st->a[a_first].dts, as,
				na };
	}
	size_t need = fmp4_moof_size(runs, n_runs);
	uint8_t *moof = need ? malloc(need) : NULL;
	if (!moof || fmp4_moof_write(moof, need, (uint32_t)++st->fragments, runs, n_runs) !=
		need) {
		free(moof);
		return false;
	}
	sb_add(&st->file, moof, need);
	free(moof);
	for (size_t i = v0; i < v1; i++)
		sb_add(&st->file, st->v[i].bytes, st->v[i].s.size);
	for (size_t i = a_first; i < a_first + na; i++)
		sb_add(&st->file, st->a[i].bytes, st->a[i].s.size);
	return !st->file.failed;
}

/* The init segment, then fragments of @part pictures at most, a key picture always
 * starting a new one (the parts of the HLS contract). */
static bool stream_write(struct stream *st, size_t part)
{
	if (fmp4_init(&st->file, st->vp, st->ap) != 0)
		return false;
	size_t start = 0, a0 = 0;
	for (size_t i = 1; i <= st->nv; i++)
		if (i == st->nv || st->v[i].s.key || i - start == part) {
			if (!stream_fragment(st, start, i, &a0, i == st->nv))
				return false;
			start = i;
		}
	return a0 == st->na;
}

/* The video came back sample for sample: bytes, decode and presentation times, durations,
 * key flags; and every picture decoded. FFmpeg's mov demuxer keeps the decode times and,
 * without an edit list, moves every presentation time later by the most negative
 * composition offset of the track (its dts_shift), so that no picture shows before it
 * decodes: @pts_shift. */
static void check_video_back(const struct stream *st, const struct mp4_read *rb,
	int64_t pts_shift)
{
	CHECK(rb->nv == st->nv);
	CHECK(rb->video.timescale == FMP4_VIDEO_TIMESCALE);
	CHECK(rb->video.extradata_len == st->vp->config_len &&
		!memcmp(rb->video.extradata, st->vp->config, st->vp->config_len));
	size_t v = 0;
	for (size_t i = 0; i < rb->n && v < st->nv; i++) {
		const struct mp4_packet *g = &rb->pk[i];
		if (!g->video)
			continue;
		const struct tsample *t = &st->v[v++];
		int64_t pts = (int64_t)t->dts + t->s.cts + pts_shift;
		bool same = g->size == t->s.size && !memcmp(g->data, t->bytes, g->size);
		CHECK(same);
		CHECK(g->pts == pts);
		CHECK(g->dts == (int64_t)t->dts);
		CHECK(g->duration == t->s.duration);
		CHECK(g->key == t->s.key);
		if (g->pts != pts || g->dts != (int64_t)t->dts || g->key != t->s.key || !same) {
			printf("#   video %zu: pts %lld dts %lld key %d, want pts %lld dts %llu key %d\n",
				v - 1, (long long)g->pts, (long long)g->dts, g->key, (long long)pts,
				(unsigned long long)t->dts, t->s.key);
			break;
		}
	}
	CHECK(rb->decoded == (int)st->nv);
	CHECK(rb->decode_errors == 0);
}

static void check_audio_back(const struct stream *st, const struct mp4_read *rb)
{
	CHECK(rb->audio.codec == AV_CODEC_ID_AAC);
	CHECK(rb->audio.extradata_len == st->ap->config_len &&
		!memcmp(rb->audio.extradata, st->ap->config, st->ap->config_len));
	CHECK(rb->audio.rate == (int)st->ap->sample_rate);
	CHECK(rb->audio.channels == (int)st->ap->channels);
	CHECK(rb->audio.timescale == (int)st->ap->sample_rate);
	CHECK(rb->na == st->na);
	size_t a = 0;
	for (size_t i = 0; i < rb->n && a < st->na; i++) {
		const struct mp4_packet *g = &rb->pk[i];
		if (g->video)
			continue;
		const struct tsample *t = &st->a[a++];
		CHECK(g->size == t->s.size && !memcmp(g->data, t->bytes, g->size));
		CHECK(g->pts == (int64_t)t->dts && g->dts == (int64_t)t->dts);
		CHECK(g->duration == 1024);
		CHECK(g->key);
	}
}

/* The ffmpeg command decodes the file without a word of complaint, every picture. */
static void check_ffmpeg_decodes(const struct stream *st, int want_frames)
{
	int frames;
	char *said = mp4_ffmpeg((const uint8_t *)st->file.p, st->file.len, &frames);
	if (!said) {
		SKIP("no ffmpeg and ffprobe commands");
		return;
	}
	CHECK_STR(said, "");
	CHECK(frames == want_frames);
	free(said);
}

static void test_h264_with_b_pictures_and_aac_reads_back_sample_for_sample(void)
{
	struct gen_video gv;
	struct gen_audio ga;
	if (!gen_video(&gv, "libx264", 320, 240, 25, 60, 25, 2, 0)) {
		SKIP("this FFmpeg lacks libx264");
		return;
	}
	if (!gen_audio(&ga, "aac", 48000, 2, 0, 2.4, 440, 0)) {
		gen_video_free(&gv);
		SKIP("this FFmpeg lacks the aac encoder");
		return;
	}
	struct stream st = { .file = STRBUF_INIT };
	CHECK(stream_video(&st, CODED_H264, &gv, 0));
	CHECK(stream_audio(&st, &ga));
	bool some_b = false;
	for (size_t i = 0; i < st.nv; i++)
		some_b |= st.v[i].s.cts != st.v[0].s.cts;
	CHECK(some_b); /* the composition offsets are really tested */
	CHECK(stream_write(&st, 5));
	CHECK(st.fragments >= 12);
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)st.file.p, st.file.len, &rb));
	CHECK(rb.video.codec == AV_CODEC_ID_H264 && rb.video.width == 320 &&
		rb.video.height == 240);
	check_video_back(&st, &rb, 0);
	check_audio_back(&st, &rb);
	mp4_read_free(&rb);
	check_ffmpeg_decodes(&st, (int)st.nv);
	stream_free(&st);
	gen_video_free(&gv);
	gen_free(&ga);
}

static void test_negative_composition_offsets_put_the_first_picture_at_the_fragment_time(void)
{
	struct gen_video gv;
	if (!gen_video(&gv, "libx264", 320, 240, 25, 30, 10, 2, 0)) {
		SKIP("this FFmpeg lacks libx264");
		return;
	}
	struct stream st = { .file = STRBUF_INIT };
	/* x264 with 2 B pictures shows its first picture 2 frames after it decodes it */
	int64_t delay = gv.pics[0].pts - gv.pics[0].dts;
	CHECK(delay > 0);
	CHECK(stream_video(&st, CODED_H264, &gv, (int)delay));
	int32_t least = 0;
	for (size_t i = 0; i < st.nv; i++)
		if (st.v[i].s.cts < least)
			least = st.v[i].s.cts;
	CHECK(least < 0);
	CHECK(st.v[0].s.cts == 0);
	CHECK(stream_write(&st, 5));
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)st.file.p, st.file.len, &rb));
	check_video_back(&st, &rb, -least);
	mp4_read_free(&rb);
	stream_free(&st);
	gen_video_free(&gv);
}

static void test_h265_reads_back_sample_for_sample(void)
{
	struct gen_video gv;
	if (!gen_video(&gv, "libx265", 320, 240, 25, 30, 10, 0, 0)) {
		SKIP("this FFmpeg lacks libx265");
		return;
	}
	struct stream st = { .file = STRBUF_INIT };
	CHECK(stream_video(&st, CODED_H265, &gv, 0));
	CHECK(stream_write(&st, 5));
	char name[64];
	CHECK(fmp4_codec_string(st.vp, name, sizeof(name)) == 0);
	CHECK(!strncmp(name, "hvc1.1.6.L", 10));
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)st.file.p, st.file.len, &rb));
	CHECK(rb.video.codec == AV_CODEC_ID_HEVC && rb.video.width == 320 &&
		rb.video.height == 240);
	check_video_back(&st, &rb, 0);
	mp4_read_free(&rb);
	check_ffmpeg_decodes(&st, (int)st.nv);
	stream_free(&st);
	gen_video_free(&gv);
}

int main(void)
{
	av_log_set_level(AV_LOG_FATAL);
	RUN(test_init_is_ftyp_then_moov_and_every_box_fits);
	RUN(test_ftyp_claims_cmaf_only_for_one_track);
	RUN(test_mvhd_has_a_millisecond_timescale_and_the_next_track_id);
	RUN(test_video_track_headers);
	RUN(test_sample_tables_are_empty);
	RUN(test_avc1_entry_carries_the_size_and_the_avcc_record);
	RUN(test_hvc1_entry_carries_the_hvcc_record);
	RUN(test_audio_track_is_mp4a_with_the_asc_in_esds);
	RUN(test_mvex_has_a_trex_per_track);
	RUN(test_init_appends_to_what_the_buffer_holds);
	RUN(test_init_refuses_other_codecs_and_kinds);
	RUN(test_init_refuses_every_truncation_of_a_record);
	RUN(test_init_refuses_records_samples_could_not_follow);
	RUN(test_init_refuses_audio_it_cannot_describe);
	RUN(test_moof_layout);
	RUN(test_data_offsets_point_at_each_runs_first_sample);
	RUN(test_moof_size_is_what_is_written_and_a_short_buffer_gets_nothing);
	RUN(test_moof_refuses_runs_it_cannot_write);
	RUN(test_codec_string_of_h264_is_profile_compat_level);
	RUN(test_codec_string_of_h265_follows_14496_15_annex_e);
	RUN(test_codec_string_of_aac_is_the_audio_object_type);
	RUN(test_codec_string_refuses_other_codecs_and_short_records);
	RUN(test_video_sample_leaves_out_parameter_sets_and_delimiters);
	RUN(test_h264_with_b_pictures_and_aac_reads_back_sample_for_sample);
	RUN(test_negative_composition_offsets_put_the_first_picture_at_the_fragment_time);
	RUN(test_h265_reads_back_sample_for_sample);
	return CHECK_DONE();
}
