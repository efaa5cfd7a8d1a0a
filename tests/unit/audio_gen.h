/* Camera audio for the tests, made at run time: a sine encoded by libavcodec's own encoders
 * (pcm_alaw, pcm_mulaw, g722, g726, libopus, libmp3lame), with pts in µs as a demuxer gives
 * them; and the AAC that comes out decoded again by libavcodec's aac decoder. */
#ifndef CAMSTREAM_TEST_AUDIO_GEN_H
#define CAMSTREAM_TEST_AUDIO_GEN_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>

struct gen_packet {
	uint8_t *data;
	size_t len;
	int64_t pts_us;
	int64_t dur_us;
};

struct gen_audio {
	AVCodecParameters *par;    /* the stream as a demuxer would announce it */
	struct gen_packet *pkts;
	size_t n;
};

static inline void gen_free(struct gen_audio *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->pkts[i].data);
	free(g->pkts);
	avcodec_parameters_free(&g->par);
	memset(g, 0, sizeof(*g));
}

/* One sample of the sine: @freq Hz at half scale, channel @ch a quarter turn later than the
 * one before it. */
static inline double gen_sine(double freq, int64_t i, int rate, int ch)
{
	return 0.5 * sin(2 * M_PI * freq * (double)i / rate + ch * M_PI / 2);
}

/* What is made: a sine of @freq Hz (none at 0), silent until @onset_s seconds, plus white
 * noise of amplitude @noise (a microphone's hiss, or 0). */
struct gen_signal {
	double freq;
	double onset_s;
	double noise;
};

/* Uniform in [-1, 1), from a fixed sequence. */
static inline double gen_random(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return (double)(*state >> 8) / (1u << 23) - 1.0;
}

/* Frame @fr's samples, from sample @first on. */
static inline bool gen_fill(AVFrame *fr, const struct gen_signal *sig, int64_t first, int rate,
	int channels, uint32_t *state)
{
	if (av_frame_make_writable(fr) < 0)
		return false;
	int64_t onset = (int64_t)(sig->onset_s * rate);
	for (int c = 0; c < channels; c++)
		for (int i = 0; i < fr->nb_samples; i++) {
			double v = first + i < onset || sig->freq <= 0 ? 0
				: gen_sine(sig->freq, first + i, rate, c);
			if (sig->noise > 0)
				v += sig->noise * gen_random(state);
			switch (fr->format) {
			case AV_SAMPLE_FMT_S16:
				((int16_t *)fr->data[0])[i * channels + c] = (int16_t)lrint(v * 32767);
				break;
			case AV_SAMPLE_FMT_S16P:
				((int16_t *)fr->data[c])[i] = (int16_t)lrint(v * 32767);
				break;
			case AV_SAMPLE_FMT_FLT:
				((float *)fr->data[0])[i * channels + c] = (float)v;
				break;
			case AV_SAMPLE_FMT_FLTP:
				((float *)fr->data[c])[i] = (float)v;
				break;
			default:
				return false;
			}
		}
	return true;
}

static inline bool gen_take(struct gen_audio *g, AVCodecContext *e, AVPacket *pkt,
	int64_t start_us)
{
	while (avcodec_receive_packet(e, pkt) == 0) {
		struct gen_packet *n = realloc(g->pkts, (g->n + 1) * sizeof(*n));
		if (!n)
			return false;
		g->pkts = n;
		struct gen_packet *p = &g->pkts[g->n++];
		p->data = malloc((size_t)pkt->size);
		if (!p->data)
			return false;
		memcpy(p->data, pkt->data, (size_t)pkt->size);
		p->len = (size_t)pkt->size;
		p->pts_us = start_us + av_rescale(pkt->pts, 1000000, e->sample_rate);
		p->dur_us = av_rescale(pkt->duration, 1000000, e->sample_rate);
		av_packet_unref(pkt);
	}
	return true;
}

/* Why the tests cannot make input with encoder @name and check what comes out here (this
 * FFmpeg lacks that encoder, or the aac decoder), or NULL when they can. */
static inline const char *gen_missing(const char *name)
{
	if (!avcodec_find_encoder_by_name(name))
		return "this FFmpeg lacks an encoder the input is made with";
	if (!avcodec_find_decoder(AV_CODEC_ID_AAC))
		return "this FFmpeg has no aac decoder to check the output with";
	return NULL;
}

/* @seconds of @sig through encoder @name at @rate Hz with @channels, at @bit_rate (0: the
 * encoder's choice); the first sample at @start_us. false when this FFmpeg lacks the encoder
 * or something failed. */
static inline bool gen_audio_signal(struct gen_audio *g, const char *name, int rate,
	int channels, int64_t bit_rate, double seconds, const struct gen_signal *sig,
	int64_t start_us)
{
	uint32_t state = 12345;
	memset(g, 0, sizeof(*g));
	const AVCodec *c = avcodec_find_encoder_by_name(name);
	if (!c)
		return false;
	AVCodecContext *e = avcodec_alloc_context3(c);
	AVFrame *fr = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	bool ok = e && fr && pkt;
	if (ok) {
		e->sample_rate = rate;
		av_channel_layout_default(&e->ch_layout, channels);
		e->sample_fmt = AV_SAMPLE_FMT_NONE;
		for (const enum AVSampleFormat *f = c->sample_fmts; f && *f >= 0; f++)
			if (*f == AV_SAMPLE_FMT_S16 || *f == AV_SAMPLE_FMT_S16P ||
				*f == AV_SAMPLE_FMT_FLT || *f == AV_SAMPLE_FMT_FLTP) {
				e->sample_fmt = *f;
				break;
			}
		e->bit_rate = bit_rate;
		e->time_base = (AVRational){ 1, rate };
		ok = avcodec_open2(e, c, NULL) >= 0;
	}
	int fs = ok && e->frame_size > 0 ? e->frame_size : rate / 50; /* 20 ms */
	if (ok) {
		fr->format = e->sample_fmt;
		fr->sample_rate = rate;
		fr->nb_samples = fs;
		ok = av_channel_layout_copy(&fr->ch_layout, &e->ch_layout) >= 0 &&
			av_frame_get_buffer(fr, 0) >= 0;
	}
	int64_t total = (int64_t)(seconds * rate) / fs * fs;
	for (int64_t pos = 0; ok && pos < total; pos += fs) {
		ok = gen_fill(fr, sig, pos, rate, channels, &state);
		fr->pts = pos;
		ok = ok && avcodec_send_frame(e, fr) >= 0 && gen_take(g, e, pkt, start_us);
	}
	ok = ok && avcodec_send_frame(e, NULL) >= 0 && gen_take(g, e, pkt, start_us);
	if (ok) {
		g->par = avcodec_parameters_alloc();
		ok = g->par && avcodec_parameters_from_context(g->par, e) >= 0;
	}
	avcodec_free_context(&e);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	if (!ok)
		gen_free(g);
	return ok;
}

/* A @freq Hz sine from the first sample. */
static inline bool gen_audio(struct gen_audio *g, const char *name, int rate, int channels,
	int64_t bit_rate, double seconds, double freq, int64_t start_us)
{
	struct gen_signal sig = { .freq = freq };
	return gen_audio_signal(g, name, rate, channels, bit_rate, seconds, &sig, start_us);
}

/* What an AAC stream decodes to: channel by channel (planar float), and the rate. */
struct gen_pcm {
	float *ch[2];
	int64_t n;
	int rate, channels;
	int errors;                /* frames that did not decode */
};

static inline void gen_pcm_free(struct gen_pcm *d)
{
	free(d->ch[0]);
	free(d->ch[1]);
	memset(d, 0, sizeof(*d));
}

struct gen_aac_decoder {
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *fr;
	struct gen_pcm pcm;
};

static inline bool gen_aac_open(struct gen_aac_decoder *d, const uint8_t *config,
	size_t len)
{
	memset(d, 0, sizeof(*d));
	const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_AAC);
	d->dec = c ? avcodec_alloc_context3(c) : NULL;
	d->pkt = av_packet_alloc();
	d->fr = av_frame_alloc();
	if (!d->dec || !d->pkt || !d->fr)
		return false;
	d->dec->extradata = av_mallocz(len + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!d->dec->extradata)
		return false;
	memcpy(d->dec->extradata, config, len);
	d->dec->extradata_size = (int)len;
	return avcodec_open2(d->dec, c, NULL) >= 0;
}

static inline bool gen_aac_frame(struct gen_aac_decoder *d, const uint8_t *data,
	size_t len)
{
	if (!d->dec || !d->pkt)
		return false;
	av_packet_unref(d->pkt);
	if (av_new_packet(d->pkt, (int)len) < 0)
		return false;
	memcpy(d->pkt->data, data, len);
	if (avcodec_send_packet(d->dec, d->pkt) < 0) {
		d->pcm.errors++;
		return true;
	}
	while (avcodec_receive_frame(d->dec, d->fr) == 0) {
		struct gen_pcm *p = &d->pcm;
		p->rate = d->fr->sample_rate;
		p->channels = d->fr->ch_layout.nb_channels;
		for (int c = 0; c < p->channels && c < 2; c++) {
			float *n = realloc(p->ch[c], (size_t)(p->n + d->fr->nb_samples) * sizeof(float));
			if (!n)
				return false;
			p->ch[c] = n;
			memcpy(n + p->n, d->fr->data[c], (size_t)d->fr->nb_samples * sizeof(float));
		}
		p->n += d->fr->nb_samples;
		av_frame_unref(d->fr);
	}
	return true;
}

/* Closes the decoder; its samples stay in d->pcm (the caller frees them). */
static inline void gen_aac_close(struct gen_aac_decoder *d)
{
	avcodec_free_context(&d->dec);
	av_packet_free(&d->pkt);
	av_frame_free(&d->fr);
}

/* The frequency of channel @c from its upward zero crossings, past the first @skip
 * samples (the encoder's start). */
static inline double gen_frequency(const struct gen_pcm *p, int c, int64_t skip)
{
	int64_t first = -1, last = -1, crossings = 0;
	for (int64_t i = skip + 1; i < p->n; i++)
		if (p->ch[c][i - 1] < 0 && p->ch[c][i] >= 0) {
			if (first < 0)
				first = i;
			else
				crossings++;
			last = i;
		}
	if (crossings < 1)
		return 0;
	return (double)crossings * p->rate / (double)(last - first);
}

#endif
