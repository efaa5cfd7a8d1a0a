/* encoder: AVFrame -> JPEG with libjpeg(-turbo)'s raw-data API, straight from the decoder's
 * planes where possible, into the frame that is published.
 *
 * Three paths, chosen per picture (size and format may change between calls):
 * - direct: planar 4:2:0/4:2:2/4:4:4 or gray already in JPEG's full range, at the source size
 *   (or cropped by one pixel to make it even): libjpeg reads the AVFrame rows as they are;
 * - range: the same, but limited-range (MPEG) samples are expanded one strip (one iMCU row:
 *   16 or 8 rows) at a time into a small buffer the encoder owns (with SSE2, 16 samples at
 *   a time, where the build targets it; else through lookup tables);
 * - scale: another size or a format we cannot take as planes (nv12, rgb, 10-bit, ...):
 *   swscale converts to full-range yuv420p, doing the range expansion itself; then as direct.
 *
 * The JPEG is the one TurboJPEG's tjCompressFromYUVPlanes() wrote before (same library, same
 * settings: quality tables with force_baseline, the DCT it picks, standard Huffman tables,
 * the same edge padding), byte for byte, with our timing comment after SOI. A destination
 * manager writes it straight into a struct frame sized from the previous JPEG; when that is
 * exceeded the frame is swapped for a larger one (the only copy). libjpeg errors longjmp back
 * to compress(); its messages go to the debug log, never to stderr. */
#include "encoder.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <jpeglib.h>
#include <jerror.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "log.h"

/* Bounds a derived dimension (e.g. the height of a 2 px wide output of a tall source). */
#define ENC_MAX_DIM 8192

/* Planes going to libjpeg: 1 (gray) or 3 components, the luma sampling factors (chroma is
 * always 1x1), and whether the samples need the limited -> full range expansion. */
struct plane_set {
	unsigned char *p[3];
	int stride[3];
	int ncomp;
	int h_samp, v_samp;
	bool expand;
};

struct enc_error {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
};

struct encoder {
	struct jpeg_compress_struct cinfo; /* created once; client_data points back here */
	struct enc_error jerr;
	struct jpeg_destination_mgr dest;
	struct frame *out;      /* the frame being written (owned until returned) */
	bool out_oom;           /* growing it failed */
	size_t last_len;        /* the previous JPEG's length and pixel count: the size guess */
	size_t last_px;

	/* One strip of padded (and possibly expanded) rows per component (malloc; owned). */
	unsigned char *strip;
	size_t strip_size;

	/* Range expansion: limited -> full, 256-entry tables built once: the reference, and
	 * the whole of it where there is no SSE2. */
	unsigned char lut_y[256];
	unsigned char lut_c[256];

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

/* libjpeg error manager: never exit(), never print. */
static void jerr_exit(j_common_ptr c)
{
	struct enc_error *err = (struct enc_error *)c->err;
	(*c->err->output_message)(c);
	longjmp(err->jump, 1);
}

static void jerr_output(j_common_ptr c)
{
	char msg[JMSG_LENGTH_MAX];
	if (log_get_level() < LOG_DEBUG)
		return;
	(*c->err->format_message)(c, msg);
	log_debug("encoder: libjpeg: %s", msg);
}

static void jerr_emit(j_common_ptr c, int level)
{
	if (level < 0) { /* a warning; trace messages (level >= 0) are dropped */
		c->err->num_warnings++;
		(*c->err->output_message)(c);
	}
}

/* Destination manager: straight into e->out, swapped for a larger frame when full. */
static void dest_init(j_compress_ptr c)
{
	struct encoder *e = c->client_data;
	c->dest->next_output_byte = e->out->data;
	c->dest->free_in_buffer = e->out->cap;
}

static boolean dest_grow(j_compress_ptr c)
{
	struct encoder *e = c->client_data;
	struct frame *old = e->out;
	/* Called when the buffer is full: all of old->cap is JPEG. */
	size_t used = old->cap, cap = used + used / 2 + 65536;
	struct frame *f = cap > used ? frame_create(cap) : NULL;
	if (!f) {
		e->out_oom = true;
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 100);
	}
	memcpy(f->data, old->data, used);
	frame_unref(old);
	e->out = f;
	c->dest->next_output_byte = f->data + used;
	c->dest->free_in_buffer = cap - used;
	return TRUE;
}

static void dest_term(j_compress_ptr c)
{
	struct encoder *e = c->client_data;
	e->out->len = e->out->cap - c->dest->free_in_buffer;
}

/* The compressor, once per encoder: our error and destination managers. */
static bool jpeg_init(struct encoder *e)
{
	e->cinfo.err = jpeg_std_error(&e->jerr.pub);
	e->jerr.pub.error_exit = jerr_exit;
	e->jerr.pub.output_message = jerr_output;
	e->jerr.pub.emit_message = jerr_emit;
	if (setjmp(e->jerr.jump)) {
		jpeg_destroy_compress(&e->cinfo);
		return false;
	}
	jpeg_create_compress(&e->cinfo);
	e->cinfo.client_data = e;
	e->dest.init_destination = dest_init;
	e->dest.empty_output_buffer = dest_grow;
	e->dest.term_destination = dest_term;
	e->cinfo.dest = &e->dest;
	return true;
}

struct encoder *encoder_create(void)
{
	struct encoder *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (!jpeg_init(e)) {
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
	free(e->strip);
	jpeg_destroy_compress(&e->cinfo);
	frame_unref(e->out);
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

/* The planes and sampling of a format libjpeg takes as it is, with *full set for yuvj
 * formats; false for formats that need swscale. */
static bool planar_format(enum AVPixelFormat fmt, struct plane_set *ps, bool *full)
{
	*full = false;
	ps->ncomp = 3;
	switch (fmt) {
	case AV_PIX_FMT_YUVJ420P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV420P:
		ps->h_samp = 2;
		ps->v_samp = 2;
		return true;
	case AV_PIX_FMT_YUVJ422P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV422P:
		ps->h_samp = 2;
		ps->v_samp = 1;
		return true;
	case AV_PIX_FMT_YUVJ444P:
		*full = true;
		/* fall through */
	case AV_PIX_FMT_YUV444P:
		ps->h_samp = 1;
		ps->v_samp = 1;
		return true;
	case AV_PIX_FMT_GRAY8:
		ps->ncomp = 1;
		ps->h_samp = 1;
		ps->v_samp = 1;
		return true;
	default:
		return false;
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
 * (the overlap gets the same values) rather than sample by sample. Inlined with @op known,
 * so there is no call per 16 samples. */
static inline __attribute__((always_inline)) void expand_row(unsigned char *dst,
	const unsigned char *src, int n, __m128i (*op)(__m128i))
{
	for (int x = 0;; x += 16) {
		if (x > n - 16)
			x = n - 16;
		_mm_storeu_si128((__m128i *)(dst + x), op(_mm_loadu_si128((const __m128i *)(src + x))));
		if (x == n - 16)
			return;
	}
}

static void expand_row_y(unsigned char *dst, const unsigned char *src, int n)
{
	expand_row(dst, src, n, expand16_y);
}

static void expand_row_c(unsigned char *dst, const unsigned char *src, int n)
{
	expand_row(dst, src, n, expand16_c);
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
	ps->ncomp = 3;
	ps->h_samp = 2;
	ps->v_samp = 2;
	ps->expand = false;
	return true;
}

static bool fits_by_crop(int out, int src)
{
	return out == src || (out == src - 1 && (src & 1));
}

/* Room for the next JPEG: the previous one's bytes per pixel at this size, plus an eighth
 * and 4 KiB; growing past it costs one copy of what was written (dest_grow). */
static size_t out_estimate(const struct encoder *e, int w, int h)
{
	double px = (double)w * h;
	double guess = e->last_px ? (double)e->last_len * px / (double)e->last_px : px / 4;
	return (size_t)(guess + guess / 8) + 4096;
}

/* Padded (and, for the range path, expanded) rows of one component, given to libjpeg one
 * iMCU row at a time. As tjCompressFromYUVPlanes() does: a component's @pw samples of
 * picture become @iw (whole blocks) by repeating the last sample, and rows past its @ph
 * repeat the last row. Rows that need neither are read from the picture in place. */
struct comp_rows {
	int iw, pw, ph, rows; /* rows: of this component per strip (v_samp_factor * DCTSIZE) */
	bool in_place;
	unsigned char *buf;   /* rows x iw, in e->strip, unless in_place */
	JSAMPROW ptr[2 * DCTSIZE];
};

static struct frame *compress(struct encoder *e, const struct plane_set *ps, int w, int h,
	int quality, struct cs_error *err)
{
	struct jpeg_compress_struct *c = &e->cinfo;
	struct comp_rows cr[3];

	e->out = frame_create(out_estimate(e, w, h));
	if (!e->out) {
		cs_fail_oom(err);
		return NULL;
	}
	e->out_oom = false;
	if (setjmp(e->jerr.jump)) {
		jpeg_abort_compress(c);
		frame_unref(e->out);
		e->out = NULL;
		if (e->out_oom)
			cs_fail_oom(err);
		else
			cs_fail(err, CS_INTERNAL, "JPEG encoding failed");
		return NULL;
	}

	/* tjCompressFromYUVPlanes()'s settings, flags 0 (libjpeg-turbo 2.1 setCompDefaults):
	 * baseline quality tables, the fast integer DCT below quality 96, standard Huffman
	 * tables (no optimize_coding), JFIF 1.01 APP0. */
	c->image_width = (JDIMENSION)w;
	c->image_height = (JDIMENSION)h;
	c->input_components = ps->ncomp;
	c->in_color_space = ps->ncomp == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
	jpeg_set_defaults(c);
	jpeg_set_quality(c, quality, TRUE);
	c->dct_method = quality >= 96 ? JDCT_ISLOW : JDCT_FASTEST;
	jpeg_set_colorspace(c, ps->ncomp == 1 ? JCS_GRAYSCALE : JCS_YCbCr);
	for (int i = 0; i < ps->ncomp; i++) {
		c->comp_info[i].h_samp_factor = i == 0 ? ps->h_samp : 1;
		c->comp_info[i].v_samp_factor = i == 0 ? ps->v_samp : 1;
	}
	c->raw_data_in = TRUE;
	/* SOI, then our comment, then the JFIF APP0 libjpeg would have written first. */
	c->write_JFIF_header = FALSE;

	jpeg_start_compress(c, TRUE); /* writes SOI */
	unsigned char blank[ENCODER_STAMP_TEXT_LEN];
	memset(blank, ' ', sizeof(blank));
	jpeg_write_marker(c, JPEG_COM, blank, ENCODER_STAMP_TEXT_LEN);
	const unsigned char jfif[14] = { 'J', 'F', 'I', 'F', 0, c->JFIF_major_version,
		c->JFIF_minor_version, c->density_unit, (unsigned char)(c->X_density >> 8),
		(unsigned char)(c->X_density & 0xff), (unsigned char)(c->Y_density >> 8),
		(unsigned char)(c->Y_density & 0xff), 0, 0 };
	jpeg_write_marker(c, JPEG_APP0, jfif, sizeof(jfif));

	int max_h = c->max_h_samp_factor, max_v = c->max_v_samp_factor;
	size_t need = 0;
	for (int i = 0; i < ps->ncomp; i++) {
		const jpeg_component_info *ci = &c->comp_info[i];
		struct comp_rows *r = &cr[i];
		r->iw = (int)ci->width_in_blocks * DCTSIZE;
		r->pw = (w + max_h - 1) / max_h * max_h * ci->h_samp_factor / max_h;
		r->ph = (h + max_v - 1) / max_v * max_v * ci->v_samp_factor / max_v;
		r->rows = ci->v_samp_factor * DCTSIZE;
		r->in_place = !ps->expand && r->iw == r->pw;
		if (!r->in_place)
			need += (size_t)r->iw * r->rows;
	}
	if (need > e->strip_size) {
		unsigned char *p = realloc(e->strip, need);
		if (!p) {
			e->out_oom = true;
			ERREXIT1(c, JERR_OUT_OF_MEMORY, 101);
		}
		e->strip = p;
		e->strip_size = need;
	}
	for (int i = 0, off = 0; i < ps->ncomp; i++) {
		cr[i].buf = e->strip + off;
		if (!cr[i].in_place)
			off += cr[i].iw * cr[i].rows;
	}

	for (int row = 0; row < h; row += max_v * DCTSIZE) {
		JSAMPARRAY planes[3];
		for (int i = 0; i < ps->ncomp; i++) {
			struct comp_rows *r = &cr[i];
			int crow = row * c->comp_info[i].v_samp_factor / max_v;
			int n = r->ph - crow < r->rows ? r->ph - crow : r->rows;
			for (int j = 0; j < n; j++) {
				unsigned char *src = ps->p[i] + (ptrdiff_t)(crow + j) * ps->stride[i];
				if (r->in_place) {
					r->ptr[j] = src;
					continue;
				}
				unsigned char *dst = r->buf + (size_t)j * r->iw;
				if (ps->expand)
					encoder_expand_row(e, dst, src, r->pw, i > 0);
				else
					memcpy(dst, src, (size_t)r->pw);
				memset(dst + r->pw, dst[r->pw - 1], (size_t)(r->iw - r->pw));
				r->ptr[j] = dst;
			}
			for (int j = n; j < r->rows; j++)
				r->ptr[j] = r->ptr[n - 1];
			planes[i] = r->ptr;
		}
		jpeg_write_raw_data(c, planes, (JDIMENSION)(max_v * DCTSIZE));
	}
	jpeg_finish_compress(c);

	struct frame *f = e->out;
	e->out = NULL;
	e->last_len = f->len;
	e->last_px = (size_t)w * h;
	f->width = w;
	f->height = h;
	return f;
}

struct frame *encoder_encode(struct encoder *e, const AVFrame *pic, int req_w, int req_h,
	int quality, struct cs_error *err)
{
	struct plane_set ps = { 0 };
	bool fmt_full;
	int w, h;

	if (!pic || pic->width < 1 || pic->height < 1 || !pic->data[0]) {
		cs_fail(err, CS_INTERNAL, "empty picture");
		return NULL;
	}
	quality = quality < 1 ? 1 : quality > 100 ? 100 : quality;
	encoder_out_size(pic->width, pic->height, req_w, req_h, &w, &h);

	bool planar = planar_format(pic->format, &ps, &fmt_full);
	/* An odd source at its even-rounded size is cropped by a pixel, not scaled. */
	bool same_size = fits_by_crop(w, pic->width) && fits_by_crop(h, pic->height);

	if (planar && same_size) {
		for (int i = 0; i < ps.ncomp; i++) {
			ps.p[i] = pic->data[i];
			ps.stride[i] = pic->linesize[i];
		}
		ps.expand = !is_full_range(pic, fmt_full);
	} else if (!scale(e, pic, w, h, &ps)) {
		cs_fail(err, CS_INTERNAL, "cannot convert the picture for JPEG");
		return NULL;
	}
	return compress(e, &ps, w, h, quality, err);
}

void encoder_stamp(struct frame *f)
{
	char text[ENCODER_STAMP_TEXT_LEN + 1];
	uint64_t t = f->t_capture_us > 0 ? (uint64_t)f->t_capture_us : 0;
	snprintf(text, sizeof(text), "camstream t=%016" PRIu64 " seq=%010" PRIu64,
		(uint64_t)(t % 10000000000000000ULL), (uint64_t)(f->seq % 10000000000ULL));
	memcpy(f->data + 6, text, ENCODER_STAMP_TEXT_LEN);
}
