/* Camera video for the tests and benches, made at run time: moving pictures encoded by
 * libavcodec's libx264 or libx265 (one thread, as a camera's stream would come: Annex B,
 * parameter sets in band before each key picture), with pts and dts in frames. */
#ifndef CAMSTREAM_TEST_VIDEO_GEN_H
#define CAMSTREAM_TEST_VIDEO_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

struct gen_picture {
	uint8_t *data;      /* Annex B */
	size_t len;
	int64_t pts, dts;   /* in frames (time base 1/fps); dts < 0 for the first with B */
	bool key;
};

struct gen_video {
	struct gen_picture *pics;
	size_t n;
	int width, height, fps;
};

static inline void gen_video_free(struct gen_video *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->pics[i].data);
	free(g->pics);
	memset(g, 0, sizeof(*g));
}

/* Picture @i: a gradient that moves, and noise in a band (what keeps an encoder busy). */
static inline void gen_video_fill(AVFrame *fr, int i, uint32_t *state)
{
	for (int y = 0; y < fr->height; y++)
		for (int x = 0; x < fr->width; x++) {
			uint8_t v = (uint8_t)(x + y + 4 * i);
			if (y > fr->height / 3 && y < fr->height / 2) {
				*state = *state * 1664525u + 1013904223u;
				v = (uint8_t)(*state >> 24);
			}
			fr->data[0][y * fr->linesize[0] + x] = v;
		}
	for (int p = 1; p < 3; p++)
		for (int y = 0; y < fr->height / 2; y++)
			memset(fr->data[p] + y * fr->linesize[p], 128 + (p == 1 ? i : -i) % 64,
				(size_t)fr->width / 2);
}

static inline bool gen_video_take(struct gen_video *g, AVCodecContext *e, AVPacket *pkt)
{
	while (avcodec_receive_packet(e, pkt) == 0) {
		struct gen_picture *n = realloc(g->pics, (g->n + 1) * sizeof(*n));
		if (!n)
			return false;
		g->pics = n;
		struct gen_picture *p = &g->pics[g->n++];
		p->data = malloc((size_t)pkt->size);
		if (!p->data)
			return false;
		memcpy(p->data, pkt->data, (size_t)pkt->size);
		p->len = (size_t)pkt->size;
		p->pts = pkt->pts;
		p->dts = pkt->dts;
		p->key = pkt->flags & AV_PKT_FLAG_KEY;
		av_packet_unref(pkt);
	}
	return true;
}

/* @n pictures of @width x @height at @fps through encoder @name ("libx264", "libx265"): a
 * key picture every @gop, up to @bframes B pictures in a row, @bit_rate (0: the encoder's
 * default rate control). false when this FFmpeg lacks the encoder or something failed. */
static inline bool gen_video(struct gen_video *g, const char *name, int width, int height,
	int fps, int n, int gop, int bframes, int64_t bit_rate)
{
	uint32_t state = 4242;
	memset(g, 0, sizeof(*g));
	const AVCodec *c = avcodec_find_encoder_by_name(name);
	if (!c)
		return false;
	AVCodecContext *e = avcodec_alloc_context3(c);
	AVFrame *fr = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	bool ok = e && fr && pkt;
	if (ok) {
		e->width = width;
		e->height = height;
		e->pix_fmt = AV_PIX_FMT_YUV420P;
		e->time_base = (AVRational){ 1, fps };
		e->framerate = (AVRational){ fps, 1 };
		e->gop_size = gop;
		e->max_b_frames = bframes;
		e->bit_rate = bit_rate;
		e->thread_count = 1;
		av_opt_set(e->priv_data, "preset", "ultrafast", 0);
		if (!strcmp(name, "libx265"))
			av_opt_set(e->priv_data, "x265-params", bframes ?
				"log-level=none:pools=none:frame-threads=1:bframes=2:open-gop=0" :
				"log-level=none:pools=none:frame-threads=1:open-gop=0", 0);
		else
			av_opt_set(e->priv_data, "x264-params", "open-gop=0:scenecut=0", 0);
		ok = avcodec_open2(e, c, NULL) >= 0;
	}
	if (ok) {
		fr->format = AV_PIX_FMT_YUV420P;
		fr->width = width;
		fr->height = height;
		ok = av_frame_get_buffer(fr, 0) >= 0;
	}
	for (int i = 0; ok && i < n; i++) {
		ok = av_frame_make_writable(fr) >= 0;
		if (!ok)
			break;
		gen_video_fill(fr, i, &state);
		fr->pts = i;
		ok = avcodec_send_frame(e, fr) >= 0 && gen_video_take(g, e, pkt);
	}
	ok = ok && avcodec_send_frame(e, NULL) >= 0 && gen_video_take(g, e, pkt);
	g->width = width;
	g->height = height;
	g->fps = fps;
	avcodec_free_context(&e);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	if (!ok)
		gen_video_free(g);
	return ok;
}

#endif
