/* fuzz_nal: any bytes as what a camera, an FLV or an MP4 could hand the media layer
 * (docs/FUZZING.md): an Annex B access unit, a length-prefixed one, an SPS, an avcC or hvcC
 * record, all at once. The first byte picks the codec and sizes:
 *   bit 0: H.265 (else H.264)
 *   bits 1-2: the unit length size for the length-prefixed reading: 1, 2, 4, 4
 *   bit 3: the access unit given to coded_entry_from_au is length-prefixed (else Annex B)
 *   bit 4: coded_entry_from_au gets current parameters (real ones of the codec)
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - Annex B units are inside the input, not empty, hold no start code and do not end in a
 *   zero byte; length-prefixed units are inside the input and not empty;
 * - each conversion's size query equals what it writes, and a buffer one byte short is
 *   refused; what it writes reads back as the same units; Annex B -> lengths -> Annex B ->
 *   lengths gives the same bytes; lengths -> Annex B gives the same units back whenever
 *   the units could be told apart in Annex B at all;
 * - a parsed SPS has a size in 1..65536 and bit depths and chroma format in range, a
 *   refused one is zeroed;
 * - a parsed record holds parameter sets of its codec only, inside the input; a record
 *   built from them parses back into the same sets, ordered by type; so does a record
 *   built from the units of an access unit;
 * - an entry made from an access unit holds its units, with 4-byte lengths, is key when
 *   one of them is, always has parameters, and new ones only when they differ; appended to
 *   a log, a new reader gets it back at once if it is key;
 * - a source's feed (Annex B, no parameters before) judges any access unit, one the log
 *   refuses included, key when a unit read before the walk stopped is key, and not key
 *   when slices were read and none is, whatever the demuxer's hint. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "../unit/data/param_sets.h" /* real sets for "current": b320, e720 */
#include "coded_feed.h"
#include "codedlog.h"
#include "fuzz_common.h"
#include "nal.h"

#define MAX_UNITS 4096

static struct nal_unit units_a[MAX_UNITS], units_b[MAX_UNITS];

/* The units of @it into @out; -1 if the walk failed. Stops counting at MAX_UNITS. */
static long walk(struct nal_iter *it, struct nal_unit *out)
{
	struct nal_unit u;
	long n = 0;
	int r;

	while ((r = nal_iter_next(it, &u)) > 0) {
		FUZZ_CHECK(u.len > 0, "an empty unit was returned");
		if (n < MAX_UNITS)
			out[n] = u;
		n++;
	}
	FUZZ_CHECK(r == 0 || r == -EINVAL, "the walk returned %d", r);
	return r < 0 ? -1 : n;
}

static bool same_units(const struct nal_unit *a, const struct nal_unit *b, long n)
{
	for (long i = 0; i < n && i < MAX_UNITS; i++)
		if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len))
			return false;
	return true;
}

/* Whether a unit comes back whole from Annex B: no 00 00 00 or 00 00 01 in it, and no zero
 * at its end (Annex B cannot tell those from framing). */
static bool annexb_safe(const struct nal_unit *u)
{
	if (u->data[u->len - 1] == 0)
		return false;
	for (size_t i = 0; i + 2 < u->len; i++)
		if (u->data[i] == 0 && u->data[i + 1] == 0 && u->data[i + 2] <= 1)
			return false;
	return true;
}

static bool inside(const struct nal_unit *u, const uint8_t *buf, size_t len)
{
	return u->data >= buf && u->len <= len && (size_t)(u->data - buf) <= len - u->len;
}

typedef int (*convert_fn)(const uint8_t *in, size_t len, unsigned ls, uint8_t *out,
	size_t cap, size_t *need);

static int annexb_to_lp(const uint8_t *in, size_t len, unsigned ls, uint8_t *out, size_t cap,
	size_t *need)
{
	(void)ls;
	return nal_annexb_to_lp(in, len, out, cap, need);
}

/* Runs @fn with a size query, a buffer one byte short and an exact one; returns the output
 * (caller frees; NULL when the input was refused) and its size. */
static uint8_t *convert(convert_fn fn, const uint8_t *in, size_t len, unsigned ls,
	size_t *out_len)
{
	size_t need, need2;
	int r = fn(in, len, ls, NULL, 0, &need);

	*out_len = 0;
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && need == 0, "a refused conversion said %d, %zu", r, need);
		return NULL;
	}
	uint8_t *out = malloc(need + 1);
	if (!out)
		abort();
	if (need)
		FUZZ_CHECK(fn(in, len, ls, out, need - 1, &need2) == -ENOSPC && need2 == need,
			"a short buffer was not refused");
	FUZZ_CHECK(fn(in, len, ls, out, need, &need2) == 0 && need2 == need,
		"the size query said %zu, the conversion %zu", need, need2);
	*out_len = need;
	return out;
}

static void check_sps(enum nal_codec codec, const uint8_t *p, size_t len)
{
	struct nal_sps s;

	if (!nal_parse_sps(codec, p, len, &s)) {
		FUZZ_CHECK(s.width == 0 && s.height == 0, "a refused SPS left a size");
		return;
	}
	unsigned max_depth = codec == NAL_H264 ? 14 : 16;
	FUZZ_CHECK(s.width >= 1 && s.width <= 65536 && s.height >= 1 && s.height <= 65536,
		"an SPS of %ux%u", s.width, s.height);
	FUZZ_CHECK(s.bit_depth_luma >= 8 && s.bit_depth_luma <= max_depth &&
		s.bit_depth_chroma >= 8 && s.bit_depth_chroma <= max_depth && s.chroma_format <= 3,
		"an SPS with depths %u/%u, chroma %u", s.bit_depth_luma, s.bit_depth_chroma,
		s.chroma_format);
}

/* The parameter sets of @in (@n), VPS/SPS/PPS order, stable within a type, into @out. */
static size_t by_type(enum nal_codec codec, const struct nal_unit *in, size_t n,
	struct nal_unit *out)
{
	static const int order[2][3] = { { 7, 8, -1 }, { 32, 33, 34 } };
	size_t k = 0;

	for (int t = 0; t < 3; t++)
		for (size_t i = 0; i < n; i++)
			if (order[codec == NAL_H265][t] >= 0 &&
				nal_type(codec, in[i].data, in[i].len) == order[codec == NAL_H265][t])
				out[k++] = in[i];
	return k;
}

/* Builds a record of @codec from @units; if that works, it parses back into the same sets. */
static void check_build(enum nal_codec codec, const struct nal_unit *units, size_t n)
{
	static struct nal_config back;
	static struct nal_unit want[MAX_UNITS];
	size_t need, need2;
	int r = codec == NAL_H264 ? nal_build_avcc(units, n, NULL, 0, &need) :
		nal_build_hvcc(units, n, NULL, 0, &need);

	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL, "a build failed with %d", r);
		return;
	}
	uint8_t *rec = malloc(need);
	if (!rec)
		abort();
	r = codec == NAL_H264 ? nal_build_avcc(units, n, rec, need, &need2) :
		nal_build_hvcc(units, n, rec, need, &need2);
	FUZZ_CHECK(r == 0 && need2 == need, "a build said %zu bytes, then %d, %zu", need, r,
		need2);
	r = codec == NAL_H264 ? nal_parse_avcc(rec, need, &back) :
		nal_parse_hvcc(rec, need, &back);
	size_t k = by_type(codec, units, n, want);
	if (r == -E2BIG) { /* a record may hold more sets than a parse returns */
		FUZZ_CHECK(k > NAL_CONFIG_MAX_UNITS, "E2BIG for %zu sets", k);
	} else {
		FUZZ_CHECK(r == 0, "a built record does not parse: %d", r);
		FUZZ_CHECK(back.length_size == 4 && back.n == k && same_units(back.units, want,
			(long)k), "a built record parses into %zu sets, not the %zu given", back.n, k);
	}
	free(rec);
}

static void check_records(enum nal_codec codec, const uint8_t *p, size_t len)
{
	static struct nal_config cfg;
	int r = codec == NAL_H264 ? nal_parse_avcc(p, len, &cfg) : nal_parse_hvcc(p, len, &cfg);

	if (r < 0) {
		FUZZ_CHECK((r == -EINVAL || r == -E2BIG) && cfg.n == 0, "a refused record: %d", r);
		return;
	}
	FUZZ_CHECK(cfg.length_size == 1 || cfg.length_size == 2 || cfg.length_size == 4,
		"a record with length size %u", cfg.length_size);
	for (size_t i = 0; i < cfg.n; i++) {
		FUZZ_CHECK(inside(&cfg.units[i], p, len), "a record's unit outside the record");
		FUZZ_CHECK(nal_is_param_set(codec, nal_type(codec, cfg.units[i].data,
			cfg.units[i].len)), "a record gave a unit that is not a parameter set");
		if (nal_type(codec, cfg.units[i].data, cfg.units[i].len) ==
			(codec == NAL_H264 ? NAL_H264_SPS : NAL_H265_SPS))
			check_sps(codec, cfg.units[i].data, cfg.units[i].len);
	}
	check_build(codec, cfg.units, cfg.n);
}

static void check_annexb(enum nal_codec codec, const uint8_t *p, size_t len)
{
	struct nal_iter it;
	size_t lp_len, ab_len, lp2_len;

	nal_iter_annexb(&it, p, len);
	long n = walk(&it, units_a);
	for (long i = 0; i < n && i < MAX_UNITS; i++) {
		FUZZ_CHECK(inside(&units_a[i], p, len), "an Annex B unit outside the input");
		FUZZ_CHECK(annexb_safe(&units_a[i]), "an Annex B unit holds a start code or ends "
			"in zero");
	}
	uint8_t *lp = convert(annexb_to_lp, p, len, 0, &lp_len);
	FUZZ_CHECK((lp != NULL) == (n >= 0), "the walk and the conversion disagree");
	if (!lp)
		return;
	nal_iter_lp(&it, lp, lp_len, 4);
	FUZZ_CHECK(walk(&it, units_b) == n && same_units(units_a, units_b, n),
		"Annex B -> lengths changed the units");
	uint8_t *ab = convert(nal_lp_to_annexb, lp, lp_len, 4, &ab_len);
	FUZZ_CHECK(ab && ab_len == lp_len, "lengths -> Annex B refused its own output");
	uint8_t *lp2 = convert(annexb_to_lp, ab, ab_len, 0, &lp2_len);
	FUZZ_CHECK(lp2 && lp2_len == lp_len && !memcmp(lp, lp2, lp_len),
		"Annex B -> lengths -> Annex B -> lengths changed the bytes");
	for (long i = 0; i < n && i < MAX_UNITS; i++)
		if (nal_type(codec, units_a[i].data, units_a[i].len) ==
			(codec == NAL_H264 ? NAL_H264_SPS : NAL_H265_SPS))
			check_sps(codec, units_a[i].data, units_a[i].len);
	if (n > 0 && n <= MAX_UNITS)
		check_build(codec, units_a, (size_t)n);
	free(lp);
	free(ab);
	free(lp2);
}

static void check_lp(const uint8_t *p, size_t len, unsigned ls)
{
	struct nal_iter it;
	size_t lp4_len, ab_len;
	bool safe = true;

	nal_iter_lp(&it, p, len, ls);
	long n = walk(&it, units_a);
	for (long i = 0; i < n && i < MAX_UNITS; i++) {
		FUZZ_CHECK(inside(&units_a[i], p, len), "a length-prefixed unit outside the input");
		safe = safe && annexb_safe(&units_a[i]);
	}
	uint8_t *lp4 = convert(nal_lp_to_lp4, p, len, ls, &lp4_len);
	FUZZ_CHECK((lp4 != NULL) == (n >= 0), "the walk and the conversion disagree");
	if (!lp4)
		return;
	nal_iter_lp(&it, lp4, lp4_len, 4);
	FUZZ_CHECK(walk(&it, units_b) == n && same_units(units_a, units_b, n),
		"lengths -> 4-byte lengths changed the units");
	uint8_t *ab = convert(nal_lp_to_annexb, p, len, ls, &ab_len);
	FUZZ_CHECK(ab && ab_len == lp4_len, "lengths -> Annex B: %zu bytes, not %zu", ab_len,
		lp4_len);
	if (safe) {
		nal_iter_annexb(&it, ab, ab_len);
		FUZZ_CHECK(walk(&it, units_b) == n && same_units(units_a, units_b, n),
			"lengths -> Annex B changed the units");
	}
	free(lp4);
	free(ab);
}

static void check_entry(enum coded_codec codec, const uint8_t *p, size_t len, unsigned ls,
	bool with_current)
{
	static struct nal_unit au_units[MAX_UNITS];
	enum nal_codec nc = codec == CODED_H264 ? NAL_H264 : NAL_H265;
	const uint8_t *sets[3] = { b320_sps, b320_pps, NULL };
	size_t lens[3] = { sizeof(b320_sps), sizeof(b320_pps), 0 };
	struct coded_params *current = NULL, *changed;
	struct coded_entry *e;
	struct nal_iter it;

	if (codec == CODED_H265) {
		sets[0] = e720_vps;
		sets[1] = e720_sps;
		sets[2] = e720_pps;
		lens[0] = sizeof(e720_vps);
		lens[1] = sizeof(e720_sps);
		lens[2] = sizeof(e720_pps);
	}
	if (with_current) {
		current = coded_params_video(codec, sets, lens, codec == CODED_H265 ? 3 : 2);
		FUZZ_CHECK(current != NULL, "the real parameter sets were refused");
	}
	if (ls)
		nal_iter_lp(&it, p, len, ls);
	else
		nal_iter_annexb(&it, p, len);
	long n = walk(&it, au_units);
	int r = coded_entry_from_au(codec, p, len, ls, current, &e, &changed);
	if (r < 0) {
		FUZZ_CHECK(!e && !changed, "a refused access unit left an entry");
		FUZZ_CHECK(r == -EINVAL || r == -ENODATA || r == -ENOMEM, "from_au said %d", r);
		FUZZ_CHECK(r != -ENODATA || !current, "ENODATA with current parameters");
		coded_params_unref(current);
		return;
	}
	FUZZ_CHECK(n > 0, "an entry from an access unit the walk refused or found empty");
	nal_iter_lp(&it, e->data, e->len, 4);
	FUZZ_CHECK(walk(&it, units_b) == n && same_units(au_units, units_b, n),
		"an entry's data is not the access unit's units");
	bool key = false;
	for (long i = 0; i < n && i < MAX_UNITS; i++)
		key |= nal_is_key(nc, nal_type(nc, au_units[i].data, au_units[i].len));
	FUZZ_CHECK((e->key == key || n > MAX_UNITS) && e->kind == CODED_VIDEO,
		"an entry's key flag is wrong");
	FUZZ_CHECK(e->params && e->params == (changed ? changed : current),
		"an entry refers to other parameters than it should");
	if (changed) {
		FUZZ_CHECK(!coded_params_same(changed, current), "new parameters equal to current");
		FUZZ_CHECK(changed->width > 0 && changed->height > 0, "new parameters have no size");
	}
	/* through a log: a key picture is what a new reader gets at once */
	struct coded_log *log = coded_log_create(1 << 20, 8);
	struct coded_cursor c = { 0 };
	struct coded_entry *got;
	if (!log)
		abort();
	coded_log_append(log, e);
	bool read = coded_log_read(log, &c, 0, &got);
	FUZZ_CHECK(read == key && (!read || got == e), "a new reader got %s", read ? "it" :
		"nothing");
	coded_entry_unref(got);
	coded_log_destroy(log);
	coded_params_unref(changed);
	coded_params_unref(current);
}

static void check_feed(enum nal_codec codec, const uint8_t *p, size_t len, bool hint)
{
	struct nal_iter it;
	struct nal_unit u;
	bool key = false, slice = false;
	nal_iter_annexb(&it, p, len);
	while (nal_iter_next(&it, &u) == 1) {
		int type = nal_type(codec, u.data, u.len);
		key |= nal_is_key(codec, type);
		slice |= nal_is_vcl(codec, type);
	}
	if (!key && !slice)
		return; /* no picture in it: the hint, or the log's "not key" */

	struct coded_log *log = coded_log_create(1 << 20, 8);
	struct coded_feed *feed = log ? coded_feed_create(log, "fuzz:") : NULL;
	AVCodecParameters *par = avcodec_parameters_alloc();
	if (!feed || !par)
		abort();
	par->codec_type = AVMEDIA_TYPE_VIDEO;
	par->codec_id = codec == NAL_H264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_HEVC;
	FUZZ_CHECK(coded_feed_video(feed, par), "the feed refused H.264/H.265");
	bool got = coded_feed_picture(feed, p, len, 0, 0, 0, hint, NULL);
	FUZZ_CHECK(got == key, "the feed judged key %d, the units say %d (hint %d)", got, key,
		hint);
	avcodec_parameters_free(&par);
	coded_feed_destroy(feed);
	coded_log_destroy(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sizes[4] = { 1, 2, 4, 4 };

	if (size < 1)
		return 0;
	unsigned sel = data[0];
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	enum nal_codec codec = sel & 1 ? NAL_H265 : NAL_H264;
	unsigned ls = sizes[(sel >> 1) & 3];

	check_annexb(codec, p, len);
	check_lp(p, len, ls);
	check_sps(codec, p, len);
	check_records(codec, p, len);
	check_entry(codec == NAL_H264 ? CODED_H264 : CODED_H265, p, len, sel & 8 ? ls : 0,
		sel & 16);
	check_feed(codec, p, len, sel & 32);

	/* the bit reader alone: runs off the end, never past it */
	struct nal_bits b;
	nal_bits_init(&b, p, len);
	for (int i = 0; i < 64 && !b.overrun; i++) {
		if (i & 1)
			nal_bits_se(&b);
		else
			nal_bits_ue(&b);
	}
	FUZZ_CHECK(b.pos <= len * 8, "the bit reader went %zu bits into %zu bytes", b.pos, len);
	return 0;
}
