/* fuzz_fmp4: the fragmented-MP4 writer (src/media/fmp4.c) on what a publisher controls (the
 * decoder configuration records) and on any sample table a segmenter could hand it. The
 * first byte of the input says what the rest is:
 *   bit 7 clear: records. Bit 0: H.265 (else H.264); bit 1: an audio track too, whose
 *     AudioSpecificConfig is the next byte's count of bytes after it; the rest is the video
 *     record (avcC or hvcC). Bits 2-6 pick the picture size and the audio format, some of
 *     them out of range. fmp4_init, fmp4_codec_string and fmp4_video_sample run on them.
 *   bit 7 set: a sample table, 13 bytes a sample (size, duration, composition offset, 32 bits
 *     each; then a byte: key, run number, track id). Bits 0-1: how many runs at most; bit 2:
 *     sizes of 16 bits (writable), else of 32 (mostly refused). fmp4_moof_size and
 *     fmp4_moof_write run on it.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - init: on success the output is ftyp then moov, every container filled exactly by its
 *   children, the record copied whole into avcC/hvcC; and the codecs names of what it took
 *   exist. On refusal nothing is appended.
 * - codecs name: always a C string inside the buffer; on success as long as it says, with
 *   the codec's prefix; the same with exactly the room it needs.
 * - video sample: the size query equals what is written, never more than the input.
 * - moof: the write equals the size query, a buffer one byte short gets nothing, nothing is
 *   written past the size; the moof's size and the mdat's cover the boxes and the samples,
 *   and each run's data offset is where its first sample will be. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codedlog.h"
#include "fmp4.h"
#include "fuzz_common.h"
#include "strbuf.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t children_at(const uint8_t *type)
{
	if (!memcmp(type, "stsd", 4) || !memcmp(type, "dref", 4))
		return 8;
	if (!memcmp(type, "avc1", 4) || !memcmp(type, "hvc1", 4))
		return 78;
	if (!memcmp(type, "mp4a", 4))
		return 28;
	return 0;
}

static bool is_container(const uint8_t *type)
{
	static const char c[] = "moovtrakmdiaminfdinfdrefstblstsdavc1hvc1mp4amvexmooftraf";
	for (size_t i = 0; i + 4 < sizeof(c); i += 4)
		if (!memcmp(type, c + i, 4))
			return true;
	return false;
}

/* Walks the boxes of [p, p + len), which must fill it; @record, when found in an avcC or
 * hvcC box, must be its whole body. Returns how many record boxes were seen. */
static int walk(const uint8_t *p, size_t len, const uint8_t *record, size_t record_len)
{
	int seen = 0;
	while (len) {
		FUZZ_CHECK(len >= 8, "%zu bytes left after the last box\n", len);
		uint32_t size = be32(p);
		FUZZ_CHECK(size >= 8 && size <= len, "box of %u in %zu bytes\n", size, len);
		const uint8_t *type = p + 4;
		if (!memcmp(type, "avcC", 4) || !memcmp(type, "hvcC", 4)) {
			FUZZ_CHECK(size - 8 == record_len && !memcmp(p + 8, record, record_len),
				"the record was not copied whole\n");
			seen++;
		}
		if (is_container(type)) {
			size_t at = children_at(type);
			FUZZ_CHECK(at <= size - 8, "container too short\n");
			seen += walk(p + 8 + at, size - 8 - at, record, record_len);
		}
		p += size;
		len -= size;
	}
	return seen;
}

static void check_name(const struct coded_params *p, size_t cap, const char *prefix)
{
	char buf[80];
	memset(buf, 'x', sizeof(buf));
	int r = fmp4_codec_string(p, buf, cap);
	if (!cap) {
		FUZZ_CHECK(r == -EINVAL && buf[0] == 'x', "no room, yet an answer\n");
		return;
	}
	size_t n = strnlen(buf, cap);
	FUZZ_CHECK(n < cap, "not a C string inside %zu bytes\n", cap);
	if (r < 0) {
		FUZZ_CHECK(n == 0, "refused but not empty: %s\n", buf);
		return;
	}
	FUZZ_CHECK(!strncmp(buf, prefix, strlen(prefix)), "%s does not start %s\n", buf, prefix);
	char again[80];
	FUZZ_CHECK(fmp4_codec_string(p, again, n + 1) == 0 && !strcmp(again, buf),
		"not the same with exactly the room it needs\n");
}

static void fuzz_records(uint8_t ctl, const uint8_t *data, size_t size)
{
	static const unsigned sizes[] = { 0, 1, 320, 1920, 65535, 65536, 240, 4096 };
	static const unsigned rates[] = { 0, 8000, 48000, 96000 };
	bool hevc = ctl & 1;
	struct coded_params a = { .kind = CODED_AUDIO, .codec = CODED_AAC,
		.sample_rate = rates[(ctl >> 2) & 3], .channels = (ctl >> 4) & 3 };
	if (ctl & 2) {
		if (!size)
			return;
		size_t n = data[0] < size - 1 ? data[0] : size - 1;
		a.config = data + 1;
		a.config_len = n;
		data += 1 + n;
		size -= 1 + n;
	}
	struct coded_params v = { .kind = CODED_VIDEO, .codec = hevc ? CODED_H265 : CODED_H264,
		.config = data, .config_len = size, .width = sizes[(ctl >> 2) & 7],
		.height = sizes[(ctl >> 4) & 7] };

	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "xyz");
	int r = fmp4_init(&sb, &v, ctl & 2 ? &a : NULL);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM, "init returned %d\n", r);
	FUZZ_CHECK(!memcmp(sb.p, "xyz", 3), "what was in the buffer changed\n");
	if (r == -EINVAL)
		FUZZ_CHECK(sb.len == 3 && !sb.failed, "refused, yet %zu bytes appended\n",
			sb.len - 3);
	if (r == 0) {
		const uint8_t *p = (const uint8_t *)sb.p + 3;
		size_t len = sb.len - 3;
		FUZZ_CHECK(len >= 16 && !memcmp(p + 4, "ftyp", 4), "no ftyp first\n");
		FUZZ_CHECK(be32(p) + 8 <= len && !memcmp(p + be32(p) + 4, "moov", 4),
			"no moov second\n");
		FUZZ_CHECK(walk(p, len, v.config, v.config_len) == 1, "one record box\n");
		char name[80];
		FUZZ_CHECK(fmp4_codec_string(&v, name, sizeof(name)) == 0,
			"a video track without a codecs name\n");
		FUZZ_CHECK(!(ctl & 2) || fmp4_codec_string(&a, name, sizeof(name)) == 0,
			"an audio track without a codecs name\n");
	}
	sb_free(&sb);

	check_name(&v, (size_t)(ctl * 7u) % 80, hevc ? "hvc1." : "avc1.");
	check_name(&v, 80, hevc ? "hvc1." : "avc1.");
	if (ctl & 2) {
		check_name(&a, (size_t)(ctl * 5u) % 80, "mp4a.40.");
		check_name(&a, 80, "mp4a.40.");
	}

	size_t need = fmp4_video_sample(v.codec, data, size, NULL, 0);
	FUZZ_CHECK(need <= size, "a sample of %zu from %zu bytes\n", need, size);
	if (need) {
		uint8_t *out = malloc(need);
		if (out) {
			FUZZ_CHECK(fmp4_video_sample(v.codec, data, size, out, need) == need,
				"the write differs from the query\n");
			free(out);
		}
	}
}

#define MAX_SAMPLES 4096

static void fuzz_moof(uint8_t ctl, const uint8_t *data, size_t size)
{
	static struct fmp4_sample samples[MAX_SAMPLES];
	struct fmp4_run runs[4];
	size_t max_runs = 1 + (ctl & 3), n_runs = 0, n = 0;
	int last_run = -1;
	for (; size >= 13 && n < MAX_SAMPLES; data += 13, size -= 13, n++) {
		uint8_t f = data[12];
		samples[n] = (struct fmp4_sample){ .size = be32(data), .duration = be32(data + 4),
			.cts = (int32_t)be32(data + 8), .key = f & 1 };
		if (ctl & 4)
			samples[n].size &= 0xffff;
		int run = (f >> 1) & 3;
		if (run != last_run && n_runs < max_runs) {
			/* track ids 0..3: 1 and 2 are the writer's, 0 and 3 must be refused */
			runs[n_runs++] = (struct fmp4_run){ .track_id = (f >> 3) & 3,
				.base_dts = (uint64_t)be32(data + 4) << (f >> 5), .samples = &samples[n] };
			last_run = run;
		}
		runs[n_runs - 1].n++;
	}
	if (!n_runs) {
		FUZZ_CHECK(fmp4_moof_size(runs, 0) == 0, "a moof of no runs\n");
		return;
	}
	size_t need = fmp4_moof_size(runs, n_runs);
	uint8_t *buf = malloc(need + 16);
	if (!buf)
		return;
	memset(buf, 0xa5, need + 16);
	if (!need) {
		FUZZ_CHECK(fmp4_moof_write(buf, 1 << 20, 1, runs, n_runs) == 0,
			"written, yet the size query refused\n");
		free(buf);
		return;
	}
	FUZZ_CHECK(fmp4_moof_write(buf, need - 1, 1, runs, n_runs) == 0, "short buffer used\n");
	for (size_t i = 0; i < need + 16; i++)
		FUZZ_CHECK(buf[i] == 0xa5, "a short buffer was written at %zu\n", i);
	FUZZ_CHECK(fmp4_moof_write(buf, need + 16, (uint32_t)n, runs, n_runs) == need,
		"the write differs from the query\n");
	for (size_t i = need; i < need + 16; i++)
		FUZZ_CHECK(buf[i] == 0xa5, "written past the size at %zu\n", i);

	uint64_t boxes = 8 + 16 + 8, payload = 0;
	for (size_t r = 0; r < n_runs; r++) {
		FUZZ_CHECK(runs[r].track_id == FMP4_VIDEO_TRACK || runs[r].track_id ==
			FMP4_AUDIO_TRACK, "track %u taken\n", runs[r].track_id);
		boxes += 64 + runs[r].n * (runs[r].track_id == FMP4_VIDEO_TRACK ? 16 : 12);
	}
	FUZZ_CHECK(boxes == need, "%zu bytes for boxes of %llu\n", need,
		(unsigned long long)boxes);
	FUZZ_CHECK(be32(buf) == need - 8 && !memcmp(buf + 4, "moof", 4), "moof size\n");
	FUZZ_CHECK(!memcmp(buf + 12, "mfhd", 4) && be32(buf + 20) == (uint32_t)n, "mfhd\n");
	const uint8_t *traf = buf + 24;
	for (size_t r = 0; r < n_runs; r++) {
		FUZZ_CHECK(!memcmp(traf + 4, "traf", 4), "traf %zu\n", r);
		FUZZ_CHECK(be32(traf + 20) == runs[r].track_id, "tfhd track\n");
		FUZZ_CHECK(((uint64_t)be32(traf + 36) << 32 | be32(traf + 40)) == runs[r].base_dts,
			"tfdt\n");
		FUZZ_CHECK(!memcmp(traf + 48, "trun", 4) && be32(traf + 56) == runs[r].n, "count\n");
		FUZZ_CHECK(be32(traf + 60) == need + payload, "data offset of run %zu\n", r);
		for (size_t k = 0; k < runs[r].n; k++)
			payload += runs[r].samples[k].size;
		traf += be32(traf);
	}
	FUZZ_CHECK(traf == buf + need - 8, "trafs do not fill the moof\n");
	FUZZ_CHECK(!memcmp(buf + need - 4, "mdat", 4) && be32(buf + need - 8) == 8 + payload,
		"mdat size\n");
	FUZZ_CHECK(need + payload <= 0x7fffffff, "a fragment data_offset cannot reach\n");
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		fuzz_moof(data[0], data + 1, size - 1);
	else
		fuzz_records(data[0], data + 1, size - 1);
	return 0;
}
