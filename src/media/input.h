/* input: the side of a source its input sees. An input (inputs/: the FFmpeg pull, the demo
 * pattern, RTMP push) is a table of operations the source's worker thread runs, and a
 * set of calls through which it hands over what the camera sends: coded pictures (which the
 * source logs for coded readers and decodes while picture outputs exist), audio frames, or,
 * for inputs with no coded form, decoded pictures.
 *
 * Every function here is for the source's worker thread only, from inside run_session. */
#ifndef CAMSTREAM_INPUT_H
#define CAMSTREAM_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavutil/frame.h>

#include "error.h"
#include "source.h"

struct input_ops {
	const char *name;          /* for logs: "pull", "demo", "push" */
	/* One session: open, then read and hand over until source_stopping(), the end of the
	 * stream or a failure. Unless stopping, fills @why (CS_SOURCE_ENDED with clean set for
	 * an end of stream). Frees everything it made. Returns how long it played (µs, 0 if it
	 * never did): the source then finishes, or in reconnect mode waits and runs it again. */
	int64_t (*run_session)(struct source *s, struct cs_error *why);
};

/* The source's parameters (strings valid for the source's life). */
const struct source_params *source_params(const struct source *s);

/* True once the source was asked to stop: return as soon as possible. Cheap. */
bool source_stopping(const struct source *s);

/* The session plays: what it is (@fps_nominal as the stream states it, 0 if it does not).
 * After failed attempts (reconnect mode) this counts a reconnect. */
void source_playing(struct source *s, const char *codec, int width, int height,
	double fps_nominal);

/* The session goes on but its feed stopped for a while (a publisher left and another may come
 * back): publishes RECONNECTING with @why as the last error, and the next source_playing
 * counts a reconnect. */
void source_interrupted(struct source *s, const struct cs_error *why);

/* The video stream's codec parameters. A copy is kept for the decoder; for H.264 and H.265
 * their extradata (avcC/hvcC, or Annex B parameter sets from an SDP) gives the coded log its
 * first parameter sets, and the access units' own form (length-prefixed or Annex B). false
 * if out of memory. Call before the first source_push_video of a session. */
bool source_video_format(struct source *s, const AVCodecParameters *par);
/* The audio stream's, for the coded log (AAC, G.711, G.722, G.726, Opus). */
bool source_audio_format(struct source *s, const AVCodecParameters *par);

/* Bytes read from the camera (every packet, video or audio). */
void source_count_bytes(struct source *s, size_t bytes);

/* One whole access unit (one picture) in the stream's own form. Times on the camera's clock
 * in µs (AV_NOPTS_VALUE if unknown). @key_hint: the demuxer's key flag (H.264 and H.265
 * are judged from their NAL units instead). @waited_us: how long the input blocked for it
 * (an input that keeps up waits for each picture; one that finds them already waiting has
 * fallen behind, and decodes without encoding until it catches up). */
void source_push_video(struct source *s, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t dts_us, bool key_hint, int64_t waited_us);
/* One audio frame, for the coded log. */
void source_push_audio(struct source *s, const uint8_t *data, size_t len, int64_t pts_us);
/* The end of the stream: the decoder hands over the pictures it still holds. */
void source_flush_video(struct source *s);

/* Inputs with no coded form (demo): whether any output takes the next picture (they are
 * pinned until source_push_picture, which must follow), then the picture: NULL when none
 * was wanted (it is counted all the same). */
bool source_picture_wanted(struct source *s);
void source_push_picture(struct source *s, const AVFrame *pic, int64_t t_capture_us);

#endif
