#include "fmp4.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nal.h"

/* ---- the init segment: boxes built in a strbuf, sizes patched when a box closes ---- */

static void put_be(struct strbuf *b, uint64_t v, int n)
{
	uint8_t t[8];
	for (int i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	sb_add(b, t, (size_t)n);
}

static void put_zeros(struct strbuf *b, size_t n)
{
	static const uint8_t zeros[32];
	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		sb_add(b, zeros, k);
		n -= k;
	}
}

/* Opens a box: its size (patched by box_close) and type. Returns where it starts. */
static size_t box_open(struct strbuf *b, const char type[4])
{
	size_t at = b->len;
	put_be(b, 0, 4);
	sb_add(b, type, 4);
	return at;
}

/* A full box: version and flags after the type. */
static size_t full_open(struct strbuf *b, const char type[4], unsigned version, uint32_t flags)
{
	size_t at = box_open(b, type);
	put_be(b, (uint32_t)version << 24 | (flags & 0xffffffu), 4);
	return at;
}

static void box_close(struct strbuf *b, size_t at)
{
	if (b->failed)
		return; /* the length is stale after a failed append; the caller reports it */
	size_t n = b->len - at;
	for (int i = 0; i < 4; i++)
		b->p[at + (size_t)i] = (char)(uint8_t)(n >> (8 * (3 - i)));
}

/* A full box with nothing but zero counts (stts, stsc, stco: entry_count 0). */
static void empty_table(struct strbuf *b, const char type[4], size_t zero_bytes)
{
	size_t at = full_open(b, type, 0, 0);
	put_zeros(b, zero_bytes);
	box_close(b, at);
}

/* The unity matrix of mvhd and tkhd (16.16 and 2.30 fixed point). */
static void put_matrix(struct strbuf *b)
{
	static const uint32_t m[9] = { 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000 };
	for (int i = 0; i < 9; i++)
		put_be(b, m[i], 4);
}

/* ISO/IEC 14496-12 4.3: major brand, minor version, compatible brands. A CMAF header holds
 * exactly one track (ISO/IEC 23000-19 7.3.2.1), so "cmfc" is claimed only then. */
static void put_ftyp(struct strbuf *b, bool one_track)
{
	size_t at = box_open(b, "ftyp");
	sb_add(b, "iso6", 4);
	put_be(b, 0, 4);
	sb_add(b, "iso6", 4);
	if (one_track)
		sb_add(b, "cmfc", 4);
	sb_add(b, "isomiso5dashmp41", 16);
	box_close(b, at);
}

static void put_mvhd(struct strbuf *b, unsigned next_track)
{
	size_t at = full_open(b, "mvhd", 0, 0);
	put_be(b, 0, 4);            /* creation_time */
	put_be(b, 0, 4);            /* modification_time */
	put_be(b, 1000, 4);         /* timescale */
	put_be(b, 0, 4);            /* duration: unknown, fragments follow */
	put_be(b, 0x00010000, 4);   /* rate 1.0 */
	put_be(b, 0x0100, 2);       /* volume 1.0 */
	put_zeros(b, 2 + 8);
	put_matrix(b);
	put_zeros(b, 24);           /* pre_defined */
	put_be(b, next_track, 4);
	box_close(b, at);
}

/* flags 3: track_enabled | track_in_movie */
static void put_tkhd(struct strbuf *b, unsigned track, bool audio, unsigned w, unsigned h)
{
	size_t at = full_open(b, "tkhd", 0, 3);
	put_be(b, 0, 4);            /* creation_time */
	put_be(b, 0, 4);            /* modification_time */
	put_be(b, track, 4);
	put_be(b, 0, 4);            /* reserved */
	put_be(b, 0, 4);            /* duration */
	put_zeros(b, 8);
	put_be(b, 0, 2);            /* layer */
	put_be(b, audio ? 1 : 0, 2); /* alternate_group */
	put_be(b, audio ? 0x0100 : 0, 2);
	put_be(b, 0, 2);
	put_matrix(b);
	put_be(b, (uint32_t)w << 16, 4);
	put_be(b, (uint32_t)h << 16, 4);
	box_close(b, at);
}

static void put_mdhd(struct strbuf *b, uint32_t timescale)
{
	size_t at = full_open(b, "mdhd", 0, 0);
	put_be(b, 0, 4);
	put_be(b, 0, 4);
	put_be(b, timescale, 4);
	put_be(b, 0, 4);
	put_be(b, 0x55c4, 2);       /* language "und", ISO-639-2/T packed 5 bits a letter */
	put_be(b, 0, 2);
	box_close(b, at);
}

static void put_hdlr(struct strbuf *b, bool audio)
{
	size_t at = full_open(b, "hdlr", 0, 0);
	put_be(b, 0, 4);            /* pre_defined */
	sb_add(b, audio ? "soun" : "vide", 4);
	put_zeros(b, 12);
	const char *name = audio ? "SoundHandler" : "VideoHandler";
	sb_add(b, name, strlen(name) + 1);
	box_close(b, at);
}

/* dinf/dref with one "url " entry whose flag 1 says: the media is in this file. */
static void put_dinf(struct strbuf *b)
{
	size_t dinf = box_open(b, "dinf");
	size_t dref = full_open(b, "dref", 0, 0);
	put_be(b, 1, 4);
	size_t url = full_open(b, "url ", 0, 1);
	box_close(b, url);
	box_close(b, dref);
	box_close(b, dinf);
}

/* VisualSampleEntry (14496-12 12.1.3) with the record box (14496-15: avcC, hvcC). */
static void put_visual_entry(const struct coded_params *v, struct strbuf *b)
{
	bool hevc = v->codec == CODED_H265;
	size_t at = box_open(b, hevc ? "hvc1" : "avc1");
	put_zeros(b, 6);
	put_be(b, 1, 2);            /* data_reference_index */
	put_zeros(b, 2 + 2 + 12);   /* pre_defined, reserved, pre_defined */
	put_be(b, v->width, 2);
	put_be(b, v->height, 2);
	put_be(b, 0x00480000, 4);   /* 72 dpi */
	put_be(b, 0x00480000, 4);
	put_be(b, 0, 4);
	put_be(b, 1, 2);            /* frame_count */
	put_zeros(b, 32);           /* compressorname */
	put_be(b, 0x0018, 2);       /* depth */
	put_be(b, 0xffff, 2);       /* pre_defined = -1 */
	size_t rec = box_open(b, hevc ? "hvcC" : "avcC");
	sb_add(b, v->config, v->config_len);
	box_close(b, rec);
	box_close(b, at);
}

/* An MPEG-4 descriptor's tag and size (14496-1 8.3.3), the size always in 4 bytes of 7 bits:
 * the form other writers use, and it keeps every length computable up front. */
static void put_descriptor(struct strbuf *b, unsigned tag, size_t len)
{
	put_be(b, tag, 1);
	put_be(b, 0x80 | ((len >> 21) & 0x7f), 1);
	put_be(b, 0x80 | ((len >> 14) & 0x7f), 1);
	put_be(b, 0x80 | ((len >> 7) & 0x7f), 1);
	put_be(b, len & 0x7f, 1);
}

/* AudioSampleEntry (14496-12 12.2.3) with esds (14496-14 5.6): ES_Descriptor {
 * DecoderConfigDescriptor { DecoderSpecificInfo = the ASC }, SLConfigDescriptor }. */
static void put_audio_entry(const struct coded_params *a, struct strbuf *b)
{
	size_t at = box_open(b, "mp4a");
	put_zeros(b, 6);
	put_be(b, 1, 2);            /* data_reference_index */
	put_zeros(b, 8);
	put_be(b, a->channels, 2);
	put_be(b, 16, 2);           /* samplesize */
	put_zeros(b, 4);
	/* 16.16: a rate over 65535 does not fit; the ASC and mdhd say it */
	put_be(b, a->sample_rate <= 0xffff ? a->sample_rate << 16 : 0, 4);

	size_t dsi = 5 + a->config_len;
	size_t dcd = 5 + 13 + dsi;
	size_t sl = 5 + 1;
	size_t esds = full_open(b, "esds", 0, 0);
	put_descriptor(b, 0x03, 3 + dcd + sl);      /* ES_DescrTag */
	put_be(b, FMP4_AUDIO_TRACK, 2);             /* ES_ID */
	put_be(b, 0, 1);                            /* no dependence, URL, OCR */
	put_descriptor(b, 0x04, dcd - 5);           /* DecoderConfigDescrTag */
	put_be(b, 0x40, 1);                         /* objectTypeIndication: 14496-3 audio */
	put_be(b, 0x05 << 2 | 1, 1);                /* streamType audio, upStream 0, 1 */
	put_be(b, 0, 3);                            /* bufferSizeDB: unknown */
	put_be(b, 0, 4);                            /* maxBitrate */
	put_be(b, 0, 4);                            /* avgBitrate */
	put_descriptor(b, 0x05, a->config_len);     /* DecSpecificInfoTag */
	sb_add(b, a->config, a->config_len);
	put_descriptor(b, 0x06, 1);                 /* SLConfigDescrTag */
	put_be(b, 0x02, 1);                         /* predefined: MP4 files */
	box_close(b, esds);
	box_close(b, at);
}

static void put_trak(struct strbuf *b, const struct coded_params *p, unsigned track)
{
	bool audio = track == FMP4_AUDIO_TRACK;
	size_t trak = box_open(b, "trak");
	put_tkhd(b, track, audio, audio ? 0 : p->width, audio ? 0 : p->height);
	size_t mdia = box_open(b, "mdia");
	put_mdhd(b, audio ? p->sample_rate : FMP4_VIDEO_TIMESCALE);
	put_hdlr(b, audio);
	size_t minf = box_open(b, "minf");
	if (audio) {
		size_t smhd = full_open(b, "smhd", 0, 0);
		put_zeros(b, 4);        /* balance, reserved */
		box_close(b, smhd);
	} else {
		size_t vmhd = full_open(b, "vmhd", 0, 1);
		put_zeros(b, 8);        /* graphicsmode copy, opcolor */
		box_close(b, vmhd);
	}
	put_dinf(b);
	size_t stbl = box_open(b, "stbl");
	size_t stsd = full_open(b, "stsd", 0, 0);
	put_be(b, 1, 4);
	if (audio)
		put_audio_entry(p, b);
	else
		put_visual_entry(p, b);
	box_close(b, stsd);
	empty_table(b, "stts", 4);
	empty_table(b, "stsc", 4);
	empty_table(b, "stsz", 8);  /* sample_size, sample_count */
	empty_table(b, "stco", 4);
	box_close(b, stbl);
	box_close(b, minf);
	box_close(b, mdia);
	box_close(b, trak);
}

/* trex: the defaults; every fragment says its own values, so they are zero. */
static void put_trex(struct strbuf *b, unsigned track)
{
	size_t at = full_open(b, "trex", 0, 0);
	put_be(b, track, 4);
	put_be(b, 1, 4);            /* default_sample_description_index */
	put_zeros(b, 12);           /* duration, size, flags */
	box_close(b, at);
}

/* Whether @v's record is whole, says 4-byte lengths (the log's samples have them) and
 * holds the sets a decoder needs. */
static bool video_record_ok(const struct coded_params *v)
{
	struct nal_config cfg;
	enum nal_codec nc = v->codec == CODED_H265 ? NAL_H265 : NAL_H264;
	int r = nc == NAL_H265 ? nal_parse_hvcc(v->config, v->config_len, &cfg) :
		nal_parse_avcc(v->config, v->config_len, &cfg);
	if (r < 0 || cfg.length_size != 4)
		return false;
	bool vps = nc == NAL_H264, sps = false, pps = false;
	for (size_t i = 0; i < cfg.n; i++) {
		int t = nal_type(nc, cfg.units[i].data, cfg.units[i].len);
		vps |= t == NAL_H265_VPS;
		sps |= t == (nc == NAL_H265 ? NAL_H265_SPS : NAL_H264_SPS);
		pps |= t == (nc == NAL_H265 ? NAL_H265_PPS : NAL_H264_PPS);
	}
	return vps && sps && pps;
}

/* The audio object type of an AudioSpecificConfig (14496-3 1.6.2.1), or 0. */
static unsigned aac_object_type(const uint8_t *asc, size_t len)
{
	if (!asc || len < 2)
		return 0;
	unsigned aot = asc[0] >> 3;
	if (aot == 31)
		aot = 32 + ((asc[0] & 7u) << 3 | asc[1] >> 5);
	return aot;
}

static bool video_ok(const struct coded_params *v)
{
	return v && v->kind == CODED_VIDEO && (v->codec == CODED_H264 || v->codec == CODED_H265) &&
		v->config && v->config_len <= FMP4_MAX_CONFIG && v->width && v->width <= 0xffff &&
		v->height && v->height <= 0xffff && video_record_ok(v);
}

static bool audio_ok(const struct coded_params *a)
{
	return a->kind == CODED_AUDIO && a->codec == CODED_AAC && a->config &&
		a->config_len <= FMP4_MAX_CONFIG && aac_object_type(a->config, a->config_len) &&
		a->sample_rate && a->channels && a->channels <= 0xffff;
}

int fmp4_init(struct strbuf *out, const struct coded_params *video,
	const struct coded_params *audio)
{
	if (!out || !video_ok(video) || (audio && !audio_ok(audio)))
		return -EINVAL;
	if (out->failed)
		return -ENOMEM;
	put_ftyp(out, !audio);
	size_t moov = box_open(out, "moov");
	put_mvhd(out, audio ? FMP4_AUDIO_TRACK + 1 : FMP4_VIDEO_TRACK + 1);
	put_trak(out, video, FMP4_VIDEO_TRACK);
	if (audio)
		put_trak(out, audio, FMP4_AUDIO_TRACK);
	size_t mvex = box_open(out, "mvex");
	put_trex(out, FMP4_VIDEO_TRACK);
	if (audio)
		put_trex(out, FMP4_AUDIO_TRACK);
	box_close(out, mvex);
	box_close(out, moov);
	return out->failed ? -ENOMEM : 0;
}

/* ---- fragments: sizes known up front, then written in one pass ---- */

#define MFHD_LEN 16
#define TFHD_LEN 16
#define TFDT_LEN 20
#define TRUN_HEAD_LEN 20    /* header, version/flags, sample_count, data_offset */
#define TRAF_FIXED (8 + TFHD_LEN + TFDT_LEN + TRUN_HEAD_LEN)
#define MDAT_HEAD_LEN 8
#define FRAGMENT_MAX 0x7fffffffu /* trun's data_offset is signed 32-bit */

#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
#define TRUN_DATA_OFFSET 0x000001u
#define TRUN_DURATION 0x000100u
#define TRUN_SIZE 0x000200u
#define TRUN_FLAGS 0x000400u
#define TRUN_CTS 0x000800u
/* sample_flags (14496-12 8.8.3.1): sample_depends_on 2 (an I picture) for a sync sample;
 * depends_on 1 and sample_is_non_sync_sample for the others. */
#define SAMPLE_SYNC 0x02000000u
#define SAMPLE_NON_SYNC 0x01010000u

static size_t sample_entry_len(unsigned track)
{
	return track == FMP4_VIDEO_TRACK ? 16 : 12;
}

/* The moof's size and the mdat payload's, or false on input refused. */
static bool measure(const struct fmp4_run *runs, size_t n_runs, uint64_t *moof,
	uint64_t *payload)
{
	if (!runs || !n_runs)
		return false;
	uint64_t m = 8 + MFHD_LEN, d = 0;
	for (size_t i = 0; i < n_runs; i++) {
		const struct fmp4_run *r = &runs[i];
		if (r->track_id != FMP4_VIDEO_TRACK && r->track_id != FMP4_AUDIO_TRACK)
			return false;
		if (!r->samples || !r->n || r->n > FRAGMENT_MAX / 16)
			return false;
		m += TRAF_FIXED + (uint64_t)r->n * sample_entry_len(r->track_id);
		for (size_t k = 0; k < r->n; k++)
			d += r->samples[k].size;
		/* m stays under 2^32 and d under 2^60 here: nothing wraps before this check */
		if (m + MDAT_HEAD_LEN + d > FRAGMENT_MAX)
			return false;
	}
	*moof = m;
	*payload = d;
	return true;
}

size_t fmp4_moof_size(const struct fmp4_run *runs, size_t n_runs)
{
	uint64_t moof, payload;
	if (!measure(runs, n_runs, &moof, &payload))
		return 0;
	return (size_t)(moof + MDAT_HEAD_LEN);
}

/* A cursor whose room was checked before the first byte. */
struct out {
	uint8_t *p;
};

static void w32(struct out *o, uint32_t v)
{
	o->p[0] = (uint8_t)(v >> 24);
	o->p[1] = (uint8_t)(v >> 16);
	o->p[2] = (uint8_t)(v >> 8);
	o->p[3] = (uint8_t)v;
	o->p += 4;
}

static void w64(struct out *o, uint64_t v)
{
	w32(o, (uint32_t)(v >> 32));
	w32(o, (uint32_t)v);
}

static void wtype(struct out *o, const char type[4])
{
	memcpy(o->p, type, 4);
	o->p += 4;
}

static void write_traf(struct out *o, const struct fmp4_run *r, uint32_t data_offset)
{
	bool video = r->track_id == FMP4_VIDEO_TRACK;
	uint32_t trun_len = TRUN_HEAD_LEN + (uint32_t)(r->n * sample_entry_len(r->track_id));
	w32(o, 8 + TFHD_LEN + TFDT_LEN + trun_len);
	wtype(o, "traf");

	w32(o, TFHD_LEN);
	wtype(o, "tfhd");
	w32(o, TFHD_DEFAULT_BASE_IS_MOOF);
	w32(o, r->track_id);

	w32(o, TFDT_LEN);
	wtype(o, "tfdt");
	w32(o, 1u << 24);           /* version 1: a 64-bit time */
	w64(o, r->base_dts);

	uint32_t flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS;
	w32(o, trun_len);
	wtype(o, "trun");
	/* version 1: signed composition offsets, for pictures shown before they decode */
	w32(o, video ? 1u << 24 | flags | TRUN_CTS : flags);
	w32(o, (uint32_t)r->n);
	w32(o, data_offset);
	for (size_t k = 0; k < r->n; k++) {
		const struct fmp4_sample *s = &r->samples[k];
		w32(o, s->duration);
		w32(o, s->size);
		w32(o, !video || s->key ? SAMPLE_SYNC : SAMPLE_NON_SYNC);
		if (video)
			w32(o, (uint32_t)s->cts);
	}
}

size_t fmp4_moof_write(uint8_t *out, size_t cap, uint32_t seq, const struct fmp4_run *runs,
	size_t n_runs)
{
	uint64_t moof, payload;
	if (!out || !measure(runs, n_runs, &moof, &payload) || cap < moof + MDAT_HEAD_LEN)
		return 0;
	struct out o = { out };
	w32(&o, (uint32_t)moof);
	wtype(&o, "moof");
	w32(&o, MFHD_LEN);
	wtype(&o, "mfhd");
	w32(&o, 0);
	w32(&o, seq);
	/* default-base-is-moof: offsets count from the moof's first byte */
	uint64_t offset = moof + MDAT_HEAD_LEN;
	for (size_t i = 0; i < n_runs; i++) {
		write_traf(&o, &runs[i], (uint32_t)offset);
		for (size_t k = 0; k < runs[i].n; k++)
			offset += runs[i].samples[k].size;
	}
	w32(&o, (uint32_t)(MDAT_HEAD_LEN + payload));
	wtype(&o, "mdat");
	return (size_t)(o.p - out);
}

/* ---- video samples ---- */

size_t fmp4_video_sample(enum coded_codec codec, const uint8_t *au, size_t len, uint8_t *out,
	size_t cap)
{
	if (codec != CODED_H264 && codec != CODED_H265)
		return 0;
	enum nal_codec nc = codec == CODED_H265 ? NAL_H265 : NAL_H264;
	struct nal_iter it;
	struct nal_unit u;
	size_t need = 0;
	int r;
	if (!au || !nal_iter_lp(&it, au, len, 4))
		return 0;
	while ((r = nal_iter_next(&it, &u)) > 0) {
		int t = nal_type(nc, u.data, u.len);
		if (!nal_is_param_set(nc, t) && !nal_is_aud(nc, t))
			need += 4 + u.len;
	}
	if (r < 0 || !need || need > UINT32_MAX)
		return 0;
	if (!out || cap < need)
		return need;
	uint8_t *w = out;
	nal_iter_lp(&it, au, len, 4);
	while (nal_iter_next(&it, &u) > 0) {
		int t = nal_type(nc, u.data, u.len);
		if (nal_is_param_set(nc, t) || nal_is_aud(nc, t))
			continue;
		/* u.data - 4 is the unit's own length field, already 4 bytes big-endian */
		memcpy(w, u.data - 4, 4 + u.len);
		w += 4 + u.len;
	}
	return need;
}

/* ---- codecs names ---- */

/* general_profile_compatibility_flags in the order the codecs name writes them: flag j
 * (bit 31 - j of the record's word) as bit j. */
static uint32_t reverse32(uint32_t v)
{
	uint32_t r = 0;
	for (int i = 0; i < 32; i++, v >>= 1)
		r = r << 1 | (v & 1);
	return r;
}

static int hevc_name(const uint8_t *c, size_t len, char *buf, size_t cap)
{
	if (len < 23 || c[0] != 1)
		return -EINVAL;
	static const char *const space[] = { "", "A", "B", "C" };
	uint32_t compat = (uint32_t)c[2] << 24 | (uint32_t)c[3] << 16 | (uint32_t)c[4] << 8 | c[5];
	int n = snprintf(buf, cap, "hvc1.%s%u.%X.%c%u", space[c[1] >> 6], c[1] & 0x1fu,
		reverse32(compat), c[1] & 0x20 ? 'H' : 'L', c[12]);
	/* the six constraint bytes, trailing zero bytes left out */
	int last = 5;
	while (last >= 0 && !c[6 + last])
		last--;
	for (int i = 0; i <= last && n >= 0 && (size_t)n < cap; i++)
		n += snprintf(buf + n, cap - (size_t)n, ".%X", c[6 + i]);
	return n >= 0 && (size_t)n < cap ? 0 : -EINVAL;
}

int fmp4_codec_string(const struct coded_params *p, char *buf, size_t cap)
{
	if (!buf || !cap)
		return -EINVAL;
	buf[0] = '\0';
	if (!p || !p->config)
		return -EINVAL;
	const uint8_t *c = p->config;
	int r = -EINVAL, n = -1;
	if (p->kind == CODED_VIDEO && p->codec == CODED_H264) {
		if (p->config_len >= 4 && c[0] == 1)
			n = snprintf(buf, cap, "avc1.%02x%02x%02x", c[1], c[2], c[3]);
	} else if (p->kind == CODED_VIDEO && p->codec == CODED_H265) {
		r = hevc_name(c, p->config_len, buf, cap);
	} else if (p->kind == CODED_AUDIO && p->codec == CODED_AAC) {
		unsigned aot = aac_object_type(c, p->config_len);
		if (aot)
			n = snprintf(buf, cap, "mp4a.40.%u", aot);
	}
	if (n >= 0)
		r = (size_t)n < cap ? 0 : -EINVAL;
	if (r < 0)
		buf[0] = '\0';
	return r;
}
