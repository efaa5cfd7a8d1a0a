/* nal: see nal.h for what and why. */
#include "nal.h"

#include <errno.h>
#include <string.h>

/* An SPS is read from a copy of its first bytes without emulation prevention. Everything
 * parsed here comes before the VUI; only scaling lists could make that part long (6 lists of
 * 16 and 6 of 64 codes of up to 17 bits: about 1 KB), so this never cuts a valid SPS short. */
#define SPS_PREFIX 2048

/* Pictures larger than this in either direction are refused (levels stop near 16K). */
#define MAX_DIM 65536u

/* ---- iteration ---- */

void nal_iter_annexb(struct nal_iter *it, const uint8_t *buf, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->buf = buf;
	it->len = buf ? len : 0;
}

bool nal_iter_lp(struct nal_iter *it, const uint8_t *buf, size_t len, unsigned length_size)
{
	nal_iter_annexb(it, buf, len);
	it->length_size = length_size;
	it->failed = length_size != 1 && length_size != 2 && length_size != 4;
	return !it->failed;
}

/* Where the next 00 00 00 or 00 00 01 starts at or after @from, or @len. */
static size_t find_boundary(const uint8_t *p, size_t len, size_t from)
{
	for (size_t i = from; i + 2 < len; i++) {
		if (p[i + 2] > 1) {
			i += 2; /* no boundary can start at i, i + 1 or i + 2 */
			continue;
		}
		if (p[i] == 0 && p[i + 1] == 0)
			return i;
	}
	return len;
}

static int next_annexb(struct nal_iter *it, struct nal_unit *unit)
{
	const uint8_t *p = it->buf;

	for (;;) {
		size_t z = it->pos;
		while (z < it->len && p[z] == 0)
			z++;
		if (z == it->len)
			return 0; /* trailing zero bytes */
		if (z - it->pos < 2 || p[z] != 1)
			return -EINVAL; /* data that no start code introduces */
		size_t start = z + 1;
		size_t end = find_boundary(p, it->len, start);
		it->pos = end;
		if (end == it->len) /* zeros at the very end are framing */
			while (end > start && p[end - 1] == 0)
				end--;
		if (end > start) {
			unit->data = p + start;
			unit->len = end - start;
			return 1;
		}
	}
}

static int next_lp(struct nal_iter *it, struct nal_unit *unit)
{
	while (it->pos < it->len) {
		if (it->len - it->pos < it->length_size)
			return -EINVAL;
		size_t n = 0;
		for (unsigned i = 0; i < it->length_size; i++)
			n = n << 8 | it->buf[it->pos++];
		if (n > it->len - it->pos)
			return -EINVAL;
		unit->data = it->buf + it->pos;
		unit->len = n;
		it->pos += n;
		if (n)
			return 1;
	}
	return 0;
}

int nal_iter_next(struct nal_iter *it, struct nal_unit *unit)
{
	if (it->failed)
		return -EINVAL;
	int r = it->length_size ? next_lp(it, unit) : next_annexb(it, unit);
	if (r < 0)
		it->failed = true;
	return r;
}

/* ---- types ---- */

int nal_type(enum nal_codec codec, const uint8_t *unit, size_t len)
{
	if (codec == NAL_H264)
		return len >= 1 ? unit[0] & 0x1f : -1;
	if (codec == NAL_H265)
		return len >= 2 ? (unit[0] >> 1) & 0x3f : -1;
	return -1;
}

bool nal_is_key(enum nal_codec codec, int type)
{
	if (codec == NAL_H264)
		return type == NAL_H264_IDR;
	return codec == NAL_H265 && type >= NAL_H265_IRAP_FIRST && type <= NAL_H265_IRAP_LAST;
}

bool nal_is_param_set(enum nal_codec codec, int type)
{
	if (codec == NAL_H264)
		return type == NAL_H264_SPS || type == NAL_H264_PPS;
	return codec == NAL_H265 && type >= NAL_H265_VPS && type <= NAL_H265_PPS;
}

bool nal_is_vcl(enum nal_codec codec, int type)
{
	if (codec == NAL_H264)
		return type >= 1 && type <= 5;
	return codec == NAL_H265 && type >= 0 && type <= 31;
}

bool nal_is_aud(enum nal_codec codec, int type)
{
	if (codec == NAL_H264)
		return type == NAL_H264_AUD;
	return codec == NAL_H265 && type == NAL_H265_AUD;
}

/* ---- conversions ---- */

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* Every unit of @proto's buffer with a 4-byte prefix: a length, or a start code. First the
 * size (and the input is checked whole), then the bytes, so a malformed tail never leaves a
 * half-written output that looks whole. */
static int convert(const struct nal_iter *proto, bool start_codes, uint8_t *out, size_t cap,
	size_t *need)
{
	struct nal_iter it = *proto;
	struct nal_unit u;
	size_t total = 0;
	int r;

	*need = 0;
	while ((r = nal_iter_next(&it, &u)) > 0) {
		if (u.len > UINT32_MAX || u.len > SIZE_MAX - 4 - total)
			return -EINVAL;
		total += 4 + u.len;
	}
	if (r < 0)
		return r;
	*need = total;
	if (!out)
		return 0;
	if (cap < total)
		return -ENOSPC;
	it = *proto;
	while (nal_iter_next(&it, &u) > 0) {
		put_be(out, start_codes ? 1 : u.len, 4);
		memcpy(out + 4, u.data, u.len);
		out += 4 + u.len;
	}
	return 0;
}

int nal_annexb_to_lp(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *need)
{
	struct nal_iter it;

	nal_iter_annexb(&it, in, len);
	return convert(&it, false, out, cap, need);
}

int nal_lp_to_lp4(const uint8_t *in, size_t len, unsigned length_size, uint8_t *out, size_t cap,
	size_t *need)
{
	struct nal_iter it;

	*need = 0;
	if (!nal_iter_lp(&it, in, len, length_size))
		return -EINVAL;
	return convert(&it, false, out, cap, need);
}

int nal_lp_to_annexb(const uint8_t *in, size_t len, unsigned length_size, uint8_t *out,
	size_t cap, size_t *need)
{
	struct nal_iter it;

	*need = 0;
	if (!nal_iter_lp(&it, in, len, length_size))
		return -EINVAL;
	return convert(&it, true, out, cap, need);
}

size_t nal_unescape(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0;
	unsigned zeros = 0;

	for (size_t i = 0; i < len; i++) {
		if (zeros >= 2 && in[i] == 3) {
			zeros = 0;
			continue;
		}
		out[o++] = in[i];
		zeros = in[i] == 0 ? zeros + 1 : 0;
	}
	return o;
}

/* ---- bits ---- */

void nal_bits_init(struct nal_bits *b, const uint8_t *p, size_t len)
{
	b->p = p;
	b->len = p ? len : 0;
	if (b->len > SIZE_MAX / 8)
		b->len = SIZE_MAX / 8; /* positions are counted in bits */
	b->pos = 0;
	b->overrun = false;
}

static unsigned bit(struct nal_bits *b)
{
	if (b->pos / 8 >= b->len) {
		b->overrun = true;
		return 0;
	}
	unsigned v = (b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1;
	b->pos++;
	return v;
}

uint32_t nal_bits_u(struct nal_bits *b, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n && i < 32; i++)
		v = v << 1 | bit(b);
	return v;
}

void nal_bits_skip(struct nal_bits *b, size_t n)
{
	if (n > b->len * 8 - b->pos) {
		b->pos = b->len * 8;
		b->overrun = true;
		return;
	}
	b->pos += n;
}

uint32_t nal_bits_ue(struct nal_bits *b)
{
	unsigned zeros = 0;

	while (!bit(b)) {
		if (b->overrun || ++zeros > 31) {
			b->overrun = true;
			return 0;
		}
	}
	return (uint32_t)((1ull << zeros) - 1 + nal_bits_u(b, zeros));
}

int32_t nal_bits_se(struct nal_bits *b)
{
	uint32_t k = nal_bits_ue(b);

	return k & 1 ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

/* ---- sequence parameter sets ---- */

/* Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists. */
static bool h264_high_syntax(unsigned profile)
{
	static const uint8_t list[] = { 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134,
		135 };

	for (size_t i = 0; i < sizeof(list); i++)
		if (profile == list[i])
			return true;
	return false;
}

/* 7.3.2.1.1.1: only skipped, but every delta has to be read to find what follows. */
static bool skip_scaling_list(struct nal_bits *b, unsigned size)
{
	int last = 8, next = 8;

	for (unsigned j = 0; j < size && !b->overrun; j++) {
		if (next != 0) {
			int32_t delta = nal_bits_se(b);
			if (delta < -128 || delta > 127)
				return false;
			next = (last + delta + 256) % 256;
		}
		if (next != 0)
			last = next;
	}
	return !b->overrun;
}

/* Cropped size from the coded one; crop units and offsets as read (up to 2^32 each). */
static bool crop(uint64_t coded, uint64_t unit, uint64_t a, uint64_t b, unsigned *out)
{
	uint64_t cut = unit * (a + b);

	if (coded == 0 || coded > MAX_DIM || cut >= coded)
		return false;
	*out = (unsigned)(coded - cut);
	return true;
}

static bool parse_h264(struct nal_bits *b, struct nal_sps *s)
{
	s->profile = nal_bits_u(b, 8);
	s->constraint_flags = (uint8_t)nal_bits_u(b, 8);
	s->level = nal_bits_u(b, 8);
	s->id = nal_bits_ue(b);
	s->chroma_format = 1;
	unsigned depth_luma = 0, depth_chroma = 0;
	if (h264_high_syntax(s->profile)) {
		s->chroma_format = nal_bits_ue(b);
		if (s->chroma_format > 3)
			return false;
		if (s->chroma_format == 3)
			s->separate_colour_plane = nal_bits_u(b, 1);
		depth_luma = nal_bits_ue(b);
		depth_chroma = nal_bits_ue(b);
		nal_bits_u(b, 1); /* qpprime_y_zero_transform_bypass_flag */
		if (nal_bits_u(b, 1)) {
			unsigned lists = s->chroma_format != 3 ? 8 : 12;
			for (unsigned i = 0; i < lists; i++)
				if (nal_bits_u(b, 1) && !skip_scaling_list(b, i < 6 ? 16 : 64))
					return false;
		}
	}
	if (s->id > 31 || depth_luma > 6 || depth_chroma > 6)
		return false;
	s->bit_depth_luma = 8 + depth_luma;
	s->bit_depth_chroma = 8 + depth_chroma;
	if (nal_bits_ue(b) > 12) /* log2_max_frame_num_minus4 */
		return false;
	uint32_t poc_type = nal_bits_ue(b);
	if (poc_type == 0) {
		if (nal_bits_ue(b) > 12) /* log2_max_pic_order_cnt_lsb_minus4 */
			return false;
	} else if (poc_type == 1) {
		nal_bits_u(b, 1);   /* delta_pic_order_always_zero_flag */
		nal_bits_se(b);     /* offset_for_non_ref_pic */
		nal_bits_se(b);     /* offset_for_top_to_bottom_field */
		uint32_t cycle = nal_bits_ue(b);
		if (cycle > 255)
			return false;
		for (uint32_t i = 0; i < cycle && !b->overrun; i++)
			nal_bits_se(b); /* offset_for_ref_frame */
	} else if (poc_type > 2) {
		return false;
	}
	nal_bits_ue(b);     /* max_num_ref_frames */
	nal_bits_u(b, 1);   /* gaps_in_frame_num_value_allowed_flag */
	uint64_t width_mbs = (uint64_t)nal_bits_ue(b) + 1;
	uint64_t height_units = (uint64_t)nal_bits_ue(b) + 1;
	s->frame_mbs_only = nal_bits_u(b, 1);
	if (!s->frame_mbs_only)
		nal_bits_u(b, 1); /* mb_adaptive_frame_field_flag */
	nal_bits_u(b, 1);   /* direct_8x8_inference_flag */
	uint64_t left = 0, right = 0, top = 0, bottom = 0;
	if (nal_bits_u(b, 1)) {
		left = nal_bits_ue(b);
		right = nal_bits_ue(b);
		top = nal_bits_ue(b);
		bottom = nal_bits_ue(b);
	}
	if (b->overrun)
		return false;
	/* 7.4.2.1.1: crop units from ChromaArrayType (0 with separate colour planes) */
	unsigned array_type = s->separate_colour_plane ? 0 : s->chroma_format;
	uint64_t unit_x = array_type == 1 || array_type == 2 ? 2 : 1;
	uint64_t unit_y = (array_type == 1 ? 2 : 1) * (2 - s->frame_mbs_only);
	return crop(width_mbs * 16, unit_x, left, right, &s->width) &&
		crop(height_units * 16 * (2 - s->frame_mbs_only), unit_y, top, bottom, &s->height);
}

/* 7.3.3 with profilePresentFlag 1: the general layer is kept, sub-layers skipped. */
static void parse_ptl(struct nal_bits *b, struct nal_sps *s, unsigned max_sub_layers_minus1)
{
	bool profile_present[8], level_present[8];

	s->profile_space = nal_bits_u(b, 2);
	s->tier = nal_bits_u(b, 1);
	s->profile = nal_bits_u(b, 5);
	s->compat_flags = nal_bits_u(b, 32);
	for (int i = 0; i < 6; i++)
		s->constraint_bytes[i] = (uint8_t)nal_bits_u(b, 8);
	s->level = nal_bits_u(b, 8);
	for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
		profile_present[i] = nal_bits_u(b, 1);
		level_present[i] = nal_bits_u(b, 1);
	}
	if (max_sub_layers_minus1 > 0)
		nal_bits_skip(b, 2 * (8 - max_sub_layers_minus1)); /* reserved_zero_2bits */
	for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
		if (profile_present[i])
			nal_bits_skip(b, 88); /* space, tier, idc, 32 compat, 48 constraint bits */
		if (level_present[i])
			nal_bits_skip(b, 8);
	}
}

static bool parse_h265(struct nal_bits *b, struct nal_sps *s)
{
	nal_bits_u(b, 4); /* sps_video_parameter_set_id */
	unsigned sub_layers_minus1 = nal_bits_u(b, 3);
	if (sub_layers_minus1 > 6)
		return false;
	s->max_sub_layers = sub_layers_minus1 + 1;
	s->temporal_id_nesting = nal_bits_u(b, 1);
	parse_ptl(b, s, sub_layers_minus1);
	s->id = nal_bits_ue(b);
	s->chroma_format = nal_bits_ue(b);
	if (s->id > 15 || s->chroma_format > 3)
		return false;
	if (s->chroma_format == 3)
		s->separate_colour_plane = nal_bits_u(b, 1);
	uint64_t width = nal_bits_ue(b), height = nal_bits_ue(b);
	uint64_t left = 0, right = 0, top = 0, bottom = 0;
	if (nal_bits_u(b, 1)) {
		left = nal_bits_ue(b);
		right = nal_bits_ue(b);
		top = nal_bits_ue(b);
		bottom = nal_bits_ue(b);
	}
	uint32_t depth_luma = nal_bits_ue(b), depth_chroma = nal_bits_ue(b);
	if (b->overrun || depth_luma > 8 || depth_chroma > 8)
		return false;
	s->bit_depth_luma = 8 + depth_luma;
	s->bit_depth_chroma = 8 + depth_chroma;
	s->frame_mbs_only = true;
	/* Table 6-1: SubWidthC and SubHeightC from ChromaArrayType */
	unsigned array_type = s->separate_colour_plane ? 0 : s->chroma_format;
	uint64_t sub_w = array_type == 1 || array_type == 2 ? 2 : 1;
	uint64_t sub_h = array_type == 1 ? 2 : 1;
	return crop(width, sub_w, left, right, &s->width) &&
		crop(height, sub_h, top, bottom, &s->height);
}

bool nal_parse_sps(enum nal_codec codec, const uint8_t *unit, size_t len, struct nal_sps *sps)
{
	uint8_t rbsp[SPS_PREFIX];
	struct nal_bits b;
	int type = nal_type(codec, unit, len);
	size_t header = codec == NAL_H265 ? 2 : 1;

	memset(sps, 0, sizeof(*sps));
	sps->codec = codec;
	if (type != (codec == NAL_H265 ? NAL_H265_SPS : NAL_H264_SPS))
		return false;
	size_t n = len - header < sizeof(rbsp) ? len - header : sizeof(rbsp);
	nal_bits_init(&b, rbsp, nal_unescape(unit + header, n, rbsp));
	bool ok = codec == NAL_H265 ? parse_h265(&b, sps) : parse_h264(&b, sps);
	if (!ok) {
		memset(sps, 0, sizeof(*sps));
		sps->codec = codec;
	}
	return ok;
}

/* ---- decoder configuration records ---- */

/* Units of @type among @units, their count and the bytes they take with a 2-byte length
 * each; false if one is too long for that length. */
static bool tally(enum nal_codec codec, const struct nal_unit *units, size_t n, int type,
	size_t *count, size_t *bytes, const struct nal_unit **first)
{
	*count = 0;
	*bytes = 0;
	*first = NULL;
	for (size_t i = 0; i < n; i++) {
		if (nal_type(codec, units[i].data, units[i].len) != type)
			continue;
		if (units[i].len > 0xffff)
			return false;
		if (!*first)
			*first = &units[i];
		(*count)++;
		*bytes += 2 + units[i].len;
	}
	return true;
}

/* Writes each unit of @type with its 2-byte length at @p; returns the end. */
static uint8_t *put_units(enum nal_codec codec, const struct nal_unit *units, size_t n, int type,
	uint8_t *p)
{
	for (size_t i = 0; i < n; i++) {
		if (nal_type(codec, units[i].data, units[i].len) != type)
			continue;
		put_be(p, units[i].len, 2);
		memcpy(p + 2, units[i].data, units[i].len);
		p += 2 + units[i].len;
	}
	return p;
}

int nal_build_avcc(const struct nal_unit *units, size_t n, uint8_t *out, size_t cap,
	size_t *need)
{
	size_t n_sps, n_pps, sps_bytes, pps_bytes;
	const struct nal_unit *first, *unused;
	struct nal_sps sps;

	*need = 0;
	if (!tally(NAL_H264, units, n, NAL_H264_SPS, &n_sps, &sps_bytes, &first) ||
		!tally(NAL_H264, units, n, NAL_H264_PPS, &n_pps, &pps_bytes, &unused) ||
		n_sps == 0 || n_sps > 31 || n_pps == 0 || n_pps > 255 ||
		!nal_parse_sps(NAL_H264, first->data, first->len, &sps))
		return -EINVAL;
	/* The chroma and bit depth bytes: 14496-15 lists profiles 100, 110, 122 and 144; later
	 * editions (and FFmpeg) write them for every profile but 66, 77 and 88, which adds 244,
	 * the profile that replaced 144. */
	bool ext = sps.profile != 66 && sps.profile != 77 && sps.profile != 88;
	*need = 6 + sps_bytes + 1 + pps_bytes + (ext ? 4 : 0);
	if (!out)
		return 0;
	if (cap < *need)
		return -ENOSPC;
	uint8_t *p = out;
	*p++ = 1;                       /* configurationVersion */
	*p++ = first->data[1];          /* AVCProfileIndication */
	*p++ = first->data[2];          /* profile_compatibility */
	*p++ = first->data[3];          /* AVCLevelIndication */
	*p++ = 0xfc | 3;                /* lengthSizeMinusOne */
	*p++ = (uint8_t)(0xe0 | n_sps);
	p = put_units(NAL_H264, units, n, NAL_H264_SPS, p);
	*p++ = (uint8_t)n_pps;
	p = put_units(NAL_H264, units, n, NAL_H264_PPS, p);
	if (ext) {
		*p++ = (uint8_t)(0xfc | sps.chroma_format);
		*p++ = (uint8_t)(0xf8 | (sps.bit_depth_luma - 8));
		*p++ = (uint8_t)(0xf8 | (sps.bit_depth_chroma - 8));
		*p++ = 0;                   /* numOfSequenceParameterSetExt */
	}
	return 0;
}

int nal_build_hvcc(const struct nal_unit *units, size_t n, uint8_t *out, size_t cap,
	size_t *need)
{
	static const int types[3] = { NAL_H265_VPS, NAL_H265_SPS, NAL_H265_PPS };
	size_t count[3], bytes[3];
	const struct nal_unit *first[3];
	struct nal_sps sps;

	*need = 0;
	for (int i = 0; i < 3; i++)
		if (!tally(NAL_H265, units, n, types[i], &count[i], &bytes[i], &first[i]) ||
			count[i] == 0 || count[i] > 0xffff)
			return -EINVAL;
	/* bit depths above 15 do not fit the record's 3 bits */
	if (!nal_parse_sps(NAL_H265, first[1]->data, first[1]->len, &sps) ||
		sps.bit_depth_luma > 15 || sps.bit_depth_chroma > 15)
		return -EINVAL;
	*need = 23 + 3 * 3 + bytes[0] + bytes[1] + bytes[2];
	if (!out)
		return 0;
	if (cap < *need)
		return -ENOSPC;
	uint8_t *p = out;
	*p++ = 1;                       /* configurationVersion */
	*p++ = (uint8_t)(sps.profile_space << 6 | sps.tier << 5 | sps.profile);
	put_be(p, sps.compat_flags, 4);
	p += 4;
	memcpy(p, sps.constraint_bytes, 6);
	p += 6;
	*p++ = (uint8_t)sps.level;
	/* min_spatial_segmentation_idc 0 and parallelismType 0 ("unknown") are always true;
	 * the VUI and PPS fields that could narrow them are not read */
	*p++ = 0xf0;
	*p++ = 0x00;
	*p++ = 0xfc;
	*p++ = (uint8_t)(0xfc | sps.chroma_format);
	*p++ = (uint8_t)(0xf8 | (sps.bit_depth_luma - 8));
	*p++ = (uint8_t)(0xf8 | (sps.bit_depth_chroma - 8));
	*p++ = 0;                       /* avgFrameRate: unknown */
	*p++ = 0;
	/* constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3 */
	*p++ = (uint8_t)(sps.max_sub_layers << 3 | sps.temporal_id_nesting << 2 | 3);
	*p++ = 3;                       /* numOfArrays */
	for (int i = 0; i < 3; i++) {
		*p++ = (uint8_t)(0x80 | types[i]); /* array_completeness 1: all sets are here */
		put_be(p, count[i], 2);
		p += 2;
		p = put_units(NAL_H265, units, n, types[i], p);
	}
	return 0;
}

/* Reads one unit with a 2-byte length at *@pos of @rec and adds it to @cfg if it is a
 * parameter set of @codec. */
static int take_unit(enum nal_codec codec, const uint8_t *rec, size_t len, size_t *pos,
	struct nal_config *cfg)
{
	if (len - *pos < 2)
		return -EINVAL;
	size_t n = (size_t)rec[*pos] << 8 | rec[*pos + 1];
	*pos += 2;
	if (n == 0 || n > len - *pos)
		return -EINVAL;
	const uint8_t *unit = rec + *pos;
	*pos += n;
	if (!nal_is_param_set(codec, nal_type(codec, unit, n)))
		return 0;
	if (cfg->n == NAL_CONFIG_MAX_UNITS)
		return -E2BIG;
	cfg->units[cfg->n].data = unit;
	cfg->units[cfg->n++].len = n;
	return 0;
}

static int length_size(uint8_t byte, struct nal_config *cfg)
{
	cfg->length_size = (byte & 3) + 1u;
	return cfg->length_size == 3 ? -EINVAL : 0;
}

int nal_parse_avcc(const uint8_t *rec, size_t len, struct nal_config *cfg)
{
	size_t pos = 6;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (!rec || len < 7 || rec[0] != 1 || length_size(rec[4], cfg) < 0)
		goto malformed;
	for (unsigned i = 0, count = rec[5] & 0x1f; i < count; i++)
		if ((r = take_unit(NAL_H264, rec, len, &pos, cfg)) < 0)
			goto fail;
	if (pos >= len)
		goto malformed;
	for (unsigned i = 0, count = rec[pos++]; i < count; i++)
		if ((r = take_unit(NAL_H264, rec, len, &pos, cfg)) < 0)
			goto fail;
	/* what follows (chroma, bit depths, SPS extensions) is not needed: the SPS says it */
	return 0;
malformed:
	r = -EINVAL;
fail:
	memset(cfg, 0, sizeof(*cfg));
	return r;
}

int nal_parse_hvcc(const uint8_t *rec, size_t len, struct nal_config *cfg)
{
	size_t pos = 23;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (!rec || len < 23 || rec[0] != 1 || length_size(rec[21], cfg) < 0)
		goto malformed;
	for (unsigned a = 0, arrays = rec[22]; a < arrays; a++) {
		if (len - pos < 3)
			goto malformed;
		unsigned count = (unsigned)rec[pos + 1] << 8 | rec[pos + 2];
		pos += 3;
		for (unsigned i = 0; i < count; i++)
			if ((r = take_unit(NAL_H265, rec, len, &pos, cfg)) < 0)
				goto fail;
	}
	return 0;
malformed:
	r = -EINVAL;
fail:
	memset(cfg, 0, sizeof(*cfg));
	return r;
}
