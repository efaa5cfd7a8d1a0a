/* fmp4_cost: what it costs to make one LL-HLS part (200 ms: 5 pictures of 720p25 H.264 of
 * about 20 KB each, and the AAC frames of the same 200 ms, 48 kHz stereo) with our writer
 * (src/media/fmp4.c) and with libavformat's mp4 muxer writing CMAF fragments into memory
 * (avio_open_dyn_buf; movflags frag_custom+empty_moov+default_base_moof+cmaf; a fragment is
 * closed with av_write_frame(oc, NULL) and its bytes taken out of the dynamic buffer, as
 * FFmpeg's own hls and dash muxers do). Same input for both, made first and not timed:
 * libx264 pictures (tests/unit/video_gen.h) logged as a source logs them, and aac encoder
 * frames (audio_gen.h).
 *
 * Ours is timed twice: the moof alone (what a segmenter that sends the samples from the
 * log's entries as they are needs), and the moof plus a copy of every sample into one part
 * buffer (what libavformat does, and what a segmenter that keeps parts whole needs).
 *
 *   build/tests/fmp4_cost [PARTS [ours|copy|lavf]]
 *       PARTS per run (5000); CPU time per part, best of five runs, and the ratio. With a
 *       muxer named, only that one runs once, for instruction counts:
 *       valgrind --tool=callgrind --toggle-collect=mux_lavf build/tests/fmp4_cost 200 lavf
 *       (mux_ours, mux_copy, mux_lavf are the timed functions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

#include "audio_gen.h"
#include "codedlog.h"
#include "fmp4.h"
#include "strbuf.h"
#include "video_gen.h"

#define FPS 25
#define PART_PICTURES 5     /* 200 ms */
#define GOP 25              /* a key picture a second: one part in five starts with one */
#define RATE 48000

struct sample {
	uint8_t *data;
	struct fmp4_sample s;
};

struct input {
	struct coded_params *vp, *ap;
	struct sample v[GOP];   /* one GOP, played again and again */
	struct sample *a;
	size_t na;
};

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool make_input(struct input *in)
{
	struct gen_video gv;
	struct gen_audio ga;
	memset(in, 0, sizeof(*in));
	/* 3 Mbit/s asked; x264 gives some 4 in its first second: 20 KB a picture */
	if (!gen_video(&gv, "libx264", 1280, 720, FPS, GOP, GOP, 0, 3000000)) {
		fprintf(stderr, "this FFmpeg lacks libx264\n");
		return false;
	}
	if (!gen_audio(&ga, "aac", RATE, 2, 128000, 1.0, 440, 0)) {
		fprintf(stderr, "this FFmpeg lacks the aac encoder\n");
		gen_video_free(&gv);
		return false;
	}
	bool ok = gv.n == GOP;
	for (size_t i = 0; ok && i < GOP; i++) {
		struct coded_entry *e = NULL;
		struct coded_params *changed = NULL;
		ok = coded_entry_from_au(CODED_H264, gv.pics[i].data, gv.pics[i].len, 0, in->vp, &e,
			&changed) == 0;
		if (changed && !in->vp)
			in->vp = changed;
		else
			coded_params_unref(changed);
		size_t n = ok ? fmp4_video_sample(CODED_H264, e->data, e->len, NULL, 0) : 0;
		in->v[i].data = n ? malloc(n) : NULL;
		ok = in->v[i].data && fmp4_video_sample(CODED_H264, e->data, e->len, in->v[i].data,
			n) == n;
		in->v[i].s = (struct fmp4_sample){ .size = (uint32_t)n,
			.duration = FMP4_VIDEO_TIMESCALE / FPS, .key = gv.pics[i].key };
		coded_entry_unref(e);
	}
	in->ap = ok ? coded_params_audio(CODED_AAC, RATE, 2, ga.par->extradata,
		(size_t)ga.par->extradata_size) : NULL;
	in->a = calloc(ga.n, sizeof(*in->a));
	ok = ok && in->vp && in->ap && in->a;
	for (size_t i = 0; ok && i < ga.n; i++) {
		in->a[i].data = malloc(ga.pkts[i].len);
		ok = in->a[i].data != NULL;
		if (ok)
			memcpy(in->a[i].data, ga.pkts[i].data, ga.pkts[i].len);
		in->a[i].s = (struct fmp4_sample){ .size = (uint32_t)ga.pkts[i].len,
			.duration = 1024, .key = true };
		in->na++;
	}
	gen_video_free(&gv);
	gen_free(&ga);
	return ok;
}

static void free_input(struct input *in)
{
	for (size_t i = 0; i < GOP; i++)
		free(in->v[i].data);
	for (size_t i = 0; i < in->na; i++)
		free(in->a[i].data);
	free(in->a);
	coded_params_unref(in->vp);
	coded_params_unref(in->ap);
}

/* Part @p: its pictures (the GOP's, in a loop) and the audio frames from the part's start
 * to the next part's, by sample number. */
struct part {
	struct fmp4_sample v[PART_PICTURES], a[16];
	const struct sample *vs[PART_PICTURES], *as[16];
	size_t na;
	uint64_t v_dts, a_dts;
};

static void make_part(const struct input *in, uint64_t p, struct part *out)
{
	for (size_t i = 0; i < PART_PICTURES; i++) {
		const struct sample *s = &in->v[(p * PART_PICTURES + i) % GOP];
		out->vs[i] = s;
		out->v[i] = s->s;
	}
	out->v_dts = p * PART_PICTURES * (FMP4_VIDEO_TIMESCALE / FPS);
	uint64_t a0 = (p * RATE / (FPS / PART_PICTURES) + 1023) / 1024;
	uint64_t a1 = ((p + 1) * RATE / (FPS / PART_PICTURES) + 1023) / 1024;
	out->na = 0;
	for (uint64_t k = a0; k < a1 && out->na < 16; k++) {
		const struct sample *s = &in->a[k % in->na];
		out->as[out->na] = s;
		out->a[out->na++] = s->s;
	}
	out->a_dts = a0 * 1024;
}

static size_t part_runs(struct part *pt, struct fmp4_run runs[2])
{
	runs[0] = (struct fmp4_run){ FMP4_VIDEO_TRACK, pt->v_dts, pt->v, PART_PICTURES };
	runs[1] = (struct fmp4_run){ FMP4_AUDIO_TRACK, pt->a_dts, pt->a, pt->na };
	return pt->na ? 2 : 1;
}

/* Ours, the moof alone: returns the bytes of every part (moof, mdat header and samples). */
__attribute__((noinline)) static size_t mux_ours(const struct input *in, int parts)
{
	uint8_t moof[2048];
	size_t total = 0;
	for (int p = 0; p < parts; p++) {
		struct part pt;
		struct fmp4_run runs[2];
		make_part(in, (uint64_t)p, &pt);
		size_t n_runs = part_runs(&pt, runs);
		size_t n = fmp4_moof_write(moof, sizeof(moof), (uint32_t)p + 1, runs, n_runs);
		if (!n)
			return 0;
		total += n;
		for (size_t i = 0; i < PART_PICTURES; i++)
			total += pt.v[i].size;
		for (size_t i = 0; i < pt.na; i++)
			total += pt.a[i].size;
	}
	return total;
}

/* Ours, the part made whole in one buffer. */
__attribute__((noinline)) static size_t mux_copy(const struct input *in, int parts)
{
	size_t total = 0, cap = 0;
	uint8_t *buf = NULL;
	for (int p = 0; p < parts; p++) {
		struct part pt;
		struct fmp4_run runs[2];
		make_part(in, (uint64_t)p, &pt);
		size_t n_runs = part_runs(&pt, runs);
		size_t need = fmp4_moof_size(runs, n_runs);
		for (size_t i = 0; i < PART_PICTURES; i++)
			need += pt.v[i].size;
		for (size_t i = 0; i < pt.na; i++)
			need += pt.a[i].size;
		if (need > cap) {
			uint8_t *b = realloc(buf, need);
			if (!b)
				break;
			buf = b;
			cap = need;
		}
		size_t at = fmp4_moof_write(buf, cap, (uint32_t)p + 1, runs, n_runs);
		if (!at)
			break;
		for (size_t i = 0; i < PART_PICTURES; i++) {
			memcpy(buf + at, pt.vs[i]->data, pt.v[i].size);
			at += pt.v[i].size;
		}
		for (size_t i = 0; i < pt.na; i++) {
			memcpy(buf + at, pt.as[i]->data, pt.a[i].size);
			at += pt.a[i].size;
		}
		total += at;
	}
	free(buf);
	return total;
}

/* libavformat's mp4 muxer; the header (ftyp + moov) is written first and not counted. */
struct lavf {
	AVFormatContext *oc;
	AVPacket *pkt;
	AVBufferRef *v[GOP], **a;
};

static bool lavf_open(struct lavf *l, const struct input *in)
{
	memset(l, 0, sizeof(*l));
	if (avformat_alloc_output_context2(&l->oc, NULL, "mp4", NULL) < 0)
		return false;
	AVStream *vs = avformat_new_stream(l->oc, NULL), *as = avformat_new_stream(l->oc, NULL);
	l->pkt = av_packet_alloc();
	if (!vs || !as || !l->pkt)
		return false;
	AVCodecParameters *v = vs->codecpar, *a = as->codecpar;
	v->codec_type = AVMEDIA_TYPE_VIDEO;
	v->codec_id = AV_CODEC_ID_H264;
	v->width = 1280;
	v->height = 720;
	v->extradata = av_mallocz(in->vp->config_len + AV_INPUT_BUFFER_PADDING_SIZE);
	a->codec_type = AVMEDIA_TYPE_AUDIO;
	a->codec_id = AV_CODEC_ID_AAC;
	a->sample_rate = RATE;
	av_channel_layout_default(&a->ch_layout, 2);
	a->frame_size = 1024;
	a->extradata = av_mallocz(in->ap->config_len + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!v->extradata || !a->extradata)
		return false;
	memcpy(v->extradata, in->vp->config, in->vp->config_len);
	v->extradata_size = (int)in->vp->config_len;
	memcpy(a->extradata, in->ap->config, in->ap->config_len);
	a->extradata_size = (int)in->ap->config_len;
	vs->time_base = (AVRational){ 1, FMP4_VIDEO_TIMESCALE };
	as->time_base = (AVRational){ 1, RATE };
	/* refcounted copies of the input, so that a write takes a reference, not a copy */
	l->a = calloc(in->na, sizeof(*l->a));
	if (!l->a)
		return false;
	for (size_t i = 0; i < GOP; i++) {
		l->v[i] = av_buffer_alloc((size_t)in->v[i].s.size + AV_INPUT_BUFFER_PADDING_SIZE);
		if (!l->v[i])
			return false;
		memcpy(l->v[i]->data, in->v[i].data, in->v[i].s.size);
	}
	for (size_t i = 0; i < in->na; i++) {
		l->a[i] = av_buffer_alloc((size_t)in->a[i].s.size + AV_INPUT_BUFFER_PADDING_SIZE);
		if (!l->a[i])
			return false;
		memcpy(l->a[i]->data, in->a[i].data, in->a[i].s.size);
	}
	AVDictionary *opts = NULL;
	av_dict_set(&opts, "movflags", "frag_custom+empty_moov+default_base_moof+cmaf", 0);
	bool ok = avio_open_dyn_buf(&l->oc->pb) >= 0 && avformat_write_header(l->oc, &opts) >= 0;
	av_dict_free(&opts);
	if (ok) {
		uint8_t *hdr = NULL;
		avio_close_dyn_buf(l->oc->pb, &hdr); /* the init segment: not part of a part */
		av_free(hdr);
		ok = avio_open_dyn_buf(&l->oc->pb) >= 0;
	}
	return ok;
}

static void lavf_close(struct lavf *l, const struct input *in)
{
	if (l->oc && l->oc->pb) {
		uint8_t *rest = NULL;
		avio_close_dyn_buf(l->oc->pb, &rest);
		av_free(rest);
		l->oc->pb = NULL;
	}
	avformat_free_context(l->oc);
	av_packet_free(&l->pkt);
	for (size_t i = 0; i < GOP; i++)
		av_buffer_unref(&l->v[i]);
	for (size_t i = 0; l->a && i < in->na; i++)
		av_buffer_unref(&l->a[i]);
	free(l->a);
}

static bool lavf_write(struct lavf *l, int stream, AVBufferRef *buf, const struct fmp4_sample *s,
	uint64_t dts)
{
	AVPacket *pkt = l->pkt;
	pkt->buf = av_buffer_ref(buf);
	if (!pkt->buf)
		return false;
	pkt->data = buf->data;
	pkt->size = (int)s->size;
	pkt->stream_index = stream;
	pkt->dts = (int64_t)dts;
	pkt->pts = (int64_t)dts + s->cts;
	pkt->duration = s->duration;
	pkt->flags = s->key ? AV_PKT_FLAG_KEY : 0;
	int r = av_write_frame(l->oc, pkt);
	av_packet_unref(pkt);
	return r >= 0;
}

/* One part: the pictures and audio frames in time order, the fragment closed, its bytes
 * taken. The muxer's time bases are ours (90 kHz, the sample rate), checked once. */
__attribute__((noinline)) static size_t mux_lavf(struct lavf *l, const struct input *in,
	int parts)
{
	size_t total = 0;
	for (int p = 0; p < parts; p++) {
		struct part pt;
		make_part(in, (uint64_t)p, &pt);
		size_t ia = 0;
		for (size_t i = 0; i < PART_PICTURES; i++) {
			uint64_t vdts = pt.v_dts + i * pt.v[i].duration;
			while (ia < pt.na && (pt.a_dts + ia * 1024) * FMP4_VIDEO_TIMESCALE / RATE <=
				vdts) {
				if (!lavf_write(l, 1, l->a[(size_t)(pt.as[ia] - in->a)], &pt.a[ia],
					pt.a_dts + ia * 1024))
					return 0;
				ia++;
			}
			if (!lavf_write(l, 0, l->v[(size_t)(pt.vs[i] - in->v)], &pt.v[i], vdts))
				return 0;
		}
		for (; ia < pt.na; ia++)
			if (!lavf_write(l, 1, l->a[(size_t)(pt.as[ia] - in->a)], &pt.a[ia],
				pt.a_dts + ia * 1024))
				return 0;
		if (av_write_frame(l->oc, NULL) < 0)
			return 0;
		uint8_t *bytes = NULL;
		int n = avio_close_dyn_buf(l->oc->pb, &bytes);
		av_free(bytes);
		total += (size_t)n;
		if (avio_open_dyn_buf(&l->oc->pb) < 0)
			return 0;
	}
	return total;
}

static double run(const char *which, const struct input *in, int parts, size_t *bytes)
{
	struct lavf l;
	bool lavf = !strcmp(which, "lavf");
	if (lavf && (!lavf_open(&l, in) || l.oc->streams[0]->time_base.den !=
		FMP4_VIDEO_TIMESCALE || l.oc->streams[1]->time_base.den != RATE)) {
		fprintf(stderr, "libavformat's mp4 muxer did not open as expected\n");
		lavf_close(&l, in);
		return -1;
	}
	double t0 = cpu_now();
	*bytes = !strcmp(which, "ours") ? mux_ours(in, parts) : !strcmp(which, "copy") ?
		mux_copy(in, parts) : mux_lavf(&l, in, parts);
	double dt = cpu_now() - t0;
	if (lavf)
		lavf_close(&l, in);
	return *bytes ? dt : -1;
}

int main(int argc, char **argv)
{
	int parts = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 5000;
	if (parts < 1 || parts > 1000000) {
		fprintf(stderr, "usage: %s [PARTS [ours|copy|lavf]]\n", argv[0]);
		return 2;
	}
	av_log_set_level(AV_LOG_ERROR);
	struct input in;
	if (!make_input(&in))
		return 1;
	size_t vbytes = 0;
	for (size_t i = 0; i < GOP; i++)
		vbytes += in.v[i].s.size;
	if (argc > 2) {
		size_t bytes;
		double dt = run(argv[2], &in, parts, &bytes);
		printf("%s: %d parts, %zu bytes, %.1f us a part\n", argv[2], parts, bytes,
			dt * 1e6 / parts);
		free_input(&in);
		return dt < 0;
	}
	printf("input: 1280x720 H.264, %zu bytes a picture on average (key %u), AAC %zu frames "
		"a second; %d parts of %d pictures, best of 5 runs\n", vbytes / GOP, in.v[0].s.size,
		in.na, parts, PART_PICTURES);
	static const char *const muxers[] = { "ours", "copy", "lavf" };
	double best[3] = { 1e9, 1e9, 1e9 };
	size_t bytes[3] = { 0 };
	for (int r = 0; r < 5; r++)
		for (int m = 0; m < 3; m++) {
			double dt = run(muxers[m], &in, parts, &bytes[m]);
			if (dt < 0) {
				free_input(&in);
				return 1;
			}
			if (dt < best[m])
				best[m] = dt;
		}
	static const char *const what[] = { "fmp4 (moof only)", "fmp4 (moof + copy)",
		"libavformat mp4" };
	for (int m = 0; m < 3; m++)
		printf("%-20s %8.2f us a part  %8zu bytes a part  %7.4f %% of a core a stream\n",
			what[m], best[m] * 1e6 / parts, bytes[m] / (size_t)parts,
			best[m] / parts * (FPS / PART_PICTURES) * 100);
	printf("libavformat / fmp4: %.0fx (moof only), %.1fx (moof + copy)\n", best[2] / best[0],
		best[2] / best[1]);
	free_input(&in);
	return 0;
}
