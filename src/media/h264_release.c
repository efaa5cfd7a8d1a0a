/* h264_release: see h264_release.h for what and why. */
#include "h264_release.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FFmpeg's depacketizer writes 00 00 00 01; a bare FU-A piece cannot start with 00 00 01
 * because emulation prevention keeps that sequence out of NAL data. */
static bool starts_with_start_code(const uint8_t *d, size_t n)
{
	return (n >= 3 && d[0] == 0 && d[1] == 0 && d[2] == 1) ||
		(n >= 4 && d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 1);
}

/* Slices (coded picture data, NAL types 1..5) among the units of a packet that starts with
 * a start code. */
static unsigned count_slices(const uint8_t *d, size_t n)
{
	unsigned count = 0;

	for (size_t i = 0; i + 3 < n; i++) {
		if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
			unsigned type = d[i + 3] & 0x1f;
			count += type >= 1 && type <= 5;
			i += 2;
		}
	}
	return count;
}

void h264_release_init(struct h264_release *r)
{
	memset(r, 0, sizeof(*r));
}

void h264_release_free(struct h264_release *r)
{
	free(r->buf);
	h264_release_init(r);
}

/* Whole units are known without waiting for the next packet. */
static bool sizes_known(const struct h264_release *r)
{
	return !r->broken && r->firsts >= H264_RELEASE_MIN_FIRSTS &&
		r->middles >= H264_RELEASE_MIN_MIDDLES && r->middle_size > 0 &&
		r->first_size == r->middle_size + 5;
}

bool h264_release_early(const struct h264_release *r)
{
	return sizes_known(r) && r->slice_count > 0 && r->pictures >= H264_RELEASE_MIN_PICTURES;
}

static void drop_all(struct h264_release *r)
{
	r->dropped_bytes += r->len;
	r->len = 0;
	r->open = false;
	r->slices = 0;
}

/* Hands the held picture over if it has a slice; units without one (delimiters, parameter
 * sets, SEI) stay for the picture they belong to. */
static int release(struct h264_release *r, h264_release_fn emit, void *arg)
{
	if (!r->slices)
		return 0;
	int ret = emit(arg, r->buf, r->len, r->pts);
	r->len = 0;
	r->open = false;
	r->slices = 0;
	return ret;
}

static int append(struct h264_release *r, const uint8_t *d, size_t n)
{
	if (r->len + n > H264_RELEASE_MAX_PENDING) {
		/* A picture that never ends: damaged input. Start again at the next start code. */
		drop_all(r);
		r->dropped_bytes += n;
		r->skipping = true;
		return 0;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 64 * 1024;
		while (cap < r->len + n)
			cap *= 2;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, d, n);
	r->len += n;
	return 0;
}

/* Judges the previous packet now that the next one shows what it was, against the piece
 * pattern (see the header). @continues: this packet is a piece of the previous unit. */
static void learn_sizes(struct h264_release *r, bool continues)
{
	if (r->prev == PREV_START && continues) {
		/* the previous packet was the first piece of a fragmented unit */
		if (!r->first_size)
			r->first_size = r->prev_size;
		else if (r->first_size != r->prev_size)
			r->broken = true;
		r->firsts++;
	} else if (r->prev == PREV_PIECE && continues) {
		/* a middle piece */
		if (!r->middle_size)
			r->middle_size = r->prev_size;
		else if (r->middle_size != r->prev_size)
			r->broken = true;
		r->middles++;
	} else if (r->prev == PREV_PIECE) {
		/* a last piece: never longer than the middle ones */
		if (r->middle_size && r->prev_size > r->middle_size)
			r->broken = true;
	}
}

/* A picture ended (a new timestamp): learns its slice count. @n: its slices. */
static void learn_slices(struct h264_release *r, unsigned n)
{
	if (!n)
		return;
	if (n == r->slice_count) {
		if (r->pictures < H264_RELEASE_MIN_PICTURES)
			r->pictures++;
	} else {
		r->slice_count = n;
		r->pictures = 1;
	}
}

int h264_release_push(struct h264_release *r, const uint8_t *data, size_t len, int64_t pts,
	h264_release_fn emit, void *arg)
{
	if (!len)
		return 0;
	bool start = starts_with_start_code(data, len);
	bool new_picture = r->have_pts && pts != r->pts;
	bool continues = !start && !new_picture;
	int ret = 0;

	learn_sizes(r, continues);
	r->prev = start ? PREV_START : PREV_PIECE;
	r->prev_size = len;

	if (new_picture) {
		/* The previous picture is complete, unless it went out already. */
		learn_slices(r, r->released ? r->slice_count : r->slices);
		r->released = false;
		r->skipping = false;
		if ((ret = release(r, emit, arg)) < 0)
			return ret;
	}
	if (!r->have_pts || new_picture) {
		r->pts = pts;
		r->have_pts = true;
	}

	unsigned slices = start ? count_slices(data, len) : 0;
	if (start) {
		r->open = false;
		r->skipping = false;
		if (r->released && slices) {
			/* One more slice after the picture went out: the count was wrong. The rest of
			 * this picture cannot be decoded without its first part: dropped. */
			r->broken = true;
			r->skipping = true;
		}
	} else if (!r->open) {
		/* A piece with no open unit to join: its start was lost or damaged, or it was
		 * taken for the last piece on its size and was not. */
		if (!r->skipping && r->released)
			r->broken = true;
		r->skipping = true;
	}
	if (r->skipping) {
		r->dropped_bytes += len;
		return 0;
	}
	if ((ret = append(r, data, len)) < 0 || r->skipping)
		return ret;
	if (start) {
		r->slices += slices;
		r->open = true;
	}

	/* Is the unit this packet belongs to whole already? Only once the sizes are known. */
	if (r->open && sizes_known(r) && (start ? len != r->first_size : len < r->middle_size))
		r->open = false;
	/* And is it the picture's last slice? */
	if (!r->open && h264_release_early(r) && r->slices == r->slice_count) {
		r->early_pictures++;
		r->released = true;
		return release(r, emit, arg);
	}
	return 0;
}

int h264_release_flush(struct h264_release *r, h264_release_fn emit, void *arg)
{
	/* The last picture may lack its end: the decoder conceals what is missing. */
	int ret = release(r, emit, arg);
	drop_all(r);
	r->prev = PREV_NONE;
	r->have_pts = false;
	r->released = false;
	r->skipping = false;
	return ret;
}
