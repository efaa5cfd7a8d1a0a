#include "flv.h"

#include <string.h>

#define TAG_AUDIO 8
#define TAG_VIDEO 9
#define TAG_SCRIPT 18
#define TAG_HEADER_LEN 11

#define AVC_ID 7
#define FRAME_KEY 1
#define FRAME_INTER 2
#define EX_HEADER 0x80
#define EX_SEQUENCE_START 0
#define EX_CODED_FRAMES 1
#define AAC_SOUND 0xaf  /* AAC; the rate, size and channel bits are fixed for AAC */
#define FOURCC_HVC1 0x68766331u /* "hvc1" */

/* A bounded writer: counts every byte, stores only those that fit. */
struct out {
	uint8_t *p;
	size_t cap, n;
};

static void put(struct out *o, const void *b, size_t len)
{
	if (len && o->n <= o->cap && len <= o->cap - o->n)
		memcpy(o->p + o->n, b, len);
	o->n += len;
}

static void put_u8(struct out *o, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(o, &b, 1);
}

static void put_be(struct out *o, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put(o, b, (size_t)bytes);
}

/* prev(4) + the tag header: data size, timestamp (low 24 bits, then the high 8), stream 0. */
static void put_tag_start(struct out *o, uint32_t prev, int type, size_t data_len,
	uint32_t ts_ms)
{
	put_be(o, prev, 4);
	put_u8(o, (unsigned)type);
	put_be(o, data_len, 3);
	put_be(o, ts_ms & 0xffffffu, 3);
	put_u8(o, ts_ms >> 24);
	put_be(o, 0, 3);
}

void flv_header(uint8_t out[FLV_HEADER_LEN], bool audio)
{
	static const uint8_t head[] = { 'F', 'L', 'V', 1, 0, 0, 0, 0, FLV_HEADER_LEN };
	memcpy(out, head, sizeof(head));
	out[4] = (uint8_t)(0x01 | (audio ? 0x04 : 0));
}

bool flv_carries(enum coded_codec codec)
{
	return codec == CODED_H264 || codec == CODED_H265 || codec == CODED_AAC;
}

/* ---- onMetaData (AMF0) ---- */

static void amf_key(struct out *o, const char *key)
{
	size_t n = strlen(key);
	put_be(o, n, 2);
	put(o, key, n);
}

static void amf_number(struct out *o, const char *key, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	amf_key(o, key);
	put_u8(o, 0);
	put_be(o, bits, 8);
}

static void amf_bool(struct out *o, const char *key, bool v)
{
	amf_key(o, key);
	put_u8(o, 1);
	put_u8(o, v);
}

static void amf_string(struct out *o, const char *key, const char *v)
{
	amf_key(o, key);
	put_u8(o, 2);
	amf_key(o, v);
}

/* The script data: "onMetaData" and an ECMA array of what is known. */
static unsigned metadata_body(struct out *o, const struct flv_meta *m)
{
	unsigned n = 0;
	put_u8(o, 2);
	amf_key(o, "onMetaData");
	put_u8(o, 8);
	size_t count_at = o->n;
	put_be(o, 0, 4); /* the count, filled in below */
	amf_number(o, "duration", 0), n++;
	if (m->width && m->height) {
		amf_number(o, "width", m->width), n++;
		amf_number(o, "height", m->height), n++;
	}
	if (m->fps > 0)
		amf_number(o, "framerate", m->fps), n++;
	/* Enhanced FLV names a codec by its FourCC where the legacy ids end */
	amf_number(o, "videocodecid", m->video == CODED_H265 ? FOURCC_HVC1 : AVC_ID), n++;
	if (m->audio == CODED_AAC) {
		amf_number(o, "audiocodecid", 10), n++;
		amf_number(o, "audiosamplerate", m->sample_rate), n++;
		amf_number(o, "audiosamplesize", 16), n++;
		amf_bool(o, "stereo", m->channels > 1), n++;
	}
	amf_string(o, "encoder", "camstream"), n++;
	put_be(o, 0, 2);
	put_u8(o, 9); /* the object end marker */
	if (count_at + 4 <= o->cap)
		for (int i = 0; i < 4; i++)
			o->p[count_at + (size_t)i] = (uint8_t)(n >> (8 * (3 - i)));
	return n;
}

size_t flv_metadata(uint8_t *out, size_t cap, uint32_t prev, const struct flv_meta *m,
	uint32_t *tag_size)
{
	struct out probe = { NULL, 0, 0 };
	metadata_body(&probe, m);
	size_t body = probe.n;
	if (tag_size)
		*tag_size = (uint32_t)(TAG_HEADER_LEN + body);
	if (4 + TAG_HEADER_LEN + body > cap)
		return 4 + TAG_HEADER_LEN + body; /* all or nothing */
	struct out o = { out, cap, 0 };
	put_tag_start(&o, prev, TAG_SCRIPT, body, 0);
	struct out rest = { o.n <= cap ? out + o.n : NULL, o.n <= cap ? cap - o.n : 0, 0 };
	metadata_body(&rest, m);
	return o.n + rest.n;
}

/* ---- sequence headers and pictures ---- */

/* The media header in front of a video payload: 5 bytes for H.264, 5 (sequence start) or 8
 * (coded frames, with the composition time) for Enhanced H.265. */
static void video_header(struct out *o, enum coded_codec codec, bool key, bool config,
	int32_t cts_ms)
{
	unsigned frame = key ? FRAME_KEY : FRAME_INTER;
	if (codec == CODED_H264) {
		put_u8(o, frame << 4 | AVC_ID);
		put_u8(o, config ? 0 : 1);
		put_be(o, (uint32_t)cts_ms & 0xffffffu, 3);
		return;
	}
	put_u8(o, EX_HEADER | frame << 4 | (config ? EX_SEQUENCE_START : EX_CODED_FRAMES));
	put_be(o, FOURCC_HVC1, 4);
	if (!config)
		put_be(o, (uint32_t)cts_ms & 0xffffffu, 3);
}

static size_t media_header_len(enum coded_kind kind, enum coded_codec codec, bool config)
{
	if (kind == CODED_AUDIO)
		return 2;
	return codec == CODED_H265 && !config ? 8 : 5;
}

size_t flv_config(uint8_t *out, size_t cap, uint32_t prev, const struct coded_params *p,
	uint32_t ts_ms, uint32_t *tag_size)
{
	if (!p || !flv_carries(p->codec) || !p->config || !p->config_len)
		return 0;
	size_t body = media_header_len(p->kind, p->codec, true) + p->config_len;
	if (body > FLV_MAX_DATA)
		return 0;
	if (tag_size)
		*tag_size = (uint32_t)(TAG_HEADER_LEN + body);
	if (4 + TAG_HEADER_LEN + body > cap)
		return 4 + TAG_HEADER_LEN + body; /* all or nothing */
	struct out o = { out, cap, 0 };
	put_tag_start(&o, prev, p->kind == CODED_AUDIO ? TAG_AUDIO : TAG_VIDEO, body, ts_ms);
	if (p->kind == CODED_AUDIO) {
		put_u8(&o, AAC_SOUND);
		put_u8(&o, 0);
	} else {
		video_header(&o, p->codec, true, true, 0);
	}
	put(&o, p->config, p->config_len);
	return o.n;
}

size_t flv_entry_prefix(uint8_t out[FLV_PREFIX_MAX], uint32_t prev, const struct coded_entry *e,
	uint32_t ts_ms, int32_t cts_ms, uint32_t *tag_size)
{
	if (!e->params || !flv_carries(e->params->codec) ||
		(e->kind == CODED_AUDIO) != (e->params->kind == CODED_AUDIO))
		return 0;
	enum coded_codec codec = e->params->codec;
	size_t head = media_header_len(e->kind, codec, false);
	if (e->len > FLV_MAX_DATA - head)
		return 0;
	uint8_t buf[FLV_PREFIX_MAX];
	struct out o = { buf, sizeof(buf), 0 };
	put_tag_start(&o, prev, e->kind == CODED_AUDIO ? TAG_AUDIO : TAG_VIDEO, head + e->len,
		ts_ms);
	if (e->kind == CODED_AUDIO) {
		put_u8(&o, AAC_SOUND);
		put_u8(&o, 1);
	} else {
		video_header(&o, codec, e->key, false, cts_ms);
	}
	memcpy(out + FLV_PREFIX_MAX - o.n, buf, o.n);
	if (tag_size)
		*tag_size = (uint32_t)(TAG_HEADER_LEN + head + e->len);
	return o.n;
}
