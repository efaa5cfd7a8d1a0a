/* rtmp_media: what an RTMP publisher's VIDEO, AUDIO and DATA messages say (their payloads are
 * FLV tag bodies). Pure: no allocation; the results point into the caller's bytes.
 *
 * Video: legacy AVC (codec id 7) and legacy HEVC (codec id 12, the layout Chinese CDNs and
 * SRS use: AVCPacketType + composition time as for AVC), and Enhanced RTMP (the IsExHeader
 * bit 0x80 of the first byte; the low 4 bits are then the packet type, a FourCC follows:
 * 'avc1' or 'hvc1'; SequenceStart, CodedFrames with an SI24 composition time, CodedFramesX
 * without one, SequenceEnd; Metadata and MPEG2TSSequenceStart are skipped). Other codecs
 * come back as RTMP_V_UNKNOWN: the caller refuses them once. */
#ifndef CAMSTREAM_RTMP_MEDIA_H
#define CAMSTREAM_RTMP_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rtmp_vcodec { RTMP_V_UNKNOWN = 0, RTMP_V_H264, RTMP_V_H265 };
enum rtmp_vpacket { RTMP_VP_CONFIG, RTMP_VP_FRAME, RTMP_VP_END, RTMP_VP_SKIP };

struct rtmp_video {
	enum rtmp_vcodec codec;
	enum rtmp_vpacket type;
	bool key;           /* frame type 1 (a key frame) */
	int32_t cts_ms;     /* composition time, pts - dts (FRAME) */
	const uint8_t *data; /* CONFIG: the avcC/hvcC record; FRAME: length-prefixed NAL units */
	size_t len;
};
/* -EINVAL when malformed (too short for its header), 0 otherwise. A video info/command
 * frame (frame type 5) is RTMP_VP_SKIP. */
int rtmp_video_parse(const uint8_t *body, size_t len, struct rtmp_video *out);

struct rtmp_audio {
	unsigned format;    /* FLV SoundFormat: 10 AAC, 2 MP3, 7/8 G.711, ... */
	bool config;        /* AAC: the AudioSpecificConfig (AACPacketType 0) */
	unsigned rate;      /* Hz from the SoundRate bits (AAC: the config says the truth) */
	unsigned channels;  /* 1 or 2 from the SoundType bit */
	unsigned bits;      /* 8 or 16 from the SoundSize bit */
	const uint8_t *data; /* AAC: the config or one raw frame; others: the audio data */
	size_t len;
};
/* -EINVAL when malformed (empty, or AAC without its packet type), 0 otherwise. */
int rtmp_audio_parse(const uint8_t *body, size_t len, struct rtmp_audio *out);

/* What onMetaData says; 0 for what it does not say. videocodecid may be a FourCC's value
 * (Enhanced RTMP: 'hvc1' = 0x68766331). */
struct rtmp_meta {
	double width, height, framerate, videocodecid, audiocodecid;
};
/* @data: a DATA event's bytes ("onMetaData" then an object or ECMA array). -EINVAL when they
 * are not that; 0 otherwise (unknown keys skipped, nesting bounded). */
int rtmp_meta_parse(const uint8_t *data, size_t len, struct rtmp_meta *out);

#endif
