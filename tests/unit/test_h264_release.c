/* h264_release: packets shaped as FFmpeg's RTP depacketizer shapes them (NOPARSE), and what
 * reaches the decoder, when, and that no byte is changed or lost on the way. */
#include <stdlib.h>

#include "check.h"
#include "h264_release.h"

#define MID 100  /* a middle piece; a first piece is MID + 5 */

/* What the decoder was given: every hand-over, concatenated. */
struct sink {
	unsigned char data[1 << 16];
	size_t len;
	int calls;
	int64_t last_pts;
	int fail;  /* return this from the next call when non-zero */
};

static int take(void *arg, const uint8_t *d, size_t n, int64_t pts)
{
	struct sink *k = arg;
	if (k->fail)
		return k->fail;
	if (k->len + n <= sizeof(k->data)) {
		memcpy(k->data + k->len, d, n);
		k->len += n;
	}
	k->calls++;
	k->last_pts = pts;
	return 0;
}

/* What was pushed, for comparing. */
static unsigned char sent[1 << 16];
static size_t sent_len;
static unsigned char next_byte = 0x40;

static void push(struct h264_release *r, struct sink *k, const unsigned char *d, size_t n,
	int64_t pts, int expect_ret)
{
	memcpy(sent + sent_len, d, n);
	sent_len += n;
	CHECK(h264_release_push(r, d, n, pts, take, k) == expect_ret);
}

/* A packet with a start code and NAL type @type (the rest is filler with no zero bytes). */
static void unit_packet(unsigned char *p, size_t n, unsigned type)
{
	memset(p, 0, 4);
	p[3] = 1;
	p[4] = (unsigned char)(0x60 | type);
	for (size_t i = 5; i < n; i++)
		p[i] = (unsigned char)(next_byte++ | 0x01);
}

static void piece_packet(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(next_byte++ | 0x80);
}

/* One picture: a delimiter, then @slices slices each cut into a first piece, @mid middle
 * pieces and a last piece of @last bytes. */
static void picture(struct h264_release *r, struct sink *k, int64_t pts, int slices, int mid,
	size_t last)
{
	unsigned char p[MID + 5];

	unit_packet(p, 6, 9);
	push(r, k, p, 6, pts, 0);
	for (int s = 0; s < slices; s++) {
		unit_packet(p, MID + 5, s == 0 ? 5 : 1);
		push(r, k, p, MID + 5, pts, 0);
		for (int m = 0; m < mid; m++) {
			piece_packet(p, MID);
			push(r, k, p, MID, pts, 0);
		}
		piece_packet(p, last);
		push(r, k, p, last, pts, 0);
	}
}

static void reset(struct h264_release *r, struct sink *k)
{
	h264_release_init(r);
	memset(k, 0, sizeof(*k));
	sent_len = 0;
}

/* Pictures until early release: sizes after the first (2 slices x 2 middle pieces gives 2
 * first and 4 middle pieces), the slice count after three. */
static void learn(struct h264_release *r, struct sink *k)
{
	for (int i = 1; i <= 4; i++)
		picture(r, k, 1000 * i, 2, 2, 40);
}

static void test_waits_for_the_next_picture_until_the_pattern_is_seen(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	picture(&r, &k, 1000, 1, 1, 40);
	CHECK(k.calls == 0);
	CHECK(!h264_release_early(&r));
	picture(&r, &k, 2000, 1, 1, 40);
	CHECK(k.calls == 1); /* the first picture, when the second began */
	CHECK(k.last_pts == 1000);
	CHECK(k.len == 6 + MID + 5 + MID + 40);
	CHECK(!memcmp(k.data, sent, k.len));
	h264_release_free(&r);
}

static void test_releases_a_picture_on_the_last_piece_of_its_last_slice(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	picture(&r, &k, 1000, 2, 2, 40);
	picture(&r, &k, 2000, 2, 2, 40);
	picture(&r, &k, 3000, 2, 2, 40);
	CHECK(!h264_release_early(&r)); /* two pictures judged so far */
	CHECK(k.calls == 2);
	picture(&r, &k, 4000, 2, 2, 40);
	/* picture 3 judged when picture 4 began: picture 4 went out on its own last piece */
	CHECK(h264_release_early(&r));
	CHECK(k.calls == 4);
	CHECK(k.last_pts == 4000);
	CHECK(k.len == sent_len);
	CHECK(!memcmp(k.data, sent, sent_len));
	size_t before = k.len;
	picture(&r, &k, 5000, 2, 2, 7);
	/* one hand-over per picture, both slices in it, so the decoder's threads share them */
	CHECK(k.calls == 5);
	CHECK(k.len - before == 6 + 2 * (MID + 5 + 2 * MID + 7));
	CHECK(r.early_pictures == 2);
	CHECK(r.dropped_bytes == 0);
	h264_release_free(&r);
}

static void test_a_last_piece_as_long_as_the_middle_ones_waits(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	learn(&r, &k);
	CHECK(h264_release_early(&r));
	int calls = k.calls;
	picture(&r, &k, 9000, 2, 2, MID); /* cannot tell its slices are whole: held */
	CHECK(k.calls == calls);
	picture(&r, &k, 9100, 2, 2, 50);
	CHECK(k.calls == calls + 2);
	CHECK(h264_release_early(&r)); /* an equal last piece breaks nothing */
	CHECK(!memcmp(k.data, sent, sent_len));
	h264_release_free(&r);
}

static void test_whole_units_in_one_packet_end_a_picture_at_once(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char p[64];
	reset(&r, &k);

	/* a camera whose pictures are one small slice each, never fragmented, next to large
	 * ones that teach the piece sizes */
	for (int i = 1; i <= 4; i++) {
		picture(&r, &k, i, 1, 2, 40);
	}
	CHECK(h264_release_early(&r));
	int calls = k.calls;
	unit_packet(p, 6, 9);
	push(&r, &k, p, 6, 50, 0);
	CHECK(k.calls == calls); /* a delimiter alone is never handed over */
	unit_packet(p, 60, 1);
	push(&r, &k, p, 60, 50, 0);
	CHECK(k.calls == calls + 1);
	CHECK(k.len == sent_len);
	h264_release_free(&r);
}

static void test_a_changing_slice_count_waits_until_it_is_steady_again(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	learn(&r, &k);
	int calls = k.calls;
	picture(&r, &k, 9000, 1, 2, 40); /* one slice where two were expected: held */
	CHECK(k.calls == calls);
	picture(&r, &k, 9100, 1, 2, 40);
	CHECK(k.calls == calls + 1);
	CHECK(!h264_release_early(&r));
	CHECK(!r.broken);
	picture(&r, &k, 9200, 1, 2, 40);
	picture(&r, &k, 9300, 1, 2, 40);
	CHECK(h264_release_early(&r)); /* three in a row at one slice */
	CHECK(k.calls == calls + 4);
	CHECK(!memcmp(k.data, sent, sent_len));
	h264_release_free(&r);
}

static void test_an_extra_slice_after_an_early_release_is_dropped_and_stops_it(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	learn(&r, &k);
	int calls = k.calls;
	picture(&r, &k, 9000, 3, 2, 40);
	CHECK(k.calls == calls + 1); /* out at the second slice */
	CHECK(r.broken);
	CHECK(!h264_release_early(&r));
	CHECK(r.dropped_bytes == MID + 5 + 2 * MID + 40);
	picture(&r, &k, 9100, 2, 2, 40);
	CHECK(k.calls == calls + 1); /* from now on, at the next picture */
	picture(&r, &k, 9200, 2, 2, 40);
	CHECK(k.calls == calls + 2);
	h264_release_free(&r);
}

static void test_uneven_middle_pieces_never_release_early(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char p[MID + 5];
	reset(&r, &k);

	for (int f = 1; f <= 6; f++) {
		unit_packet(p, MID + 5, 5);
		push(&r, &k, p, MID + 5, f, 0);
		piece_packet(p, MID);
		push(&r, &k, p, MID, f, 0);
		piece_packet(p, MID - 10); /* a middle piece shorter than the one before */
		push(&r, &k, p, MID - 10, f, 0);
		piece_packet(p, 20);
		push(&r, &k, p, 20, f, 0);
	}
	CHECK(r.broken);
	CHECK(!h264_release_early(&r));
	CHECK(k.calls == 5); /* picture by picture, each when the next began */
	CHECK(!memcmp(k.data, sent, k.len));
	CHECK(r.dropped_bytes == 0);
	h264_release_free(&r);
}

static void test_a_short_middle_piece_after_an_early_release_stops_it(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char p[MID + 5];
	reset(&r, &k);

	learn(&r, &k);
	unit_packet(p, MID + 5, 1);
	push(&r, &k, p, MID + 5, 9000, 0);
	piece_packet(p, 30);
	push(&r, &k, p, 30, 9000, 0);
	unit_packet(p, MID + 5, 1);
	push(&r, &k, p, MID + 5, 9000, 0);
	int calls = k.calls;
	piece_packet(p, 30); /* short: taken for the last piece; the picture goes out */
	push(&r, &k, p, 30, 9000, 0);
	CHECK(k.calls == calls + 1);
	piece_packet(p, 30); /* but the unit goes on */
	CHECK(h264_release_push(&r, p, 30, 9000, take, &k) == 0);
	CHECK(r.broken);
	CHECK(!h264_release_early(&r));
	CHECK(r.dropped_bytes == 30);
	CHECK(k.calls == calls + 1);
	h264_release_free(&r);
}

static void test_pieces_without_a_start_are_dropped(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char p[MID];
	reset(&r, &k);

	piece_packet(p, MID); /* joined mid-unit */
	CHECK(h264_release_push(&r, p, MID, 1, take, &k) == 0);
	CHECK(h264_release_push(&r, p, 10, 1, take, &k) == 0);
	CHECK(r.dropped_bytes == MID + 10);
	CHECK(!r.broken);
	picture(&r, &k, 2, 1, 1, 10);
	picture(&r, &k, 3, 1, 1, 10);
	CHECK(k.calls == 1);
	CHECK(!memcmp(k.data, sent, k.len));
	h264_release_free(&r);
}

static void test_flush_hands_over_a_picture_with_a_slice(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char p[MID + 5];
	reset(&r, &k);

	unit_packet(p, 40, 5);
	push(&r, &k, p, 40, 1, 0);
	unit_packet(p, MID + 5, 1); /* still open at the end: the decoder conceals the rest */
	push(&r, &k, p, MID + 5, 1, 0);
	CHECK(k.calls == 0);
	CHECK(h264_release_flush(&r, take, &k) == 0);
	CHECK(k.calls == 1);
	CHECK(k.len == 40 + MID + 5);
	CHECK(r.len == 0);
	unit_packet(p, 8, 9); /* units without a slice are dropped */
	CHECK(h264_release_push(&r, p, 8, 2, take, &k) == 0);
	CHECK(h264_release_flush(&r, take, &k) == 0);
	CHECK(k.calls == 1);
	CHECK(r.dropped_bytes == 8);
	h264_release_free(&r);
}

static void test_the_decoders_error_is_returned(void)
{
	struct h264_release r;
	struct sink k;
	reset(&r, &k);

	picture(&r, &k, 1, 1, 1, 10);
	k.fail = -5;
	unsigned char p[8];
	unit_packet(p, 8, 9);
	CHECK(h264_release_push(&r, p, 8, 2, take, &k) == -5);
	h264_release_free(&r);
}

static void test_a_picture_that_never_ends_is_dropped_not_kept(void)
{
	struct h264_release r;
	struct sink k;
	unsigned char *big = malloc(1 << 20);
	reset(&r, &k);

	CHECK(big != NULL);
	if (!big)
		return;
	unit_packet(big, 1 << 20, 5);
	for (int i = 0; i < 20; i++) /* 20 MiB, one timestamp, never a start code again */
		CHECK(h264_release_push(&r, i ? big + 8 : big, (1 << 20) - (i ? 8 : 0), 1, take,
			&k) == 0);
	CHECK(r.len <= H264_RELEASE_MAX_PENDING);
	CHECK(r.dropped_bytes > 0);
	CHECK(k.calls == 0);
	free(big);
	h264_release_free(&r);
}

int main(void)
{
	RUN(test_waits_for_the_next_picture_until_the_pattern_is_seen);
	RUN(test_releases_a_picture_on_the_last_piece_of_its_last_slice);
	RUN(test_a_last_piece_as_long_as_the_middle_ones_waits);
	RUN(test_whole_units_in_one_packet_end_a_picture_at_once);
	RUN(test_a_changing_slice_count_waits_until_it_is_steady_again);
	RUN(test_an_extra_slice_after_an_early_release_is_dropped_and_stops_it);
	RUN(test_uneven_middle_pieces_never_release_early);
	RUN(test_a_short_middle_piece_after_an_early_release_stops_it);
	RUN(test_pieces_without_a_start_are_dropped);
	RUN(test_flush_hands_over_a_picture_with_a_slice);
	RUN(test_the_decoders_error_is_returned);
	RUN(test_a_picture_that_never_ends_is_dropped_not_kept);
	return CHECK_DONE();
}
