/* fuzz_h264_release: any bytes as a run of RTSP demuxer packets into h264_release
 * (docs/FUZZING.md). The input is cut into packets: each takes a header byte (bit 7: the
 * packet starts a new frame, that is a new timestamp; bits 0-6 and the next byte: its length)
 * and then that many bytes, so the fuzzer controls sizes, the pattern of pieces and frames,
 * and the bytes themselves (start codes, NAL types). Invariants, after every packet:
 * - no byte is made up or lost: pushed = handed over + dropped + held;
 * - every hand-over starts with a start code, holds a slice, and carries the timestamp of
 *   the packet it ends with (units without a slice that waited go with the next slice);
 * - a packet is kept or dropped whole, and what is handed over is the kept packets, whole,
 *   in their order, each once: never a changed or split one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "h264_release.h"

/* The packets kept so far (not dropped), flattened, and how far hand-overs have used them. */
struct seen {
	uint8_t *kept;
	size_t kept_len, pos;
	size_t *ends;           /* where each kept packet ends in kept */
	int64_t *pts;           /* each kept packet's timestamp */
	size_t n_kept, next;    /* kept packets; the first not used yet */
	const uint8_t *cur;     /* the packet being pushed: not in kept yet */
	size_t cur_len;
	int64_t cur_pts;
	bool cur_used;          /* a hand-over ended with it */
	size_t out_total;
};

static bool slice_in(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) >= 1 &&
			(d[i + 3] & 0x1f) <= 5)
			return true;
	return false;
}

/* A hand-over must be the next kept packets, whole, perhaps ending with the one being
 * pushed. */
static int take(void *arg, const uint8_t *d, size_t n, int64_t pts)
{
	struct seen *s = arg;
	size_t avail = s->kept_len - s->pos;

	FUZZ_CHECK(n >= 4 && d[0] == 0 && d[1] == 0 && (d[2] == 1 || (d[2] == 0 && d[3] == 1)),
		"a hand-over of %zu bytes does not start with a start code", n);
	FUZZ_CHECK(slice_in(d, n), "a hand-over of %zu bytes holds no slice", n);
	FUZZ_CHECK(!s->cur_used, "the packet being pushed was handed over twice");
	FUZZ_CHECK(!memcmp(d, s->kept + s->pos, n < avail ? n : avail),
		"a hand-over is not the bytes kept, in order");
	if (n > avail) {
		FUZZ_CHECK(n - avail == s->cur_len && !memcmp(d + avail, s->cur, s->cur_len),
			"a hand-over of %zu bytes does not end on a packet", n);
		FUZZ_CHECK(pts == s->cur_pts, "a hand-over carries another timestamp than its "
			"last packet's");
		s->cur_used = true;
		s->pos = s->kept_len;
		s->next = s->n_kept;
	} else {
		size_t end = s->pos + n, k = s->next;
		while (k < s->n_kept && s->ends[k] < end)
			k++;
		FUZZ_CHECK(k < s->n_kept && s->ends[k] == end,
			"a hand-over of %zu bytes splits a packet", n);
		FUZZ_CHECK(pts == s->pts[k], "a hand-over carries another timestamp than its "
			"last packet's");
		s->pos = end;
		s->next = k + 1;
	}
	s->out_total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	s.kept = malloc(size + 1);
	s.ends = malloc((size + 1) * sizeof(*s.ends));
	s.pts = malloc((size + 1) * sizeof(*s.pts));
	if (!s.kept || !s.ends || !s.pts)
		abort();

	struct h264_release r;
	h264_release_init(&r);
	size_t pushed = 0, i = 0;
	int64_t t = 0;
	while (i + 2 <= size) {
		if (data[i] & 0x80)
			t += 3600;
		size_t len = ((size_t)(data[i] & 0x7f) << 8 | data[i + 1]) + 1;
		i += 2;
		if (len > size - i)
			len = size - i;
		if (!len)
			break;
		s.cur = data + i;
		s.cur_len = len;
		s.cur_pts = t;
		s.cur_used = false;
		uint64_t dropped = r.dropped_bytes;
		FUZZ_CHECK(h264_release_push(&r, data + i, len, t, take, &s) == 0, "push failed");
		uint64_t delta = r.dropped_bytes - dropped;
		/* far below H264_RELEASE_MAX_PENDING: a packet is dropped whole or kept */
		FUZZ_CHECK(delta == 0 || (delta == len && !s.cur_used),
			"a push dropped %llu bytes of a %zu byte packet", (unsigned long long)delta, len);
		if (!delta && !s.cur_used) {
			memcpy(s.kept + s.kept_len, data + i, len);
			s.kept_len += len;
			s.ends[s.n_kept] = s.kept_len;
			s.pts[s.n_kept++] = t;
		}
		pushed += len;
		i += len;
		FUZZ_CHECK(pushed == s.out_total + r.dropped_bytes + r.len,
			"bytes lost or made up: pushed %zu, out %zu, dropped %llu, held %zu", pushed,
			s.out_total, (unsigned long long)r.dropped_bytes, r.len);
		FUZZ_CHECK(r.len == s.kept_len - s.pos, "held %zu bytes, kept %zu", r.len,
			s.kept_len - s.pos);
	}
	s.cur = NULL;
	s.cur_len = 0;
	FUZZ_CHECK(h264_release_flush(&r, take, &s) == 0, "flush failed");
	FUZZ_CHECK(pushed == s.out_total + r.dropped_bytes && r.len == 0,
		"bytes lost at the flush");
	h264_release_free(&r);
	free(s.kept);
	free(s.ends);
	free(s.pts);
	return 0;
}
