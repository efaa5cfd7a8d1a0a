/* codedlog: the per-source log of coded pictures and audio frames, as its one writer (the
 * source's worker) and its readers (outputs on the service thread) use it. Parameter sets
 * and records are real libx264/libx265 output (see test_nal.c for how they were made). Run
 * under ASan: every reference taken here is dropped, so a leak is a bug in the log. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "data/param_sets.h"
#include "codedlog.h"
#include "nal.h"

/* A PPS other than b320's: a parameter-set change that keeps the size. */
static const uint8_t other_pps[] = { 0x68, 0xce, 0x38, 0x80 };

static struct coded_params *h264_params(const uint8_t *sps, size_t sps_len, const uint8_t *pps,
	size_t pps_len)
{
	const uint8_t *sets[2] = { sps, pps };
	size_t lens[2] = { sps_len, pps_len };

	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *b320(void)
{
	return h264_params(b320_sps, sizeof(b320_sps), b320_pps, sizeof(b320_pps));
}

static struct coded_params *h1080(void)
{
	return h264_params(h1080_sps, sizeof(h1080_sps), h1080_pps, sizeof(h1080_pps));
}

/* An entry of @kind with @len bytes (each the low byte of @tag), a reference to @p. */
static struct coded_entry *entry(enum coded_kind kind, bool key, struct coded_params *p,
	int64_t wall_us, size_t len, unsigned tag)
{
	struct coded_entry *e = coded_entry_create(len);

	if (!e)
		return NULL;
	e->kind = kind;
	e->key = key;
	e->params = coded_params_ref(p);
	e->pts_us = e->dts_us = wall_us;
	e->t_wall_us = wall_us;
	memset(e->data, (int)(tag & 0xff), len);
	return e;
}

static void video(struct coded_log *log, struct coded_params *p, bool key, int64_t wall_us)
{
	coded_log_append(log, entry(CODED_VIDEO, key, p, wall_us, 100, 0));
}

/* Reads one entry: its seq, or 0 if there was none. */
static uint64_t read_seq(struct coded_log *log, struct coded_cursor *c, int64_t max_lag_us)
{
	struct coded_entry *e;

	if (!coded_log_read(log, c, max_lag_us, &e))
		return 0;
	uint64_t seq = e->seq;
	coded_entry_unref(e);
	return seq;
}

static size_t held(struct coded_log *log)
{
	struct coded_log_stats st;

	coded_log_get_stats(log, &st);
	return st.entries;
}

/* An Annex B access unit of @n units, each after a 4-byte start code. */
static size_t au(uint8_t *out, const uint8_t *const *units, const size_t *lens, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		memcpy(out + o, "\0\0\0\1", 4);
		memcpy(out + o + 4, units[i], lens[i]);
		o += 4 + lens[i];
	}
	return o;
}

static const uint8_t idr[] = { 0x65, 0x88, 0x84, 0x21, 0x7f };
static const uint8_t p_slice[] = { 0x41, 0x9a, 0x21, 0x7f };

/* ---- params ---- */

static void test_h264_params_have_the_avcc_and_the_size(void)
{
	struct coded_params *p = b320();

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(p->kind == CODED_VIDEO && p->codec == CODED_H264);
	CHECK(p->width == 320 && p->height == 240 && p->version == 0);
	CHECK(p->config_len == sizeof(b320_avcc) && !memcmp(p->config, b320_avcc, p->config_len));
	CHECK(p->sets_len == 8 + sizeof(b320_sps) + sizeof(b320_pps));
	CHECK(p->sets[3] == sizeof(b320_sps) && !memcmp(p->sets + 4, b320_sps, sizeof(b320_sps)));
	coded_params_unref(p);
}

static void test_h265_params_order_their_sets_vps_sps_pps(void)
{
	const uint8_t *sets[3] = { e720_pps, e720_sps, e720_vps };
	size_t lens[3] = { sizeof(e720_pps), sizeof(e720_sps), sizeof(e720_vps) };
	struct coded_params *p = coded_params_video(CODED_H265, sets, lens, 3);

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(p->width == 1280 && p->height == 720);
	CHECK(p->config_len == sizeof(e720_hvcc) && !memcmp(p->config, e720_hvcc, p->config_len));
	CHECK(p->sets[3] == sizeof(e720_vps) && !memcmp(p->sets + 4, e720_vps, sizeof(e720_vps)));
	coded_params_unref(p);
}

static void test_video_params_need_a_good_sps_and_a_pps(void)
{
	static const uint8_t bad_sps[] = { 0x67, 0x42, 0xc0 };
	const uint8_t *only_sps[1] = { b320_sps };
	size_t only_sps_len[1] = { sizeof(b320_sps) };

	CHECK(coded_params_video(CODED_H264, only_sps, only_sps_len, 1) == NULL);
	CHECK(h264_params(bad_sps, sizeof(bad_sps), b320_pps, sizeof(b320_pps)) == NULL);
	CHECK(coded_params_video(CODED_H264, NULL, NULL, 0) == NULL);
	CHECK(coded_params_video(CODED_AAC, only_sps, only_sps_len, 1) == NULL);
}

static void test_audio_params_need_a_config_for_aac_only(void)
{
	static const uint8_t asc[] = { 0x12, 0x10 }; /* AAC LC, 44.1 kHz, stereo */
	struct coded_params *aac = coded_params_audio(CODED_AAC, 44100, 2, asc, sizeof(asc));
	struct coded_params *pcma = coded_params_audio(CODED_PCMA, 8000, 1, NULL, 0);

	CHECK(aac && aac->kind == CODED_AUDIO && aac->config_len == 2 && aac->config[0] == 0x12);
	CHECK(pcma && pcma->sample_rate == 8000 && pcma->channels == 1 && pcma->config_len == 0);
	CHECK(coded_params_audio(CODED_AAC, 44100, 2, NULL, 0) == NULL);
	CHECK(coded_params_audio(CODED_H264, 90000, 1, NULL, 0) == NULL);
	CHECK(coded_params_audio(CODED_OPUS, 0, 2, NULL, 0) == NULL);
	coded_params_unref(aac);
	coded_params_unref(pcma);
}

static void test_params_are_the_same_when_their_bytes_are(void)
{
	struct coded_params *a = b320(), *b = b320(), *c = h1080();

	CHECK(a != b && coded_params_same(a, b));
	CHECK(!coded_params_same(a, c));
	CHECK(!coded_params_same(a, NULL) && coded_params_same(NULL, NULL));
	coded_params_unref(a);
	coded_params_unref(b);
	coded_params_unref(c);
}

static void test_params_can_be_made_current_before_any_entry(void)
{
	static const uint8_t asc[] = { 0x14, 0x08 }; /* AAC LC, 16 kHz, mono */
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *a = coded_params_audio(CODED_AAC, 16000, 1, asc, sizeof(asc));
	struct coded_params *same = coded_params_audio(CODED_AAC, 16000, 1, asc, sizeof(asc));

	coded_log_set_params(log, CODED_AUDIO, a);
	struct coded_params *got = coded_log_params(log, CODED_AUDIO);
	CHECK(got == a && a->version == 1);
	coded_params_unref(got);
	/* byte-equal params keep the current object; params of the other kind are refused */
	coded_log_set_params(log, CODED_AUDIO, same);
	coded_log_set_params(log, CODED_VIDEO, same);
	got = coded_log_params(log, CODED_AUDIO);
	CHECK(got == a && same->version == 0);
	coded_params_unref(got);
	CHECK(coded_log_params(log, CODED_VIDEO) == NULL);
	/* an entry with the equal params is swapped to the current object */
	struct coded_entry *e = entry(CODED_AUDIO, false, same, 0, 10, 1);
	coded_log_append(log, e);
	CHECK(e->params == a);
	/* none: a stream without audio */
	coded_log_set_params(log, CODED_AUDIO, NULL);
	CHECK(coded_log_params(log, CODED_AUDIO) == NULL);
	coded_log_destroy(log);
	coded_params_unref(a);
	coded_params_unref(same);
}

/* ---- joining ---- */

static void test_a_new_reader_starts_at_the_cached_key_picture(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	for (int i = 1; i <= 3; i++)
		video(log, p, false, i * 40000);
	for (uint64_t seq = 1; seq <= 4; seq++)
		CHECK(read_seq(log, &c, 0) == seq);
	CHECK(read_seq(log, &c, 0) == 0); /* caught up */
	video(log, p, false, 200000);
	CHECK(read_seq(log, &c, 0) == 5);
	CHECK(c.skipped == 0 && c.jumps == 0);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_reader_waits_for_the_first_key_picture(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, false, 0);
	video(log, p, false, 40000);
	CHECK(read_seq(log, &c, 0) == 0);
	CHECK(!c.started);
	video(log, p, true, 80000);
	CHECK(read_seq(log, &c, 0) == 3);
	CHECK(c.skipped == 0 && c.jumps == 0); /* it never had the first two */
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_key_picture_drops_the_gop_before_it(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	video(log, p, false, 40000);
	video(log, p, false, 80000);
	CHECK(held(log) == 3);
	video(log, p, true, 1000000); /* the GOP before is older than its tail */
	CHECK(held(log) == 1);
	CHECK(read_seq(log, &c, 0) == 4);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_key_picture_keeps_the_tail_of_the_gop_before_for_its_readers(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 }, late = { 0 };

	video(log, p, true, 0);
	CHECK(read_seq(log, &c, 0) == 1);
	for (int i = 1; i <= 24; i++)
		video(log, p, false, i * 40000);
	for (int i = 2; i <= 20; i++)
		CHECK(read_seq(log, &c, 0) == (uint64_t)i);
	/* 21..25 came in the same batch as the key picture (seq 26): the reader still has them */
	video(log, p, true, 1000000);
	CHECK(held(log) == 1 + (size_t)(CODED_TAIL_US / 40000));
	for (int i = 21; i <= 26; i++)
		CHECK(read_seq(log, &c, 0) == (uint64_t)i);
	CHECK(c.skipped == 0 && c.jumps == 0);
	/* a reader that starts now starts at the key picture */
	CHECK(read_seq(log, &late, 0) == 26);
	coded_log_destroy(log);
	coded_params_unref(p);
}

/* ---- laps and lag ---- */

static void test_a_reader_whose_gop_was_dropped_jumps_to_the_next_key(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	CHECK(read_seq(log, &c, 0) == 1);
	for (int i = 1; i <= 5; i++)
		video(log, p, false, i * 40000);
	CHECK(read_seq(log, &c, 0) == 2);
	video(log, p, true, 1000000); /* seq 7: 3..6 never read, and older than the tail */
	CHECK(read_seq(log, &c, 0) == 7);
	CHECK(c.skipped == 4 && c.jumps == 1);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_reader_pushed_out_of_the_window_waits_for_the_next_key(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 4);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	CHECK(read_seq(log, &c, 0) == 1);
	for (int i = 1; i <= 6; i++)
		video(log, p, false, i * 40000); /* seqs 2..7; 4..7 held, the key is gone */
	CHECK(read_seq(log, &c, 0) == 0); /* 2 is gone and there is no key to start from */
	video(log, p, true, 280000);      /* seq 8 */
	CHECK(read_seq(log, &c, 0) == 8);
	CHECK(c.skipped == 6 && c.jumps == 1);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_reader_lagging_past_the_limit_skips_the_rest_of_the_gop(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	CHECK(read_seq(log, &c, 1000000) == 1);
	for (int i = 1; i <= 50; i++)
		video(log, p, false, i * 40000); /* the newest is 2 s after seq 2 */
	CHECK(read_seq(log, &c, 1000000) == 0);
	CHECK(read_seq(log, &c, 3000000) == 2); /* within a looser limit */
	CHECK(read_seq(log, &c, 0) == 3);        /* and without one */
	video(log, p, true, 51 * 40000);         /* seq 52 */
	CHECK(read_seq(log, &c, 1000000) == 52);
	CHECK(c.skipped == 48 && c.jumps == 1);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_the_key_picture_a_reader_joins_at_is_given_whatever_its_age(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	video(log, p, false, 2000000);
	video(log, p, false, 4000000);
	CHECK(read_seq(log, &c, 1000000) == 1);
	CHECK(read_seq(log, &c, 1000000) == 0); /* seq 2 is 2 s behind the newest */
	video(log, p, false, 4040000);
	CHECK(read_seq(log, &c, 1000000) == 0);
	coded_log_destroy(log);
	coded_params_unref(p);
}

/* ---- parameters ---- */

static void test_entries_after_a_change_carry_the_new_params(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *small = b320(), *big = h1080();
	struct coded_cursor c = { 0 };
	struct coded_entry *e;

	video(log, small, true, 0);
	CHECK(small->version == 1);
	CHECK(coded_log_read(log, &c, 0, &e) && e->params == small);
	coded_entry_unref(e);
	video(log, big, true, 40000);
	video(log, big, false, 80000);
	CHECK(big->version == 2 && small->version == 1);
	CHECK(coded_log_read(log, &c, 0, &e) && e->params == big && e->params->width == 1920);
	coded_entry_unref(e);
	CHECK(coded_log_read(log, &c, 0, &e) && e->params == big);
	coded_entry_unref(e);
	struct coded_params *cur = coded_log_params(log, CODED_VIDEO);
	CHECK(cur == big);
	coded_params_unref(cur);
	CHECK(coded_log_params(log, CODED_AUDIO) == NULL);
	coded_log_destroy(log);
	coded_params_unref(small);
	coded_params_unref(big);
}

static void test_byte_equal_params_become_the_current_object(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *first = b320(), *again = b320();
	struct coded_entry *e;

	video(log, first, true, 0);
	video(log, again, false, 40000);
	CHECK(coded_log_newest_key(log, &e));
	coded_entry_unref(e);
	struct coded_cursor c = { 0 };
	CHECK(read_seq(log, &c, 0) == 1);
	CHECK(coded_log_read(log, &c, 0, &e) && e->params == first && first->version == 1);
	CHECK(again->version == 0); /* never published */
	coded_entry_unref(e);
	coded_log_destroy(log);
	coded_params_unref(first);
	coded_params_unref(again);
}

/* ---- entries from access units ---- */

static void test_an_annexb_au_becomes_a_length_prefixed_key_entry(void)
{
	const uint8_t *units[4] = { aud, b320_sps, b320_pps, idr };
	size_t lens[4] = { sizeof(aud), sizeof(b320_sps), sizeof(b320_pps), sizeof(idr) };
	uint8_t buf[256];
	struct coded_params *cur = b320(), *changed;
	struct coded_entry *e;
	size_t n = au(buf, units, lens, 4);

	CHECK(coded_entry_from_au(CODED_H264, buf, n, 0, cur, &e, &changed) == 0);
	CHECK(changed == NULL); /* the same sets again */
	CHECK(e && e->key && e->kind == CODED_VIDEO && e->params == cur);
	CHECK(e && e->len == n && !memcmp(e->data, "\0\0\0\2\x09\xf0\0\0\0\x18\x67", 11));
	coded_entry_unref(e);
	coded_params_unref(cur);
}

static void test_sets_repeated_in_one_au_are_kept_once(void)
{
	/* x264 puts its sets in band and the RTP packetizer repeats them (config-interval) */
	const uint8_t *units[6] = { aud, b320_sps, b320_pps, b320_sps, b320_pps, idr };
	size_t lens[6] = { sizeof(aud), sizeof(b320_sps), sizeof(b320_pps), sizeof(b320_sps),
		sizeof(b320_pps), sizeof(idr) };
	uint8_t buf[512];
	struct coded_params *changed;
	struct coded_entry *e;
	size_t n = au(buf, units, lens, 6);

	CHECK(coded_entry_from_au(CODED_H264, buf, n, 0, NULL, &e, &changed) == 0);
	CHECK(changed != NULL);
	/* one SPS and one PPS, each with its 4-byte length */
	CHECK(changed && changed->sets_len == 8 + sizeof(b320_sps) + sizeof(b320_pps));
	struct coded_params *once = b320();
	CHECK(changed && once && coded_params_same(changed, once));
	coded_params_unref(once);
	coded_params_unref(changed);
	coded_entry_unref(e);
}

static void test_an_au_without_sets_refers_to_the_current_params(void)
{
	uint8_t two[2 + sizeof(p_slice)] = { 0, sizeof(p_slice) };
	struct coded_params *cur = b320(), *changed;
	struct coded_entry *e;

	memcpy(two + 2, p_slice, sizeof(p_slice));

	CHECK(coded_entry_from_au(CODED_H264, two, sizeof(two), 2, cur, &e, &changed) == 0);
	CHECK(e && !e->key && e->params == cur && changed == NULL);
	CHECK(e && e->len == 4 + sizeof(p_slice) && e->data[3] == sizeof(p_slice));
	coded_entry_unref(e);
	coded_params_unref(cur);
}

static void test_an_au_with_new_sets_makes_new_params(void)
{
	const uint8_t *units[3] = { h1080_sps, h1080_pps, idr };
	size_t lens[3] = { sizeof(h1080_sps), sizeof(h1080_pps), sizeof(idr) };
	uint8_t buf[256];
	struct coded_params *cur = b320(), *changed;
	struct coded_entry *e;
	size_t n = au(buf, units, lens, 3);

	CHECK(coded_entry_from_au(CODED_H264, buf, n, 0, cur, &e, &changed) == 0);
	CHECK(changed && changed->width == 1920 && changed->height == 1080);
	CHECK(e && e->params == changed && e->key);
	CHECK(e && e->len == n); /* the in-band sets stay in the entry */
	coded_entry_unref(e);
	coded_params_unref(changed);
	coded_params_unref(cur);
}

static void test_an_au_with_only_a_new_pps_keeps_the_current_sps(void)
{
	const uint8_t *units[2] = { other_pps, idr };
	size_t lens[2] = { sizeof(other_pps), sizeof(idr) };
	uint8_t buf[64];
	struct coded_params *cur = b320(), *changed;
	struct coded_entry *e;

	CHECK(coded_entry_from_au(CODED_H264, buf, au(buf, units, lens, 2), 0, cur, &e,
		&changed) == 0);
	CHECK(changed && changed->width == 320);
	CHECK(changed && changed->sets_len == 8 + sizeof(b320_sps) + sizeof(other_pps));
	CHECK(changed && !memcmp(changed->sets + 4, b320_sps, sizeof(b320_sps)));
	coded_entry_unref(e);
	coded_params_unref(changed);
	coded_params_unref(cur);
}

static void test_an_h265_au_with_its_sets_makes_hvcc_params(void)
{
	static const uint8_t idr_w_radl[] = { 0x26, 0x01, 0xaf, 0x05, 0x40 };
	const uint8_t *units[4] = { e720_vps, e720_sps, e720_pps, idr_w_radl };
	size_t lens[4] = { sizeof(e720_vps), sizeof(e720_sps), sizeof(e720_pps),
		sizeof(idr_w_radl) };
	uint8_t buf[256];
	struct coded_params *changed;
	struct coded_entry *e;

	CHECK(coded_entry_from_au(CODED_H265, buf, au(buf, units, lens, 4), 0, NULL, &e,
		&changed) == 0);
	CHECK(e && e->key && changed && e->params == changed);
	CHECK(changed && changed->config_len == sizeof(e720_hvcc) &&
		!memcmp(changed->config, e720_hvcc, sizeof(e720_hvcc)));
	coded_entry_unref(e);
	coded_params_unref(changed);
}

static void test_an_au_nobody_could_decode_or_read_is_refused(void)
{
	const uint8_t *units[1] = { idr };
	size_t lens[1] = { sizeof(idr) };
	static const uint8_t garbage[] = { 0x17, 0, 0, 1, 0x65 };
	static const uint8_t zeros[] = { 0, 0, 0, 0 };
	uint8_t buf[64];
	struct coded_params *cur = b320(), *changed;
	struct coded_entry *e;

	CHECK(coded_entry_from_au(CODED_H264, buf, au(buf, units, lens, 1), 0, NULL, &e,
		&changed) == -ENODATA);
	CHECK(e == NULL && changed == NULL);
	CHECK(coded_entry_from_au(CODED_H264, garbage, sizeof(garbage), 0, cur, &e,
		&changed) == -EINVAL);
	CHECK(coded_entry_from_au(CODED_H264, zeros, sizeof(zeros), 0, cur, &e,
		&changed) == -EINVAL);
	CHECK(coded_entry_from_au(CODED_AAC, buf, 8, 0, cur, &e, &changed) == -EINVAL);
	coded_params_unref(cur);
}

/* ---- bounds ---- */

static void test_the_byte_bound_drops_the_oldest_entries(void)
{
	struct coded_log *log = coded_log_create(350, 100);
	struct coded_params *p = b320();
	struct coded_log_stats st;

	for (int i = 0; i < 5; i++)
		video(log, p, i == 0, i * 40000); /* 100 bytes each */
	coded_log_get_stats(log, &st);
	CHECK(st.entries == 3 && st.bytes == 300 && st.dropped_by_bound == 2);
	coded_log_append(log, entry(CODED_VIDEO, false, p, 200000, 1000, 0));
	coded_log_get_stats(log, &st);
	CHECK(st.entries == 1 && st.bytes == 1000); /* the newest stays, whatever its size */
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_the_entry_bound_drops_the_oldest_entries(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 3);
	struct coded_params *p = b320();
	struct coded_log_stats st;

	for (int i = 0; i < 10; i++)
		video(log, p, i == 0, i * 40000);
	coded_log_get_stats(log, &st);
	CHECK(st.entries == 3 && st.dropped_by_bound == 7 && st.appended == 10 && st.keys == 1);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_new_readers_wait_when_the_key_picture_was_trimmed(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 3);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };

	video(log, p, true, 0);
	for (int i = 1; i < 4; i++)
		video(log, p, false, i * 40000);
	CHECK(read_seq(log, &c, 0) == 0);
	video(log, p, true, 160000);
	CHECK(read_seq(log, &c, 0) == 5);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_the_newest_key_survives_a_trim(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 2);
	struct coded_params *p = b320();
	struct coded_entry *e;

	CHECK(!coded_log_newest_key(log, &e) && e == NULL);
	video(log, p, true, 0);
	for (int i = 1; i < 5; i++)
		video(log, p, false, i * 40000);
	CHECK(coded_log_newest_key(log, &e));
	CHECK(e && e->seq == 1 && e->key && e->params == p);
	coded_entry_unref(e);
	coded_log_destroy(log);
	coded_params_unref(p);
}

/* ---- audio, seq, reset ---- */

static void test_audio_interleaved_with_video_is_read_in_order(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *v = b320();
	struct coded_params *a = coded_params_audio(CODED_PCMU, 8000, 1, NULL, 0);
	struct coded_cursor c = { 0 };
	struct coded_entry *e;

	coded_log_append(log, entry(CODED_AUDIO, false, a, 0, 160, 1)); /* before any key */
	video(log, v, true, 10000);
	coded_log_append(log, entry(CODED_AUDIO, false, a, 20000, 160, 3));
	video(log, v, false, 50000);
	coded_log_append(log, entry(CODED_AUDIO, true, a, 40000, 160, 5)); /* key: no GOP */
	CHECK(held(log) == 5); /* the first audio frame stays as the tail; readers start after */
	enum coded_kind want[4] = { CODED_VIDEO, CODED_AUDIO, CODED_VIDEO, CODED_AUDIO };
	for (int i = 0; i < 4; i++) {
		CHECK(coded_log_read(log, &c, 0, &e));
		if (!e)
			break;
		CHECK(e->seq == (uint64_t)i + 2 && e->kind == want[i]);
		CHECK(e->params == (want[i] == CODED_AUDIO ? a : v));
		coded_entry_unref(e);
	}
	CHECK(a->version == 1 && v->version == 1); /* one count per kind */
	coded_log_destroy(log);
	coded_params_unref(v);
	coded_params_unref(a);
}

static void test_seqs_count_from_1_without_gaps(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 3);
	struct coded_params *p = b320();
	struct coded_entry *e;

	for (uint64_t i = 1; i <= 10; i++) {
		e = entry(CODED_VIDEO, i % 4 == 1, p, (int64_t)i, 10, 0);
		coded_log_append(log, coded_entry_ref(e));
		CHECK(e->seq == i);
		coded_entry_unref(e);
	}
	coded_log_reset(log);
	e = entry(CODED_VIDEO, true, p, 11, 10, 0);
	coded_log_append(log, coded_entry_ref(e));
	CHECK(e->seq == 11);
	coded_entry_unref(e);
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_a_reset_drops_everything_and_readers_rejoin_at_the_next_key(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };
	struct coded_entry *e;
	struct coded_log_stats st;

	video(log, p, true, 0);
	video(log, p, false, 40000);
	CHECK(read_seq(log, &c, 0) == 1 && read_seq(log, &c, 0) == 2);
	uint64_t epoch = c.epoch;
	coded_log_reset(log);
	coded_log_get_stats(log, &st);
	CHECK(st.entries == 0 && st.resets == 1);
	CHECK(!coded_log_newest_key(log, &e));
	video(log, p, false, 1000000); /* the reconnected camera, mid-GOP: seq 3 */
	video(log, p, false, 1040000);
	CHECK(read_seq(log, &c, 0) == 0); /* next in seq, but after a discontinuity */
	video(log, p, true, 1080000);
	CHECK(read_seq(log, &c, 0) == 5);
	CHECK(c.epoch != epoch && c.skipped == 2 && c.jumps == 1);
	CHECK(p->version == 1); /* the same params after the reset */
	coded_log_destroy(log);
	coded_params_unref(p);
}

static void test_references_outlive_the_log(void)
{
	struct coded_log *log = coded_log_create(1 << 20, 100);
	struct coded_params *p = b320();
	struct coded_cursor c = { 0 };
	struct coded_entry *e, *key;

	video(log, p, true, 0);
	CHECK(coded_log_read(log, &c, 0, &e));
	CHECK(coded_log_newest_key(log, &key) && key == e);
	coded_params_unref(p); /* the entries hold it now */
	coded_log_destroy(log);
	CHECK(e->params->width == 320 && e->data[0] == 0);
	coded_entry_unref(e);
	coded_entry_unref(key);
	coded_log_destroy(NULL);
	coded_entry_unref(NULL);
	coded_params_unref(NULL);
}

/* ---- two threads ---- */

#define THREAD_ENTRIES 200000
#define THREAD_GOP 25

struct run {
	struct coded_log *log;
	struct coded_params *p;
	atomic_bool done;
	/* the reader's findings */
	uint64_t first, read, out_of_order, bad_data, jumps_not_to_key;
	struct coded_cursor c;
};

static void *writer(void *arg)
{
	struct run *r = arg;

	for (uint64_t i = 1; i <= THREAD_ENTRIES; i++) {
		/* the data says its own seq: a reader can tell an entry from another */
		coded_log_append(r->log, entry(CODED_VIDEO, i % THREAD_GOP == 1, r->p, (int64_t)i,
			8 + i % 64, (unsigned)i));
		if (i % 100 == 0)
			sched_yield();
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void *reader(void *arg)
{
	struct run *r = arg;
	struct coded_entry *e;
	uint64_t last = 0;

	for (;;) {
		bool done = atomic_load(&r->done);
		uint64_t skipped = r->c.skipped;
		if (!coded_log_read(r->log, &r->c, 0, &e)) {
			if (done)
				break;
			sched_yield();
			continue;
		}
		/* between jumps, every seq follows the last one; a jump passes over exactly what
		 * it counts and lands on a key picture */
		if (last && e->seq != last + 1 + (r->c.skipped - skipped))
			r->out_of_order++;
		if (r->c.skipped != skipped && !e->key)
			r->jumps_not_to_key++;
		for (size_t i = 0; i < e->len; i++)
			if (e->data[i] != (uint8_t)e->seq)
				r->bad_data++;
		if (!last)
			r->first = e->seq;
		last = e->seq;
		r->read++;
		coded_entry_unref(e);
		if (r->read % 20000 == 0) /* now and then fall behind, to lap */
			for (int i = 0; i < 200; i++)
				sched_yield();
	}
	return NULL;
}

static void test_a_reader_thread_gets_every_entry_in_order_between_jumps(void)
{
	struct run r = { .log = coded_log_create(1 << 20, 64), .p = b320() };
	pthread_t w, rd;

	atomic_init(&r.done, false);
	CHECK(pthread_create(&rd, NULL, reader, &r) == 0);
	CHECK(pthread_create(&w, NULL, writer, &r) == 0);
	pthread_join(w, NULL);
	pthread_join(rd, NULL);
	CHECK(r.out_of_order == 0 && r.bad_data == 0 && r.jumps_not_to_key == 0);
	CHECK(r.read > 0);
	/* every entry from the first one read on was either read or counted as skipped */
	CHECK(r.first % THREAD_GOP == 1);
	CHECK(r.read + r.c.skipped == THREAD_ENTRIES - r.first + 1);
	printf("# read %llu, skipped %llu in %llu jumps\n", (unsigned long long)r.read,
		(unsigned long long)r.c.skipped, (unsigned long long)r.c.jumps);
	coded_log_destroy(r.log);
	coded_params_unref(r.p);
}

int main(void)
{
	RUN(test_h264_params_have_the_avcc_and_the_size);
	RUN(test_h265_params_order_their_sets_vps_sps_pps);
	RUN(test_video_params_need_a_good_sps_and_a_pps);
	RUN(test_audio_params_need_a_config_for_aac_only);
	RUN(test_params_are_the_same_when_their_bytes_are);
	RUN(test_params_can_be_made_current_before_any_entry);
	RUN(test_a_new_reader_starts_at_the_cached_key_picture);
	RUN(test_a_reader_waits_for_the_first_key_picture);
	RUN(test_a_key_picture_drops_the_gop_before_it);
	RUN(test_a_key_picture_keeps_the_tail_of_the_gop_before_for_its_readers);
	RUN(test_a_reader_whose_gop_was_dropped_jumps_to_the_next_key);
	RUN(test_a_reader_pushed_out_of_the_window_waits_for_the_next_key);
	RUN(test_a_reader_lagging_past_the_limit_skips_the_rest_of_the_gop);
	RUN(test_the_key_picture_a_reader_joins_at_is_given_whatever_its_age);
	RUN(test_entries_after_a_change_carry_the_new_params);
	RUN(test_byte_equal_params_become_the_current_object);
	RUN(test_an_annexb_au_becomes_a_length_prefixed_key_entry);
	RUN(test_sets_repeated_in_one_au_are_kept_once);
	RUN(test_an_au_without_sets_refers_to_the_current_params);
	RUN(test_an_au_with_new_sets_makes_new_params);
	RUN(test_an_au_with_only_a_new_pps_keeps_the_current_sps);
	RUN(test_an_h265_au_with_its_sets_makes_hvcc_params);
	RUN(test_an_au_nobody_could_decode_or_read_is_refused);
	RUN(test_the_byte_bound_drops_the_oldest_entries);
	RUN(test_the_entry_bound_drops_the_oldest_entries);
	RUN(test_new_readers_wait_when_the_key_picture_was_trimmed);
	RUN(test_the_newest_key_survives_a_trim);
	RUN(test_audio_interleaved_with_video_is_read_in_order);
	RUN(test_seqs_count_from_1_without_gaps);
	RUN(test_a_reset_drops_everything_and_readers_rejoin_at_the_next_key);
	RUN(test_references_outlive_the_log);
	RUN(test_a_reader_thread_gets_every_entry_in_order_between_jumps);
	return CHECK_DONE();
}
