/* source: the real worker thread, driven through source.h with the demo: source (25 fps,
 * 1280x720) and with a TCP port nobody listens on. Every wait is bounded. */
#include "source.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include <libavcodec/avcodec.h>

#include "av_pull.h"
#include "input.h"
#include "check.h"
#include "clock.h"
#include "demo.h"
#include "hub.h"
#include "log.h"

/* The notify function's other end: counts wake-ups and signals waiters. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* on CLOCK_MONOTONIC */
	uint64_t wakes;        /* notify calls so far, under lock */
};

static void notify(void *arg)
{
	struct waiter *wt = arg;

	pthread_mutex_lock(&wt->lock);
	wt->wakes++;
	pthread_cond_broadcast(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

static void waiter_init(struct waiter *wt)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wt->cond, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_init(&wt->lock, NULL);
	wt->wakes = 0;
}

static void waiter_fini(struct waiter *wt)
{
	pthread_cond_destroy(&wt->cond);
	pthread_mutex_destroy(&wt->lock);
}

static uint64_t wakes(struct waiter *wt)
{
	pthread_mutex_lock(&wt->lock);
	uint64_t n = wt->wakes;
	pthread_mutex_unlock(&wt->lock);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/* Waits until @pred(@arg) holds, re-checking on every notify and at least every 50 ms;
 * false after @timeout_ms. */
static bool wait_for(struct waiter *wt, bool (*pred)(void *), void *arg, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		if (pred(arg))
			return true;
		int64_t now = clock_mono_us();
		if (now >= deadline)
			return false;
		int64_t until = deadline - now > 50000 ? now + 50000 : deadline;
		struct timespec t = { until / 1000000, (long)(until % 1000000) * 1000 };
		pthread_mutex_lock(&wt->lock);
		pthread_cond_timedwait(&wt->cond, &wt->lock, &t);
		pthread_mutex_unlock(&wt->lock);
	}
}

static struct source *start(struct waiter *wt, const char *url, bool demo, bool reconnect,
	int64_t min_us, int64_t max_us)
{
	struct source_params p = {
		.input = demo ? &demo_input : &av_pull_input,
		.url = url,
		.display_url = url,
		.transport = TRANSPORT_TCP,
		.open_timeout_us = 2000000,
		.read_timeout_us = 2000000,
		.reconnect = reconnect,
		.reconnect_min_us = min_us,
		.reconnect_max_us = max_us,
	};
	waiter_init(wt);
	return source_start(&p, notify, wt);
}

static void finish(struct source *s, struct waiter *wt)
{
	source_destroy(s);
	waiter_fini(wt);
}

static struct output *add(struct source *s, double fps, int w, int h)
{
	struct output_params p = { .fps_max = fps, .width = w, .height = h, .quality = 70 };
	return output_add(source_outputs(s), &p);
}

/* The seq of the output's newest frame, 0 before the first. */
static uint64_t seq_of(struct output *o)
{
	struct frame *f = output_latest(o, 0, false);
	uint64_t seq = f ? f->seq : 0;
	frame_unref(f);
	return seq;
}

static bool has_frame(void *arg)
{
	return seq_of(arg) > 0;
}

struct state_wait {
	struct source *s;
	enum source_state state;
};

static bool in_state(void *arg)
{
	struct state_wait *sw = arg;
	struct source_stats st;

	source_get_stats(sw->s, &st);
	return st.state == sw->state;
}

struct wake_count {
	struct waiter *wt;
	uint64_t n;
};

static bool woken(void *arg)
{
	struct wake_count *wc = arg;
	return wakes(wc->wt) >= wc->n;
}

/* An address on 127.0.0.1 that refuses connections: a port bound, then closed. */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void two_outputs_get_frames_of_their_own_sizes(void)
{
	struct waiter wt;
	struct source *s = start(&wt, "demo:", true, false, 0, 0);
	CHECK(s);
	if (!s)
		return;
	struct output *small = add(s, 0, 320, 0), *big = add(s, 0, 640, 360);
	CHECK(small && big);
	CHECK(wait_for(&wt, has_frame, small, 5000));
	CHECK(wait_for(&wt, has_frame, big, 5000));

	struct frame *a = output_latest(small, 0, false);
	struct frame *b = output_latest(big, 0, false);
	CHECK(a && a->width == 320 && a->height == 180);
	CHECK(b && b->width == 640 && b->height == 360);
	CHECK(a && a->len > 2 && a->data[0] == 0xff && a->data[1] == 0xd8);
	CHECK(b && b->len > 2 && b->data[0] == 0xff && b->data[1] == 0xd8);
	/* Nothing newer than what one holds yet: latest frame wins, per output. */
	if (a)
		CHECK(!output_latest(small, a->seq + 1000, false));
	frame_unref(a);
	frame_unref(b);

	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.state == SOURCE_PLAYING);
	CHECK(st.frames_encoded >= 2);
	CHECK(st.width == 1280 && st.height == 720);
	finish(s, &wt);
}

static void each_output_keeps_its_own_fps_cap(void)
{
	struct waiter wt;
	struct source *s = start(&wt, "demo:", true, false, 0, 0);
	CHECK(s);
	if (!s)
		return;
	struct output *slow = add(s, 5, 160, 90), *fast = add(s, 0, 160, 90);
	CHECK(wait_for(&wt, has_frame, slow, 5000));
	CHECK(wait_for(&wt, has_frame, fast, 5000));

	uint64_t s0 = seq_of(slow), f0 = seq_of(fast);
	int64_t t0 = clock_mono_us();
	sleep_ms(2000);
	double secs = (double)(clock_mono_us() - t0) / 1e6;
	double slow_fps = (double)(seq_of(slow) - s0) / secs;
	double fast_fps = (double)(seq_of(fast) - f0) / secs;
	printf("# slow %.1f fps, fast %.1f fps\n", slow_fps, fast_fps);
	CHECK(slow_fps >= 3.5 && slow_fps <= 6.5);
	CHECK(fast_fps >= 15 && fast_fps <= 30);
	finish(s, &wt);
}

static void unwanted_output_costs_no_encodes(void)
{
	struct waiter wt;
	struct source *s = start(&wt, "demo:", true, false, 0, 0);
	CHECK(s);
	if (!s)
		return;
	struct output *idle = add(s, 0, 160, 90), *busy = add(s, 0, 160, 90);
	CHECK(wait_for(&wt, has_frame, idle, 5000));
	CHECK(wait_for(&wt, has_frame, busy, 5000));

	output_set_wanted(idle, false);
	sleep_ms(100); /* an encode already under way may still land */
	struct source_stats st0, st1;
	uint64_t i0 = seq_of(idle), b0 = seq_of(busy);
	source_get_stats(s, &st0);
	sleep_ms(500);
	source_get_stats(s, &st1);
	uint64_t i1 = seq_of(idle), b1 = seq_of(busy);
	CHECK(i1 == i0);
	CHECK(b1 >= b0 + 5);
	/* Only the wanted output is encoded: the total grows as it does (give or take the
	 * frame that may land between reading the stats and reading the seq). */
	uint64_t enc = st1.frames_encoded - st0.frames_encoded;
	CHECK(enc + 2 >= b1 - b0 && enc <= b1 - b0 + 2);
	CHECK(st1.frames_decoded > st0.frames_decoded);

	/* newer pictures went by unencoded: its latest is stale, and a fresh one is refused */
	CHECK(!output_latest(idle, 0, true));
	output_set_wanted(idle, true);
	struct frame *f = output_latest(idle, 0, false);
	CHECK(f);
	frame_unref(f);
	sleep_ms(300);
	CHECK(seq_of(idle) > i1);
	f = output_latest(idle, 0, true);
	CHECK(f);   /* encoded again: fresh */
	frame_unref(f);
	finish(s, &wt);
}

static void outputs_come_and_go_while_the_worker_runs(void)
{
	struct waiter wt;
	struct source *s = start(&wt, "demo:", true, false, 0, 0);
	CHECK(s);
	if (!s)
		return;
	struct output *keep = add(s, 0, 160, 90);
	struct output *live[8] = { 0 };
	unsigned r = 12345;
	CHECK(wait_for(&wt, has_frame, keep, 5000));

	/* Up to 8 outputs alive at once, full size so the worker is nearly always mid-encode
	 * for one of them when another is removed. */
	for (int i = 0; i < 200; i++) {
		int k = (int)(r % 8);
		r = r * 1103515245u + 12345u;
		output_remove(source_outputs(s), live[k]);
		live[k] = add(s, (r >> 8) % 3 ? 0 : 10, (r >> 4) % 2 ? 0 : 320, 0);
		CHECK(live[k]);
		frame_unref(output_latest(live[k], 0, false));
		if (i % 4 == 0)
			sleep_ms((int)((r >> 16) % 5));
	}
	for (int k = 0; k < 8; k += 2)
		output_remove(source_outputs(s), live[k]);
	uint64_t k0 = seq_of(keep);
	sleep_ms(300);
	CHECK(seq_of(keep) > k0);
	/* The odd ones are still there at destroy, which frees them. */
	finish(s, &wt);
}

static void reconnect_mode_retries_a_refused_open(void)
{
	char url[64];
	struct waiter wt;
	int port = closed_port();
	CHECK(port > 0);
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam", port);
	struct source *s = start(&wt, url, false, true, 20000, 100000);
	CHECK(s);
	if (!s)
		return;
	struct state_wait sw = { s, SOURCE_RECONNECTING };
	CHECK(wait_for(&wt, in_state, &sw, 5000));

	/* Every failed attempt is announced; with 20..100 ms waits, 6 come within a second. */
	struct wake_count wc = { &wt, 6 };
	int64_t t0 = clock_mono_us();
	CHECK(wait_for(&wt, woken, &wc, 5000));
	printf("# %llu failed attempts in %.2f s\n", (unsigned long long)wakes(&wt),
		(double)(clock_mono_us() - t0) / 1e6);

	struct cs_error err;
	CHECK(source_error(s, &err) == CS_OK);
	CHECK_STR(err.msg, "");
	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.state == SOURCE_RECONNECTING || st.state == SOURCE_OPENING);
	CHECK(st.last_error.code == CS_OPEN_FAILED);
	CHECK(st.last_error.msg[0] != '\0');
	CHECK(st.reconnects == 0);
	CHECK(st.opened_wall_us == 0);
	CHECK(!source_exited(s));
	printf("# last_error: %s\n", st.last_error.msg);
	finish(s, &wt);
}

static void without_reconnect_a_refused_open_finishes(void)
{
	char url[64];
	struct waiter wt;
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam", closed_port());
	struct source *s = start(&wt, url, false, false, 0, 0);
	CHECK(s);
	if (!s)
		return;
	struct state_wait sw = { s, SOURCE_FAILED };
	CHECK(wait_for(&wt, in_state, &sw, 5000));

	struct cs_error err;
	CHECK(source_error(s, &err) == CS_OPEN_FAILED);
	CHECK(err.msg[0] != '\0');
	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.last_error.code == CS_OPEN_FAILED);
	CHECK_STR(st.last_error.msg, err.msg);
	finish(s, &wt);
}

static void stop_during_the_reconnect_wait_is_prompt(void)
{
	char url[64];
	struct waiter wt;
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam", closed_port());
	struct source *s = start(&wt, url, false, true, 5000000, 10000000);
	CHECK(s);
	if (!s)
		return;
	struct state_wait sw = { s, SOURCE_RECONNECTING };
	CHECK(wait_for(&wt, in_state, &sw, 5000));
	sleep_ms(100); /* well into the 4..6 s wait */

	int64_t t0 = clock_mono_us();
	source_stop(s);
	finish(s, &wt);
	int64_t took = clock_mono_us() - t0;
	printf("# stop + destroy took %.1f ms\n", (double)took / 1e3);
	CHECK(took < 300000);
}

/* ---- the coded path, with an input of our own (no network) ---------------------------- */

/* tests/unit/data/tiny.h264: 20 pictures of 64x48 H.264 (x264), a key picture every 10, every
 * access unit led by a delimiter (ffmpeg -bsf:v h264_metadata=aud=insert). */
static uint8_t *clip;
static size_t clip_len;

static bool load_clip(void)
{
	const char *dir = getenv("CAMSTREAM_TEST_DATA");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tiny.h264", dir ? dir : "tests/unit/data");
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	clip = malloc(1 << 16);
	clip_len = clip ? fread(clip, 1, 1 << 16, f) : 0;
	fclose(f);
	return clip_len > 0;
}

/* The next access unit from @pos: up to the next delimiter (00 00 00 01 09). */
static size_t next_au(size_t pos, size_t *len)
{
	static const uint8_t aud[] = { 0, 0, 0, 1, 9 };
	size_t end = pos + sizeof(aud);
	while (end + sizeof(aud) <= clip_len && memcmp(clip + end, aud, sizeof(aud)))
		end++;
	if (end + sizeof(aud) > clip_len)
		end = clip_len;
	*len = end - pos;
	return end;
}

/* Plays the clip in a loop, a picture every 4 ms, until stopped: a camera as an input sees
 * it, H.264 access units in Annex B. */
static int64_t clip_session(struct source *s, struct cs_error *why)
{
	(void)why;
	AVCodecParameters *par = avcodec_parameters_alloc();
	if (!par)
		return 0;
	par->codec_type = AVMEDIA_TYPE_VIDEO;
	par->codec_id = AV_CODEC_ID_H264;
	par->width = 64;
	par->height = 48;
	source_video_format(s, par);
	avcodec_parameters_free(&par);
	source_playing(s, "h264", 64, 48, 25);
	int64_t t = 0;
	while (!source_stopping(s)) {
		for (size_t pos = 0, len; pos < clip_len && !source_stopping(s); t += 40000) {
			size_t next = next_au(pos, &len);
			source_count_bytes(s, len);
			source_push_video(s, clip + pos, len, t, t, false, 4000);
			pos = next;
			sleep_ms(4);
		}
	}
	return 1;
}

static const struct input_ops clip_input = { .name = "clip", .run_session = clip_session };

static struct source *start_input(struct waiter *wt, const struct input_ops *input,
	int64_t linger_us)
{
	struct source_params p = {
		.input = input,
		.url = "clip:",
		.display_url = "clip:",
		.transport = TRANSPORT_TCP,
		.decoder_linger_us = linger_us,
	};
	waiter_init(wt);
	return source_start(&p, notify, wt);
}

static struct source *start_clip(struct waiter *wt)
{
	return start_input(wt, &clip_input, 0);
}

/* A stream of a codec no FFmpeg has a decoder for (none at all), every unit flagged key:
 * the decoder tries to open at each. */
static int64_t undecodable_run(struct source *s, struct cs_error *why, bool once)
{
	static const uint8_t unit[] = { 0, 0, 0, 1, 0x00, 0x41, 0x12, 0x34 };
	AVCodecParameters *par = avcodec_parameters_alloc();
	if (!par)
		return 0;
	par->codec_type = AVMEDIA_TYPE_VIDEO;
	par->codec_id = AV_CODEC_ID_NONE;
	source_video_format(s, par);
	avcodec_parameters_free(&par);
	source_playing(s, "none", 64, 48, 25);
	for (int64_t t = 0; !source_stopping(s) && !(once && source_picture_error(s, NULL));
		t += 40000) {
		source_count_bytes(s, sizeof(unit));
		source_push_video(s, unit, sizeof(unit), t, t, true, 4000);
		sleep_ms(4);
	}
	cs_fail(why, CS_SOURCE_ENDED, "the undecodable stream ended");
	return 1;
}

static int64_t undecodable_session(struct source *s, struct cs_error *why)
{
	return undecodable_run(s, why, false);
}

/* The first session's stream does not decode and ends once the source says so; every later
 * one is the H.264 clip. */
static atomic_int sessions;
static atomic_bool first_failed, clear_at_second;

static int64_t codec_changes_session(struct source *s, struct cs_error *why)
{
	if (atomic_fetch_add(&sessions, 1) > 0) {
		/* while it opens (before its stream is known), viewers may join and wait */
		atomic_store(&clear_at_second, source_picture_error(s, NULL) == CS_OK);
		return clip_session(s, why);
	}
	int64_t played = undecodable_run(s, why, true);
	atomic_store(&first_failed, source_picture_error(s, NULL) == CS_UNSUPPORTED_CODEC);
	return played;
}

static const struct input_ops codec_changes_input = { .name = "codec changes",
	.run_session = codec_changes_session };

static const struct input_ops undecodable_input = { .name = "undecodable",
	.run_session = undecodable_session };

struct pictures_wait {
	struct source *s;
	uint64_t min;
};

static bool received(void *arg)
{
	struct pictures_wait *pw = arg;
	struct source_stats st;
	source_get_stats(pw->s, &st);
	return st.pictures_received >= pw->min;
}

static bool decoded(void *arg)
{
	struct pictures_wait *pw = arg;
	struct source_stats st;
	source_get_stats(pw->s, &st);
	return st.frames_decoded >= pw->min;
}

static void coded_readers_alone_cost_no_decode(void)
{
	struct waiter wt;
	struct source *s = start_clip(&wt);
	CHECK(s);
	if (!s)
		return;
	struct pictures_wait pw = { s, 60 };
	CHECK(wait_for(&wt, received, &pw, 5000));
	/* a coded reader: the log has the key picture, with the SPS's size */
	struct coded_cursor cur = { 0 };
	struct coded_entry *e = NULL;
	CHECK(coded_log_read(source_log(s), &cur, 0, &e) && e && e->key);
	CHECK(e && e->params && e->params->width == 64 && e->params->height == 48);
	coded_entry_unref(e);
	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.coded == SOURCE_CODED_YES);
	CHECK(st.width == 64 && st.height == 48);
	/* and no decoder was ever opened for it */
	CHECK(st.frames_decoded == 0);
	CHECK(st.decoder_opens == 0 && !st.decoder_open);
	printf("# %llu pictures logged, %llu decoded\n", (unsigned long long)st.pictures_received,
		(unsigned long long)st.frames_decoded);
	finish(s, &wt);
}

static void a_picture_output_opens_the_decoder_and_its_end_closes_it(void)
{
	struct waiter wt;
	struct source *s = start_clip(&wt);
	CHECK(s);
	if (!s)
		return;
	struct pictures_wait pw = { s, 10 };
	CHECK(wait_for(&wt, received, &pw, 5000));
	struct output *o = add(s, 0, 0, 0);
	pw.min = 15;
	CHECK(wait_for(&wt, decoded, &pw, 5000));
	CHECK(seq_of(o) > 0); /* JPEGs come out */
	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.decoder_opens == 1 && st.decoder_open);
	output_remove(source_outputs(s), o);
	/* the next picture closes it (no linger here) */
	pw.min = st.pictures_received + 5;
	CHECK(wait_for(&wt, received, &pw, 5000));
	source_get_stats(s, &st);
	CHECK(!st.decoder_open);
	uint64_t n = st.frames_decoded;
	pw.min = st.pictures_received + 20;
	CHECK(wait_for(&wt, received, &pw, 5000));
	source_get_stats(s, &st);
	CHECK(st.frames_decoded == n);
	finish(s, &wt);
}

static bool picture_path_failed(void *arg)
{
	return source_picture_error(arg, NULL) != CS_OK;
}

static void a_decoder_that_cannot_open_fails_the_picture_path_only(void)
{
	struct waiter wt;
	struct source *s = start_input(&wt, &undecodable_input, 0);
	CHECK(s);
	if (!s)
		return;
	struct pictures_wait pw = { s, 10 };
	CHECK(wait_for(&wt, received, &pw, 5000));
	CHECK(source_picture_error(s, NULL) == CS_OK); /* nothing asked for pictures yet */
	struct output *o = add(s, 0, 0, 0);
	CHECK(wait_for(&wt, picture_path_failed, s, 5000));
	struct cs_error err;
	CHECK(source_picture_error(s, &err) == CS_UNSUPPORTED_CODEC);
	CHECK(strstr(err.msg, "cannot decode") != NULL);
	CHECK(source_error(s, NULL) == CS_OK); /* the source itself goes on */
	struct source_stats st;
	source_get_stats(s, &st);
	CHECK(st.last_error.code == CS_UNSUPPORTED_CODEC);
	CHECK(seq_of(o) == 0);
	output_remove(source_outputs(s), o);
	finish(s, &wt);
}

/* The service thread's side of it: a picture viewer is told, a coded reader is not. */
struct hub_wait {
	struct hub *h;
	struct hub_sub *sub;
};

static void ignore_news(struct hub_sub *sub)
{
	(void)sub;
}

static bool sub_failed(void *arg)
{
	struct hub_wait *hw = arg;
	hub_poll(hw->h);
	return hub_sub_error(hw->sub, NULL) != CS_OK;
}

static void picture_viewers_get_unsupported_codec_and_coded_readers_go_on(void)
{
	struct waiter wt;
	waiter_init(&wt);
	struct hub_config hc = { .pull_input = &undecodable_input, .demo_input = &demo_input };
	struct hub *h = hub_create(&hc, notify, &wt);
	CHECK(h);
	if (!h)
		return;
	char text[] = "rtsp://127.0.0.1:9/cam", scheme[] = "rtsp", host[] = "127.0.0.1";
	struct cam_url url = { .text = text, .redacted = text, .scheme = scheme, .host = host,
		.port = 9 };
	struct output_params pic = { .quality = 70 };
	struct hub_sub viewer = { .on_news = ignore_news }, reader = { .on_news = ignore_news };
	struct cs_error err;
	CHECK(hub_subscribe_url(h, &reader, &url, TRANSPORT_TCP, NULL, &err) == CS_OK);
	CHECK(hub_subscribe_url(h, &viewer, &url, TRANSPORT_TCP, &pic, &err) == CS_OK);
	struct hub_wait hw = { h, &viewer };
	CHECK(wait_for(&wt, sub_failed, &hw, 5000));
	CHECK(hub_sub_error(&viewer, &err) == CS_UNSUPPORTED_CODEC);
	CHECK(!strcmp(cs_err_code(err.code), "unsupported_codec"));
	CHECK(hub_sub_error(&reader, NULL) == CS_OK);
	/* a viewer that comes later is told at once */
	struct hub_sub late = { .on_news = ignore_news };
	CHECK(hub_subscribe_url(h, &late, &url, TRANSPORT_TCP, &pic, &err) == CS_OK);
	CHECK(late.entry == viewer.entry);
	CHECK(hub_sub_error(&late, NULL) == CS_UNSUPPORTED_CODEC);
	hub_unsubscribe(h, &late);
	hub_unsubscribe(h, &viewer);
	hub_unsubscribe(h, &reader);
	hub_destroy(h, 2000000);
	waiter_fini(&wt);
}

static void the_next_session_starts_without_the_picture_error(void)
{
	struct waiter wt;
	waiter_init(&wt);
	struct source_params p = {
		.input = &codec_changes_input,
		.url = "clip:",
		.display_url = "clip:",
		.transport = TRANSPORT_TCP,
		.reconnect = true,
		.reconnect_min_us = 10000,
		.reconnect_max_us = 20000,
	};
	struct source *s = source_start(&p, notify, &wt);
	CHECK(s);
	if (!s)
		return;
	struct output *o = add(s, 0, 0, 0);
	struct pictures_wait pw = { s, 5 };
	CHECK(wait_for(&wt, decoded, &pw, 10000));
	CHECK(atomic_load(&first_failed));
	CHECK(atomic_load(&sessions) >= 2);
	CHECK(atomic_load(&clear_at_second));
	CHECK(source_picture_error(s, NULL) == CS_OK);
	CHECK(seq_of(o) > 0);
	output_remove(source_outputs(s), o);
	finish(s, &wt);
}

static void a_decoder_kept_warm_decodes_every_picture(void)
{
	struct waiter wt;
	struct source *s = start_input(&wt, &clip_input, 60 * 1000000LL);
	CHECK(s);
	if (!s)
		return;
	struct output *o = add(s, 0, 0, 0);
	/* two and a half loops of the clip: two key pictures measured the interval */
	struct pictures_wait pw = { s, 50 };
	CHECK(wait_for(&wt, decoded, &pw, 5000));
	output_remove(source_outputs(s), o);
	struct source_stats st;
	source_get_stats(s, &st);
	uint64_t d0 = st.frames_decoded;
	pw.min = st.pictures_received + 45;
	CHECK(wait_for(&wt, received, &pw, 5000));
	source_get_stats(s, &st);
	CHECK(st.decoder_open);
	/* every picture, not one key picture in twenty */
	CHECK(st.frames_decoded - d0 >= 30);
	printf("# %llu pictures decoded while warm\n", (unsigned long long)(st.frames_decoded - d0));
	finish(s, &wt);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	av_log_set_level(AV_LOG_QUIET); /* FFmpeg's own line per refused connect */
	RUN(two_outputs_get_frames_of_their_own_sizes);
	RUN(each_output_keeps_its_own_fps_cap);
	RUN(unwanted_output_costs_no_encodes);
	RUN(outputs_come_and_go_while_the_worker_runs);
	RUN(reconnect_mode_retries_a_refused_open);
	RUN(without_reconnect_a_refused_open_finishes);
	RUN(stop_during_the_reconnect_wait_is_prompt);
	RUN(a_decoder_that_cannot_open_fails_the_picture_path_only);
	RUN(picture_viewers_get_unsupported_codec_and_coded_readers_go_on);
	if (load_clip()) {
		RUN(coded_readers_alone_cost_no_decode);
		RUN(a_picture_output_opens_the_decoder_and_its_end_closes_it);
		RUN(a_decoder_kept_warm_decodes_every_picture);
		RUN(the_next_session_starts_without_the_picture_error);
	} else {
		printf("not ok - the test clip tests/unit/data/tiny.h264 cannot be read\n");
	}
	free(clip);
	return CHECK_DONE();
}
