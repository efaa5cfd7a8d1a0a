/* encoder: AVFrame -> JPEG with TurboJPEG, straight from the decoder's planes where possible.
 *
 * Three paths, chosen per picture (size and format may change between calls):
 * - direct: planar 4:2:0/4:2:2/4:4:4 or gray already in JPEG's full range, at the source size
 *   (or cropped by one pixel to make it even): the AVFrame planes go to TurboJPEG as they are;
 * - range: the same, but limited-range (MPEG) samples are first expanded into scratch planes
 *   the encoder owns (with SSE2, 16 samples at a time, where the build targets it; else
 *   through lookup tables);
 * - scale: another size or a format TurboJPEG cannot take (nv12, rgb, 10-bit, ...): swscale
 *   converts to full-range yuv420p, doing the range expansion itself. */
#include "encoder.h"

#include <inttypes.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <turbojpeg.h>

/* Bounds a derived dimension (e.g. the height of a 2 px wide output of a tall source). */
#define ENC_MAX_DIM 8192

struct plane_set {
	const unsigned char *p[3];
	int stride[3];
};

struct encoder {
	tjhandle tj;            /* created once in encoder_create; tjDestroy in destroy */
	unsigned char *jpeg;    /* TurboJPEG's output buffer, grown by it; tjFree */
	unsigned long jpeg_cap; /* a lower bound of the room at jpeg (TurboJPEG hides its growth) */

	/* Range expansion: limited -> full, 256-entry tables built once: the reference, and
	 * the whole of it where there is no SSE2. */
	unsigned char lut_y[256];
	unsigned char lut_c[256];
	unsigned char *scratch;  /* Y, Cb, Cr planes back to back (malloc; owned) */
	size_t scratch_size;

	/* Scale path: the context is rebuilt only when this key changes. */
	struct SwsContext *sws; /* sws_freeContext */
	int sws_sw, sws_sh, sws_dw, sws_dh, sws_range;
	enum AVPixelFormat sws_fmt;
	AVFrame *scaled;        /* full-range yuv420p output planes (av_frame_free) */
};

static unsigned char clamp_u8(long v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
}

struct encoder *encoder_create(void)
{
	struct encoder *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->tj = tjInitCompress();
	if (!e->tj) {
		free(e);
		return NULL;
	}
	/* Rounded to nearest, clipped: luma 16..235 -> 0..255; chroma 16..240 -> 0..255
	 * about 128 (16 -> 0, 128 -> 128, 240 -> 255). */
	for (int v = 0; v < 256; v++) {
		long y = (long)(v - 16) * 255, c = (long)(v - 128) * 255;
		e->lut_y[v] = clamp_u8(y <= 0 ? 0 : (y + 109) / 219);
		c = c >= 0 ? (c + 112) / 224 : -((-c + 112) / 224);
		e->lut_c[v] = clamp_u8(c + 128);
	}
	return e;
}

void encoder_destroy(struct encoder *e)
{
	if (!e)
		return;
	av_frame_free(&e->scaled);
	sws_freeContext(e->sws);
	free(e->scratch);
	tjFree(e->jpeg);
	tjDestroy(e->tj);
	free(e);
}

static int even_at_least_2(long v)
{
	if (v > ENC_MAX_DIM)
		v = ENC_MAX_DIM;
	v = (v + 1) & ~1L;
	return v < 2 ? 2 : (int)v;
}

void encoder_out_size(int src_w, int src_h, int req_w, int req_h, int *out_w, int *out_h)
{
	if (src_w < 1)
		src_w = 1;
	if (src_h < 1)
		src_h = 1;
	if (req_w > 0 && req_h > 0) {
		*out_w = even_at_least_2(req_w);
		*out_h = even_at_least_2(req_h);
	} else if (req_w > 0) {
		*out_w = even_at_least_2(req_w);
		*out_h = even_at_least_2(((long)req_w * src_h + src_w / 2) / src_w);
	} else if (req_h > 0) {
		*out_h = even_at_least_2(req_h);
		*out_w = even_at_least_2(((long)req_h * src_w + src_h / 2) / src_h);
	} else {
		/* The source size rounded down, so an odd source is cropped by one pixel rather
		 * than scaled up. */
		*out_w = src_w >= 2 ? (src_w > ENC_MAX_DIM ? ENC_MAX_DIM : src_w & ~1) : 2;
		*out_h = src_h >= 2 ? (src_h > ENC_MAX_DIM ? ENC_MAX_DIM : src_h & ~1) : 2;
	}
}

/* TurboJPEG subsampling for a format it takes as planes, with *full set for yuvj formats;
 * -1 for formats that need swscale. */
static int tj_subsamp(enum AVPixelFormat fmt, bool *full)
{
	*full = false;
	switch (fmt) {
	case AV_PIX_FMT_YUVJ420P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV420P:
		return TJSAMP_420;
	case AV_PIX_FMT_YUVJ422P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV422P:
		return TJSAMP_422;
	case AV_PIX_FMT_YUVJ444P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV444P:
		return TJSAMP_444;
	case AV_PIX_FMT_GRAY8:
		return TJSAMP_GRAY;
	default:
		return -1;
	}
}

/* Whether @pic holds full-range samples. Unspecified range means limited for YUV (what
 * H.264/H.265 decoders mean by it) and full for gray (as swscale and the image decoders
 * that produce gray treat it). */
static bool is_full_range(const AVFrame *pic, bool fmt_full)
{
	if (fmt_full || pic->color_range == AVCOL_RANGE_JPEG)
		return true;
	if (pic->format == AV_PIX_FMT_GRAY8)
		return pic->color_range != AVCOL_RANGE_MPEG;
	return false;
}

#if defined(__SSE2__)
/* The same rounding as the tables, in 16-bit lanes, exact for every input (the unit test
 * compares all 256): the quotient of (x * 255 + add) by 219 or 224 is a multiply-high by a
 * reciprocal (found by exhaustive search over the reachable numerators) and a shift.
 * The table lookup cost ~6 instructions and a dependent load a sample; this costs ~2
 * instructions a sample, and a 720p picture takes 0.15 ms instead of 0.75. */
static inline __m128i div219_u16(__m128i x)
{
	/* (x * 255 + 109) / 219 for x = 0..239 (beyond 219 packus clips to 255) */
	__m128i n = _mm_add_epi16(_mm_mullo_epi16(x, _mm_set1_epi16(255)), _mm_set1_epi16(109));
	return _mm_srli_epi16(_mm_mulhi_epu16(n, _mm_set1_epi16((short)38304)), 7);
}

static inline __m128i div224_u16(__m128i x)
{
	/* (x * 255 + 112) / 224 for x = 0..128 */
	__m128i n = _mm_add_epi16(_mm_mullo_epi16(x, _mm_set1_epi16(255)), _mm_set1_epi16(112));
	return _mm_srli_epi16(_mm_mulhi_epu16(n, _mm_set1_epi16(18725)), 6);
}

static inline __m128i expand16_y(__m128i v)
{
	__m128i zero = _mm_setzero_si128();
	__m128i x = _mm_subs_epu8(v, _mm_set1_epi8(16)); /* below 16 is black */
	return _mm_packus_epi16(div219_u16(_mm_unpacklo_epi8(x, zero)),
		div219_u16(_mm_unpackhi_epi8(x, zero)));
}

/* 128 +- f(|v - 128|): the distance is scaled once, then added or subtracted with
 * saturation, which is also the clip. */
static inline __m128i expand16_c(__m128i v)
{
	__m128i zero = _mm_setzero_si128(), mid = _mm_set1_epi8((char)128);
	__m128i below = _mm_subs_epu8(mid, v), dist = _mm_or_si128(_mm_subs_epu8(v, mid), below);
	__m128i f = _mm_packus_epi16(div224_u16(_mm_unpacklo_epi8(dist, zero)),
		div224_u16(_mm_unpackhi_epi8(dist, zero)));
	__m128i up = _mm_cmpeq_epi8(below, zero);
	return _mm_or_si128(_mm_and_si128(up, _mm_adds_epu8(mid, f)),
		_mm_andnot_si128(up, _mm_subs_epu8(mid, f)));
}

/* Rows of at least 16 samples; a row's tail is done once more over its last 16 samples
 * (the overlap gets the same values) rather than sample by sample. */
static void expand_row_y(unsigned char *dst, const unsigned char *src, int n)
{
	for (int x = 0;; x += 16) {
		if (x > n - 16)
			x = n - 16;
		_mm_storeu_si128((__m128i *)(dst + x),
			expand16_y(_mm_loadu_si128((const __m128i *)(src + x))));
		if (x == n - 16)
			return;
	}
}

static void expand_row_c(unsigned char *dst, const unsigned char *src, int n)
{
	for (int x = 0;; x += 16) {
		if (x > n - 16)
			x = n - 16;
		_mm_storeu_si128((__m128i *)(dst + x),
			expand16_c(_mm_loadu_si128((const __m128i *)(src + x))));
		if (x == n - 16)
			return;
	}
}
#endif

void encoder_expand_row(const struct encoder *e, unsigned char *dst, const unsigned char *src,
	int n, bool chroma)
{
#if defined(__SSE2__)
	if (n >= 16) {
		(chroma ? expand_row_c : expand_row_y)(dst, src, n);
		return;
	}
#endif
	const unsigned char *lut = chroma ? e->lut_c : e->lut_y;
	for (int x = 0; x < n; x++)
		dst[x] = lut[src[x]];
}

static void expand_plane(const struct encoder *e, unsigned char *dst, int dst_stride,
	const unsigned char *src, int src_stride, int w, int h, bool chroma)
{
	for (int y = 0; y < h; y++)
		encoder_expand_row(e, dst + (ptrdiff_t)y * dst_stride,
			src + (ptrdiff_t)y * src_stride, w, chroma);
}

/* Expands the first @w x @h pixels of @pic into the scratch planes (tightly packed) and
 * points @ps at them. */
static bool expand_range(struct encoder *e, const AVFrame *pic, int subsamp, int w, int h,
	struct plane_set *ps)
{
	int nplanes = subsamp == TJSAMP_GRAY ? 1 : 3;
	int cw = tjPlaneWidth(1, w, subsamp), ch = tjPlaneHeight(1, h, subsamp);
	size_t ysize = (size_t)w * h, csize = nplanes > 1 ? (size_t)cw * ch : 0;
	size_t need = ysize + 2 * csize;

	if (need > e->scratch_size) {
		unsigned char *p = realloc(e->scratch, need);
		if (!p)
			return false;
		e->scratch = p;
		e->scratch_size = need;
	}
	expand_plane(e, e->scratch, w, pic->data[0], pic->linesize[0], w, h, false);
	ps->p[0] = e->scratch;
	ps->stride[0] = w;
	for (int i = 1; i < nplanes; i++) {
		unsigned char *dst = e->scratch + ysize + (size_t)(i - 1) * csize;
		expand_plane(e, dst, cw, pic->data[i], pic->linesize[i], cw, ch, true);
		ps->p[i] = dst;
		ps->stride[i] = cw;
	}
	return true;
}

/* A context converting to full-range yuv420p. Not sws_getCachedContext(): it initialises
 * the context with default (limited) ranges, and at the same size swscale then picks an
 * unscaled converter that ignores a later sws_setColorspaceDetails() range change (seen with
 * nv12 in FFmpeg 5.1). Setting the ranges before sws_init_context() avoids that. */
static struct SwsContext *new_sws(int sw, int sh, enum AVPixelFormat fmt, int range, int dw,
	int dh)
{
	struct SwsContext *c = sws_alloc_context();
	if (!c)
		return NULL;
	if (av_opt_set_int(c, "srcw", sw, 0) < 0 || av_opt_set_int(c, "srch", sh, 0) < 0 ||
		av_opt_set_int(c, "src_format", fmt, 0) < 0 ||
		av_opt_set_int(c, "src_range", range, 0) < 0 ||
		av_opt_set_int(c, "dstw", dw, 0) < 0 || av_opt_set_int(c, "dsth", dh, 0) < 0 ||
		av_opt_set_int(c, "dst_format", AV_PIX_FMT_YUV420P, 0) < 0 ||
		av_opt_set_int(c, "dst_range", 1, 0) < 0 ||
		av_opt_set_int(c, "sws_flags", SWS_BILINEAR, 0) < 0 ||
		sws_init_context(c, NULL, NULL) < 0) {
		sws_freeContext(c);
		return NULL;
	}
	return c;
}

/* Converts @pic to full-range yuv420p at @dw x @dh in e->scaled. */
static bool scale(struct encoder *e, const AVFrame *pic, int dw, int dh, struct plane_set *ps)
{
	enum AVPixelFormat fmt = pic->format;
	bool fmt_full = false;
	int range;

	/* swscale warns about the deprecated yuvj formats; give it the plain twin and the
	 * range explicitly. */
	switch (fmt) {
	case AV_PIX_FMT_YUVJ420P: fmt = AV_PIX_FMT_YUV420P; fmt_full = true; break;
	case AV_PIX_FMT_YUVJ422P: fmt = AV_PIX_FMT_YUV422P; fmt_full = true; break;
	case AV_PIX_FMT_YUVJ444P: fmt = AV_PIX_FMT_YUV444P; fmt_full = true; break;
	case AV_PIX_FMT_YUVJ440P: fmt = AV_PIX_FMT_YUV440P; fmt_full = true; break;
	case AV_PIX_FMT_YUVJ411P: fmt = AV_PIX_FMT_YUV411P; fmt_full = true; break;
	default: break;
	}
	const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(fmt);
	if (!desc)
		return false;
	if (fmt_full || pic->color_range == AVCOL_RANGE_JPEG)
		range = 1;
	else if (pic->color_range == AVCOL_RANGE_MPEG)
		range = 0;
	else /* unspecified: RGB and gray are full range, YUV limited */
		range = (desc->flags & AV_PIX_FMT_FLAG_RGB) || desc->nb_components <= 2;

	if (!e->sws || e->sws_sw != pic->width || e->sws_sh != pic->height ||
		e->sws_fmt != fmt || e->sws_dw != dw || e->sws_dh != dh || e->sws_range != range) {
		sws_freeContext(e->sws);
		e->sws = new_sws(pic->width, pic->height, fmt, range, dw, dh);
		if (!e->sws)
			return false;
		e->sws_sw = pic->width;
		e->sws_sh = pic->height;
		e->sws_fmt = fmt;
		e->sws_dw = dw;
		e->sws_dh = dh;
		e->sws_range = range;
	}
	if (!e->scaled || e->scaled->width != dw || e->scaled->height != dh) {
		av_frame_free(&e->scaled);
		e->scaled = av_frame_alloc();
		if (!e->scaled)
			return false;
		e->scaled->format = AV_PIX_FMT_YUV420P;
		e->scaled->width = dw;
		e->scaled->height = dh;
		if (av_frame_get_buffer(e->scaled, 0) < 0) {
			av_frame_free(&e->scaled);
			return false;
		}
	}
	if (sws_scale(e->sws, (const uint8_t *const *)pic->data, pic->linesize, 0, pic->height,
		e->scaled->data, e->scaled->linesize) != dh)
		return false;
	for (int i = 0; i < 3; i++) {
		ps->p[i] = e->scaled->data[i];
		ps->stride[i] = e->scaled->linesize[i];
	}
	return true;
}

static bool fits_by_crop(int out, int src)
{
	return out == src || (out == src - 1 && (src & 1));
}

struct frame *encoder_encode(struct encoder *e, const AVFrame *pic, int req_w, int req_h,
	int quality, const char **err)
{
	struct plane_set ps = { 0 };
	bool fmt_full;
	int w, h;

	if (!pic || pic->width < 1 || pic->height < 1 || !pic->data[0]) {
		*err = "empty picture";
		return NULL;
	}
	quality = quality < 1 ? 1 : quality > 100 ? 100 : quality;
	encoder_out_size(pic->width, pic->height, req_w, req_h, &w, &h);

	int subsamp = tj_subsamp(pic->format, &fmt_full);
	/* An odd source at its even-rounded size is cropped by a pixel, not scaled. */
	bool same_size = fits_by_crop(w, pic->width) && fits_by_crop(h, pic->height);

	if (subsamp >= 0 && same_size) {
		if (is_full_range(pic, fmt_full)) {
			int n = subsamp == TJSAMP_GRAY ? 1 : 3;
			for (int i = 0; i < n; i++) {
				ps.p[i] = pic->data[i];
				ps.stride[i] = pic->linesize[i];
			}
		} else if (!expand_range(e, pic, subsamp, w, h, &ps)) {
			*err = "out of memory";
			return NULL;
		}
	} else {
		if (!scale(e, pic, w, h, &ps)) {
			*err = "cannot convert the picture for JPEG";
			return NULL;
		}
		subsamp = TJSAMP_420;
	}

	/* The buffer starts NULL and we always hand back the pointer TurboJPEG returned last:
	 * it then recognises the buffer as its own and frees it when it grows it (handing it a
	 * buffer of ours instead would leak that one on growth). It reports only the JPEG
	 * length, so jpeg_cap is a lower bound of the room it has. */
	unsigned long size = e->jpeg ? e->jpeg_cap : 0;
	int rc = tjCompressFromYUVPlanes(e->tj, ps.p, w, ps.stride, h, subsamp, &e->jpeg, &size,
		quality, 0);
	if (e->jpeg && size > e->jpeg_cap)
		e->jpeg_cap = size;
	if ((rc != 0 && tjGetErrorCode(e->tj) != TJERR_WARNING) || !e->jpeg || size == 0) {
		*err = "JPEG encoding failed";
		return NULL;
	}

	/* SOI, then our timing comment, then the rest of TurboJPEG's output */
	const size_t com = 4 + ENCODER_STAMP_TEXT_LEN;
	struct frame *f = frame_create(size + com);
	if (!f) {
		*err = "out of memory";
		return NULL;
	}
	memcpy(f->data, e->jpeg, 2);
	f->data[2] = 0xff;
	f->data[3] = 0xfe;
	f->data[4] = (unsigned char)((com - 2) >> 8);
	f->data[5] = (unsigned char)((com - 2) & 0xff);
	memset(f->data + 6, ' ', ENCODER_STAMP_TEXT_LEN);
	memcpy(f->data + 2 + com, e->jpeg + 2, size - 2);
	f->len = size + com;
	f->width = w;
	f->height = h;
	return f;
}

void encoder_stamp(struct frame *f)
{
	char text[ENCODER_STAMP_TEXT_LEN + 1];
	uint64_t t = f->t_capture_us > 0 ? (uint64_t)f->t_capture_us : 0;
	snprintf(text, sizeof(text), "camstream t=%016" PRIu64 " seq=%010" PRIu64,
		(uint64_t)(t % 10000000000000000ULL), (uint64_t)(f->seq % 10000000000ULL));
	memcpy(f->data + 6, text, ENCODER_STAMP_TEXT_LEN);
}
