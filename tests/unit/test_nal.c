/* nal: NAL unit framing, types, RBSP bits, SPS parsing and decoder configuration records,
 * checked against real encoder output.
 *
 * The parameter sets and records below come from FFmpeg 5.1 (Debian 12): one picture of
 * `ffmpeg -f lavfi -i testsrc=size=WxH:rate=25 -frames:v 1` encoded by libx264 (-profile:v
 * baseline, high, high422 with -pix_fmt yuv422p10le, and yuv444p) or libx265 (-tag:v hvc1
 * -x265-params info=0, and temporal-layers=1 for et_*) into an .mp4, whose avcC or hvcC box
 * was copied out; the sets are the units of that box. The *_sl_sps sets were made from real
 * ones by inserting scaling lists (H.264) or a sub-layer profile and level (H.265); FFmpeg
 * reads them and decodes the pictures with the same size. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "nal.h"
#include "data/param_sets.h"

static const uint8_t h1080_avcc[] = {
	0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x1b, 0x67, 0x64, 0x00, 0x28,
	0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03,
	0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc6, 0x58, 0x01,
	0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0, 0xfd, 0xf8, 0xf8, 0x00,
};
static const uint8_t h422_sps[] = {
	0x67, 0x7a, 0x00, 0x1e, 0xb6, 0xcd, 0x94, 0x0a, 0x02, 0xff, 0x89, 0xc0,
	0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c,
	0x58, 0xb6, 0x58,
};
static const uint8_t h422_pps[] = {
	0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0,
};
static const uint8_t h422_avcc[] = {
	0x01, 0x7a, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x1b, 0x67, 0x7a, 0x00, 0x1e,
	0xb6, 0xcd, 0x94, 0x0a, 0x02, 0xff, 0x89, 0xc0, 0x44, 0x00, 0x00, 0x03,
	0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x58, 0xb6, 0x58, 0x01,
	0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0, 0xfe, 0xfa, 0xfa, 0x00,
};
static const uint8_t h444_sps[] = {
	0x67, 0xf4, 0x00, 0x0d, 0x91, 0x9b, 0x28, 0x28, 0x3f, 0x60, 0x22, 0x00,
	0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x64, 0x1e, 0x28, 0x53,
	0x2c,
};
static const uint8_t h444_pps[] = {
	0x68, 0xeb, 0xe3, 0xc4, 0x48, 0x44,
};
static const uint8_t h444_avcc[] = {
	0x01, 0xf4, 0x00, 0x0d, 0xff, 0xe1, 0x00, 0x19, 0x67, 0xf4, 0x00, 0x0d,
	0x91, 0x9b, 0x28, 0x28, 0x3f, 0x60, 0x22, 0x00, 0x00, 0x03, 0x00, 0x02,
	0x00, 0x00, 0x03, 0x00, 0x64, 0x1e, 0x28, 0x53, 0x2c, 0x01, 0x00, 0x06,
	0x68, 0xeb, 0xe3, 0xc4, 0x48, 0x44, 0xff, 0xf8, 0xf8, 0x00,
};
static const uint8_t e1080_vps[] = {
	0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
	0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x78, 0x95, 0x98, 0x09,
};
static const uint8_t e1080_sps[] = {
	0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
	0x03, 0x00, 0x00, 0x03, 0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x10, 0xe5,
	0x96, 0x56, 0x69, 0x24, 0xca, 0xf0, 0x16, 0x80, 0x80, 0x00, 0x00, 0x03,
	0x00, 0x80, 0x00, 0x00, 0x0c, 0x84,
};
static const uint8_t e1080_pps[] = {
	0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40,
};
static const uint8_t e1080_hvcc[] = {
	0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x78, 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f, 0x03, 0xa0,
	0x00, 0x01, 0x00, 0x18, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60,
	0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
	0x78, 0x95, 0x98, 0x09, 0xa1, 0x00, 0x01, 0x00, 0x2a, 0x42, 0x01, 0x01,
	0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
	0x03, 0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x10, 0xe5, 0x96, 0x56, 0x69,
	0x24, 0xca, 0xf0, 0x16, 0x80, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00,
	0x00, 0x0c, 0x84, 0xa2, 0x00, 0x01, 0x00, 0x07, 0x44, 0x01, 0xc1, 0x72,
	0xb4, 0x62, 0x40,
};
static const uint8_t e422_vps[] = {
	0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00,
	0x9d, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x3f, 0x95, 0x98, 0x09,
};
static const uint8_t e422_sps[] = {
	0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9d, 0x08, 0x00,
	0x00, 0x03, 0x00, 0x00, 0x3f, 0xb0, 0x05, 0x02, 0x01, 0x69, 0x36, 0x59,
	0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02,
	0x00, 0x00, 0x03, 0x00, 0x32, 0x10,
};
static const uint8_t e422_pps[] = {
	0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40,
};
static const uint8_t e422_hvcc[] = {
	0x01, 0x04, 0x08, 0x00, 0x00, 0x00, 0x9d, 0x08, 0x00, 0x00, 0x00, 0x00,
	0x3f, 0xf0, 0x00, 0xfc, 0xfe, 0xfa, 0xfa, 0x00, 0x00, 0x0f, 0x03, 0xa0,
	0x00, 0x01, 0x00, 0x17, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08,
	0x00, 0x00, 0x03, 0x00, 0x9d, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x3f,
	0x95, 0x98, 0x09, 0xa1, 0x00, 0x01, 0x00, 0x2a, 0x42, 0x01, 0x01, 0x04,
	0x08, 0x00, 0x00, 0x03, 0x00, 0x9d, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00,
	0x3f, 0xb0, 0x05, 0x02, 0x01, 0x69, 0x36, 0x59, 0x59, 0xa4, 0x93, 0x2b,
	0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00,
	0x32, 0x10, 0xa2, 0x00, 0x01, 0x00, 0x07, 0x44, 0x01, 0xc1, 0x72, 0xb4,
	0x62, 0x40,
};
static const uint8_t et_vps[] = {
	0x40, 0x01, 0x0c, 0x02, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
	0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x00, 0x00, 0x95,
	0x98, 0xac, 0xc0, 0x48,
};
static const uint8_t et_sps[] = {
	0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
	0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x00, 0x00, 0xa0, 0x0b, 0x08, 0x04,
	0x85, 0x96, 0x56, 0x62, 0xb3, 0x49, 0x26, 0x57, 0x80, 0xb4, 0x04, 0x00,
	0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x64, 0x20,
};
static const uint8_t et_pps[] = {
	0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40,
};
static const uint8_t et_hvcc[] = {
	0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x3c, 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x13, 0x03, 0xa0,
	0x00, 0x01, 0x00, 0x1c, 0x40, 0x01, 0x0c, 0x02, 0xff, 0xff, 0x01, 0x60,
	0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
	0x3c, 0x00, 0x00, 0x95, 0x98, 0xac, 0xc0, 0x48, 0xa1, 0x00, 0x01, 0x00,
	0x2e, 0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00,
	0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x00, 0x00, 0xa0, 0x0b, 0x08,
	0x04, 0x85, 0x96, 0x56, 0x62, 0xb3, 0x49, 0x26, 0x57, 0x80, 0xb4, 0x04,
	0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x64, 0x20, 0xa2,
	0x00, 0x01, 0x00, 0x07, 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40,
};
static const uint8_t et_sl_sps[] = {
	0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
	0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xc0, 0x00, 0x01, 0x60, 0x00, 0x00,
	0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x39, 0xa0,
	0x0b, 0x08, 0x04, 0x85, 0x96, 0x56, 0x62, 0xb3, 0x49, 0x26, 0x57, 0x80,
	0xb4, 0x04, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x64,
	0x20,
};
static const uint8_t h1080_sl_sps[] = {
	0x67, 0x64, 0x00, 0x28, 0xad, 0x84, 0x11, 0x4c, 0x20, 0x58, 0xc1, 0xc1,
	0x10, 0x90, 0x50, 0x2e, 0x18, 0x0d, 0x07, 0x43, 0xd0, 0x8a, 0x43, 0x06,
	0xca, 0x01, 0xf4, 0x28, 0x07, 0x90, 0x48, 0x02, 0x02, 0x03, 0xf8, 0x07,
	0x10, 0x22, 0x01, 0xb4, 0x0a, 0x80, 0x69, 0x03, 0x20, 0x19, 0x40, 0xe8,
	0x06, 0x10, 0x10, 0x80, 0x5d, 0x01, 0x28, 0x05, 0x90, 0x14, 0x80, 0x55,
	0x01, 0x68, 0x05, 0x10, 0x18, 0x80, 0x4d, 0x01, 0xa8, 0x04, 0x90, 0x1c,
	0x80, 0x45, 0x01, 0xe8, 0x04, 0x10, 0x08, 0x20, 0x3d, 0x00, 0x8a, 0x03,
	0x90, 0x09, 0x20, 0x35, 0x00, 0x9a, 0x03, 0x10, 0x0a, 0x20, 0x2d, 0x00,
	0xaa, 0x02, 0x90, 0x0b, 0x20, 0x25, 0x00, 0xba, 0x02, 0x10, 0x0c, 0x20,
	0x74, 0x03, 0x28, 0x19, 0x00, 0xd2, 0x05, 0x40, 0x36, 0x81, 0x10, 0x0e,
	0x20, 0xd0, 0x0e, 0xa0, 0x90, 0x0f, 0x21, 0x40, 0x3e, 0x95, 0x20, 0xae,
	0xca, 0x03, 0xc0, 0x11, 0x3f, 0x2e, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00,
	0x20, 0x00, 0x00, 0x06, 0x41, 0xe3, 0x06, 0x32, 0xc0,
};
static const uint8_t h444_sl_sps[] = {
	0x67, 0xf4, 0x00, 0x0d, 0x91, 0xb0, 0x82, 0x29, 0x84, 0x0b, 0x18, 0x38,
	0x22, 0x12, 0x0a, 0x05, 0xc3, 0x01, 0xa0, 0xe8, 0x7a, 0x11, 0x48, 0x60,
	0xd9, 0x40, 0x3e, 0x85, 0x00, 0xf2, 0x09, 0x00, 0x40, 0x40, 0x7f, 0x00,
	0xe2, 0x04, 0x40, 0x36, 0x81, 0x50, 0x0d, 0x20, 0x64, 0x03, 0x28, 0x1d,
	0x00, 0xc2, 0x02, 0x10, 0x0b, 0xa0, 0x25, 0x00, 0xb2, 0x02, 0x90, 0x0a,
	0xa0, 0x2d, 0x00, 0xa2, 0x03, 0x10, 0x09, 0xa0, 0x35, 0x00, 0x92, 0x03,
	0x90, 0x08, 0xa0, 0x3d, 0x00, 0x82, 0x01, 0x04, 0x07, 0xa0, 0x11, 0x40,
	0x72, 0x01, 0x24, 0x06, 0xa0, 0x13, 0x40, 0x62, 0x01, 0x44, 0x05, 0xa0,
	0x15, 0x40, 0x52, 0x01, 0x64, 0x04, 0xa0, 0x17, 0x40, 0x42, 0x01, 0x84,
	0x0e, 0x80, 0x65, 0x03, 0x20, 0x1a, 0x40, 0xa8, 0x06, 0xd0, 0x22, 0x01,
	0xc4, 0x1a, 0x01, 0xd4, 0x12, 0x01, 0xe4, 0x28, 0x07, 0xd2, 0xa4, 0x15,
	0x52, 0x49, 0x24, 0x92, 0x49, 0x24, 0x92, 0x49, 0x24, 0x92, 0x49, 0x24,
	0x92, 0x49, 0x24, 0x92, 0x49, 0x24, 0x92, 0x49, 0x24, 0x92, 0x49, 0x24,
	0x90, 0x8e, 0xca, 0x0a, 0x0f, 0xd8, 0x08, 0x80, 0x00, 0x00, 0x03, 0x00,
	0x80, 0x00, 0x00, 0x19, 0x07, 0x8a, 0x14, 0xcb,
};

#define UNIT(a) ((struct nal_unit){ (a), sizeof(a) })

/* ---- helpers ---- */

/* Every unit of @buf, into @out (at most @cap); returns the count, or -1 on an error. */
static int collect(struct nal_iter *it, struct nal_unit *out, int cap)
{
	struct nal_unit u;
	int n = 0, r;

	while ((r = nal_iter_next(it, &u)) > 0)
		if (n < cap)
			out[n++] = u;
	return r < 0 ? -1 : n;
}

static bool same_unit(struct nal_unit a, const uint8_t *b, size_t len)
{
	return a.len == len && !memcmp(a.data, b, len);
}

/* A bit writer for hand-made SPSs. */
struct bw {
	uint8_t buf[64];
	size_t bits;
};

static void put(struct bw *w, unsigned n, uint64_t v)
{
	while (n-- > 0) {
		if ((v >> n) & 1)
			w->buf[w->bits / 8] |= (uint8_t)(0x80 >> (w->bits % 8));
		w->bits++;
	}
}

static void put_ue(struct bw *w, uint32_t v)
{
	uint64_t x = (uint64_t)v + 1;
	unsigned n = 0;

	while ((x >> n) > 1)
		n++;
	put(w, n, 0);
	put(w, n + 1, x);
}

/* The RBSP in @w, stop bit added, escaped after the header byte @hdr into @out. */
static size_t finish(struct bw *w, uint8_t hdr, uint8_t *out)
{
	size_t o = 0, zeros = 0;

	put(w, 1, 1);
	out[o++] = hdr;
	for (size_t i = 0; i < (w->bits + 7) / 8; i++) {
		if (zeros >= 2 && w->buf[i] <= 3) {
			out[o++] = 3;
			zeros = 0;
		}
		out[o++] = w->buf[i];
		zeros = w->buf[i] ? 0 : zeros + 1;
	}
	return o;
}

/* A baseline H.264 SPS: @w_mbs x @h_units macroblocks, @poc_type, interlaced unless
 * @frames_only, frame cropping if @crop is not NULL (left, right, top, bottom). */
static size_t h264_sps(uint8_t *out, uint32_t w_mbs, uint32_t h_units, uint32_t poc_type,
	bool frames_only, const uint32_t *crop)
{
	struct bw w = { { 0 }, 0 };

	put(&w, 8, 66);
	put(&w, 8, 0xc0);
	put(&w, 8, 30);
	put_ue(&w, 0);          /* seq_parameter_set_id */
	put_ue(&w, 0);          /* log2_max_frame_num_minus4 */
	put_ue(&w, poc_type);
	if (poc_type == 0)
		put_ue(&w, 0);      /* log2_max_pic_order_cnt_lsb_minus4 */
	if (poc_type == 1) {
		put(&w, 1, 0);      /* delta_pic_order_always_zero_flag */
		put_ue(&w, 0);      /* offset_for_non_ref_pic: se 0 */
		put_ue(&w, 0);      /* offset_for_top_to_bottom_field */
		put_ue(&w, 2);      /* num_ref_frames_in_pic_order_cnt_cycle */
		put_ue(&w, 1);      /* offset_for_ref_frame: se 1 */
		put_ue(&w, 2);      /* se -1 */
	}
	put_ue(&w, 1);          /* max_num_ref_frames */
	put(&w, 1, 0);
	put_ue(&w, w_mbs - 1);
	put_ue(&w, h_units - 1);
	put(&w, 1, frames_only);
	if (!frames_only)
		put(&w, 1, 0);
	put(&w, 1, 1);          /* direct_8x8_inference_flag */
	put(&w, 1, crop != NULL);
	for (int i = 0; crop && i < 4; i++)
		put_ue(&w, crop[i]);
	put(&w, 1, 0);          /* vui_parameters_present_flag */
	return finish(&w, 0x67, out);
}

/* An access unit: delimiter, SPS and PPS of b320, an IDR slice, with 4 and 3-byte start
 * codes and trailing zeros. */
static const uint8_t slice[] = { 0x65, 0x88, 0x84, 0x21, 0x00, 0x00, 0x03, 0x01, 0x7f };

static size_t annexb_au(uint8_t *out)
{
	size_t n = 0;

	memcpy(out + n, "\0\0\0\1", 4);
	memcpy(out + n + 4, aud, sizeof(aud));
	n += 4 + sizeof(aud);
	memcpy(out + n, "\0\0\1", 3);
	memcpy(out + n + 3, b320_sps, sizeof(b320_sps));
	n += 3 + sizeof(b320_sps);
	memcpy(out + n, "\0\0\0\1", 4);
	memcpy(out + n + 4, b320_pps, sizeof(b320_pps));
	n += 4 + sizeof(b320_pps);
	memcpy(out + n, "\0\0\1", 3);
	memcpy(out + n + 3, slice, sizeof(slice));
	n += 3 + sizeof(slice);
	memset(out + n, 0, 3);
	return n + 3;
}

/* ---- iteration ---- */

static void test_annexb_finds_units_after_3_and_4_byte_start_codes(void)
{
	uint8_t au[128];
	struct nal_unit u[8];
	struct nal_iter it;

	nal_iter_annexb(&it, au, annexb_au(au));
	CHECK(collect(&it, u, 8) == 4);
	CHECK(same_unit(u[0], aud, sizeof(aud)));
	CHECK(same_unit(u[1], b320_sps, sizeof(b320_sps)));
	CHECK(same_unit(u[2], b320_pps, sizeof(b320_pps)));
	CHECK(same_unit(u[3], slice, sizeof(slice))); /* its 00 00 03 is data, trailing zeros not */
	CHECK(!it.failed);
}

static void test_annexb_skips_leading_zeros_and_empty_units(void)
{
	static const uint8_t in[] = { 0, 0, 0, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0, 0, 1, 0x41,
		0x9a, 0, 0, 0, 0, 0, 0, 1, 0x41, 0x9b, 0 };
	struct nal_unit u[8];
	struct nal_iter it;

	nal_iter_annexb(&it, in, sizeof(in));
	CHECK(collect(&it, u, 8) == 3);
	CHECK(u[0].len == 2 && u[0].data[0] == 0x09);
	CHECK(u[1].len == 2 && u[1].data[1] == 0x9a); /* ends where 00 00 00 starts */
	CHECK(u[2].len == 2 && u[2].data[1] == 0x9b);
}

/* Found by fuzz_nal: two zeros at the very end are no start code, and no data either. */
static void test_annexb_drops_every_zero_at_the_end_of_the_buffer(void)
{
	static const uint8_t two[] = { 0, 0, 1, 0x41, 0x9b, 0x0e, 0, 0 };
	struct nal_unit u[4];
	struct nal_iter it;

	nal_iter_annexb(&it, two, sizeof(two));
	CHECK(collect(&it, u, 4) == 1);
	CHECK(u[0].len == 3 && u[0].data[2] == 0x0e);
}

static void test_annexb_refuses_data_before_the_first_start_code(void)
{
	static const uint8_t in[] = { 0x67, 0x42, 0, 0, 1, 0x68 };
	static const uint8_t after_zeros[] = { 0, 0, 0, 0, 0x05, 0, 0, 1, 0x68 };
	struct nal_unit u[4];
	struct nal_iter it;

	nal_iter_annexb(&it, in, sizeof(in));
	CHECK(collect(&it, u, 4) == -1);
	CHECK(it.failed);
	nal_iter_annexb(&it, after_zeros, sizeof(after_zeros));
	CHECK(collect(&it, u, 4) == -1);
}

static void test_annexb_of_nothing_or_only_zeros_has_no_units(void)
{
	static const uint8_t zeros[5] = { 0 };
	struct nal_unit u[4];
	struct nal_iter it;

	nal_iter_annexb(&it, zeros, sizeof(zeros));
	CHECK(collect(&it, u, 4) == 0);
	nal_iter_annexb(&it, NULL, 0);
	CHECK(collect(&it, u, 4) == 0);
}

static void test_lp_iterates_1_2_and_4_byte_lengths(void)
{
	static const uint8_t one[] = { 2, 0x09, 0xf0, 0, 3, 0x41, 0x9a, 0x01 };
	static const uint8_t two[] = { 0, 2, 0x09, 0xf0, 0, 3, 0x41, 0x9a, 0x01 };
	static const uint8_t four[] = { 0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x41, 0x9a, 0x01 };
	const uint8_t *in[3] = { one, two, four };
	size_t lens[3] = { sizeof(one), sizeof(two), sizeof(four) };
	unsigned sizes[3] = { 1, 2, 4 };
	struct nal_unit u[4];
	struct nal_iter it;

	for (int i = 0; i < 3; i++) {
		CHECK(nal_iter_lp(&it, in[i], lens[i], sizes[i]));
		CHECK(collect(&it, u, 4) == 2); /* the zero length in `one` is skipped */
		CHECK(u[0].len == 2 && u[0].data[0] == 0x09);
		CHECK(u[1].len == 3 && u[1].data[2] == 0x01);
	}
}

static void test_lp_refuses_a_length_past_the_end(void)
{
	static const uint8_t past[] = { 0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 9, 0x41, 0x9a };
	static const uint8_t cut_prefix[] = { 0, 0, 0, 2, 0x09, 0xf0, 0, 0 };
	struct nal_unit u[4];
	struct nal_iter it;

	nal_iter_lp(&it, past, sizeof(past), 4);
	CHECK(collect(&it, u, 4) == -1);
	nal_iter_lp(&it, cut_prefix, sizeof(cut_prefix), 4);
	CHECK(collect(&it, u, 4) == -1);
	CHECK(nal_iter_next(&it, u) == -EINVAL); /* and it stays failed */
}

static void test_lp_refuses_length_sizes_other_than_1_2_4(void)
{
	static const uint8_t in[] = { 0, 0, 2, 0x09, 0xf0 };
	struct nal_unit u;
	struct nal_iter it;

	CHECK(!nal_iter_lp(&it, in, sizeof(in), 3));
	CHECK(nal_iter_next(&it, &u) == -EINVAL);
	CHECK(!nal_iter_lp(&it, in, sizeof(in), 0));
}

/* ---- types ---- */

static void test_h264_types_and_predicates(void)
{
	CHECK(nal_type(NAL_H264, b320_sps, sizeof(b320_sps)) == NAL_H264_SPS);
	CHECK(nal_type(NAL_H264, b320_pps, sizeof(b320_pps)) == NAL_H264_PPS);
	CHECK(nal_type(NAL_H264, slice, sizeof(slice)) == NAL_H264_IDR);
	CHECK(nal_is_key(NAL_H264, 5) && !nal_is_key(NAL_H264, 1));
	CHECK(nal_is_param_set(NAL_H264, 7) && nal_is_param_set(NAL_H264, 8));
	CHECK(!nal_is_param_set(NAL_H264, 6) && !nal_is_param_set(NAL_H264, 13));
	CHECK(nal_is_vcl(NAL_H264, 1) && nal_is_vcl(NAL_H264, 5) && !nal_is_vcl(NAL_H264, 6));
	CHECK(nal_is_aud(NAL_H264, 9) && !nal_is_aud(NAL_H264, 35));
}

static void test_h265_types_and_predicates(void)
{
	CHECK(nal_type(NAL_H265, e720_vps, sizeof(e720_vps)) == NAL_H265_VPS);
	CHECK(nal_type(NAL_H265, e720_sps, sizeof(e720_sps)) == NAL_H265_SPS);
	CHECK(nal_type(NAL_H265, e720_pps, sizeof(e720_pps)) == NAL_H265_PPS);
	for (int t = 0; t < 64; t++) {
		CHECK(nal_is_key(NAL_H265, t) == (t >= 16 && t <= 21));
		CHECK(nal_is_vcl(NAL_H265, t) == (t < 32));
		CHECK(nal_is_param_set(NAL_H265, t) == (t >= 32 && t <= 34));
		CHECK(nal_is_aud(NAL_H265, t) == (t == 35));
	}
}

static void test_a_type_needs_the_whole_header(void)
{
	CHECK(nal_type(NAL_H264, b320_sps, 0) == -1);
	CHECK(nal_type(NAL_H265, e720_sps, 1) == -1);
	CHECK(nal_type(NAL_H265, e720_sps, 2) == 33);
	CHECK(!nal_is_vcl(NAL_H265, -1) && !nal_is_key(NAL_H264, -1));
}

/* ---- conversions ---- */

static void test_annexb_becomes_4_byte_lengths(void)
{
	uint8_t au[128], out[128];
	size_t need;

	CHECK(nal_annexb_to_lp(au, annexb_au(au), out, sizeof(out), &need) == 0);
	CHECK(need == 4 * 4 + sizeof(aud) + sizeof(b320_sps) + sizeof(b320_pps) + sizeof(slice));
	CHECK(!memcmp(out, "\0\0\0\2", 4) && !memcmp(out + 4, aud, sizeof(aud)));
	size_t o = 4 + sizeof(aud);
	CHECK(out[o + 3] == sizeof(b320_sps) && !memcmp(out + o + 4, b320_sps, sizeof(b320_sps)));
	o += 4 + sizeof(b320_sps) + 4 + sizeof(b320_pps);
	CHECK(out[o + 3] == sizeof(slice) && !memcmp(out + o + 4, slice, sizeof(slice)));
}

static void test_the_size_query_and_a_short_buffer(void)
{
	uint8_t au[128], out[128];
	size_t need, len = annexb_au(au), need2;

	CHECK(nal_annexb_to_lp(au, len, NULL, 0, &need) == 0);
	CHECK(need == 56);
	CHECK(nal_annexb_to_lp(au, len, out, need - 1, &need2) == -ENOSPC);
	CHECK(need2 == need);
	CHECK(nal_annexb_to_lp(au, len, out, need, &need2) == 0);
	CHECK(nal_lp_to_annexb(out, need, 4, NULL, 0, &need2) == 0 && need2 == need);
	CHECK(nal_lp_to_annexb(out, need, 4, out + 64, 10, &need2) == -ENOSPC);
}

static void test_annexb_and_lengths_round_trip(void)
{
	uint8_t au[128], lp[128], back[128], again[128];
	size_t len = annexb_au(au), n_lp, n_back, n_again;

	CHECK(nal_annexb_to_lp(au, len, lp, sizeof(lp), &n_lp) == 0);
	CHECK(nal_lp_to_annexb(lp, n_lp, 4, back, sizeof(back), &n_back) == 0);
	CHECK(n_back == n_lp); /* every start code is 4 bytes now */
	CHECK(!memcmp(back, "\0\0\0\1\x09\xf0\0\0\0\1\x67", 11));
	CHECK(nal_annexb_to_lp(back, n_back, again, sizeof(again), &n_again) == 0);
	CHECK(n_again == n_lp && !memcmp(again, lp, n_lp));
}

static void test_1_and_2_byte_lengths_become_4_byte(void)
{
	static const uint8_t two[] = { 0, 2, 0x09, 0xf0, 0, 3, 0x41, 0x9a, 0x01 };
	static const uint8_t one[] = { 2, 0x09, 0xf0, 3, 0x41, 0x9a, 0x01 };
	static const uint8_t want[] = { 0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x41, 0x9a, 0x01 };
	uint8_t out[32];
	size_t need;

	CHECK(nal_lp_to_lp4(two, sizeof(two), 2, out, sizeof(out), &need) == 0);
	CHECK(need == sizeof(want) && !memcmp(out, want, need));
	CHECK(nal_lp_to_lp4(one, sizeof(one), 1, out, sizeof(out), &need) == 0);
	CHECK(need == sizeof(want) && !memcmp(out, want, need));
}

static void test_conversions_refuse_malformed_input(void)
{
	static const uint8_t garbage[] = { 0x12, 0x34, 0, 0, 1, 0x65 };
	static const uint8_t cut[] = { 0, 0, 0, 9, 0x65, 0x88 };
	uint8_t out[32];
	size_t need = 99;

	CHECK(nal_annexb_to_lp(garbage, sizeof(garbage), out, sizeof(out), &need) == -EINVAL);
	CHECK(need == 0);
	CHECK(nal_lp_to_annexb(cut, sizeof(cut), 4, out, sizeof(out), &need) == -EINVAL);
	CHECK(nal_lp_to_lp4(cut, sizeof(cut), 4, NULL, 0, &need) == -EINVAL);
	CHECK(nal_lp_to_lp4(cut, sizeof(cut), 3, out, sizeof(out), &need) == -EINVAL);
}

/* ---- RBSP and bits ---- */

static void test_unescape_drops_emulation_prevention_bytes(void)
{
	static const uint8_t in[] = { 0x11, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 3, 0, 3 };
	static const uint8_t want[] = { 0x11, 0, 0, 1, 0, 0, 0, 0, 3, 0, 3 };
	uint8_t out[sizeof(in)];

	CHECK(nal_unescape(in, sizeof(in), out) == sizeof(want));
	CHECK(!memcmp(out, want, sizeof(want)));
}

static void test_bits_read_fixed_and_exp_golomb_codes(void)
{
	/* 1 | 010 | 011 | 00100 | 00101 | 0001000 | 101 */
	static const uint8_t in[] = { 0xa6, 0x42, 0x88, 0xa0 };
	struct nal_bits b;

	nal_bits_init(&b, in, sizeof(in));
	CHECK(nal_bits_ue(&b) == 0);
	CHECK(nal_bits_ue(&b) == 1);
	CHECK(nal_bits_ue(&b) == 2);
	CHECK(nal_bits_ue(&b) == 3);
	CHECK(nal_bits_se(&b) == -2);   /* ue 4 */
	CHECK(nal_bits_se(&b) == 4);    /* ue 7 */
	CHECK(nal_bits_u(&b, 3) == 5);
	CHECK(!b.overrun && b.pos == 27);
}

static void test_bits_report_running_off_the_end(void)
{
	static const uint8_t in[] = { 0xff, 0x00 };
	struct nal_bits b;

	nal_bits_init(&b, in, sizeof(in));
	CHECK(nal_bits_u(&b, 16) == 0xff00);
	CHECK(!b.overrun);
	CHECK(nal_bits_u(&b, 1) == 0);
	CHECK(b.overrun);
	nal_bits_init(&b, in, sizeof(in));
	nal_bits_u(&b, 8);
	CHECK(nal_bits_ue(&b) == 0 && b.overrun); /* zeros, then the end */
	nal_bits_init(&b, in, sizeof(in));
	nal_bits_skip(&b, 17);
	CHECK(b.overrun);
}

static void test_an_exp_golomb_code_longer_than_32_bits_is_refused(void)
{
	static const uint8_t zeros33[] = { 0, 0, 0, 0, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t max[] = { 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe };
	struct nal_bits b;

	nal_bits_init(&b, zeros33, sizeof(zeros33));
	nal_bits_ue(&b);
	CHECK(b.overrun);
	nal_bits_init(&b, max, sizeof(max)); /* 31 zeros: the largest code, 2^32 - 2 */
	CHECK(nal_bits_ue(&b) == 0xfffffffeu && !b.overrun);
}

/* ---- SPS ---- */

static void test_h264_baseline_sps_is_320x240(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H264, b320_sps, sizeof(b320_sps), &s));
	CHECK(s.width == 320 && s.height == 240);
	CHECK(s.profile == 66 && s.constraint_flags == 0xc0 && s.level == 13);
	CHECK(s.chroma_format == 1 && s.bit_depth_luma == 8 && s.bit_depth_chroma == 8);
	CHECK(s.frame_mbs_only);
}

static void test_h264_high_sps_crops_1088_to_1080(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H264, h1080_sps, sizeof(h1080_sps), &s));
	CHECK(s.width == 1920 && s.height == 1080);
	CHECK(s.profile == 100 && s.level == 40 && s.chroma_format == 1);
}

static void test_h264_high_422_sps_has_10_bit_depth(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H264, h422_sps, sizeof(h422_sps), &s));
	CHECK(s.width == 640 && s.height == 360); /* 368 cropped by 4:2:2's unit of one row */
	CHECK(s.profile == 122 && s.chroma_format == 2);
	CHECK(s.bit_depth_luma == 10 && s.bit_depth_chroma == 10);
	CHECK(nal_parse_sps(NAL_H264, h444_sps, sizeof(h444_sps), &s));
	CHECK(s.width == 320 && s.height == 240 && s.profile == 244 && s.chroma_format == 3);
}

static void test_h264_sps_is_read_past_its_scaling_lists(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H264, h1080_sl_sps, sizeof(h1080_sl_sps), &s));
	CHECK(s.width == 1920 && s.height == 1080 && s.profile == 100);
	CHECK(nal_parse_sps(NAL_H264, h444_sl_sps, sizeof(h444_sl_sps), &s)); /* 12 lists */
	CHECK(s.width == 320 && s.height == 240 && s.chroma_format == 3);
}

static void test_h264_interlaced_sps_counts_field_pairs(void)
{
	uint8_t sps[64];
	const uint32_t crop[4] = { 0, 0, 0, 2 }; /* 4 rows per unit: 2 chroma rows x 2 fields */
	struct nal_sps s;

	size_t n = h264_sps(sps, 45, 18, 0, false, crop);
	CHECK(nal_parse_sps(NAL_H264, sps, n, &s));
	CHECK(s.width == 720 && s.height == 2 * 18 * 16 - 8 && !s.frame_mbs_only);
	n = h264_sps(sps, 45, 36, 1, true, NULL);
	CHECK(nal_parse_sps(NAL_H264, sps, n, &s) && s.height == 576);
}

static void test_h264_sps_out_of_range_is_refused(void)
{
	uint8_t sps[64];
	const uint32_t all[4] = { 80, 80, 0, 0 }; /* 2 x 2 x 80 = the whole width */
	struct nal_sps s;

	CHECK(!nal_parse_sps(NAL_H264, sps, h264_sps(sps, 10, 10, 2, true, all), &s));
	CHECK(!nal_parse_sps(NAL_H264, sps, h264_sps(sps, 5000, 10, 2, true, NULL), &s));
	CHECK(!nal_parse_sps(NAL_H264, sps, h264_sps(sps, 10, 10, 3, true, NULL), &s));
	CHECK(s.width == 0 && s.height == 0);
	CHECK(nal_parse_sps(NAL_H264, sps, h264_sps(sps, 10, 10, 2, true, NULL), &s));
}

static void test_h265_main_sps_is_1280x720(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H265, e720_sps, sizeof(e720_sps), &s));
	CHECK(s.width == 1280 && s.height == 720);
	CHECK(s.profile == 1 && s.tier == 0 && s.profile_space == 0 && s.level == 93);
	CHECK(s.compat_flags == 0x60000000);
	CHECK(s.constraint_bytes[0] == 0x90 && s.constraint_bytes[5] == 0);
	CHECK(s.chroma_format == 1 && s.bit_depth_luma == 8 && s.bit_depth_chroma == 8);
	CHECK(s.max_sub_layers == 1 && s.temporal_id_nesting);
}

static void test_h265_conformance_window_crops_1088_to_1080(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H265, e1080_sps, sizeof(e1080_sps), &s));
	CHECK(s.width == 1920 && s.height == 1080 && s.level == 120);
}

static void test_h265_rext_422_sps_has_10_bit_depth(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H265, e422_sps, sizeof(e422_sps), &s));
	CHECK(s.width == 640 && s.height == 360 && s.profile == 4);
	CHECK(s.chroma_format == 2 && s.bit_depth_luma == 10 && s.bit_depth_chroma == 10);
}

static void test_h265_sps_skips_sub_layers(void)
{
	struct nal_sps s;

	CHECK(nal_parse_sps(NAL_H265, et_sps, sizeof(et_sps), &s));
	CHECK(s.width == 352 && s.height == 288 && s.max_sub_layers == 2);
	CHECK(!s.temporal_id_nesting && s.level == 60);
	CHECK(nal_parse_sps(NAL_H265, et_sl_sps, sizeof(et_sl_sps), &s)); /* with 88 + 8 bits */
	CHECK(s.width == 352 && s.height == 288 && s.level == 60);
}

static void test_an_sps_of_another_codec_or_type_is_refused(void)
{
	struct nal_sps s;

	CHECK(!nal_parse_sps(NAL_H265, b320_sps, sizeof(b320_sps), &s));
	CHECK(!nal_parse_sps(NAL_H264, e720_sps, sizeof(e720_sps), &s));
	CHECK(!nal_parse_sps(NAL_H264, b320_pps, sizeof(b320_pps), &s));
	CHECK(!nal_parse_sps(NAL_H265, e720_vps, sizeof(e720_vps), &s));
}

/* A prefix of an SPS either fails or says what the whole says: nothing past the end is read
 * as if it were there. */
static void test_a_truncated_sps_is_refused_or_read_the_same(void)
{
	static const struct {
		enum nal_codec codec;
		const uint8_t *p;
		size_t len;
	} all[] = {
		{ NAL_H264, b320_sps, sizeof(b320_sps) }, { NAL_H264, h1080_sps, sizeof(h1080_sps) },
		{ NAL_H264, h1080_sl_sps, sizeof(h1080_sl_sps) },
		{ NAL_H264, h444_sl_sps, sizeof(h444_sl_sps) },
		{ NAL_H265, e720_sps, sizeof(e720_sps) }, { NAL_H265, e1080_sps, sizeof(e1080_sps) },
		{ NAL_H265, et_sl_sps, sizeof(et_sl_sps) },
	};
	struct nal_sps whole, part;

	for (size_t i = 0; i < N(all); i++) {
		CHECK(nal_parse_sps(all[i].codec, all[i].p, all[i].len, &whole));
		for (size_t n = 0; n < all[i].len; n++) {
			uint8_t *copy = malloc(n + 1); /* exactly n bytes for ASan, never 0 */
			memcpy(copy, all[i].p, n);
			if (nal_parse_sps(all[i].codec, copy, n, &part))
				CHECK(part.width == whole.width && part.height == whole.height);
			else
				CHECK(part.width == 0);
			if (n < 6)
				CHECK(!nal_parse_sps(all[i].codec, copy, n, &part));
			free(copy);
		}
	}
}

/* ---- decoder configuration records ---- */

static void test_avcc_of_baseline_sets_is_what_ffmpeg_writes(void)
{
	struct nal_unit u[2] = { UNIT(b320_sps), UNIT(b320_pps) };
	uint8_t out[128];
	size_t need;

	CHECK(nal_build_avcc(u, 2, out, sizeof(out), &need) == 0);
	CHECK(need == sizeof(b320_avcc) && !memcmp(out, b320_avcc, need));
}

static void test_avcc_of_high_profiles_has_chroma_and_bit_depth(void)
{
	struct {
		struct nal_unit sps, pps;
		const uint8_t *want;
		size_t want_len;
	} all[] = {
		{ UNIT(h1080_sps), UNIT(h1080_pps), h1080_avcc, sizeof(h1080_avcc) },
		{ UNIT(h422_sps), UNIT(h422_pps), h422_avcc, sizeof(h422_avcc) },
		{ UNIT(h444_sps), UNIT(h444_pps), h444_avcc, sizeof(h444_avcc) },
	};
	uint8_t out[128];
	size_t need;

	for (size_t i = 0; i < N(all); i++) {
		struct nal_unit u[2] = { all[i].sps, all[i].pps };
		CHECK(nal_build_avcc(u, 2, out, sizeof(out), &need) == 0);
		CHECK(need == all[i].want_len && !memcmp(out, all[i].want, need));
	}
}

static void test_hvcc_is_what_ffmpeg_writes(void)
{
	struct {
		struct nal_unit vps, sps, pps;
		const uint8_t *want;
		size_t want_len;
	} all[] = {
		{ UNIT(e720_vps), UNIT(e720_sps), UNIT(e720_pps), e720_hvcc, sizeof(e720_hvcc) },
		{ UNIT(e1080_vps), UNIT(e1080_sps), UNIT(e1080_pps), e1080_hvcc, sizeof(e1080_hvcc) },
		{ UNIT(e422_vps), UNIT(e422_sps), UNIT(e422_pps), e422_hvcc, sizeof(e422_hvcc) },
		{ UNIT(et_vps), UNIT(et_sps), UNIT(et_pps), et_hvcc, sizeof(et_hvcc) },
	};
	uint8_t out[256];
	size_t need;

	for (size_t i = 0; i < N(all); i++) {
		struct nal_unit u[3] = { all[i].vps, all[i].sps, all[i].pps };
		CHECK(nal_build_hvcc(u, 3, out, sizeof(out), &need) == 0);
		CHECK(need == all[i].want_len && !memcmp(out, all[i].want, need));
	}
}

static void test_records_take_sets_in_any_order_among_other_units(void)
{
	static const uint8_t sei[] = { 0x06, 0x05, 0x01, 0x80 };
	static const uint8_t sei265[] = { 0x4e, 0x01, 0x05, 0x01, 0x80 };
	struct nal_unit h264[4] = { UNIT(aud), UNIT(h1080_pps), UNIT(sei), UNIT(h1080_sps) };
	struct nal_unit h265[4] = { UNIT(e720_pps), UNIT(sei265), UNIT(e720_sps),
		UNIT(e720_vps) };
	uint8_t out[256];
	size_t need;

	CHECK(nal_build_avcc(h264, 4, out, sizeof(out), &need) == 0);
	CHECK(need == sizeof(h1080_avcc) && !memcmp(out, h1080_avcc, need));
	CHECK(nal_build_hvcc(h265, 4, out, sizeof(out), &need) == 0);
	CHECK(need == sizeof(e720_hvcc) && !memcmp(out, e720_hvcc, need));
}

static void test_records_need_every_kind_of_set(void)
{
	struct nal_unit no_pps[1] = { UNIT(b320_sps) };
	struct nal_unit no_vps[2] = { UNIT(e720_sps), UNIT(e720_pps) };
	struct nal_unit wrong[2] = { UNIT(e720_sps), UNIT(b320_pps) };
	uint8_t out[256];
	size_t need;

	CHECK(nal_build_avcc(no_pps, 1, out, sizeof(out), &need) == -EINVAL);
	CHECK(nal_build_avcc(NULL, 0, out, sizeof(out), &need) == -EINVAL);
	CHECK(nal_build_hvcc(no_vps, 2, out, sizeof(out), &need) == -EINVAL);
	CHECK(nal_build_avcc(wrong, 2, out, sizeof(out), &need) == -EINVAL);
}

static void test_records_report_their_size_and_refuse_a_short_buffer(void)
{
	struct nal_unit u[3] = { UNIT(e720_vps), UNIT(e720_sps), UNIT(e720_pps) };
	uint8_t out[256];
	size_t need;

	CHECK(nal_build_hvcc(u, 3, NULL, 0, &need) == 0 && need == sizeof(e720_hvcc));
	CHECK(nal_build_hvcc(u, 3, out, need - 1, &need) == -ENOSPC);
	CHECK(nal_build_avcc(u + 1, 0, out, 0, &need) == -EINVAL);
	struct nal_unit a[2] = { UNIT(b320_sps), UNIT(b320_pps) };
	CHECK(nal_build_avcc(a, 2, out, 10, &need) == -ENOSPC && need == sizeof(b320_avcc));
}

static void test_avcc_parses_back_into_its_sets(void)
{
	struct nal_config c;

	CHECK(nal_parse_avcc(h1080_avcc, sizeof(h1080_avcc), &c) == 0);
	CHECK(c.length_size == 4 && c.n == 2);
	CHECK(same_unit(c.units[0], h1080_sps, sizeof(h1080_sps)));
	CHECK(same_unit(c.units[1], h1080_pps, sizeof(h1080_pps)));
	CHECK(nal_parse_avcc(b320_avcc, sizeof(b320_avcc), &c) == 0 && c.n == 2);
}

static void test_hvcc_parses_back_into_its_sets(void)
{
	struct nal_config c;

	CHECK(nal_parse_hvcc(e1080_hvcc, sizeof(e1080_hvcc), &c) == 0);
	CHECK(c.length_size == 4 && c.n == 3);
	CHECK(same_unit(c.units[0], e1080_vps, sizeof(e1080_vps)));
	CHECK(same_unit(c.units[1], e1080_sps, sizeof(e1080_sps)));
	CHECK(same_unit(c.units[2], e1080_pps, sizeof(e1080_pps)));
}

static void test_hvcc_leaves_out_sei_arrays(void)
{
	static const uint8_t sei[] = { 0x27, 0x00, 0x01, 0x00, 0x05, 0x4e, 0x01, 0x05, 0x01, 0x80 };
	uint8_t rec[sizeof(e720_hvcc) + sizeof(sei)];
	struct nal_config c;

	memcpy(rec, e720_hvcc, sizeof(e720_hvcc));
	memcpy(rec + sizeof(e720_hvcc), sei, sizeof(sei));
	rec[22] = 4; /* numOfArrays */
	CHECK(nal_parse_hvcc(rec, sizeof(rec), &c) == 0);
	CHECK(c.n == 3 && same_unit(c.units[2], e720_pps, sizeof(e720_pps)));
}

static void test_records_say_the_length_size(void)
{
	uint8_t rec[sizeof(b320_avcc)];
	struct nal_config c;

	memcpy(rec, b320_avcc, sizeof(rec));
	rec[4] = 0xfd;
	CHECK(nal_parse_avcc(rec, sizeof(rec), &c) == 0 && c.length_size == 2);
	rec[4] = 0xfc;
	CHECK(nal_parse_avcc(rec, sizeof(rec), &c) == 0 && c.length_size == 1);
	rec[4] = 0xfe; /* 3 bytes: not allowed */
	CHECK(nal_parse_avcc(rec, sizeof(rec), &c) == -EINVAL && c.n == 0);
}

static void test_truncated_or_damaged_records_are_refused(void)
{
	struct nal_config c;
	uint8_t rec[256];

	/* the avcC ends after its PPS list: the high-profile bytes are optional */
	for (size_t n = 0; n < sizeof(h1080_avcc) - 4; n++) {
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, h1080_avcc, n);
		CHECK(nal_parse_avcc(copy, n, &c) == -EINVAL);
		free(copy);
	}
	for (size_t n = 0; n < sizeof(e720_hvcc); n++) {
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, e720_hvcc, n);
		CHECK(nal_parse_hvcc(copy, n, &c) == -EINVAL);
		free(copy);
	}
	memcpy(rec, e720_hvcc, sizeof(e720_hvcc));
	rec[0] = 0; /* configurationVersion */
	CHECK(nal_parse_hvcc(rec, sizeof(e720_hvcc), &c) == -EINVAL);
	memcpy(rec, b320_avcc, sizeof(b320_avcc));
	rec[7] = 0; /* an empty SPS */
	CHECK(nal_parse_avcc(rec, sizeof(b320_avcc), &c) == -EINVAL);
}

static void test_a_record_with_too_many_sets_is_refused(void)
{
	uint8_t rec[7 + 2 * 256 + sizeof(b320_pps)];
	struct nal_config c;
	size_t n = 0;

	memcpy(rec, b320_avcc, 5);
	rec[5] = 0xe0;
	n = 6;
	rec[n++] = 80; /* PPSs */
	for (int i = 0; i < 80; i++) {
		rec[n++] = 0;
		rec[n++] = 2;
		rec[n++] = 0x68;
		rec[n++] = (uint8_t)(0x80 | i);
	}
	CHECK(nal_parse_avcc(rec, n, &c) == -E2BIG && c.n == 0);
}

int main(void)
{
	RUN(test_annexb_finds_units_after_3_and_4_byte_start_codes);
	RUN(test_annexb_skips_leading_zeros_and_empty_units);
	RUN(test_annexb_drops_every_zero_at_the_end_of_the_buffer);
	RUN(test_annexb_refuses_data_before_the_first_start_code);
	RUN(test_annexb_of_nothing_or_only_zeros_has_no_units);
	RUN(test_lp_iterates_1_2_and_4_byte_lengths);
	RUN(test_lp_refuses_a_length_past_the_end);
	RUN(test_lp_refuses_length_sizes_other_than_1_2_4);
	RUN(test_h264_types_and_predicates);
	RUN(test_h265_types_and_predicates);
	RUN(test_a_type_needs_the_whole_header);
	RUN(test_annexb_becomes_4_byte_lengths);
	RUN(test_the_size_query_and_a_short_buffer);
	RUN(test_annexb_and_lengths_round_trip);
	RUN(test_1_and_2_byte_lengths_become_4_byte);
	RUN(test_conversions_refuse_malformed_input);
	RUN(test_unescape_drops_emulation_prevention_bytes);
	RUN(test_bits_read_fixed_and_exp_golomb_codes);
	RUN(test_bits_report_running_off_the_end);
	RUN(test_an_exp_golomb_code_longer_than_32_bits_is_refused);
	RUN(test_h264_baseline_sps_is_320x240);
	RUN(test_h264_high_sps_crops_1088_to_1080);
	RUN(test_h264_high_422_sps_has_10_bit_depth);
	RUN(test_h264_sps_is_read_past_its_scaling_lists);
	RUN(test_h264_interlaced_sps_counts_field_pairs);
	RUN(test_h264_sps_out_of_range_is_refused);
	RUN(test_h265_main_sps_is_1280x720);
	RUN(test_h265_conformance_window_crops_1088_to_1080);
	RUN(test_h265_rext_422_sps_has_10_bit_depth);
	RUN(test_h265_sps_skips_sub_layers);
	RUN(test_an_sps_of_another_codec_or_type_is_refused);
	RUN(test_a_truncated_sps_is_refused_or_read_the_same);
	RUN(test_avcc_of_baseline_sets_is_what_ffmpeg_writes);
	RUN(test_avcc_of_high_profiles_has_chroma_and_bit_depth);
	RUN(test_hvcc_is_what_ffmpeg_writes);
	RUN(test_records_take_sets_in_any_order_among_other_units);
	RUN(test_records_need_every_kind_of_set);
	RUN(test_records_report_their_size_and_refuse_a_short_buffer);
	RUN(test_avcc_parses_back_into_its_sets);
	RUN(test_hvcc_parses_back_into_its_sets);
	RUN(test_hvcc_leaves_out_sei_arrays);
	RUN(test_records_say_the_length_size);
	RUN(test_truncated_or_damaged_records_are_refused);
	RUN(test_a_record_with_too_many_sets_is_refused);
	return CHECK_DONE();
}
