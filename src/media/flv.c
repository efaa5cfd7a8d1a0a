#include "flv.h"

#include <string.h>

#include "amf0.h"

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

/* prev(4) + the tag header: data size, timestamp (low 24 bits, then the high 8), stream 0. */
static void put_tag_start(struct amf_writer *o, uint32_t prev, int type, size_t data_len,
	uint32_t ts_ms)
{
	amfw_be(o, prev, 4);
	amfw_u8(o, (unsigned)type);
	amfw_be(o, data_len, 3);
	amfw_be(o, ts_ms & 0xffffffu, 3);
	amfw_u8(o, ts_ms >> 24);
	amfw_be(o, 0, 3);
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

static void meta_number(struct amf_writer *o, const char *key, double v)
{
	amfw_key(o, key);
	amfw_number(o, v);
}

static void meta_bool(struct amf_writer *o, const char *key, bool v)
{
	amfw_key(o, key);
	amfw_bool(o, v);
}

static void meta_string(struct amf_writer *o, const char *key, const char *v)
{
	amfw_key(o, key);
	amfw_string(o, v);
}

/* The script data: "onMetaData" and an ECMA array of what is known. */
static unsigned metadata_body(struct amf_writer *o, const struct flv_meta *m)
{
	unsigned n = 0;
	amfw_string(o, "onMetaData");
	amfw_u8(o, AMF_ECMA_ARRAY);
	size_t count_at = o->n;
	amfw_be(o, 0, 4); /* the count, filled in below */
	meta_number(o, "duration", 0), n++;
	if (m->width && m->height) {
		meta_number(o, "width", m->width), n++;
		meta_number(o, "height", m->height), n++;
	}
	if (m->fps > 0)
		meta_number(o, "framerate", m->fps), n++;
	/* Enhanced FLV names a codec by its FourCC where the legacy ids end */
	meta_number(o, "videocodecid", m->video == CODED_H265 ? FOURCC_HVC1 : AVC_ID), n++;
	if (m->audio == CODED_AAC) {
		meta_number(o, "audiocodecid", 10), n++;
		meta_number(o, "audiosamplerate", m->sample_rate), n++;
		meta_number(o, "audiosamplesize", 16), n++;
		meta_bool(o, "stereo", m->channels > 1), n++;
	}
	meta_string(o, "encoder", "camstream"), n++;
	amfw_end(o);
	if (count_at + 4 <= o->cap)
		for (int i = 0; i < 4; i++)
			o->p[count_at + (size_t)i] = (uint8_t)(n >> (8 * (3 - i)));
	return n;
}

size_t flv_metadata(uint8_t *out, size_t cap, uint32_t prev, const struct flv_meta *m,
	uint32_t ts_ms, uint32_t *tag_size)
{
	struct amf_writer probe = { NULL, 0, 0 };
	metadata_body(&probe, m);
	size_t body = probe.n;
	if (tag_size)
		*tag_size = (uint32_t)(TAG_HEADER_LEN + body);
	if (4 + TAG_HEADER_LEN + body > cap)
		return 4 + TAG_HEADER_LEN + body; /* all or nothing */
	struct amf_writer o = { out, cap, 0 };
	put_tag_start(&o, prev, TAG_SCRIPT, body, ts_ms);
	struct amf_writer rest = { o.n <= cap ? out + o.n : NULL, o.n <= cap ? cap - o.n : 0, 0 };
	metadata_body(&rest, m);
	return o.n + rest.n;
}

/* ---- sequence headers and pictures ---- */

/* The media header in front of a video payload: 5 bytes for H.264, 5 (sequence start) or 8
 * (coded frames, with the composition time) for Enhanced H.265. */
static void video_header(struct amf_writer *o, enum coded_codec codec, bool key, bool config,
	int32_t cts_ms)
{
	unsigned frame = key ? FRAME_KEY : FRAME_INTER;
	if (codec == CODED_H264) {
		amfw_u8(o, frame << 4 | AVC_ID);
		amfw_u8(o, config ? 0 : 1);
		amfw_be(o, (uint32_t)cts_ms & 0xffffffu, 3);
		return;
	}
	amfw_u8(o, EX_HEADER | frame << 4 | (config ? EX_SEQUENCE_START : EX_CODED_FRAMES));
	amfw_be(o, FOURCC_HVC1, 4);
	if (!config)
		amfw_be(o, (uint32_t)cts_ms & 0xffffffu, 3);
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
	struct amf_writer o = { out, cap, 0 };
	put_tag_start(&o, prev, p->kind == CODED_AUDIO ? TAG_AUDIO : TAG_VIDEO, body, ts_ms);
	if (p->kind == CODED_AUDIO) {
		amfw_u8(&o, AAC_SOUND);
		amfw_u8(&o, 0);
	} else {
		video_header(&o, p->codec, true, true, 0);
	}
	amfw_bytes(&o, p->config, p->config_len);
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
	struct amf_writer o = { buf, sizeof(buf), 0 };
	put_tag_start(&o, prev, e->kind == CODED_AUDIO ? TAG_AUDIO : TAG_VIDEO, head + e->len,
		ts_ms);
	if (e->kind == CODED_AUDIO) {
		amfw_u8(&o, AAC_SOUND);
		amfw_u8(&o, 1);
	} else {
		video_header(&o, codec, e->key, false, cts_ms);
	}
	memcpy(out + FLV_PREFIX_MAX - o.n, buf, o.n);
	if (tag_size)
		*tag_size = (uint32_t)(TAG_HEADER_LEN + head + e->len);
	return o.n;
}

/* ---- the viewer's timeline ---- */

#define NO_TS INT64_MIN /* FFmpeg's AV_NOPTS_VALUE */

int64_t flv_clock_place(struct flv_clock *c, const struct coded_entry *e)
{
	int k = e->kind == CODED_AUDIO;
	int other = !k;
	int64_t t = k ? e->pts_us : e->dts_us;
	if (t == NO_TS)
		t = e->pts_us != NO_TS ? e->pts_us : e->t_wall_us;

	if (!c->seen[k]) {
		if (!c->seen[other]) {
			c->offset_us[k] = -t; /* the first picture is 0 */
		} else {
			c->offset_us[k] = c->offset_us[other];
			int64_t gap = t + c->offset_us[k] - c->last_out_us[other];
			if (gap > FLV_CLOCK_JUMP_US || gap < -FLV_CLOCK_JUMP_US)
				c->offset_us[k] = c->last_out_us[other] - t;
		}
	} else {
		int64_t d = t - c->last_in_us[k];
		int64_t wall = e->t_wall_us - c->last_wall_us[k];
		if (wall < 0)
			wall = 0;
		if (d < 0 || d - wall > FLV_CLOCK_JUMP_US || wall - d > FLV_CLOCK_JUMP_US)
			c->offset_us[k] = c->last_out_us[k] + wall - t;
	}
	int64_t out = t + c->offset_us[k];
	if (c->seen[k] && out < c->last_out_us[k])
		out = c->last_out_us[k];
	if (out < 0)
		out = 0;
	c->seen[k] = true;
	c->last_in_us[k] = t;
	c->last_wall_us[k] = e->t_wall_us;
	c->last_out_us[k] = out;
	return out;
}
