/* nal: the bytes of H.264 and H.265 streams, as cameras, FLV and MP4 carry them.
 *
 * NAL units arrive in two framings: Annex B (each unit after a start code 00 00 01 or
 * 00 00 00 01; RTSP through FFmpeg, MPEG-TS, raw files) and length-prefixed (each unit after
 * its size, 1, 2 or 4 bytes big-endian; FLV, MP4). The coded-picture log keeps one canonical
 * form, 4-byte lengths, and converts at the edges. Decoder configuration records (avcC, hvcC;
 * ISO/IEC 14496-15) carry the parameter sets out of band in FLV and MP4: they are built from
 * and parsed back into parameter-set units here, and the sequence parameter set is read for
 * the picture size and the profile (H.264 7.3.2.1.1, H.265 7.3.2.2 and 7.3.3).
 *
 * Pure bytes in, bytes out: no allocation, no I/O, nothing kept between calls. Every function
 * is bounded by the lengths it is given and refuses malformed input with an error instead of
 * reading past it; the fuzz target tests/fuzz/fuzz_nal.c holds it to that. */
#ifndef CAMSTREAM_MEDIA_NAL_H
#define CAMSTREAM_MEDIA_NAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nal_codec {
	NAL_H264 = 1,
	NAL_H265 = 2,
};

/* Unit types the rest of camstream asks about by name. */
enum {
	NAL_H264_IDR = 5,
	NAL_H264_SEI = 6,
	NAL_H264_SPS = 7,
	NAL_H264_PPS = 8,
	NAL_H264_AUD = 9,
	NAL_H265_IRAP_FIRST = 16,   /* BLA_W_LP */
	NAL_H265_IRAP_LAST = 21,    /* CRA_NUT */
	NAL_H265_VPS = 32,
	NAL_H265_SPS = 33,
	NAL_H265_PPS = 34,
	NAL_H265_AUD = 35,
};

/* One NAL unit (header included, emulation prevention intact). Points into a buffer that
 * somebody else owns; valid while that buffer is. */
struct nal_unit {
	const uint8_t *data;
	size_t len;
};

/* Walks the units of one buffer. Fill with nal_iter_annexb() or nal_iter_lp(); the fields
 * are the iterator's own. */
struct nal_iter {
	const uint8_t *buf;
	size_t len, pos;
	unsigned length_size;   /* 0: Annex B; else 1, 2 or 4 */
	bool failed;            /* a malformed unit ended the walk */
};

/* Annex B: leading zero bytes before the first start code and trailing zero bytes after a
 * unit are framing, not data (trailing_zero_8bits). A unit ends where 00 00 00 or 00 00 01
 * starts, as B.2 says; empty units (two start codes in a row) are skipped. Anything but zero
 * bytes before the first start code is malformed. */
void nal_iter_annexb(struct nal_iter *it, const uint8_t *buf, size_t len);

/* Length-prefixed with @length_size 1, 2 or 4 (false for any other size, and the walk then
 * fails at once). Zero lengths are skipped; a length past the end is malformed. */
bool nal_iter_lp(struct nal_iter *it, const uint8_t *buf, size_t len, unsigned length_size);

/* The next unit: 1 and *@unit set, 0 at the end, -EINVAL on malformed input (and every later
 * call returns -EINVAL too). */
int nal_iter_next(struct nal_iter *it, struct nal_unit *unit);

/* The unit type from the header (H.264: 5 bits, H.265: 6 bits), or -1 if @len is too short
 * for the header. */
int nal_type(enum nal_codec codec, const uint8_t *unit, size_t len);

bool nal_is_key(enum nal_codec codec, int type);       /* IDR; IRAP 16..21 */
bool nal_is_param_set(enum nal_codec codec, int type); /* SPS, PPS; VPS, SPS, PPS */
bool nal_is_vcl(enum nal_codec codec, int type);       /* slice data: 1..5; 0..31 */
bool nal_is_aud(enum nal_codec codec, int type);       /* access unit delimiter: 9; 35 */

/* Conversions of one access unit. Each writes into @out (@cap bytes) and sets *@need to the
 * size of the whole output. @out NULL (any @cap) only computes *@need. Returns 0, -EINVAL on
 * malformed input or a unit too long for a 4-byte length, -ENOSPC when @cap < *@need (then
 * nothing useful is in @out). */

/* Annex B -> 4-byte big-endian lengths. */
int nal_annexb_to_lp(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *need);

/* @length_size (1, 2, 4) lengths -> 4-byte lengths. */
int nal_lp_to_lp4(const uint8_t *in, size_t len, unsigned length_size, uint8_t *out, size_t cap,
	size_t *need);

/* @length_size (1, 2, 4) lengths -> Annex B with 4-byte start codes. Units are copied as
 * they are: one holding a start code of its own (it is malformed) does not come back whole
 * from Annex B. */
int nal_lp_to_annexb(const uint8_t *in, size_t len, unsigned length_size, uint8_t *out,
	size_t cap, size_t *need);

/* Raw byte sequence payload: copies @len bytes into @out (room for @len bytes), dropping each
 * emulation prevention byte (the 03 of 00 00 03). Returns the bytes written. */
size_t nal_unescape(const uint8_t *in, size_t len, uint8_t *out);

/* A bit reader over an RBSP. Reading past the end returns zeros and sets `overrun`, so a
 * parser reads on and checks once; an exp-Golomb code longer than 32 bits sets it too. */
struct nal_bits {
	const uint8_t *p;
	size_t len;         /* bytes */
	size_t pos;         /* bits read */
	bool overrun;
};

void nal_bits_init(struct nal_bits *b, const uint8_t *p, size_t len);
uint32_t nal_bits_u(struct nal_bits *b, unsigned n);   /* n <= 32 */
void nal_bits_skip(struct nal_bits *b, size_t n);
uint32_t nal_bits_ue(struct nal_bits *b);
int32_t nal_bits_se(struct nal_bits *b);

/* What a sequence parameter set says that readers of the log need: the picture size for
 * players and the fields of the decoder configuration records. */
struct nal_sps {
	enum nal_codec codec;
	unsigned id;
	unsigned width, height;          /* pixels, after cropping (conformance window) */
	unsigned profile;                /* profile_idc; general_profile_idc */
	unsigned level;                  /* level_idc; general_level_idc */
	unsigned chroma_format;          /* chroma_format_idc, 0..3 */
	bool separate_colour_plane;
	unsigned bit_depth_luma, bit_depth_chroma;
	/* H.264 */
	uint8_t constraint_flags;        /* the byte after profile_idc (avcC's compatibility) */
	bool frame_mbs_only;
	/* H.265, the general layer of profile_tier_level */
	unsigned profile_space, tier;
	uint32_t compat_flags;           /* general_profile_compatibility_flag[0] is bit 31 */
	uint8_t constraint_bytes[6];     /* the 48 bits from general_progressive_source_flag */
	unsigned max_sub_layers;         /* sps_max_sub_layers_minus1 + 1 */
	bool temporal_id_nesting;
};

/* Parses the SPS unit @unit (header included). false if it is not an SPS of @codec, is
 * truncated, or holds values out of the ranges the standards allow. */
bool nal_parse_sps(enum nal_codec codec, const uint8_t *unit, size_t len, struct nal_sps *sps);

/* Decoder configuration records. The builders take the parameter sets of a stream in any
 * order (units of other types are ignored) and need at least one SPS and one PPS (and a VPS
 * for hvcC); the first SPS gives the profile fields. Units keep their order within a type.
 * The record says lengths are 4 bytes. Returns as the conversions do, and -EINVAL when a set
 * is missing, the first SPS does not parse, or a count or length does not fit the record. */
int nal_build_avcc(const struct nal_unit *units, size_t n, uint8_t *out, size_t cap,
	size_t *need);
int nal_build_hvcc(const struct nal_unit *units, size_t n, uint8_t *out, size_t cap,
	size_t *need);

/* The most parameter sets a parsed record may hold. */
#define NAL_CONFIG_MAX_UNITS 64

/* A parsed record: the parameter-set units (pointing into the record) and the unit length
 * size the samples use. */
struct nal_config {
	unsigned length_size;
	size_t n;
	struct nal_unit units[NAL_CONFIG_MAX_UNITS];
};

/* Parse avcC or hvcC. Units whose own header says they are not parameter sets of the codec
 * (an SEI array in hvcC) are left out. Returns 0, -EINVAL on a malformed record, -E2BIG for
 * more than NAL_CONFIG_MAX_UNITS sets. */
int nal_parse_avcc(const uint8_t *rec, size_t len, struct nal_config *cfg);
int nal_parse_hvcc(const uint8_t *rec, size_t len, struct nal_config *cfg);

#endif
