/* fuzz_hls_mux: the LL-HLS segmenter (src/media/hls_mux.c) fed any sequence of entries a
 * source could log: pictures of any size, key or not, with timestamps that step, stall, jump
 * forward or back (the camera's clock and the wall clock each on its own), audio frames,
 * parameter changes (H.264 at two sizes, H.265), audio coming and going, discontinuities,
 * the end. The input is 4 bytes an entry:
 *   byte 0: bits 0-2 what (0-3 a picture, 4-5 an audio frame, 6 the next video parameters,
 *           7 audio on/off); bit 3 key picture; bit 4 a discontinuity before it; 0xff ends
 *   byte 1: the camera clock's step: bit 7 clear, 0-127 ms; set, a jump of the low 7 bits
 *           as a signed number of 200 ms (-12.8 s to +12.6 s)
 *   byte 2: the size: pictures 8 + 64 x n bytes, audio frames 1 + n
 *   byte 3: the wall clock's step minus the camera's: (int8) ms, x 100 when bit 0 of byte 2
 * Invariants after every entry, beyond "no crash, no ASan/UBSan report":
 * - once ready, each new playlist (one per completed part, and at the end) parses; gaps
 *   (EXT-X-GAP, up to what hls_mux_create was given: the input's length modulo
 *   HLS_MIN_SEGMENTS) only in front, only while fewer than HLS_MIN_SEGMENTS are real and keeps RFC 8216bis' rules (tests/unit/hls_check.h:
 *   EXTINF within TARGETDURATION, every part within PART-TARGET, MAP, numbering, hint...);
 * - what it lists can be had: every listed part, complete segment (as its parts) and init;
 *   the queries agree (HAVE for them, NEVER before the window, LATER for the hint);
 * - bounded: at most HLS_WINDOW complete segments, HLS_MAX_PARTS parts in one, the window's
 *   bytes within HLS_MAX_BYTES once more than one segment is complete;
 * - every part is a moof and an mdat that fill it, and each track's decode time never goes
 *   back from one part to the next (a part starts at or after where the last one ended). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codedlog.h"
#include "fuzz_common.h"
#include "hls_mux.h"

#include "../unit/data/param_sets.h"
#include "../unit/hls_check.h"

#define PREFIX "S/"
#define SUFFIX "?name=f"

static struct coded_params *video_params[3], *audio_params;

static void make_params(void)
{
	const uint8_t *s320[] = { b320_sps, b320_pps };
	const size_t l320[] = { sizeof(b320_sps), sizeof(b320_pps) };
	const uint8_t *s1080[] = { h1080_sps, h1080_pps };
	const size_t l1080[] = { sizeof(h1080_sps), sizeof(h1080_pps) };
	const uint8_t *s720[] = { e720_vps, e720_sps, e720_pps };
	const size_t l720[] = { sizeof(e720_vps), sizeof(e720_sps), sizeof(e720_pps) };
	static const uint8_t asc[] = { 0x11, 0x90 };
	video_params[0] = coded_params_video(CODED_H264, s320, l320, 2);
	video_params[1] = coded_params_video(CODED_H264, s1080, l1080, 2);
	video_params[2] = coded_params_video(CODED_H265, s720, l720, 3);
	audio_params = coded_params_audio(CODED_AAC, 48000, 2, asc, sizeof(asc));
	if (!video_params[0] || !video_params[1] || !video_params[2] || !audio_params)
		abort();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct state {
	struct hls_mux *m;
	uint64_t checked;       /* parts below this number were looked at */
	unsigned gaps;          /* what hls_mux_create was given */
	struct hls_mux_pos listed; /* where the mux was at the last playlist checked */
	bool listed_ended, any_listed;
	uint64_t end[3];        /* per track: where the last part's samples ended (timescale) */
	bool seen[3];
};

/* Part @number's bytes: a moof and an mdat that fill the buffer; each track starts at or
 * after where it ended in the part before. */
static void check_part(struct state *s, const struct hls_buf *b, uint64_t number)
{
	FUZZ_CHECK(b->len >= 16 && !memcmp(b->data + 4, "moof", 4), "part%llu: no moof\n",
		(unsigned long long)number);
	uint32_t moof = be32(b->data);
	FUZZ_CHECK(moof >= 8 && (size_t)moof + 8 <= b->len && !memcmp(b->data + moof + 4, "mdat",
		4) && be32(b->data + moof) == b->len - moof, "part%llu: moof %u, mdat, %zu bytes\n",
		(unsigned long long)number, moof, b->len);
	const uint8_t *p = b->data + 8, *end = b->data + moof;
	while (p < end) {
		uint32_t size = be32(p);
		FUZZ_CHECK(size >= 8 && size <= (size_t)(end - p), "a box past the moof\n");
		if (!memcmp(p + 4, "traf", 4)) {
			/* tfhd (16), tfdt v1 (20), trun as fmp4.c writes them */
			FUZZ_CHECK(size >= 64 && !memcmp(p + 12, "tfhd", 4) &&
				!memcmp(p + 28, "tfdt", 4) && !memcmp(p + 48, "trun", 4), "traf layout\n");
			unsigned track = be32(p + 20);
			FUZZ_CHECK(track == 1 || track == 2, "track %u\n", track);
			uint64_t base = (uint64_t)be32(p + 36) << 32 | be32(p + 40);
			uint32_t count = be32(p + 56), per = track == 1 ? 16 : 12;
			FUZZ_CHECK(count && 64 + (uint64_t)count * per == size, "trun of %u\n", count);
			uint64_t dur = 0;
			for (uint32_t i = 0; i < count; i++)
				dur += be32(p + 64 + (size_t)i * per);
			FUZZ_CHECK(!s->seen[track] || base >= s->end[track],
				"part%llu: track %u starts at %llu, before the last part's end %llu\n",
				(unsigned long long)number, track, (unsigned long long)base,
				(unsigned long long)s->end[track]);
			s->seen[track] = true;
			s->end[track] = base + dur;
		}
		p += size;
	}
}

static void check(struct state *s)
{
	struct hls_mux *m = s->m;
	struct hls_mux_pos pos;
	hls_mux_position(m, &pos);
	struct hls_mux_stats st;
	hls_mux_get_stats(m, &st);
	FUZZ_CHECK(st.segments <= HLS_WINDOW, "%zu complete segments\n", st.segments);
	FUZZ_CHECK(st.segments <= 1 || st.bytes <= HLS_MAX_BYTES, "%zu bytes in the window\n",
		st.bytes);
	FUZZ_CHECK(pos.parts <= HLS_MAX_PARTS, "%u parts in one segment\n", pos.parts);

	/* the new parts, in order, as a client fetching each one would */
	if (s->checked < pos.next_part) {
		for (uint64_t n = s->checked; n < pos.next_part; n++) {
			struct hls_buf *b = hls_mux_part(m, n);
			if (b)
				check_part(s, b, n);
			hls_buf_unref(b);
		}
		s->checked = pos.next_part;
	}

	/* the playlist changes only when a part completes or the mux ends: check each one once */
	if (s->any_listed && s->listed_ended == hls_mux_ended(m) && s->listed.msn == pos.msn &&
		s->listed.parts == pos.parts && s->listed.oldest_msn == pos.oldest_msn &&
		s->listed.next_part == pos.next_part)
		return;
	s->listed = pos;
	s->listed_ended = hls_mux_ended(m);
	s->any_listed = true;
	char *text = hls_mux_playlist(m, PREFIX, "");
	if (!hls_mux_ready(m)) {
		FUZZ_CHECK(!text, "a playlist before the mux is ready\n");
		return;
	}
	FUZZ_CHECK(text, "no playlist\n");
	/* with a query after every URI (a /hls/ playlist's key): the same text once the query is
	 * taken out, and as many queries as URIs */
	char *keyed = hls_mux_playlist(m, PREFIX, SUFFIX);
	FUZZ_CHECK(keyed, "no playlist with a suffix\n");
	size_t n_suffix = 0, n_uri = 0, k = 0;
	for (const char *p = keyed; *p;) {
		if (!strncmp(p, SUFFIX, strlen(SUFFIX))) {
			n_suffix++;
			p += strlen(SUFFIX);
			continue;
		}
		keyed[k++] = *p++;
	}
	keyed[k] = '\0';
	FUZZ_CHECK(!strcmp(keyed, text), "the suffix changed more than the URIs:\n%s", text);
	for (const char *p = text; (p = strstr(p, PREFIX)); p += strlen(PREFIX))
		n_uri++;
	FUZZ_CHECK(n_suffix == n_uri, "%zu URIs, %zu suffixes\n", n_uri, n_suffix);
	free(keyed);
	static struct hls_playlist pl;
	FUZZ_CHECK(hls_parse(text, PREFIX, &pl), "%s:\n%s", pl.why, text);
	const char *broke = hls_rules(&pl, HLS_WINDOW, HLS_PART_SEGMENTS);
	FUZZ_CHECK(!broke, "%s:\n%s", broke, text);
	size_t gaps = 0;
	while (gaps < pl.n_segs && pl.segs[gaps].gap)
		gaps++;
	size_t real = 0;
	for (size_t i = gaps; i < pl.n_segs; i++) {
		FUZZ_CHECK(!pl.segs[i].gap, "a gap after a real segment\n");
		real += pl.segs[i].complete;
	}
	FUZZ_CHECK(gaps <= s->gaps && (gaps == 0 || real < HLS_MIN_SEGMENTS),
		"%zu gaps of %u, %zu complete segments\n", gaps, s->gaps, real);
	FUZZ_CHECK(pl.media_seq + gaps == pos.oldest_msn, "MEDIA-SEQUENCE %llu, %zu gaps, oldest "
		"%llu\n", (unsigned long long)pl.media_seq, gaps, (unsigned long long)pos.oldest_msn);
	struct hls_buf *oldest_init = hls_mux_init(m, hls_mux_init_version(m));
	FUZZ_CHECK(oldest_init, "no init for a gap\n");
	hls_buf_unref(oldest_init);
	FUZZ_CHECK(pl.endlist == hls_mux_ended(m), "ENDLIST\n");
	FUZZ_CHECK(!pl.has_hint || pl.hint == pos.next_part, "hint %llu, next part %llu\n",
		(unsigned long long)pl.hint, (unsigned long long)pos.next_part);
	if (pl.has_hint)
		FUZZ_CHECK(hls_mux_have_part(m, pl.hint) == HLS_LATER, "the hinted part\n");
	if (pl.media_seq)
		FUZZ_CHECK(hls_mux_have(m, pl.media_seq - 1, -1) == HLS_NEVER, "before the window\n");
	for (size_t i = 0; i < pl.n_parts; i++) {
		struct hls_buf *b = hls_mux_part(m, pl.parts[i].number);
		FUZZ_CHECK(b && hls_mux_have_part(m, pl.parts[i].number) == HLS_HAVE,
			"listed part%llu is missing\n", (unsigned long long)pl.parts[i].number);
		hls_buf_unref(b);
	}
	unsigned version = 0;
	for (size_t i = 0; i < pl.n_segs; i++) {
		const struct hls_seg *g = &pl.segs[i];
		FUZZ_CHECK(sscanf(g->map, PREFIX "init%u.mp4", &version) == 1, "MAP %s\n", g->map);
		struct hls_buf *init = hls_mux_init(m, version);
		FUZZ_CHECK(init && init->len > 16 && !memcmp(init->data + 4, "ftyp", 4),
			"listed init%u is missing\n", version);
		hls_buf_unref(init);
		if (!g->complete || g->gap)
			continue;
		struct hls_buf *parts[HLS_MAX_PARTS];
		size_t n = hls_mux_segment(m, g->msn, parts, HLS_MAX_PARTS);
		FUZZ_CHECK(n && n <= HLS_MAX_PARTS, "listed seg%llu is missing\n",
			(unsigned long long)g->msn);
		FUZZ_CHECK(!g->n_parts || n == g->n_parts, "seg%llu: %zu parts, %zu listed\n",
			(unsigned long long)g->msn, n, g->n_parts);
		for (size_t k = 0; k < n; k++)
			hls_buf_unref(parts[k]);
		FUZZ_CHECK(hls_mux_have(m, g->msn, -1) == HLS_HAVE, "seg%llu not had\n",
			(unsigned long long)g->msn);
	}
	free(text);
}

static struct coded_entry *picture(struct coded_params *p, bool key, size_t size)
{
	struct coded_entry *e = coded_entry_create(size);
	if (!e)
		return NULL;
	e->kind = CODED_VIDEO;
	e->key = key;
	e->params = coded_params_ref(p);
	uint32_t n = (uint32_t)size - 4;
	e->data[0] = (uint8_t)(n >> 24), e->data[1] = (uint8_t)(n >> 16);
	e->data[2] = (uint8_t)(n >> 8), e->data[3] = (uint8_t)n;
	if (p->codec == CODED_H265) {
		e->data[4] = key ? 19 << 1 : 1 << 1;   /* IDR_W_RADL, TRAIL_R */
		e->data[5] = 1;
	} else {
		e->data[4] = key ? 0x65 : 0x41;
		e->data[5] = 0x88;
	}
	memset(e->data + 6, 0x5a, size - 6);
	e->len = size;
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!video_params[0])
		make_params();
	/* the gaps a young playlist may start with: from the input's length, so that seeds keep
	 * their meaning */
	struct state s = { .gaps = (unsigned)(size % HLS_MIN_SEGMENTS) };
	s.m = hls_mux_create(s.gaps);
	if (!s.m)
		return 0;
	int64_t cam = 7000000, wall = 1796619600000000LL, audio_t = cam;
	unsigned vp = 0;
	bool disc = false;
	for (; size >= 4; data += 4, size -= 4) {
		uint8_t what = data[0];
		int64_t step = data[1] & 0x80 ? (int64_t)(int8_t)(uint8_t)(data[1] << 1) * 100000 :
			(int64_t)data[1] * 1000;
		int64_t skew = (int64_t)(int8_t)data[3] * (data[2] & 1 ? 100000 : 1000);
		if (what == 0xff) {
			hls_mux_end(s.m);
		} else if ((what & 7) < 4) {
			cam += step;
			wall += step + skew > 0 ? step + skew : 0;
			struct coded_entry *e = picture(video_params[vp], what & 8,
				8 + 64 * (size_t)data[2]);
			if (e) {
				e->pts_us = e->dts_us = cam;
				e->t_wall_us = wall;
				int r = hls_mux_push(s.m, e, disc || (what & 16));
				FUZZ_CHECK(r >= 0 || r == -ENOMEM, "push returned %d\n", r);
				coded_entry_unref(e);
			}
			disc = false;
		} else if ((what & 7) < 6) {
			audio_t += (what & 8) ? step : 21333;
			struct coded_entry *e = coded_entry_create(1 + (size_t)data[2]);
			if (e) {
				e->kind = CODED_AUDIO;
				e->key = true;
				e->pts_us = e->dts_us = audio_t;
				e->t_wall_us = wall;
				e->params = coded_params_ref(audio_params);
				e->len = 1 + (size_t)data[2];
				memset(e->data, 0x21, e->len);
				int r = hls_mux_push(s.m, e, false);
				FUZZ_CHECK(r >= 0 || r == -ENOMEM, "audio push returned %d\n", r);
				coded_entry_unref(e);
			}
		} else if ((what & 7) == 6) {
			vp = (vp + 1) % 3;
			disc = what & 16;
		} else {
			bool on = what & 8;
			hls_mux_set_audio(s.m, on ? audio_params : NULL);
		}
		check(&s);
	}
	hls_mux_end(s.m);
	check(&s);
	hls_mux_destroy(s.m);
	return 0;
}
