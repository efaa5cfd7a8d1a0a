/* encoder: known pictures in, JPEG out, decoded back with TurboJPEG and compared. */
#include "encoder.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include <turbojpeg.h>

#include "check.h"

/* Patches every test picture carries, placed in fractions of the size so they survive
 * resizing: limited black (Y=16) and limited white (Y=235), both with neutral chroma. */
#define BLACK_X0 0.10
#define WHITE_X0 0.60
#define PATCH_Y0 0.55
#define PATCH_W 0.25
#define PATCH_H 0.35

static bool in_patch(int x, int y, int w, int h, double x0)
{
	return x >= x0 * w && x < (x0 + PATCH_W) * w && y >= PATCH_Y0 * h &&
		y < (PATCH_Y0 + PATCH_H) * h;
}

/* The test picture in limited range: smooth luma and chroma gradients with the black and
 * white patches. */
static int luma_at(int x, int y, int w, int h)
{
	if (in_patch(x, y, w, h, BLACK_X0))
		return 16;
	if (in_patch(x, y, w, h, WHITE_X0))
		return 235;
	return 16 + (219 * x) / (w - 1 > 0 ? w - 1 : 1) / 2 + (219 * y) / (h - 1 > 0 ? h - 1 : 1) / 2;
}

static int chroma_at(int cx, int cy, int cw, int ch, int plane, int w, int h)
{
	if (in_patch(cx * 2, cy * 2, w, h, BLACK_X0) || in_patch(cx * 2, cy * 2, w, h, WHITE_X0))
		return 128;
	int t = plane == 1 ? cx * 224 / (cw > 1 ? cw - 1 : 1) : cy * 224 / (ch > 1 ? ch - 1 : 1);
	return 16 + t;
}

static int full_y(int v)
{
	long n = lround((v - 16) * 255.0 / 219.0);
	return n < 0 ? 0 : n > 255 ? 255 : (int)n;
}

/* The chroma reference: 16..240 -> 0..255 about 128, rounded half away from 128. */
static int full_c(int v)
{
	long n = 128 + lround((v - 128) * 255.0 / 224.0);
	return n < 0 ? 0 : n > 255 ? 255 : (int)n;
}

static AVFrame *make_yuv420(int w, int h, enum AVPixelFormat fmt, enum AVColorRange range)
{
	AVFrame *f = av_frame_alloc();
	if (!f)
		return NULL;
	f->format = fmt;
	f->width = w;
	f->height = h;
	f->color_range = range;
	if (av_frame_get_buffer(f, 0) < 0) {
		av_frame_free(&f);
		return NULL;
	}
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			f->data[0][y * f->linesize[0] + x] = (uint8_t)luma_at(x, y, w, h);
	for (int p = 1; p <= 2; p++)
		for (int y = 0; y < ch; y++)
			for (int x = 0; x < cw; x++)
				f->data[p][y * f->linesize[p] + x] =
					(uint8_t)chroma_at(x, y, cw, ch, p, w, h);
	return f;
}

/* A decoded JPEG: its size and planes (TurboJPEG's YUV layout, tight strides). */
struct decoded {
	int w, h, subsamp;
	unsigned char *plane[3];
	unsigned char *rgb;
};

static bool decode(const struct frame *f, struct decoded *d)
{
	tjhandle tj = tjInitDecompress();
	int cs;
	bool ok = false;

	memset(d, 0, sizeof(*d));
	if (!tj)
		return false;
	if (tjDecompressHeader3(tj, f->data, f->len, &d->w, &d->h, &d->subsamp, &cs) != 0)
		goto out;
	int n = d->subsamp == TJSAMP_GRAY ? 1 : 3;
	int strides[3] = { 0 };
	for (int i = 0; i < n; i++) {
		strides[i] = tjPlaneWidth(i, d->w, d->subsamp);
		d->plane[i] = malloc((size_t)strides[i] * tjPlaneHeight(i, d->h, d->subsamp));
		if (!d->plane[i])
			goto out;
	}
	d->rgb = malloc((size_t)d->w * d->h * 3);
	if (!d->rgb)
		goto out;
	if (tjDecompressToYUVPlanes(tj, f->data, f->len, d->plane, d->w, strides, d->h, 0) != 0)
		goto out;
	if (tjDecompress2(tj, f->data, f->len, d->rgb, d->w, 0, d->h, TJPF_RGB, 0) != 0)
		goto out;
	ok = true;
out:
	tjDestroy(tj);
	return ok;
}

static void decoded_free(struct decoded *d)
{
	for (int i = 0; i < 3; i++)
		free(d->plane[i]);
	free(d->rgb);
}

static int y_at(const struct decoded *d, int x, int y)
{
	return d->plane[0][y * d->w + x];
}

/* Mean of the RGB channels over the middle of a patch (away from its edges). */
static double patch_rgb_mean(const struct decoded *d, double x0, int *min, int *max)
{
	int x_lo = (int)((x0 + PATCH_W * 0.25) * d->w), x_hi = (int)((x0 + PATCH_W * 0.75) * d->w);
	int y_lo = (int)((PATCH_Y0 + PATCH_H * 0.25) * d->h);
	int y_hi = (int)((PATCH_Y0 + PATCH_H * 0.75) * d->h);
	double sum = 0;
	long n = 0;

	*min = 255;
	*max = 0;
	for (int y = y_lo; y < y_hi; y++)
		for (int x = x_lo; x < x_hi; x++)
			for (int c = 0; c < 3; c++) {
				int v = d->rgb[(y * d->w + x) * 3 + c];
				sum += v;
				n++;
				*min = v < *min ? v : *min;
				*max = v > *max ? v : *max;
			}
	return n ? sum / n : -1;
}

/* PSNR of the decoded luma against @expect(x, y) over the first w x h pixels. */
static double luma_psnr(const struct decoded *d, int (*expect)(int, int, void *), void *ctx)
{
	double se = 0;
	for (int y = 0; y < d->h; y++)
		for (int x = 0; x < d->w; x++) {
			double e = y_at(d, x, y) - expect(x, y, ctx);
			se += e * e;
		}
	double mse = se / ((double)d->w * d->h);
	return mse <= 0 ? 99 : 10 * log10(255.0 * 255.0 / mse);
}

struct picture_ctx {
	int w, h;   /* the source picture's size */
	bool full;  /* the source is already full range */
};

static int expect_full_luma(int x, int y, void *arg)
{
	const struct picture_ctx *c = arg;
	int v = luma_at(x, y, c->w, c->h);
	return c->full ? v : full_y(v);
}

static void check_black_and_white(const struct decoded *d)
{
	int mn, mx;
	patch_rgb_mean(d, BLACK_X0, &mn, &mx);
	CHECK(mx <= 3);
	patch_rgb_mean(d, WHITE_X0, &mn, &mx);
	CHECK(mn >= 252);
}

static struct frame *encode_once(const AVFrame *pic, int rw, int rh, int q)
{
	struct encoder *e = encoder_create();
	struct cs_error err = { 0 };
	struct frame *f = e ? encoder_encode(e, pic, rw, rh, q, &err) : NULL;
	if (!f)
		printf("#   encode failed: %s\n", e ? err.msg : "no encoder");
	encoder_destroy(e);
	return f;
}

static void test_limited_range_420_expands_to_full_range(void)
{
	AVFrame *pic = make_yuv420(642, 362, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct frame *f = encode_once(pic, 0, 0, 90);
	struct decoded d;

	CHECK(f && f->width == 642 && f->height == 362 && f->len > 0);
	if (f && decode(f, &d)) {
		struct picture_ctx c = { 642, 362, false };
		CHECK(d.w == 642 && d.h == 362 && d.subsamp == TJSAMP_420);
		double psnr = luma_psnr(&d, expect_full_luma, &c);
		if (psnr <= 35)
			printf("#   luma PSNR %.1f dB\n", psnr);
		CHECK(psnr > 35);
		/* Cb at the right edge of the picture was 240 (limited max): now about 255. */
		int cw = tjPlaneWidth(1, d.w, d.subsamp);
		CHECK(d.plane[1][5 * cw + cw - 2] >= 248);
		CHECK(d.plane[1][5 * cw + 1] <= 8);
		check_black_and_white(&d);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_unspecified_range_is_treated_as_limited(void)
{
	AVFrame *pic = make_yuv420(642, 362, AV_PIX_FMT_YUV420P, AVCOL_RANGE_UNSPECIFIED);
	struct frame *f = encode_once(pic, 0, 0, 90);
	struct decoded d;

	CHECK(f != NULL);
	if (f && decode(f, &d)) {
		check_black_and_white(&d);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_full_range_passes_unchanged(void)
{
	/* yuvj420p, and yuv420p flagged JPEG range: a Y=16 patch must stay 16, not go to 0. */
	enum AVPixelFormat fmts[2] = { AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P };
	enum AVColorRange ranges[2] = { AVCOL_RANGE_UNSPECIFIED, AVCOL_RANGE_JPEG };

	for (int i = 0; i < 2; i++) {
		AVFrame *pic = make_yuv420(642, 362, fmts[i], ranges[i]);
		struct frame *f = encode_once(pic, 0, 0, 90);
		struct decoded d;

		CHECK(f != NULL);
		if (f && decode(f, &d)) {
			struct picture_ctx c = { 642, 362, true };
			CHECK(luma_psnr(&d, expect_full_luma, &c) > 35);
			int bx = (int)((BLACK_X0 + PATCH_W / 2) * d.w);
			int wx = (int)((WHITE_X0 + PATCH_W / 2) * d.w);
			int py = (int)((PATCH_Y0 + PATCH_H / 2) * d.h);
			CHECK(abs(y_at(&d, bx, py) - 16) <= 2);
			CHECK(abs(y_at(&d, wx, py) - 235) <= 2);
			decoded_free(&d);
		}
		frame_unref(f);
		av_frame_free(&pic);
	}
}

static void test_out_size_keeps_aspect_and_is_even(void)
{
	int w, h;

	encoder_out_size(1280, 720, 640, 0, &w, &h);
	CHECK(w == 640 && h == 360);
	encoder_out_size(1280, 720, 0, 360, &w, &h);
	CHECK(w == 640 && h == 360);
	encoder_out_size(642, 362, 321, 0, &w, &h);
	CHECK(w == 322 && h == 182);
	encoder_out_size(1920, 1080, 101, 51, &w, &h);
	CHECK(w == 102 && h == 52);
	encoder_out_size(642, 362, 0, 0, &w, &h);
	CHECK(w == 642 && h == 362);
	encoder_out_size(641, 361, 0, 0, &w, &h);
	CHECK(w == 640 && h == 360);
	encoder_out_size(1000, 10, 50, 0, &w, &h);
	CHECK(w == 50 && h == 2);
	encoder_out_size(1, 1, 0, 0, &w, &h);
	CHECK(w == 2 && h == 2);
}

static void test_width_only_resizes_with_aspect(void)
{
	AVFrame *pic = make_yuv420(642, 362, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct frame *f = encode_once(pic, 320, 0, 85);
	struct decoded d;

	CHECK(f && f->width == 320 && f->height == 180);
	if (f && decode(f, &d)) {
		CHECK(d.w == 320 && d.h == 180);
		check_black_and_white(&d);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_odd_size_is_cropped_to_even(void)
{
	AVFrame *pic = make_yuv420(641, 361, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct frame *f = encode_once(pic, 0, 0, 90);
	struct decoded d;

	CHECK(f && f->width == 640 && f->height == 360);
	if (f && decode(f, &d)) {
		struct picture_ctx c = { 641, 361, false };
		CHECK(d.w == 640 && d.h == 360);
		CHECK(luma_psnr(&d, expect_full_luma, &c) > 35);
		check_black_and_white(&d);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_odd_request_on_odd_source(void)
{
	AVFrame *pic = make_yuv420(641, 361, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct frame *f = encode_once(pic, 333, 0, 80);

	CHECK(f && f->width == 334 && f->height == 188);
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_gray_frame_encodes(void)
{
	AVFrame *pic = av_frame_alloc();
	pic->format = AV_PIX_FMT_GRAY8;
	pic->width = 320;
	pic->height = 240;
	CHECK(av_frame_get_buffer(pic, 0) == 0);
	for (int y = 0; y < 240; y++)
		for (int x = 0; x < 320; x++)
			pic->data[0][y * pic->linesize[0] + x] = (uint8_t)(x < 160 ? 0 : 255);
	struct frame *f = encode_once(pic, 0, 0, 90);
	struct decoded d;

	CHECK(f && f->width == 320 && f->height == 240);
	if (f && decode(f, &d)) {
		CHECK(d.subsamp == TJSAMP_GRAY);
		CHECK(y_at(&d, 40, 120) <= 3 && y_at(&d, 280, 120) >= 252);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

/* NV12 goes through swscale, which must also expand the range. */
static AVFrame *make_nv12(int w, int h)
{
	AVFrame *src = make_yuv420(w, h, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	AVFrame *f = av_frame_alloc();
	f->format = AV_PIX_FMT_NV12;
	f->width = w;
	f->height = h;
	f->color_range = AVCOL_RANGE_MPEG;
	if (av_frame_get_buffer(f, 0) < 0) {
		av_frame_free(&f);
		av_frame_free(&src);
		return NULL;
	}
	for (int y = 0; y < h; y++)
		memcpy(f->data[0] + y * f->linesize[0], src->data[0] + y * src->linesize[0], w);
	for (int y = 0; y < (h + 1) / 2; y++)
		for (int x = 0; x < (w + 1) / 2; x++) {
			f->data[1][y * f->linesize[1] + 2 * x] = src->data[1][y * src->linesize[1] + x];
			f->data[1][y * f->linesize[1] + 2 * x + 1] =
				src->data[2][y * src->linesize[2] + x];
		}
	av_frame_free(&src);
	return f;
}

static void test_nv12_frame_encodes_via_swscale(void)
{
	AVFrame *pic = make_nv12(642, 362);
	struct frame *f = encode_once(pic, 0, 0, 90);
	struct decoded d;

	CHECK(f && f->width == 642 && f->height == 362);
	if (f && decode(f, &d)) {
		struct picture_ctx c = { 642, 362, false };
		CHECK(luma_psnr(&d, expect_full_luma, &c) > 35);
		check_black_and_white(&d);
		decoded_free(&d);
	}
	frame_unref(f);
	av_frame_free(&pic);
}

static void test_resolution_and_format_change_between_calls(void)
{
	struct encoder *e = encoder_create();
	struct { int w, h, rw, rh; bool nv12; int ew, eh; } steps[] = {
		{ 642, 362, 0, 0, false, 642, 362 },
		{ 320, 240, 0, 0, false, 320, 240 },
		{ 1280, 720, 0, 0, true, 1280, 720 },
		{ 1280, 720, 640, 0, false, 640, 360 },
		{ 641, 361, 0, 0, false, 640, 360 },
		{ 642, 362, 0, 0, false, 642, 362 },
	};

	CHECK(e != NULL);
	for (size_t i = 0; e && i < sizeof(steps) / sizeof(steps[0]); i++) {
		AVFrame *pic = steps[i].nv12 ? make_nv12(steps[i].w, steps[i].h) :
			make_yuv420(steps[i].w, steps[i].h, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
		struct cs_error err = { 0 };
		struct frame *f = encoder_encode(e, pic, steps[i].rw, steps[i].rh, 80, &err);
		struct decoded d;

		CHECK(f && f->width == steps[i].ew && f->height == steps[i].eh);
		if (f && decode(f, &d)) {
			CHECK(d.w == steps[i].ew && d.h == steps[i].eh);
			check_black_and_white(&d);
			decoded_free(&d);
		}
		frame_unref(f);
		av_frame_free(&pic);
	}
	encoder_destroy(e);
}

static void test_quality_is_clamped(void)
{
	AVFrame *pic = make_yuv420(64, 48, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct frame *lo = encode_once(pic, 0, 0, -5);
	struct frame *hi = encode_once(pic, 0, 0, 1000);

	CHECK(lo && hi && lo->len < hi->len);
	frame_unref(lo);
	frame_unref(hi);
	av_frame_free(&pic);
}

static void test_empty_picture_is_an_error(void)
{
	struct encoder *e = encoder_create();
	AVFrame *pic = av_frame_alloc();
	struct cs_error err = { 0 };

	CHECK(encoder_encode(e, pic, 0, 0, 80, &err) == NULL);
	CHECK(err.code != CS_OK && err.msg[0] != '\0');
	av_frame_free(&pic);
	encoder_destroy(e);
	encoder_destroy(NULL);
}

/* The expansion is exact for all 256 values, at every row length and misalignment (the
 * vector body, the overlapping last 16 samples and the short rows all agree). */
static void test_range_expansion_is_exact_for_every_value(void)
{
	struct encoder *e = encoder_create();
	unsigned char src[300], dst[300 + 1];
	int bad = 0;

	CHECK(e != NULL);
	for (int off = 0; e && off < 16; off++)
		for (int n = 0; n + off <= 280; n = n < 40 ? n + 1 : n + 37)
			for (int chroma = 0; chroma < 2; chroma++) {
				for (int i = 0; i < 300; i++)
					src[i] = (unsigned char)(i * 7 + off * 13 + n); /* every value */
				memset(dst, 0xa5, sizeof(dst));
				encoder_expand_row(e, dst + off, src + off, n, chroma);
				for (int i = 0; i < n; i++) {
					int v = src[off + i];
					int want = chroma ? full_c(v) : full_y(v);
					if (dst[off + i] != want && bad++ < 5)
						printf("#   %s %d -> %d, want %d (n=%d off=%d)\n",
							chroma ? "chroma" : "luma", v, dst[off + i], want, n, off);
				}
				/* nothing written past the row */
				CHECK(dst[off + n] == 0xa5);
			}
	CHECK(bad == 0);
	encoder_destroy(e);
}

/* A limited-range picture of @fmt with noise (every limited value) and two flat patches
 * aligned to 16 px, limited black and white: the range path at its hardest. */
static AVFrame *make_noisy(int w, int h, enum AVPixelFormat fmt, unsigned seed)
{
	AVFrame *f = av_frame_alloc();
	f->format = fmt;
	f->width = w;
	f->height = h;
	f->color_range = AVCOL_RANGE_MPEG;
	if (av_frame_get_buffer(f, 0) < 0) {
		av_frame_free(&f);
		return NULL;
	}
	int np = fmt == AV_PIX_FMT_GRAY8 ? 1 : 3;
	int cw = fmt == AV_PIX_FMT_YUV444P ? w : (w + 1) / 2;
	int ch = fmt == AV_PIX_FMT_YUV420P ? (h + 1) / 2 : h;
	for (int p = 0; p < np; p++) {
		int pw = p ? cw : w, ph = p ? ch : h;
		/* junk in the row padding: the encoder must not read it */
		memset(f->data[p], 0xff, (size_t)f->linesize[p] * ph);
		for (int y = 0; y < ph; y++)
			for (int x = 0; x < pw; x++) {
				seed = seed * 1103515245u + 12345u;
				int v = p ? 16 + (int)((seed >> 16) % 225) : 16 + (int)((seed >> 16) % 220);
				/* luma position of this sample */
				int lx = p ? x * w / pw : x, ly = p ? y * h / ph : y;
				if (lx >= 16 && lx < 48 && ly >= 16 && ly < 48)
					v = p ? 128 : 16;
				else if (lx >= 64 && lx < 96 && ly >= 16 && ly < 48)
					v = p ? 128 : 235;
				f->data[p][y * f->linesize[p] + x] = (uint8_t)v;
			}
	}
	return f;
}

/* Whether @f is, but for our timing comment after SOI, the JPEG TurboJPEG makes of the planes
 * @pic expanded by encoder_expand_row() (what the encoder did before it wrote strips itself:
 * same library, so the same bytes). */
static bool same_as_turbojpeg(struct encoder *e, const AVFrame *pic, int w, int h, int sub,
	int quality, const struct frame *f)
{
	const size_t com = 4 + ENCODER_STAMP_TEXT_LEN;
	unsigned char *planes[3] = { NULL, NULL, NULL }, *jpeg = NULL;
	int strides[3] = { 0, 0, 0 };
	unsigned long size = 0;
	bool same = false;
	tjhandle tj = tjInitCompress();

	for (int p = 0; p < (sub == TJSAMP_GRAY ? 1 : 3); p++) {
		int pw = tjPlaneWidth(p, w, sub), ph = tjPlaneHeight(p, h, sub);
		strides[p] = pw;
		planes[p] = malloc((size_t)pw * ph);
		if (!planes[p])
			goto out;
		for (int y = 0; y < ph; y++)
			encoder_expand_row(e, planes[p] + y * pw, pic->data[p] + y * pic->linesize[p], pw,
				p > 0);
	}
	if (tj && tjCompressFromYUVPlanes(tj, (const unsigned char **)planes, w, strides, h, sub,
		&jpeg, &size, quality, 0) == 0)
		same = f->len == size + com && !memcmp(f->data, jpeg, 2) &&
			!memcmp(f->data + 2 + com, jpeg + 2, size - 2);
out:
	for (int p = 0; p < 3; p++)
		free(planes[p]);
	tjFree(jpeg);
	tjDestroy(tj);
	return same;
}

/* The range path writes, strip by strip, the picture the expansion gives: byte for byte the
 * JPEG TurboJPEG makes of the whole expanded planes, at quality 80 (fast DCT) and 100 (slow
 * DCT); and decoded back at quality 100 every sample of every plane is within 2 of encoder_expand_row()'s output,
 * edges included (the padding of partial blocks repeats the last column and row), and the
 * flat black and white patches come back exactly 0 and 255. Sizes even and odd (cropped),
 * not multiples of the MCU; 4:2:0, 4:2:2, 4:4:4 and gray; one encoder throughout, so its
 * output buffer also has to grow (noise at quality 100 is bigger than any earlier JPEG). */
static void test_range_path_matches_the_expanded_planes(void)
{
	struct { int w, h; enum AVPixelFormat fmt; int sub; } cases[] = {
		{ 642, 362, AV_PIX_FMT_YUV420P, TJSAMP_420 },
		{ 641, 361, AV_PIX_FMT_YUV420P, TJSAMP_420 },
		{ 128, 64, AV_PIX_FMT_YUV420P, TJSAMP_420 },
		{ 198, 94, AV_PIX_FMT_YUV422P, TJSAMP_422 },
		{ 199, 95, AV_PIX_FMT_YUV422P, TJSAMP_422 },
		{ 130, 66, AV_PIX_FMT_YUV444P, TJSAMP_444 },
		{ 147, 75, AV_PIX_FMT_GRAY8, TJSAMP_GRAY },
		{ 1280, 720, AV_PIX_FMT_YUV420P, TJSAMP_420 },
	};
	struct encoder *e = encoder_create();
	unsigned char *ref = malloc(2048);

	CHECK(e != NULL && ref != NULL);
	for (size_t i = 0; e && ref && i < sizeof(cases) / sizeof(cases[0]); i++) {
		AVFrame *pic = make_noisy(cases[i].w, cases[i].h, cases[i].fmt, (unsigned)i + 1);
		struct cs_error err = { 0 };
		/* a flat picture first, so the estimate for the next one is far too small */
		AVFrame *flat = av_frame_alloc();
		flat->format = AV_PIX_FMT_GRAY8;
		flat->width = flat->height = 64;
		CHECK(av_frame_get_buffer(flat, 0) == 0);
		memset(flat->data[0], 128, (size_t)flat->linesize[0] * 64);
		struct frame *f0 = encoder_encode(e, flat, 0, 0, 50, &err);
		CHECK(f0 != NULL && f0->len < 1000);
		frame_unref(f0);
		av_frame_free(&flat);

		struct frame *f = encoder_encode(e, pic, 0, 0, 100, &err);
		struct decoded d;
		int w = cases[i].w & ~1, h = cases[i].h & ~1;

		CHECK(f && f->width == w && f->height == h && f->len <= f->cap);
		CHECK(f && same_as_turbojpeg(e, pic, w, h, cases[i].sub, 100, f));
		struct frame *f80 = encoder_encode(e, pic, 0, 0, 80, &err);
		CHECK(f80 && same_as_turbojpeg(e, pic, w, h, cases[i].sub, 80, f80));
		frame_unref(f80);
		if (f && decode(f, &d)) {
			int maxdiff = 0;
			CHECK(d.w == w && d.h == h && d.subsamp == cases[i].sub);
			for (int p = 0; p < (d.subsamp == TJSAMP_GRAY ? 1 : 3); p++) {
				int pw = tjPlaneWidth(p, w, d.subsamp), ph = tjPlaneHeight(p, h, d.subsamp);
				for (int y = 0; y < ph; y++) {
					encoder_expand_row(e, ref, pic->data[p] + y * pic->linesize[p], pw, p > 0);
					for (int x = 0; x < pw; x++) {
						int diff = abs(d.plane[p][y * pw + x] - ref[x]);
						maxdiff = diff > maxdiff ? diff : maxdiff;
					}
				}
			}
			if (maxdiff > 2)
				printf("#   %dx%d fmt %d: max difference %d\n", cases[i].w, cases[i].h,
					cases[i].fmt, maxdiff);
			CHECK(maxdiff <= 2);
			for (int y = 16; y < 48; y++)
				for (int x = 16; x < 48; x++) {
					CHECK(y_at(&d, x, y) == 0);
					CHECK(y_at(&d, x + 48, y) == 255);
				}
			decoded_free(&d);
		}
		frame_unref(f);
		av_frame_free(&pic);
	}
	free(ref);
	encoder_destroy(e);
}

static void test_every_jpeg_carries_its_timing_comment(void)
{
	struct encoder *e = encoder_create();
	AVFrame *pic = make_yuv420(64, 48, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG);
	struct cs_error err = { 0 };
	struct frame *f = encoder_encode(e, pic, 0, 0, 80, &err);
	CHECK(f != NULL);
	if (f) {
		f->t_capture_us = 1795295491836700;
		f->seq = 42;
		encoder_stamp(f);
		CHECK(f->data[0] == 0xff && f->data[1] == 0xd8);
		CHECK(f->data[2] == 0xff && f->data[3] == 0xfe);
		CHECK(f->data[4] * 256 + f->data[5] == 2 + ENCODER_STAMP_TEXT_LEN);
		CHECK(!memcmp(f->data + 6, "camstream t=1795295491836700 seq=0000000042",
			ENCODER_STAMP_TEXT_LEN));
		/* the comment does not disturb decoding */
		tjhandle d = tjInitDecompress();
		int w = 0, h = 0, ss = 0, cs = 0;
		CHECK(tjDecompressHeader3(d, f->data, f->len, &w, &h, &ss, &cs) == 0);
		CHECK(w == 64 && h == 48);
		unsigned char *rgb = malloc((size_t)w * h * 3);
		CHECK(tjDecompress2(d, f->data, f->len, rgb, w, 0, h, TJPF_RGB, 0) == 0);
		free(rgb);
		tjDestroy(d);
	}
	frame_unref(f);
	av_frame_free(&pic);
	encoder_destroy(e);
}

int main(void)
{
	RUN(test_limited_range_420_expands_to_full_range);
	RUN(test_unspecified_range_is_treated_as_limited);
	RUN(test_full_range_passes_unchanged);
	RUN(test_out_size_keeps_aspect_and_is_even);
	RUN(test_width_only_resizes_with_aspect);
	RUN(test_odd_size_is_cropped_to_even);
	RUN(test_odd_request_on_odd_source);
	RUN(test_gray_frame_encodes);
	RUN(test_nv12_frame_encodes_via_swscale);
	RUN(test_resolution_and_format_change_between_calls);
	RUN(test_quality_is_clamped);
	RUN(test_empty_picture_is_an_error);
	RUN(test_every_jpeg_carries_its_timing_comment);
	RUN(test_range_expansion_is_exact_for_every_value);
	RUN(test_range_path_matches_the_expanded_planes);
	return CHECK_DONE();
}
