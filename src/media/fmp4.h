/* fmp4: the bytes of fragmented MP4 (ISO/IEC 14496-12, the ISO base media file format) as
 * HLS and MSE players read it: an init segment (ftyp + moov, no samples) and fragments
 * (moof + mdat), from the coded-picture log's parameters and entries. Pure: libc, nal.c
 * to check the decoder configuration records; nothing kept between calls.
 *
 *   init:      ftyp | moov { mvhd, trak (video: avc1/avcC or hvc1/hvcC), trak (audio:
 *              mp4a/esds), mvex { trex per track } }
 *   fragment:  moof { mfhd, traf per run { tfhd, tfdt, trun } } | mdat { samples }
 *
 * Video samples are the log's access units as they are (4-byte NAL lengths, which is what
 * the init's record says); audio samples are raw AAC frames. The parameter sets stay in the
 * init segment's record. A publisher controls the records: every length in them is checked
 * before a byte is read. */
#ifndef CAMSTREAM_MEDIA_FMP4_H
#define CAMSTREAM_MEDIA_FMP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codedlog.h"
#include "strbuf.h"

#define FMP4_VIDEO_TRACK 1
#define FMP4_AUDIO_TRACK 2
#define FMP4_VIDEO_TIMESCALE 90000  /* the audio track's timescale is its sample rate */

/* The longest config record fmp4_init takes (a real one is under 1 KB). */
#define FMP4_MAX_CONFIG 65536

/* One sample, in its track's timescale. @cts: presentation minus decode time (video; 0 for
 * audio). @key: a sync sample (a key picture); on the audio track every sample is written
 * as a sync sample whatever @key says. */
struct fmp4_sample {
	uint32_t size;
	uint32_t duration;
	int32_t cts;
	bool key;
};

/* The samples of one track in one fragment: @track_id FMP4_VIDEO_TRACK or FMP4_AUDIO_TRACK,
 * @base_dts the decode time of the first sample (the track's timescale, from the session's
 * start). Borrowed: nothing is kept. */
struct fmp4_run {
	unsigned track_id;
	uint64_t base_dts;
	const struct fmp4_sample *samples;
	size_t n;
};

/* Appends the init segment to @out: track 1 for @video (H.264 or H.265: the record in
 * @video->config, which must say 4-byte lengths and hold the parameter sets, and
 * width/height), track 2 for @audio (AAC: the AudioSpecificConfig, sample_rate, channels;
 * NULL: no audio track). Returns 0; -EINVAL (another codec or kind, a malformed or too short
 * record, a size or rate out of range), and then nothing was appended; -ENOMEM, and then
 * @out is failed (strbuf's rule). */
int fmp4_init(struct strbuf *out, const struct coded_params *video,
	const struct coded_params *audio);

/* The bytes fmp4_moof_write writes for these runs: the moof and the mdat box's header (the
 * mdat's payload, the samples in run order, follows). 0 on input it refuses (see there). */
size_t fmp4_moof_size(const struct fmp4_run *runs, size_t n_runs);

/* Writes the moof (mfhd with @seq; a traf per run: tfhd with default-base-is-moof, tfdt
 * version 1, trun with the data offset of the run's first sample in the mdat that follows,
 * each sample's duration, size and flags, and for video its composition offset, trun version
 * 1: signed) and the mdat header into @out (@cap bytes). The caller then sends the samples'
 * bytes, run after run. Returns the bytes written (== fmp4_moof_size), or 0 and nothing
 * written on refused input: no runs, a run without samples or with another track id,
 * sizes that do not fit the boxes' 32-bit fields (moof + mdat > 2^31 - 1 bytes), @cap too
 * small. */
size_t fmp4_moof_write(uint8_t *out, size_t cap, uint32_t seq, const struct fmp4_run *runs,
	size_t n_runs);

/* The sample made of video access unit @au (@len bytes, 4-byte NAL lengths, as the log
 * keeps it) of @codec (H.264 or H.265): every unit but parameter sets and access unit
 * delimiters, which are in the init segment's record (hvc1 and avc1 want them there).
 * Writes it to @out when it all fits in @cap (@out NULL: only measures). Returns the
 * sample's size; 0 when no unit is left, or @au is malformed or of another codec. */
size_t fmp4_video_sample(enum coded_codec codec, const uint8_t *au, size_t len, uint8_t *out,
	size_t cap);

/* The RFC 6381 codecs name of @p, as HLS's CODECS attribute and MSE's isTypeSupported want
 * it: "avc1.64001f" (profile, compatibility, level from avcC), "hvc1.1.6.L93.B0" (ISO/IEC
 * 14496-15 annex E, from hvcC), "mp4a.40.2" (the audio object type of the ASC). 0, or
 * -EINVAL for another codec, a record too short, or @cap too small (then @buf is ""). */
int fmp4_codec_string(const struct coded_params *p, char *buf, size_t cap);

#endif
