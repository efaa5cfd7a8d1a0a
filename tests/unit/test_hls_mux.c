/* hls_mux: one source's LL-HLS in memory (src/media/hls_mux.c), as a specification of what
 * the HTTP side and players get: parts cut about every 200 ms, segments from key pictures,
 * the playlist's text (held to RFC 8216bis by hls_check.h), the window, the queries blocking
 * requests wait on, discontinuities, the end. A camera is played into the mux as a source
 * logs it: 25 pictures a second, AAC frames of 1024 samples at 48 kHz between them, the
 * wall clock following the camera's. The bytes are read back by libavformat (mp4_read.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "audio_gen.h"
#include "check.h"
#include "codedlog.h"
#include "data/param_sets.h"
#include "fmp4.h"
#include "hls_check.h"
#include "hls_mux.h"
#include "mp4_read.h"
#include "video_gen.h"

#define FRAME_US 40000
#define AAC_US (1024 * 1000000LL / 48000) /* 21333 */
#define WALL0 (1796619600LL * 1000000) /* 2026-12-07T05:00:00Z */
#define PREFIX "SID/"

static const uint8_t asc_lc_48k_stereo[] = { 0x11, 0x90 };

/* ---- a camera ---- */

struct cam {
	struct hls_mux *m;
	struct coded_params *vp, *ap;
	int gop;                /* a key picture every gop pictures */
	int64_t frame_us;
	int64_t base_us;        /* the camera's clock at picture 0 */
	int64_t n;              /* pictures pushed */
	int64_t an;             /* audio frames pushed */
	size_t size;            /* bytes of a picture */
	int flags;              /* the push results, or-ed */
	int errors;             /* negative push results */
	struct coded_entry **real; /* when set: the pictures to play, in turn (see cam_real) */
	size_t n_real;
};

static struct coded_params *params_320(void)
{
	const uint8_t *sets[] = { b320_sps, b320_pps };
	const size_t lens[] = { sizeof(b320_sps), sizeof(b320_pps) };
	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *params_1080(void)
{
	const uint8_t *sets[] = { h1080_sps, h1080_pps };
	const size_t lens[] = { sizeof(h1080_sps), sizeof(h1080_pps) };
	return coded_params_video(CODED_H264, sets, lens, 2);
}

static struct coded_params *params_aac(void)
{
	return coded_params_audio(CODED_AAC, 48000, 2, asc_lc_48k_stereo, 2);
}

/* A picture of @size bytes: one slice unit, IDR or not. */
static struct coded_entry *picture(struct coded_params *p, bool key, int64_t pts, int64_t dts,
	int64_t wall, size_t size)
{
	struct coded_entry *e = coded_entry_create(size);
	if (!e)
		return NULL;
	e->kind = CODED_VIDEO;
	e->key = key;
	e->pts_us = pts;
	e->dts_us = dts;
	e->t_wall_us = wall;
	e->params = coded_params_ref(p);
	uint32_t n = (uint32_t)size - 4;
	e->data[0] = (uint8_t)(n >> 24), e->data[1] = (uint8_t)(n >> 16);
	e->data[2] = (uint8_t)(n >> 8), e->data[3] = (uint8_t)n;
	e->data[4] = key ? 0x65 : 0x41;
	for (size_t i = 5; i < size; i++)
		e->data[i] = (uint8_t)(i * 7);
	e->len = size;
	return e;
}

static struct coded_entry *audio_frame(struct coded_params *p, int64_t pts, int64_t wall)
{
	struct coded_entry *e = coded_entry_create(300);
	if (!e)
		return NULL;
	e->kind = CODED_AUDIO;
	e->key = true;
	e->pts_us = e->dts_us = pts;
	e->t_wall_us = wall;
	e->params = coded_params_ref(p);
	memset(e->data, 0x21, 300);
	e->len = 300;
	return e;
}

static void cam_push(struct cam *c, struct coded_entry *e, bool discontinuity)
{
	int r = e ? hls_mux_push(c->m, e, discontinuity) : -ENOMEM;
	if (r < 0)
		c->errors++;
	else
		c->flags |= r;
	coded_entry_unref(e);
}

static bool cam_open(struct cam *c, int gop, bool audio)
{
	memset(c, 0, sizeof(*c));
	c->m = hls_mux_create(0);
	c->vp = params_320();
	c->ap = audio ? params_aac() : NULL;
	c->gop = gop;
	c->frame_us = FRAME_US;
	c->base_us = 5000000;   /* the camera's clock does not start at 0 */
	c->size = 1000;
	if (c->ap)
		hls_mux_set_audio(c->m, c->ap);
	return c->m && c->vp && (!audio || c->ap);
}

static void cam_close(struct cam *c)
{
	hls_mux_destroy(c->m);
	coded_params_unref(c->vp);
	coded_params_unref(c->ap);
	for (size_t i = 0; i < c->n_real; i++)
		coded_entry_unref(c->real[i]);
	free(c->real);
}

/* The camera's time of picture @n, and of audio frame @k. */
static int64_t cam_t(const struct cam *c, int64_t n)
{
	return c->base_us + n * c->frame_us;
}

/* One picture, after the audio frames that start before it. */
static void cam_picture(struct cam *c)
{
	int64_t t = cam_t(c, c->n);
	while (c->ap && c->base_us + c->an * AAC_US < t) {
		int64_t at = c->base_us + c->an * AAC_US;
		cam_push(c, audio_frame(c->ap, at, WALL0 + at - c->base_us), false);
		c->an++;
	}
	struct coded_entry *e;
	if (c->real) {
		e = coded_entry_ref(c->real[c->n % (int64_t)c->n_real]);
	} else {
		e = picture(c->vp, c->n % c->gop == 0, t, t, WALL0 + t - c->base_us, c->size);
	}
	cam_push(c, e, false);
	c->n++;
}

static void cam_run(struct cam *c, int pictures)
{
	for (int i = 0; i < pictures; i++)
		cam_picture(c);
}

/* Runs until @flag comes back from a push (HLS_SEGMENT_DONE, HLS_PART_DONE). */
static void cam_until(struct cam *c, int flag)
{
	c->flags = 0;
	for (int i = 0; i < 10000 && !(c->flags & flag); i++)
		cam_picture(c);
}

/* The playlist, parsed and held to the rules. */
static bool playlist(const struct cam *c, struct hls_playlist *pl)
{
	char *text = hls_mux_playlist(c->m, PREFIX, "");
	bool ok = hls_parse(text, PREFIX, pl);
	if (!ok)
		printf("#   does not parse (%s):\n%s", pl->why, text ? text : "(null)\n");
	const char *broke = ok ? hls_rules(pl, HLS_WINDOW, HLS_PART_SEGMENTS) : NULL;
	static bool shown; /* one playlist is enough to see what went wrong */
	if (broke)
		printf("#   %s%s%s", broke, shown ? "\n" : ":\n", shown ? "" : text);
	shown |= broke != NULL;
	free(text);
	return ok && !broke;
}

/* ---- the first playlist ---- */

static void test_no_playlist_before_a_complete_segment(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	CHECK(!hls_mux_ready(c.m) && !hls_mux_playlist(c.m, PREFIX, ""));
	cam_run(&c, 25);        /* the first GOP: its segment is complete at the next key */
	CHECK(!hls_mux_ready(c.m) && !hls_mux_playlist(c.m, PREFIX, ""));
	CHECK(c.flags == HLS_PART_DONE);
	cam_picture(&c);
	CHECK(c.flags & HLS_SEGMENT_DONE);
	CHECK(hls_mux_ready(c.m));
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs == 1 && pl.segs[0].complete && pl.segs[0].msn == 0);
	CHECK(c.errors == 0);
	cam_close(&c);
}

static void test_pictures_before_the_first_key_picture_are_left_out(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	c.n = 10;               /* the camera is joined mid-GOP */
	cam_run(&c, 15);
	struct hls_mux_pos pos;
	hls_mux_position(c.m, &pos);
	CHECK(pos.msn == 0 && pos.parts == 0 && pos.next_part == 0);
	CHECK(c.flags == 0);
	cam_until(&c, HLS_SEGMENT_DONE);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs >= 1 && pl.segs[0].dur > 0.99 && pl.segs[0].dur < 1.01);
	cam_close(&c);
}

static void test_playlist_header_and_first_segment(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 26);
	char *text = hls_mux_playlist(c.m, PREFIX, "");
	static const char head[] = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n"
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n"
		"#EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:0\n"
		"#EXT-X-MAP:URI=\"SID/init1.mp4\"\n"
		"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:00:00.000Z\n"
		"#EXT-X-PART:DURATION=0.20000,URI=\"SID/part0.m4s\",INDEPENDENT=YES\n"
		"#EXT-X-PART:DURATION=0.20000,URI=\"SID/part1.m4s\"\n";
	CHECK(text && !strncmp(text, head, sizeof(head) - 1));
	CHECK(text && strstr(text, "#EXT-X-PART:DURATION=0.20000,URI=\"SID/part4.m4s\"\n"
		"#EXTINF:1.00000,\nSID/seg0.m4s\n"));
	CHECK(text && strstr(text, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"SID/part5.m4s\"\n"));
	CHECK(text && !strstr(text, "ENDLIST") && !strstr(text, "DISCONTINUITY"));
	free(text);
	cam_close(&c);
}

static void test_program_date_time_is_when_the_source_read_the_segments_first_picture(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 56);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs == 3);
	CHECK_STR(pl.segs[0].date, "2026-12-07T05:00:00.000Z");
	CHECK_STR(pl.segs[1].date, "2026-12-07T05:00:01.000Z");
	CHECK_STR(pl.segs[2].date, "2026-12-07T05:00:02.000Z"); /* in progress: one part */
	cam_close(&c);
}

/* ---- parts and segments ---- */

static void test_parts_are_200_ms_and_only_a_segments_first_is_independent(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 81);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_parts == 2 * 5 + 1); /* two complete segments listed with parts, and one */
	for (size_t k = 0; k < pl.n_parts; k++) {
		CHECK(pl.parts[k].dur > 0.19999 && pl.parts[k].dur < 0.20001);
		CHECK(pl.parts[k].independent == (k % 5 == 0));
	}
	CHECK(pl.parts[0].number == 5); /* seg0's parts 0..4 are no longer listed */
	cam_close(&c);
}

static void test_segments_cut_at_the_first_key_picture_a_second_in(void)
{
	static const struct {
		int gop;            /* pictures */
		double seg;         /* seconds */
		long target;
	} cases[] = {
		{ 25, 1.0, 1 },
		{ 10, 1.2, 1 },     /* keys at 0.4 s steps: the first at least 1 s in is 1.2 s */
		{ 50, 2.0, 2 },
		{ 60, 2.4, 2 },
		{ 90, 3.6, 4 },     /* rounded up... to the nearest: 3.6 -> 4 */
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct cam c;
		CHECK(cam_open(&c, cases[i].gop, false));
		cam_run(&c, (int)(cases[i].seg * 25 + 0.5) * 3 + 1);
		struct hls_playlist pl;
		CHECK(playlist(&c, &pl));
		size_t complete = 0;
		for (size_t k = 0; k < pl.n_segs; k++)
			if (pl.segs[k].complete) {
				complete++;
				CHECK(pl.segs[k].dur > cases[i].seg - 1e-4 &&
					pl.segs[k].dur < cases[i].seg + 1e-4);
			}
		CHECK(complete >= 3);
		CHECK(pl.target == cases[i].target);
		cam_close(&c);
	}
}

static void test_a_key_picture_inside_a_segment_does_not_cut_a_part(void)
{
	struct cam c;
	CHECK(cam_open(&c, 12, false)); /* keys every 0.48 s: segments of 1.44 s */
	cam_run(&c, 36 * 3 + 1);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	/* the keys at 0.48 s and 0.96 s stay inside their parts (an intra-only camera would
	 * otherwise have parts of one picture); only a segment's first part is independent */
	static const double dur[] = { 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.04 };
	for (size_t i = 1; i < 3; i++) {
		const struct hls_seg *s = &pl.segs[i];
		CHECK(s->complete && s->n_parts == N(dur));
		CHECK(s->dur > 1.43999 && s->dur < 1.44001);
		for (size_t k = 0; k < s->n_parts && k < N(dur); k++) {
			CHECK(pl.parts[s->first_part + k].dur > dur[k] - 1e-5);
			CHECK(pl.parts[s->first_part + k].dur < dur[k] + 1e-5);
			CHECK(pl.parts[s->first_part + k].independent == (k == 0));
		}
	}
	cam_close(&c);
}

static void test_a_key_picture_a_little_early_still_cuts_at_one_second(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	c.frame_us = 39600; /* the camera's GOP of 25 pictures is 0.99 s */
	cam_run(&c, 25 * 4 + 1);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.target == 1);
	for (size_t i = 0; i < pl.n_segs; i++)
		CHECK(!pl.segs[i].complete || (pl.segs[i].dur > 0.989 && pl.segs[i].dur < 0.991));
	cam_close(&c);
}

static void test_a_segment_cut_at_a_key_picture_ends_with_a_short_part(void)
{
	struct cam c;
	CHECK(cam_open(&c, 28, false)); /* keys at 1.12 s: 5 + 5 + 5 + 5 + 5 + 3 pictures */
	cam_run(&c, 28 * 3 + 1);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	const struct hls_seg *s = &pl.segs[1];
	CHECK(s->complete && s->n_parts == 6);
	CHECK(s->dur > 1.11999 && s->dur < 1.12001);
	const struct hls_part *last = &pl.parts[s->first_part + 5];
	CHECK(last->dur > 0.11999 && last->dur < 0.12001 && !last->independent);
	CHECK(pl.parts[s->first_part + 6].independent); /* the next segment's first */
	cam_close(&c);
}

static void test_an_intra_only_camera_keeps_200_ms_parts(void)
{
	struct cam c;
	CHECK(cam_open(&c, 1, false)); /* every picture a key picture */
	cam_run(&c, 60);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	/* RFC 8216bis 4.4.4.9: every part but a segment's last SHOULD be 85 % of PART-TARGET */
	for (size_t i = 0; i < pl.n_segs; i++)
		for (size_t k = 0; k + 1 < pl.segs[i].n_parts; k++) {
			double d = pl.parts[pl.segs[i].first_part + k].dur;
			CHECK(d >= 0.85 * pl.part_target);
			if (d < 0.85 * pl.part_target) {
				printf("#   a part of %.5f s\n", d);
				i = pl.n_segs - 1;
				break;
			}
		}
	CHECK(pl.segs[0].dur > 0.99 && pl.segs[0].dur < 1.01);
	cam_close(&c);
}

static void test_a_slow_camera_announces_its_frame_interval_as_part_target(void)
{
	struct cam c;
	CHECK(cam_open(&c, 4, false));
	c.frame_us = 500000;    /* 2 pictures a second */
	cam_run(&c, 13);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.part_target > 0.4999 && pl.part_target < 0.5001);
	CHECK(pl.hold_back > 1.4999);
	CHECK(pl.target == 2);
	cam_close(&c);
}

static void test_target_duration_rises_when_a_longer_segment_comes(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 51);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl) && pl.target == 1);
	c.gop = 75;             /* the camera's GOP becomes 3 s: keys at 75, 150 */
	cam_until(&c, HLS_SEGMENT_DONE);
	cam_until(&c, HLS_SEGMENT_DONE);
	CHECK(playlist(&c, &pl));
	CHECK(pl.target == 3);
	cam_close(&c);
}

/* RFC 8216bis 4.4.4.9: a part's duration MUST be at most PART-TARGET. A camera that loses
 * pictures for a moment (RTP over UDP, a stalled encoder) leaves a hole in its timestamps,
 * and the wall clock agrees (no clock jump to bridge). */
static void test_a_hole_in_the_pictures_makes_no_part_longer_than_the_target(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 32);
	c.n += 12;              /* 480 ms of pictures lost */
	bool ok = true;
	for (int i = 0; i < 60 && ok; i++) {
		cam_picture(&c);
		struct hls_playlist pl;
		ok = playlist(&c, &pl);
	}
	CHECK(ok);
	cam_close(&c);
}

/* A young playlist lists gaps in front until it has HLS_MIN_SEGMENTS real segments (Safari,
 * as MediaMTX found, wants a live playlist of several segments from the start). */
static void test_a_young_playlist_starts_with_gaps(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	hls_mux_destroy(c.m);
	c.m = hls_mux_create(HLS_MIN_SEGMENTS - 1);
	cam_run(&c, 26); /* one segment complete */
	char *text = hls_mux_playlist(c.m, "S/", "");
	CHECK(text && strstr(text, "#EXT-X-MEDIA-SEQUENCE:0\n"));
	CHECK(text && strstr(text, "#EXT-X-GAP\n#EXTINF:1.00000,\nS/gap.mp4\n#EXT-X-"
		"PROGRAM-DATE-TIME:") && strstr(text, "#EXTINF:1.00000,\nS/seg2.m4s\n"));
	int gaps = 0;
	for (const char *p = text; p && (p = strstr(p, "#EXT-X-GAP")); p++)
		gaps++;
	CHECK(gaps == 2);
	CHECK(hls_mux_have(c.m, 0, -1) == HLS_NEVER && hls_mux_have(c.m, 2, -1) == HLS_HAVE);
	free(text);
	cam_run(&c, 25); /* two: one gap left */
	text = hls_mux_playlist(c.m, "S/", "");
	gaps = 0;
	for (const char *p = text; p && (p = strstr(p, "#EXT-X-GAP")); p++)
		gaps++;
	CHECK(text && strstr(text, "#EXT-X-MEDIA-SEQUENCE:1\n") && gaps == 1);
	free(text);
	cam_run(&c, 25); /* three: none */
	text = hls_mux_playlist(c.m, "S/", "");
	CHECK(text && strstr(text, "#EXT-X-MEDIA-SEQUENCE:2\n") && !strstr(text, "GAP"));
	free(text);
	cam_close(&c);
}

/* ---- the window ---- */

static void test_the_window_keeps_six_segments_and_parts_of_the_last_two(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 25 * 10 + 6);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.media_seq == 4);
	CHECK(pl.n_segs == 7 && !pl.segs[6].complete);
	for (size_t i = 0; i < 6; i++)
		CHECK(pl.segs[i].complete && pl.segs[i].msn == 4 + i);
	CHECK(pl.segs[0].n_parts == 0 && pl.segs[3].n_parts == 0);
	CHECK(pl.segs[4].n_parts == 5 && pl.segs[5].n_parts == 5 && pl.segs[6].n_parts == 1);
	struct hls_mux_stats st;
	hls_mux_get_stats(c.m, &st);
	CHECK(st.segments == 6 && st.parts == 31 && st.segments_made == 10);
	CHECK(st.parts_made == 51);
	cam_close(&c);
}

static void test_what_left_the_window_is_gone_but_held_buffers_stay(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 26);
	struct hls_buf *part0 = hls_mux_part(c.m, 0), *init = hls_mux_init(c.m, 1);
	struct hls_buf *seg0[8];
	CHECK(part0 && init);
	CHECK(hls_mux_segment(c.m, 0, seg0, N(seg0)) == 5);
	CHECK(seg0[0] == part0);
	size_t len = part0 ? part0->len : 0;
	cam_run(&c, 25 * 7);
	CHECK(!hls_mux_part(c.m, 0));
	CHECK(hls_mux_segment(c.m, 0, seg0 + 5, 3) == 0);
	CHECK(hls_mux_have(c.m, 0, -1) == HLS_NEVER && hls_mux_have_part(c.m, 0) == HLS_NEVER);
	struct hls_buf *still = hls_mux_init(c.m, 1); /* every segment still uses init 1 */
	CHECK(still == init);
	hls_buf_unref(still);
	/* what a request still sends is intact */
	CHECK(part0 && part0->len == len && !memcmp(part0->data + 4, "moof", 4));
	hls_buf_unref(part0);
	hls_buf_unref(init);
	for (size_t i = 0; i < 5; i++)
		hls_buf_unref(seg0[i]);
	cam_close(&c);
}

static void test_the_window_is_bounded_in_bytes(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	c.size = 1u << 20;      /* 1 MB pictures: 25 MB a segment */
	cam_run(&c, 25 * 3 + 1);
	struct hls_mux_stats st;
	hls_mux_get_stats(c.m, &st);
	CHECK(st.segments == 1); /* two are over the bound; one complete segment always stays */
	CHECK(st.bytes < 26u << 20);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl) && pl.media_seq == 2);
	cam_close(&c);
}

/* ---- bytes ---- */

static void test_a_segment_is_its_parts_and_reads_back_after_its_init(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 25 * 3 + 1);
	struct hls_buf *init = hls_mux_init(c.m, 1), *parts[8];
	size_t n = hls_mux_segment(c.m, 1, parts, N(parts));
	CHECK(init && n == 5);
	struct strbuf sb = STRBUF_INIT;
	if (init)
		sb_add(&sb, init->data, init->len);
	for (size_t i = 0; i < n; i++) {
		struct hls_buf *same = hls_mux_part(c.m, 5 + i);
		CHECK(same == parts[i]);
		hls_buf_unref(same);
		sb_add(&sb, parts[i]->data, parts[i]->len);
		hls_buf_unref(parts[i]);
	}
	hls_buf_unref(init);
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)sb.p, sb.len, &rb));
	CHECK(rb.nv == 25);
	CHECK(rb.na >= 46 && rb.na <= 48); /* 1 s of 21.3 ms frames */
	int64_t want = 1000000 * 9 / 100; /* seg1 starts 1 s after the session's first picture */
	for (size_t i = 0, v = 0; i < rb.n; i++) {
		if (!rb.pk[i].video)
			continue;
		CHECK(rb.pk[i].dts == want + (int64_t)v * 3600);
		CHECK(rb.pk[i].key == (v == 0));
		CHECK(rb.pk[i].size == c.size);
		v++;
	}
	int64_t a0 = -1;
	for (size_t i = 0, k = 0; i < rb.n; i++) {
		if (rb.pk[i].video)
			continue;
		if (a0 < 0)
			a0 = rb.pk[i].dts;
		CHECK(rb.pk[i].dts == a0 + (int64_t)k * 1024); /* no gap, no overlap */
		k++;
	}
	CHECK(a0 >= 48000 - 1024 && a0 <= 48000 + 1024);
	mp4_read_free(&rb);
	sb_free(&sb);
	cam_close(&c);
}

static void test_timestamps_start_near_zero_and_bridge_a_camera_clock_jump(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	c.base_us = 987654321000; /* a camera clock far from 0 */
	cam_run(&c, 30);
	/* an RTCP sender report re-bases the camera's clock by an hour back; the wall clock
	 * goes on as it was */
	int64_t t = cam_t(&c, c.n);
	for (int i = 0; i < 50; i++, c.n++) {
		int64_t cam = t - 3600000000LL + i * FRAME_US;
		cam_push(&c, picture(c.vp, c.n % 25 == 0, cam, cam, WALL0 + c.n * FRAME_US, 1000),
			false);
	}
	cam_run(&c, 1);
	struct hls_buf *init = hls_mux_init(c.m, 1), *parts[8];
	struct strbuf sb = STRBUF_INIT;
	sb_add(&sb, init->data, init->len);
	for (uint64_t msn = 0; msn < 3; msn++) {
		size_t n = hls_mux_segment(c.m, msn, parts, N(parts));
		CHECK(n == 5);
		for (size_t i = 0; i < n && i < N(parts); i++) {
			sb_add(&sb, parts[i]->data, parts[i]->len);
			hls_buf_unref(parts[i]);
		}
	}
	hls_buf_unref(init);
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)sb.p, sb.len, &rb));
	CHECK(rb.nv == 75);
	for (size_t i = 0; i < rb.n; i++)
		CHECK(rb.pk[i].dts == (int64_t)i * 3600); /* 0, then 40 ms steps, no jump */
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(!pl.segs[0].discontinuity && !pl.segs[1].discontinuity);
	mp4_read_free(&rb);
	sb_free(&sb);
	cam_close(&c);
}

/* The session's pictures as a player gets them: init 1 and every part still in the window,
 * read back; their decode times strictly increase (no picture lasts 0, no part overlaps the
 * one before). */
static void check_decode_times_increase(const struct cam *c)
{
	struct hls_mux_pos pos;
	hls_mux_position(c->m, &pos);
	struct hls_buf *init = hls_mux_init(c->m, 1);
	struct strbuf sb = STRBUF_INIT;
	CHECK(init != NULL);
	if (init)
		sb_add(&sb, init->data, init->len);
	hls_buf_unref(init);
	for (uint64_t n = 0; n < pos.next_part; n++) {
		struct hls_buf *b = hls_mux_part(c->m, n);
		if (b)
			sb_add(&sb, b->data, b->len);
		hls_buf_unref(b);
	}
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)sb.p, sb.len, &rb));
	int64_t last = -1;
	for (size_t i = 0; i < rb.n; i++) {
		if (!rb.pk[i].video)
			continue;
		if (rb.pk[i].dts <= last) {
			printf("#   picture at %lld after one at %lld\n", (long long)rb.pk[i].dts,
				(long long)last);
			CHECK(rb.pk[i].dts > last);
			break;
		}
		last = rb.pk[i].dts;
	}
	mp4_read_free(&rb);
	sb_free(&sb);
}

/* A camera stamping pictures alike (a clock that stalls; an RTSP camera with B pictures and
 * no dts, whose pts go back and are held), also at a part's or segment's edge. */
static void test_pictures_stamped_alike_never_share_a_decode_time(void)
{
	static const int at[] = { 22, 24, 25 }; /* inside a part, at a part's edge, a segment's */
	for (size_t i = 0; i < N(at); i++) {
		struct cam c;
		CHECK(cam_open(&c, 25, false));
		cam_run(&c, at[i]);
		int64_t t = cam_t(&c, c.n - 1);
		for (int k = 0; k < 3; k++, c.n++)
			cam_push(&c, picture(c.vp, c.n % 25 == 0, t, t, WALL0 + cam_t(&c, c.n) -
				c.base_us, 1000), false);
		cam_run(&c, 40);
		check_decode_times_increase(&c);
		cam_close(&c);
	}
}

/* Real pictures (libx264, with B pictures) and AAC, through the log's entry maker, into the
 * mux; every segment after its init read back by libavformat and decoded. */
static void test_real_h264_and_aac_segments_decode(void)
{
	struct gen_video gv;
	struct gen_audio ga;
	if (!gen_video(&gv, "libx264", 320, 240, 25, 100, 25, 2, 0)) {
		SKIP("this FFmpeg lacks libx264");
		return;
	}
	if (!gen_audio(&ga, "aac", 48000, 2, 0, 4.0, 440, 0)) {
		gen_video_free(&gv);
		SKIP("this FFmpeg lacks the aac encoder");
		return;
	}
	struct hls_mux *m = hls_mux_create(0);
	struct coded_params *vp = NULL, *ap = coded_params_audio(CODED_AAC, 48000, 2,
		ga.par->extradata, (size_t)ga.par->extradata_size);
	hls_mux_set_audio(m, ap);
	size_t k = 0;
	int errors = 0;
	for (size_t i = 0; i < gv.n; i++) {
		struct coded_entry *e = NULL;
		struct coded_params *changed = NULL;
		CHECK(coded_entry_from_au(CODED_H264, gv.pics[i].data, gv.pics[i].len, 0, vp, &e,
			&changed) == 0);
		if (changed) {
			coded_params_unref(vp);
			vp = changed;
		}
		int64_t dts = 2000000 + gv.pics[i].dts * FRAME_US;
		while (k < ga.n && 2000000 + ga.pkts[k].pts_us < dts) {
			struct coded_entry *a = coded_entry_create(ga.pkts[k].len);
			a->kind = CODED_AUDIO;
			a->pts_us = a->dts_us = 2000000 + ga.pkts[k].pts_us;
			a->t_wall_us = WALL0 + a->pts_us;
			a->params = coded_params_ref(ap);
			memcpy(a->data, ga.pkts[k].data, ga.pkts[k].len);
			errors += hls_mux_push(m, a, false) < 0;
			coded_entry_unref(a);
			k++;
		}
		e->dts_us = dts;
		e->pts_us = 2000000 + gv.pics[i].pts * FRAME_US;
		e->t_wall_us = WALL0 + dts;
		errors += hls_mux_push(m, e, false) < 0;
		coded_entry_unref(e);
	}
	hls_mux_end(m);
	CHECK(errors == 0);
	struct hls_mux_pos pos;
	hls_mux_position(m, &pos);
	CHECK(pos.msn == 4 && pos.oldest_msn == 0);
	struct strbuf all = STRBUF_INIT;   /* init + every segment: the whole session */
	struct hls_buf *init = hls_mux_init(m, 1);
	CHECK(init != NULL);
	if (init)
		sb_add(&all, init->data, init->len);
	int frames = 0;
	for (uint64_t msn = 0; msn < pos.msn; msn++) {
		struct hls_buf *parts[16];
		size_t n = hls_mux_segment(m, msn, parts, N(parts));
		CHECK(n >= 5 && n <= N(parts));
		struct strbuf one = STRBUF_INIT;
		if (init)
			sb_add(&one, init->data, init->len);
		for (size_t i = 0; i < n && i < N(parts); i++) {
			sb_add(&one, parts[i]->data, parts[i]->len);
			sb_add(&all, parts[i]->data, parts[i]->len);
			hls_buf_unref(parts[i]);
		}
		struct mp4_read rb;
		CHECK(mp4_read((const uint8_t *)one.p, one.len, &rb));
		CHECK(rb.nv == 25 && rb.decoded == 25 && rb.decode_errors == 0);
		CHECK(rb.na >= 45);
		CHECK(rb.nv && rb.pk[0].video ? rb.pk[0].key : true);
		frames += rb.decoded;
		mp4_read_free(&rb);
		sb_free(&one);
	}
	CHECK(frames == 100);
	struct mp4_read rb;
	CHECK(mp4_read((const uint8_t *)all.p, all.len, &rb));
	int64_t last_v = -1, last_a = -1;
	for (size_t i = 0; i < rb.n; i++) { /* decode times only go forward, without a gap */
		int64_t *last = rb.pk[i].video ? &last_v : &last_a;
		int64_t step = rb.pk[i].video ? 3600 : 1024;
		CHECK(*last < 0 || rb.pk[i].dts == *last + step);
		*last = rb.pk[i].dts;
	}
	CHECK(rb.decoded == 100);
	mp4_read_free(&rb);
	int said_frames;
	char *said = mp4_ffmpeg((const uint8_t *)all.p, all.len, &said_frames);
	if (said) {
		CHECK_STR(said, "");
		CHECK(said_frames == 100);
	}
	free(said);
	sb_free(&all);
	hls_buf_unref(init);
	hls_mux_destroy(m);
	coded_params_unref(vp);
	coded_params_unref(ap);
	gen_video_free(&gv);
	gen_free(&ga);
}

/* ---- blocking requests ---- */

static void test_have_answers_what_a_blocking_playlist_request_waits_for(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 25 * 8 + 11);   /* seg0, seg1 left; seg2..7 complete; seg8 has 2 parts */
	struct hls_mux_pos pos;
	hls_mux_position(c.m, &pos);
	CHECK(pos.msn == 8 && pos.parts == 2 && pos.oldest_msn == 2 && pos.next_part == 42);
	CHECK(hls_mux_have(c.m, 1, -1) == HLS_NEVER);     /* left the window */
	CHECK(hls_mux_have(c.m, 2, -1) == HLS_HAVE);
	CHECK(hls_mux_have(c.m, 7, 4) == HLS_HAVE);
	CHECK(hls_mux_have(c.m, 7, 5) == HLS_HAVE);       /* = seg8 part 0 (RFC 8216bis) */
	CHECK(hls_mux_have(c.m, 7, 6) == HLS_NEVER);
	CHECK(hls_mux_have(c.m, 8, 1) == HLS_HAVE);
	CHECK(hls_mux_have(c.m, 8, 2) == HLS_LATER);
	CHECK(hls_mux_have(c.m, 8, -1) == HLS_LATER);
	CHECK(hls_mux_have(c.m, 9, 0) == HLS_LATER);
	CHECK(hls_mux_have(c.m, 10, -1) == HLS_LATER);    /* 2 beyond the one in progress */
	CHECK(hls_mux_have(c.m, 11, -1) == HLS_NEVER);
	cam_close(&c);
}

static void test_have_part_waits_for_the_hinted_part_and_the_one_after(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 25 * 8 + 11);
	CHECK(hls_mux_have_part(c.m, 41) == HLS_HAVE);
	CHECK(hls_mux_have_part(c.m, 42) == HLS_LATER);
	CHECK(hls_mux_have_part(c.m, 43) == HLS_LATER);
	CHECK(hls_mux_have_part(c.m, 44) == HLS_NEVER);
	CHECK(hls_mux_have_part(c.m, 10) == HLS_HAVE);    /* seg2's first: still in the window */
	CHECK(hls_mux_have_part(c.m, 9) == HLS_NEVER);
	CHECK(!hls_mux_part(c.m, 42));
	cam_until(&c, HLS_PART_DONE);
	CHECK(hls_mux_have_part(c.m, 42) == HLS_HAVE);
	struct hls_buf *b = hls_mux_part(c.m, 42);
	CHECK(b != NULL);
	hls_buf_unref(b);
	cam_close(&c);
}

static void test_the_preload_hint_names_the_next_part_across_a_segment_end(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 25 * 2 + 21);   /* seg2 has 4 parts: the next one ends the segment */
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.has_hint && pl.hint == 14);
	cam_until(&c, HLS_SEGMENT_DONE);
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_parts && pl.parts[pl.n_parts - 1].number == 14 && pl.hint == 15);
	cam_close(&c);
}

/* ---- discontinuities ---- */

static void test_new_parameters_end_the_segment_and_start_a_new_init(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 25 * 2 + 10);
	/* the camera's resolution changes: new parameter sets with a key picture */
	coded_params_unref(c.vp);
	c.vp = params_1080();
	cam_push(&c, picture(c.vp, true, cam_t(&c, 60), cam_t(&c, 60), WALL0 + 60 * FRAME_US,
		1000), false);
	c.n++;
	cam_run(&c, 26);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs >= 4);
	const struct hls_seg *cut = &pl.segs[2], *next = &pl.segs[3];
	CHECK(cut->complete && cut->dur > 0.39999 && cut->dur < 0.40001); /* 10 pictures */
	CHECK(!strcmp(cut->map, "SID/init1.mp4") && !cut->discontinuity);
	CHECK(next->discontinuity && !strcmp(next->map, "SID/init2.mp4"));
	/* the new init describes the new pictures; the old one stays while a segment uses it */
	struct hls_buf *i1 = hls_mux_init(c.m, 1), *i2 = hls_mux_init(c.m, 2);
	CHECK(i1 && i2);
	struct mp4_read rb;
	CHECK(i2 && mp4_read(i2->data, i2->len, &rb));
	CHECK(rb.video.width == 1920 && rb.video.height == 1080 && rb.audio.present);
	mp4_read_free(&rb);
	hls_buf_unref(i1);
	hls_buf_unref(i2);
	cam_run(&c, 25 * 7);
	CHECK(!hls_mux_init(c.m, 1));
	CHECK(playlist(&c, &pl));
	CHECK(pl.has_disc_seq && pl.disc_seq == 1);
	struct hls_mux_stats st;
	hls_mux_get_stats(c.m, &st);
	CHECK(st.discontinuities == 1);
	cam_close(&c);
}

static void test_a_discontinuity_told_by_the_caller_ends_the_segment(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 25 + 12);
	/* the log was reset: entries were lost; the reader rejoins at a key picture */
	c.n = 50;
	cam_push(&c, picture(c.vp, true, cam_t(&c, 50), cam_t(&c, 50), WALL0 + 50 * FRAME_US,
		1000), true);
	c.n++;
	cam_run(&c, 25);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs >= 3);
	CHECK(!pl.segs[1].discontinuity && pl.segs[1].complete);
	CHECK(pl.segs[1].dur > 0.47999 && pl.segs[1].dur < 0.48001); /* 12 pictures */
	CHECK(pl.segs[2].discontinuity && !strcmp(pl.segs[2].map, "SID/init2.mp4"));
	cam_close(&c);
}

/* A segment's discontinuity sequence number (EXT-X-DISCONTINUITY-SEQUENCE plus the
 * EXT-X-DISCONTINUITY tags up to it) is how a client knows which timeline and init a
 * segment belongs to: it must not change from one playlist to the next (RFC 8216bis
 * 6.2.2: a server removing a DISCONTINUITY tag increments the sequence). */
static void test_a_segments_discontinuity_number_never_changes(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	uint64_t number[64];
	bool known[64] = { false };
	bool stable = true;
	for (int step = 0; step < 25 * 14 && stable; step++) {
		if (c.n == 75 || c.n == 150) { /* two resolution changes, at key pictures */
			struct coded_params *p = c.n == 75 ? params_1080() : params_320();
			coded_params_unref(c.vp);
			c.vp = p;
		}
		cam_picture(&c);
		struct hls_playlist pl;
		if (!hls_mux_ready(c.m) || !playlist(&c, &pl))
			continue;
		uint64_t d = pl.disc_seq;
		for (size_t i = 0; i < pl.n_segs; i++) {
			const struct hls_seg *s = &pl.segs[i];
			d += s->discontinuity;
			if (s->msn >= N(number))
				continue;
			if (known[s->msn] && number[s->msn] != d) {
				printf("#   seg%llu was in discontinuity %llu, now %llu\n",
					(unsigned long long)s->msn, (unsigned long long)number[s->msn],
					(unsigned long long)d);
				stable = false;
			}
			known[s->msn] = true;
			number[s->msn] = d;
		}
	}
	CHECK(stable);
	cam_close(&c);
}

static void test_audio_that_comes_or_goes_takes_effect_at_the_next_segment(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	cam_run(&c, 30);
	c.ap = params_aac();
	hls_mux_set_audio(c.m, c.ap);
	cam_run(&c, 30);
	struct hls_buf *i2 = hls_mux_init(c.m, 2);
	CHECK(i2 != NULL);
	struct mp4_read rb;
	CHECK(i2 && mp4_read(i2->data, i2->len, &rb) && rb.audio.present);
	mp4_read_free(&rb);
	hls_buf_unref(i2);
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.n_segs >= 3 && pl.segs[2].discontinuity);
	/* a frame of other audio parameters is left out */
	struct coded_params *other = coded_params_audio(CODED_AAC, 16000, 1,
		(const uint8_t[]){ 0x14, 0x08 }, 2);
	struct coded_entry *e = audio_frame(other, cam_t(&c, c.n), WALL0 + c.n * FRAME_US);
	CHECK(hls_mux_push(c.m, e, false) == 0);
	coded_entry_unref(e);
	coded_params_unref(other);
	cam_close(&c);
}

static void test_other_video_codecs_are_refused_once(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	/* what a camera's MJPEG or a mix-up would give: params of no codec fMP4 carries */
	struct coded_params *odd = coded_params_audio(CODED_PCMA, 8000, 1, NULL, 0);
	struct coded_entry *e = picture(odd, true, 0, 0, WALL0, 100);
	CHECK(hls_mux_push(c.m, e, false) == -EINVAL);
	CHECK(hls_mux_push(c.m, e, false) == 0);
	coded_entry_unref(e);
	coded_params_unref(odd);
	cam_run(&c, 26);        /* and the camera's own pictures go on */
	CHECK(hls_mux_ready(c.m) && c.errors == 0);
	cam_close(&c);
}

/* ---- the end ---- */

static void test_the_end_closes_the_segment_and_adds_endlist(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, true));
	cam_run(&c, 25 * 2 + 7);
	hls_mux_end(c.m);
	CHECK(hls_mux_ended(c.m));
	struct hls_playlist pl;
	CHECK(playlist(&c, &pl));
	CHECK(pl.endlist && !pl.has_hint);
	CHECK(pl.n_segs == 3 && pl.segs[2].complete);
	CHECK(pl.segs[2].dur > 0.27999 && pl.segs[2].dur < 0.28001); /* 7 pictures */
	struct hls_mux_pos pos;
	hls_mux_position(c.m, &pos);
	CHECK(pos.msn == 3 && pos.parts == 0);
	CHECK(hls_mux_have(c.m, 3, -1) == HLS_NEVER && hls_mux_have(c.m, 2, -1) == HLS_HAVE);
	CHECK(hls_mux_have_part(c.m, pos.next_part) == HLS_NEVER);
	cam_run(&c, 30);        /* ignored */
	char *a = hls_mux_playlist(c.m, PREFIX, "");
	hls_mux_end(c.m);       /* twice is once */
	char *b = hls_mux_playlist(c.m, PREFIX, "");
	CHECK(a && b && !strcmp(a, b));
	free(a);
	free(b);
	cam_close(&c);
}

static void test_an_end_before_any_segment_leaves_nothing_to_serve(void)
{
	struct cam c;
	CHECK(cam_open(&c, 25, false));
	c.n = 3;
	cam_run(&c, 10);        /* no key picture came */
	hls_mux_end(c.m);
	CHECK(!hls_mux_ready(c.m) && !hls_mux_playlist(c.m, PREFIX, ""));
	cam_close(&c);
}

int main(void)
{
	av_log_set_level(AV_LOG_FATAL);
	RUN(test_no_playlist_before_a_complete_segment);
	RUN(test_pictures_before_the_first_key_picture_are_left_out);
	RUN(test_playlist_header_and_first_segment);
	RUN(test_program_date_time_is_when_the_source_read_the_segments_first_picture);
	RUN(test_parts_are_200_ms_and_only_a_segments_first_is_independent);
	RUN(test_segments_cut_at_the_first_key_picture_a_second_in);
	RUN(test_a_key_picture_inside_a_segment_does_not_cut_a_part);
	RUN(test_a_key_picture_a_little_early_still_cuts_at_one_second);
	RUN(test_a_segment_cut_at_a_key_picture_ends_with_a_short_part);
	RUN(test_an_intra_only_camera_keeps_200_ms_parts);
	RUN(test_a_slow_camera_announces_its_frame_interval_as_part_target);
	RUN(test_target_duration_rises_when_a_longer_segment_comes);
	RUN(test_a_hole_in_the_pictures_makes_no_part_longer_than_the_target);
	RUN(test_a_young_playlist_starts_with_gaps);
	RUN(test_the_window_keeps_six_segments_and_parts_of_the_last_two);
	RUN(test_what_left_the_window_is_gone_but_held_buffers_stay);
	RUN(test_the_window_is_bounded_in_bytes);
	RUN(test_a_segment_is_its_parts_and_reads_back_after_its_init);
	RUN(test_timestamps_start_near_zero_and_bridge_a_camera_clock_jump);
	RUN(test_pictures_stamped_alike_never_share_a_decode_time);
	RUN(test_real_h264_and_aac_segments_decode);
	RUN(test_have_answers_what_a_blocking_playlist_request_waits_for);
	RUN(test_have_part_waits_for_the_hinted_part_and_the_one_after);
	RUN(test_the_preload_hint_names_the_next_part_across_a_segment_end);
	RUN(test_new_parameters_end_the_segment_and_start_a_new_init);
	RUN(test_a_discontinuity_told_by_the_caller_ends_the_segment);
	RUN(test_a_segments_discontinuity_number_never_changes);
	RUN(test_audio_that_comes_or_goes_takes_effect_at_the_next_segment);
	RUN(test_other_video_codecs_are_refused_once);
	RUN(test_the_end_closes_the_segment_and_adds_endlist);
	RUN(test_an_end_before_any_segment_leaves_nothing_to_serve);
	return CHECK_DONE();
}
