#include "rtmp_media.h"

#include <errno.h>
#include <string.h>

#include "rtmp_amf.h"

#define FRAME_KEY 1
#define FRAME_COMMAND 5
#define CODEC_AVC 7
#define CODEC_HEVC 12
#define EX_HEADER 0x80
#define FOURCC(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* Enhanced RTMP video packet types */
enum { EX_SEQUENCE_START = 0, EX_CODED_FRAMES = 1, EX_SEQUENCE_END = 2, EX_CODED_FRAMES_X = 3,
	EX_METADATA = 4, EX_MPEG2TS_SEQUENCE_START = 5 };

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A signed 24-bit big-endian number. */
static int32_t si24(const uint8_t *p)
{
	uint32_t v = be(p, 3);
	return (int32_t)(v ^ 0x800000u) - 0x800000;
}

static int enhanced_video(const uint8_t *body, size_t len, struct rtmp_video *out)
{
	unsigned frame = body[0] >> 4 & 7, packet = body[0] & 0x0f;
	if (len < 5)
		return -EINVAL;
	uint32_t fourcc = be(body + 1, 4);
	if (fourcc == FOURCC('a', 'v', 'c', '1'))
		out->codec = RTMP_V_H264;
	else if (fourcc == FOURCC('h', 'v', 'c', '1'))
		out->codec = RTMP_V_H265;
	out->key = frame == FRAME_KEY;
	out->type = RTMP_VP_SKIP;
	if (frame == FRAME_COMMAND && packet != EX_METADATA)
		return 0; /* a video command: nothing to show */
	const uint8_t *p = body + 5;
	size_t n = len - 5;
	switch (packet) {
	case EX_SEQUENCE_START:
		out->type = RTMP_VP_CONFIG;
		break;
	case EX_CODED_FRAMES:
		/* AVC and HEVC carry a composition time here; other codecs do not */
		if (out->codec != RTMP_V_UNKNOWN) {
			if (n < 3)
				return -EINVAL;
			out->cts_ms = si24(p);
			p += 3, n -= 3;
		}
		out->type = RTMP_VP_FRAME;
		break;
	case EX_CODED_FRAMES_X:
		out->type = RTMP_VP_FRAME;
		break;
	case EX_SEQUENCE_END:
		out->type = RTMP_VP_END;
		break;
	default: /* Metadata, MPEG2TSSequenceStart, multitrack and what came later */
		return 0;
	}
	out->data = p;
	out->len = n;
	return 0;
}

int rtmp_video_parse(const uint8_t *body, size_t len, struct rtmp_video *out)
{
	memset(out, 0, sizeof(*out));
	out->type = RTMP_VP_SKIP;
	if (!len)
		return -EINVAL;
	if (body[0] & EX_HEADER)
		return enhanced_video(body, len, out);
	unsigned frame = body[0] >> 4, codec = body[0] & 0x0f;
	out->key = frame == FRAME_KEY;
	if (codec == CODEC_AVC)
		out->codec = RTMP_V_H264;
	else if (codec == CODEC_HEVC)
		out->codec = RTMP_V_H265;
	else
		return 0;
	if (frame == FRAME_COMMAND)
		return 0;
	if (len < 5)
		return -EINVAL;
	switch (body[1]) {
	case 0:
		out->type = RTMP_VP_CONFIG;
		break;
	case 1:
		out->type = RTMP_VP_FRAME;
		out->cts_ms = si24(body + 2);
		break;
	case 2:
		out->type = RTMP_VP_END;
		break;
	default:
		return 0;
	}
	out->data = body + 5;
	out->len = len - 5;
	return 0;
}

int rtmp_audio_parse(const uint8_t *body, size_t len, struct rtmp_audio *out)
{
	static const unsigned rates[4] = { 5512, 11025, 22050, 44100 };
	memset(out, 0, sizeof(*out));
	if (!len)
		return -EINVAL;
	out->format = body[0] >> 4;
	out->rate = rates[body[0] >> 2 & 3];
	out->bits = body[0] & 2 ? 16 : 8;
	out->channels = body[0] & 1 ? 2 : 1;
	switch (out->format) { /* formats whose rate the bits cannot say */
	case 4: /* Nellymoser 16 kHz */
	case 11: /* Speex */
		out->rate = 16000;
		break;
	case 5: /* Nellymoser 8 kHz */
	case 7: /* G.711 A-law */
	case 8: /* G.711 mu-law */
	case 14: /* MP3 8 kHz */
		out->rate = 8000;
		break;
	}
	if (out->format == 10) {
		if (len < 2)
			return -EINVAL;
		out->config = body[1] == 0;
		out->data = body + 2;
		out->len = len - 2;
		return 0;
	}
	out->data = body + 1;
	out->len = len - 1;
	return 0;
}

/* A codec id as a number, or a FourCC written as a 4-letter string. */
static bool codec_id(struct amf_reader *r, double *v)
{
	const uint8_t *s;
	size_t n;
	if (amf_number(r, v))
		return true;
	if (amf_string(r, &s, &n)) {
		*v = n == 4 ? be(s, 4) : 0;
		return true;
	}
	return amf_skip(r);
}

int rtmp_meta_parse(const uint8_t *data, size_t len, struct rtmp_meta *out)
{
	memset(out, 0, sizeof(*out));
	struct amf_reader r = { data, len };
	if (!amf_string_is(&r, "onMetaData") || !amf_enter(&r))
		return -EINVAL;
	const uint8_t *k;
	size_t kn;
	int more;
	while ((more = amf_key(&r, &k, &kn)) > 0) {
		double *num = NULL;
		bool ok;
#define KEY(s) (kn == sizeof(s) - 1 && !memcmp(k, s, kn))
		if (KEY("width"))
			num = &out->width;
		else if (KEY("height"))
			num = &out->height;
		else if (KEY("framerate") || KEY("fps"))
			num = &out->framerate;
		if (KEY("videocodecid"))
			ok = codec_id(&r, &out->videocodecid);
		else if (KEY("audiocodecid"))
			ok = codec_id(&r, &out->audiocodecid);
		else if (num && amf_peek(&r) == AMF_NUMBER)
			ok = amf_number(&r, num);
		else
			ok = amf_skip(&r);
#undef KEY
		if (!ok)
			return -EINVAL;
	}
	return more < 0 ? -EINVAL : 0;
}
