/* aac_transcode: a camera's audio that is not AAC (G.711 A-law and mu-law, G.722, G.726 at any
 * bit rate, Opus, MP3) turned into AAC-LC frames for the coded-picture log, whose readers
 * (FLV, HLS) carry AAC only. RTSP's G.726 comes as FFmpeg's adpcm_g726le and is taken too.
 * Decoded with libavcodec, converted with libswresample to what FFmpeg's native "aac" encoder
 * takes (planar float; 8 kHz and other low rates raised to 16 kHz so a 1024-sample frame
 * lasts 64 ms, not 128 ms; mono stays mono, stereo stereo, more channels become stereo),
 * encoded with that encoder. The encoder looks two frames ahead: a frame comes out about
 * three frames after its first sound went in (under 200 ms at 16 kHz).
 *
 * Timestamps are the camera's, in µs, and say when a frame's sound starts: the first frame
 * starts at the first packet's pts (the encoder's leading silence is not handed over), each
 * next one 1024 samples later; when the input's pts leave that count by more than
 * AAC_TRANSCODE_JUMP_US (a gap, or RTSP's re-timing at an RTCP sender report) the count is
 * anchored again at the new pts, and a frame is never stamped before the end of the one
 * before it, so the output never goes back (after a backward jump it runs on by the count).
 *
 * Memory is bounded: a packet is at most AAC_TRANSCODE_MAX_PACKET bytes and one second of
 * sound, and the samples waiting for the encoder are held to one second. Packets that do not
 * decode, or break those bounds, are dropped and counted.
 *
 * Worker thread only: one transcoder belongs to one source's session. */
#ifndef CAMSTREAM_MEDIA_AAC_TRANSCODE_H
#define CAMSTREAM_MEDIA_AAC_TRANSCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>

#define AAC_TRANSCODE_JUMP_US 200000
#define AAC_TRANSCODE_MAX_PACKET 65536

struct aac_transcode;

/* Whether @id is a codec this room transcodes (it says nothing of whether this FFmpeg has
 * the decoder; AAC itself is not one: it is copied). */
bool aac_transcode_handles(enum AVCodecID id);

/* A transcoder for the audio stream @par, with its encoder open so that its format is known
 * before any packet. NULL when it cannot be made: @why (when not NULL; @why_size bytes) then
 * says why in a few words for a log line ("no adpcm_g726 decoder in this FFmpeg", "no aac
 * encoder in this FFmpeg", "its format is unusable (0 Hz, 1 channels)", "out of memory").
 * Logs nothing itself: the caller decides how often to say it. */
struct aac_transcode *aac_transcode_create(const AVCodecParameters *par, char *why,
	size_t why_size);
void aac_transcode_destroy(struct aac_transcode *t); /* NULL is fine */

/* The AAC stream made: sample rate, channels, and the AudioSpecificConfig (owned by @t, valid
 * until it is destroyed). */
unsigned aac_transcode_rate(const struct aac_transcode *t);
unsigned aac_transcode_channels(const struct aac_transcode *t);
const uint8_t *aac_transcode_config(const struct aac_transcode *t, size_t *len);

/* Called with each AAC frame made: one raw frame (no ADTS header), valid during the call
 * only, and its pts in µs on the camera's clock. */
typedef void (*aac_transcode_sink)(void *arg, const uint8_t *frame, size_t len,
	int64_t pts_us);

/* Feeds one packet of the camera's audio with its pts (µs, or AV_NOPTS_VALUE: it then
 * follows the one before). Every AAC frame that is ready goes to @sink before this returns;
 * what the encoder holds back (see above) comes with later packets. Returns the frames
 * made, or -EINVAL when the packet (or what was left of it) was dropped (counted), -ENOMEM
 * when memory ran out. */
int aac_transcode_push(struct aac_transcode *t, const uint8_t *data, size_t len,
	int64_t pts_us, aac_transcode_sink sink, void *arg);

struct aac_transcode_stats {
	uint64_t packets;        /* fed */
	uint64_t dropped;        /* packets dropped: they did not decode, or were too big */
	uint64_t samples_dropped; /* decoded samples dropped to keep the bound */
	uint64_t frames;         /* AAC frames made */
	uint64_t anchors;        /* times the timestamps were anchored (the first one too) */
};

void aac_transcode_get_stats(const struct aac_transcode *t, struct aac_transcode_stats *st);

#endif
