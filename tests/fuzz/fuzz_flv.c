/* fuzz_flv: the FLV writer (src/media/flv.c) on what the coded log can hold: the input, after
 * a first control byte, is one access unit (Annex B) made into an entry the way a source
 * makes it, or an audio frame with the input as its AudioSpecificConfig. The control byte:
 *   bit 0: H.265 (else H.264)     bit 1: audio (AAC) instead of video
 *   bits 2-7: picks the timestamp, composition time and previous tag size
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - every piece's size query equals what it writes; a buffer one byte short gets nothing
 *   written; the bytes read back as a tag whose PreviousTagSize is the one given, whose
 *   data size plus 11 is the tag size returned, and whose timestamp is the one given;
 * - a prefix is at most FLV_PREFIX_MAX bytes, ends right where the data goes, and its data
 *   size covers the media header and the whole entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codedlog.h"
#include "flv.h"
#include "fuzz_common.h"

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void check_tag(const uint8_t *p, size_t n, uint32_t prev, uint32_t ts, uint32_t size)
{
	FUZZ_CHECK(n >= 15, "piece of %zu bytes\n", n);
	FUZZ_CHECK(be(p, 4) == prev, "prev %u != %u\n", be(p, 4), prev);
	FUZZ_CHECK(be(p + 5, 3) + 11 == size, "data size %u, tag size %u\n", be(p + 5, 3), size);
	FUZZ_CHECK((be(p + 8, 3) | (uint32_t)p[11] << 24) == ts, "timestamp\n");
	FUZZ_CHECK(n == 4 + size, "piece %zu, tag %u\n", n, size);
}

static void check_config(const struct coded_params *p, uint32_t prev, uint32_t ts)
{
	size_t need = flv_config(NULL, 0, prev, p, ts, NULL);
	if (!need)
		return;
	uint8_t *buf = malloc(need);
	if (!buf)
		return;
	memset(buf, 0xa5, need);
	FUZZ_CHECK(flv_config(buf, need - 1, prev, p, ts, NULL) == need, "size changed\n");
	for (size_t i = 0; i < need; i++)
		FUZZ_CHECK(buf[i] == 0xa5, "a short buffer was written at %zu\n", i);
	uint32_t size = 0;
	FUZZ_CHECK(flv_config(buf, need, prev, p, ts, &size) == need, "size changed\n");
	check_tag(buf, need, prev, ts, size);
	FUZZ_CHECK(!memcmp(buf + need - p->config_len, p->config, p->config_len),
		"the config is not the tag's end\n");
	free(buf);
}

static void check_metadata(const struct coded_params *p, uint32_t prev)
{
	struct flv_meta m = { .width = p->width, .height = p->height, .video = p->codec,
		.fps = prev % 61 };
	size_t need = flv_metadata(NULL, 0, prev, &m, NULL);
	uint8_t *buf = malloc(need);
	if (!buf)
		return;
	uint32_t size = 0;
	FUZZ_CHECK(flv_metadata(buf, need, prev, &m, &size) == need, "size changed\n");
	check_tag(buf, need, prev, 0, size);
	free(buf);
}

static void check_entry(const struct coded_entry *e, uint32_t prev, uint32_t ts, int32_t cts)
{
	uint8_t pre[FLV_PREFIX_MAX];
	uint32_t size = 0;
	size_t n = flv_entry_prefix(pre, prev, e, ts, cts, &size);
	if (!n)
		return;
	FUZZ_CHECK(n <= FLV_PREFIX_MAX, "prefix of %zu\n", n);
	const uint8_t *p = pre + FLV_PREFIX_MAX - n;
	FUZZ_CHECK(be(p, 4) == prev, "prev\n");
	FUZZ_CHECK(be(p + 5, 3) == n - 15 + e->len, "data size %u for %zu + %zu\n", be(p + 5, 3),
		n - 15, e->len);
	FUZZ_CHECK(size == 11 + (n - 15) + e->len, "tag size\n");
	FUZZ_CHECK((be(p + 8, 3) | (uint32_t)p[11] << 24) == ts, "timestamp\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	data++, size--;
	uint32_t ts = (uint32_t)ctl * 0x01020304u;
	int32_t cts = (int32_t)(ctl >> 2) * 1000 - 32000;
	uint32_t prev = (uint32_t)ctl << 16 | ctl;

	if (ctl & 2) {
		struct coded_params *p = coded_params_audio(CODED_AAC, 8000u * (1u + (ctl >> 5)),
			1u + ((ctl >> 4) & 1), data, size);
		if (!p)
			return 0;
		check_config(p, prev, ts);
		struct coded_entry *e = coded_entry_create(size);
		if (e) {
			e->kind = CODED_AUDIO;
			e->params = coded_params_ref(p);
			check_entry(e, prev, ts, cts);
			coded_entry_unref(e);
		}
		coded_params_unref(p);
		return 0;
	}
	enum coded_codec codec = ctl & 1 ? CODED_H265 : CODED_H264;
	struct coded_entry *e = NULL;
	struct coded_params *changed = NULL;
	if (coded_entry_from_au(codec, data, size, 0, NULL, &e, &changed) == 0) {
		check_config(e->params, prev, ts);
		check_metadata(e->params, prev);
		check_entry(e, prev, ts, cts);
	}
	coded_entry_unref(e);
	coded_params_unref(changed);
	return 0;
}
