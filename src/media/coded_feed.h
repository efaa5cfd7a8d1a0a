/* coded_feed: what a source knows of its camera's coded streams, and how what its input reads
 * becomes entries of the coded-picture log: the video codec and the form its access units
 * come in (Annex B, or length-prefixed as an avcC/hvcC record says), the current parameter
 * sets (from the codec parameters first, then in band, where a resolution change shows), and
 * the audio, which the log carries as AAC only: the camera's AAC as it comes, G.711, G.722,
 * G.726, Opus and MP3 transcoded (aac_transcode.h), anything else left out. Worker thread
 * only (the log has its own lock). */
#ifndef CAMSTREAM_CODED_FEED_H
#define CAMSTREAM_CODED_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>

#include "codedlog.h"

struct coded_feed;

/* Feeds @log (not owned: it outlives the feed); @display_url names the source in log lines
 * (not copied). */
struct coded_feed *coded_feed_create(struct coded_log *log, const char *display_url);
void coded_feed_destroy(struct coded_feed *f); /* NULL is fine */

/* A new session's video stream: the log starts afresh (what it holds belongs to the old
 * session), and has no audio until coded_feed_audio says this session has some. true when
 * the codec has a coded form the log carries (H.264, H.265). */
bool coded_feed_video(struct coded_feed *f, const AVCodecParameters *par);
/* Its audio stream, told after coded_feed_video: AAC as it is; G.711 A-law and mu-law, G.722,
 * G.726 (any bit rate), Opus and MP3 transcoded to AAC, the encoder opened here. Either way
 * the AAC params (with their AudioSpecificConfig) are the log's current audio params at once,
 * before any frame, so a reader starting now knows audio will follow. Others, a codec this
 * FFmpeg lacks, or a session without coded video: no audio params, and a warning once per
 * source and codec. */
void coded_feed_audio(struct coded_feed *f, const AVCodecParameters *par);
/* The current video parameters (no reference taken), NULL before any. */
const struct coded_params *coded_feed_params(const struct coded_feed *f);

/* Logs one access unit, in the stream's own form, read at @wall_us. Returns whether it is a
 * key picture, judged from its NAL units (@key_hint when they cannot tell, or for a codec the
 * log does not carry). *@changed (when not NULL) says the parameter sets changed. */
bool coded_feed_picture(struct coded_feed *f, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t dts_us, int64_t wall_us, bool key_hint, bool *changed);
/* Logs one audio packet: as it is (AAC), or through the transcoder, whose AAC frames come
 * about two frames later (the encoder's look-ahead), stamped on the camera's clock and never
 * going back. A packet that does not decode is dropped and counted. */
void coded_feed_audio_frame(struct coded_feed *f, const uint8_t *data, size_t len,
	int64_t pts_us, int64_t wall_us);

#endif
