/* aac_transcode: see aac_transcode.h for what and why. */
#include "aac_transcode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#define MAX_ANCHORS 8
/* pts farther from 0 than this are taken for garbage (they would overflow sums) */
#define PTS_LIMIT (INT64_C(1) << 60)

/* Where the camera's clock stands at one sample of the encoder's input. */
struct anchor {
	int64_t at;       /* samples into the encoder's input (at the output rate) */
	int64_t pts_us;
};

/* One session's; its worker's alone. Everything it points to is its own. */
struct aac_transcode {
	AVCodecContext *dec;
	AVCodecContext *enc;
	AVPacket *pkt;           /* the packet being decoded */
	AVPacket *out;           /* the AAC packet being handed over */
	AVFrame *frame;          /* decoded */
	AVFrame *eframe;         /* one encoder frame: frame_size samples, planar float */

	/* The converter, made for the decoded frames' format: decoders say theirs only in
	 * frames, and a stream may change it (an MP3 stream its rate). NULL until needed. */
	SwrContext *swr;
	int swr_rate;
	enum AVSampleFormat swr_fmt;
	AVChannelLayout swr_layout;

	uint8_t **conv;          /* converted samples (planar float), conv_cap per channel */
	int conv_cap;
	AVAudioFifo *fifo;       /* converted samples waiting for a whole encoder frame */
	int fifo_max;            /* one second, in samples */

	unsigned rate, channels; /* the AAC stream's */
	int64_t converted;       /* samples out of the converter, ever */
	int64_t fed;             /* samples given to the encoder, ever */

	/* The input's clock: the pts the next packet should have, counted from the last
	 * anchor in the decoded samples since. */
	bool anchored;
	int64_t in_pts;          /* at the anchor */
	int64_t in_samples;      /* since then, at in_rate */
	int in_rate;

	struct anchor anchors[MAX_ANCHORS]; /* ordered by at; [0] covers the next frame out */
	size_t n_anchors;
	bool any_out;
	int64_t last_end_us;     /* where the last frame out ends */

	struct aac_transcode_stats st;
};

bool aac_transcode_handles(enum AVCodecID id)
{
	switch (id) {
	case AV_CODEC_ID_PCM_ALAW:
	case AV_CODEC_ID_PCM_MULAW:
	case AV_CODEC_ID_ADPCM_G722:
	case AV_CODEC_ID_ADPCM_G726:
	case AV_CODEC_ID_ADPCM_G726LE:
	case AV_CODEC_ID_OPUS:
	case AV_CODEC_ID_MP3:
		return true;
	default:
		return false;
	}
}

/* The AAC rate for an input rate: the lowest of these at or above it. Below 16 kHz a frame
 * would last too long (128 ms at 8 kHz); above 48 kHz is no use for a camera. */
static unsigned out_rate_for(int in)
{
	static const unsigned rates[] = { 16000, 22050, 24000, 32000, 44100, 48000 };
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if ((unsigned)in <= rates[i])
			return rates[i];
	return 48000;
}

/* G.726's code size (bits per sample, 2 to 5) from the parameters: bits_per_coded_sample,
 * else the bit rate (16 to 40 kbit/s at 8 kHz). 0 when neither says. */
static int g726_bits(const AVCodecParameters *par)
{
	if (par->bits_per_coded_sample >= 2 && par->bits_per_coded_sample <= 5)
		return par->bits_per_coded_sample;
	if (par->bit_rate > 0 && par->sample_rate > 0) {
		int64_t bits = (par->bit_rate + par->sample_rate / 2) / par->sample_rate;
		if (bits >= 2 && bits <= 5)
			return (int)bits;
	}
	return 0;
}

static int open_decoder(struct aac_transcode *t, const AVCodecParameters *par, char *why,
	size_t why_size)
{
	const AVCodec *codec = avcodec_find_decoder(par->codec_id);
	if (!codec) {
		snprintf(why, why_size, "no %s decoder in this FFmpeg",
			avcodec_get_name(par->codec_id));
		return -ENOSYS;
	}
	t->dec = avcodec_alloc_context3(codec);
	if (!t->dec || avcodec_parameters_to_context(t->dec, par) < 0)
		return -ENOMEM;
	/* G.722 samples at 16 kHz whatever an SDP says (its RTP clock runs at 8 kHz) */
	if (par->codec_id == AV_CODEC_ID_ADPCM_G722)
		t->dec->sample_rate = 16000;
	if (par->codec_id == AV_CODEC_ID_ADPCM_G726 || par->codec_id == AV_CODEC_ID_ADPCM_G726LE) {
		t->dec->bits_per_coded_sample = g726_bits(par);
		if (!t->dec->bits_per_coded_sample) {
			snprintf(why, why_size, "its G.726 bit rate is unknown");
			return -EINVAL;
		}
	}
	int nch = t->dec->ch_layout.nb_channels;
	if (t->dec->sample_rate <= 0 || nch <= 0 || nch > 8) {
		snprintf(why, why_size, "its format is unusable (%d Hz, %d channels)",
			t->dec->sample_rate, nch);
		return -EINVAL;
	}
	t->dec->thread_count = 1;
	int ret = avcodec_open2(t->dec, codec, NULL);
	if (ret < 0) {
		snprintf(why, why_size, "its %s decoder does not open", codec->name);
		return ret == AVERROR(ENOMEM) ? -ENOMEM : -EINVAL;
	}
	return 0;
}

static int open_encoder(struct aac_transcode *t, char *why, size_t why_size)
{
	/* FFmpeg's own encoder by name: a build may carry others under the codec id */
	const AVCodec *codec = avcodec_find_encoder_by_name("aac");
	if (!codec) {
		snprintf(why, why_size, "no aac encoder in this FFmpeg");
		return -ENOSYS;
	}
	t->enc = avcodec_alloc_context3(codec);
	if (!t->enc)
		return -ENOMEM;
	t->rate = out_rate_for(t->dec->sample_rate);
	t->channels = t->dec->ch_layout.nb_channels > 1 ? 2 : 1;
	t->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	t->enc->sample_rate = (int)t->rate;
	av_channel_layout_default(&t->enc->ch_layout, (int)t->channels);
	/* a camera's microphone: 32 kbit/s per channel is plenty at 16 to 24 kHz */
	t->enc->bit_rate = (t->rate <= 24000 ? 32000 : 48000) * (int64_t)t->channels;
	t->enc->time_base = (AVRational){ 1, (int)t->rate };
	t->enc->profile = FF_PROFILE_AAC_LOW;
	t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	t->enc->thread_count = 1;
	int ret = avcodec_open2(t->enc, codec, NULL);
	if (ret < 0 || t->enc->frame_size <= 0 || t->enc->extradata_size < 2) {
		snprintf(why, why_size, "the aac encoder does not open at %u Hz", t->rate);
		return ret == AVERROR(ENOMEM) ? -ENOMEM : -EINVAL;
	}
	t->eframe->format = AV_SAMPLE_FMT_FLTP;
	t->eframe->sample_rate = (int)t->rate;
	t->eframe->nb_samples = t->enc->frame_size;
	if (av_channel_layout_copy(&t->eframe->ch_layout, &t->enc->ch_layout) < 0 ||
		av_frame_get_buffer(t->eframe, 0) < 0)
		return -ENOMEM;
	t->fifo_max = (int)t->rate;
	t->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, (int)t->channels, t->enc->frame_size);
	return t->fifo ? 0 : -ENOMEM;
}

struct aac_transcode *aac_transcode_create(const AVCodecParameters *par, char *why,
	size_t why_size)
{
	char ignored[8];
	if (!why || !why_size) {
		why = ignored;
		why_size = sizeof(ignored);
	}
	why[0] = '\0';
	if (!aac_transcode_handles(par->codec_id)) {
		snprintf(why, why_size, "%s is not transcoded", avcodec_get_name(par->codec_id));
		return NULL;
	}
	struct aac_transcode *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	t->pkt = av_packet_alloc();
	t->out = av_packet_alloc();
	t->frame = av_frame_alloc();
	t->eframe = av_frame_alloc();
	int ret = t->pkt && t->out && t->frame && t->eframe ? 0 : -ENOMEM;
	if (!ret)
		ret = open_decoder(t, par, why, why_size);
	if (!ret)
		ret = open_encoder(t, why, why_size);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(why, why_size, "out of memory");
		aac_transcode_destroy(t);
		return NULL;
	}
	t->in_rate = t->dec->sample_rate;
	return t;
}

void aac_transcode_destroy(struct aac_transcode *t)
{
	if (!t)
		return;
	avcodec_free_context(&t->dec);
	avcodec_free_context(&t->enc);
	av_packet_free(&t->pkt);
	av_packet_free(&t->out);
	av_frame_free(&t->frame);
	av_frame_free(&t->eframe);
	swr_free(&t->swr);
	av_channel_layout_uninit(&t->swr_layout);
	if (t->conv)
		av_freep(&t->conv[0]);
	av_freep(&t->conv);
	if (t->fifo)
		av_audio_fifo_free(t->fifo);
	free(t);
}

unsigned aac_transcode_rate(const struct aac_transcode *t)
{
	return t->rate;
}

unsigned aac_transcode_channels(const struct aac_transcode *t)
{
	return t->channels;
}

const uint8_t *aac_transcode_config(const struct aac_transcode *t, size_t *len)
{
	*len = (size_t)t->enc->extradata_size;
	return t->enc->extradata;
}

void aac_transcode_get_stats(const struct aac_transcode *t, struct aac_transcode_stats *st)
{
	*st = t->st;
}

/* ---- timestamps --------------------------------------------------------------------- */

/* The pts the next decoded sample has by the count since the last anchor. */
static int64_t in_clock(const struct aac_transcode *t)
{
	return t->in_pts + av_rescale(t->in_samples, 1000000, t->in_rate);
}

/* The camera's clock says @pts_us at the next sample into the converter: samples already
 * in the pipeline keep the timeline they had. */
static void anchor(struct aac_transcode *t, int64_t pts_us)
{
	t->anchored = true;
	t->in_pts = pts_us;
	t->in_samples = 0;
	t->st.anchors++;
	struct anchor a = {
		.at = t->converted + (t->swr ? swr_get_delay(t->swr, t->rate) : 0),
		.pts_us = pts_us,
	};
	/* an anchor no sample came after is replaced; when full (jumps faster than frames
	 * leave: garbage), the newest is */
	if (t->n_anchors && (t->anchors[t->n_anchors - 1].at >= a.at ||
		t->n_anchors == MAX_ANCHORS))
		t->n_anchors--;
	t->anchors[t->n_anchors++] = a;
}

/* The pts of the frame of @nb samples that starts at sample @at of the encoder's input: by
 * the anchor it falls under, and never before the end of the frame before. */
static int64_t stamp(struct aac_transcode *t, int64_t at, int64_t nb)
{
	while (t->n_anchors > 1 && t->anchors[1].at <= at) {
		memmove(&t->anchors[0], &t->anchors[1], (t->n_anchors - 1) * sizeof(t->anchors[0]));
		t->n_anchors--;
	}
	const struct anchor *a = &t->anchors[0];
	int64_t pts = a->pts_us + av_rescale(at - a->at, 1000000, t->rate);
	int64_t end = a->pts_us + av_rescale(at + nb - a->at, 1000000, t->rate);
	if (t->any_out && pts < t->last_end_us) {
		end += t->last_end_us - pts;
		pts = t->last_end_us;
	}
	t->any_out = true;
	t->last_end_us = end;
	return pts;
}

/* ---- the pipeline ------------------------------------------------------------------- */

/* The converter for frames like @fr, made again when their format changes. */
static int ensure_swr(struct aac_transcode *t, const AVFrame *fr)
{
	AVChannelLayout in = { 0 };
	int ret;

	/* a layout the decoder leaves unspecified gets the usual one for its count, so that
	 * more channels can be mixed down */
	if (fr->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
		av_channel_layout_default(&in, fr->ch_layout.nb_channels);
	else if ((ret = av_channel_layout_copy(&in, &fr->ch_layout)) < 0)
		return ret;
	if (t->swr && t->swr_rate == fr->sample_rate && t->swr_fmt == fr->format &&
		!av_channel_layout_compare(&t->swr_layout, &in)) {
		av_channel_layout_uninit(&in);
		return 0;
	}
	swr_free(&t->swr);
	av_channel_layout_uninit(&t->swr_layout);
	t->swr_layout = in;
	t->swr_rate = fr->sample_rate;
	t->swr_fmt = fr->format;
	ret = swr_alloc_set_opts2(&t->swr, &t->enc->ch_layout, AV_SAMPLE_FMT_FLTP, (int)t->rate,
		&in, fr->format, fr->sample_rate, 0, NULL);
	if (ret >= 0)
		ret = swr_init(t->swr);
	if (ret < 0)
		swr_free(&t->swr);
	return ret;
}

/* Room for @n converted samples per channel. */
static int conv_room(struct aac_transcode *t, int n)
{
	if (n <= t->conv_cap)
		return 0;
	if (t->conv)
		av_freep(&t->conv[0]);
	av_freep(&t->conv);
	t->conv_cap = 0;
	if (av_samples_alloc_array_and_samples(&t->conv, NULL, (int)t->channels, n,
		AV_SAMPLE_FMT_FLTP, 0) < 0)
		return AVERROR(ENOMEM);
	t->conv_cap = n;
	return 0;
}

/* Hands over the encoder's packets that are ready. */
static int drain_encoder(struct aac_transcode *t, aac_transcode_sink sink, void *arg)
{
	int made = 0, ret;
	while ((ret = avcodec_receive_packet(t->enc, t->out)) == 0) {
		/* A packet's pts is the input sample its sound starts at: the encoder's delay
		 * (initial_padding, one frame) is taken off. The first packet holds that delay's
		 * silence only and goes: every frame then sounds at its stamp, and the first
		 * starts at the first input sample. */
		int64_t at = t->out->pts != AV_NOPTS_VALUE ? t->out->pts
			: (int64_t)(t->st.frames + 1) * t->enc->frame_size - t->enc->initial_padding;
		if (at < 0) {
			av_packet_unref(t->out);
			continue;
		}
		int64_t nb = t->out->duration > 0 ? t->out->duration : t->enc->frame_size;
		int64_t pts = stamp(t, at, nb);
		t->st.frames++;
		made++;
		sink(arg, t->out->data, (size_t)t->out->size, pts);
		av_packet_unref(t->out);
	}
	return ret == AVERROR(EAGAIN) ? made : ret;
}

/* Encodes every whole frame waiting in the FIFO. */
static int encode_waiting(struct aac_transcode *t, aac_transcode_sink sink, void *arg)
{
	int made = 0;
	while (av_audio_fifo_size(t->fifo) >= t->enc->frame_size) {
		int ret = av_frame_make_writable(t->eframe);
		if (ret < 0)
			return ret;
		av_audio_fifo_read(t->fifo, (void **)t->eframe->data, t->enc->frame_size);
		t->eframe->pts = t->fed;
		t->fed += t->enc->frame_size;
		ret = avcodec_send_frame(t->enc, t->eframe);
		if (ret < 0 && ret != AVERROR(EAGAIN)) {
			/* refused (NaN from a broken decoder): these samples are lost */
			t->st.samples_dropped += (uint64_t)t->enc->frame_size;
			continue;
		}
		ret = drain_encoder(t, sink, arg);
		if (ret < 0)
			return ret;
		made += ret;
	}
	return made;
}

/* Converts one decoded frame into the FIFO, then encodes what it completes. */
static int take_frame(struct aac_transcode *t, const AVFrame *fr, aac_transcode_sink sink,
	void *arg)
{
	int ret = ensure_swr(t, fr);
	if (ret < 0)
		return ret;
	if (fr->sample_rate != t->in_rate) {
		/* the count goes on at the new rate from where it stands */
		t->in_pts = in_clock(t);
		t->in_samples = 0;
		t->in_rate = fr->sample_rate;
	}
	t->in_samples += fr->nb_samples;
	int room = swr_get_out_samples(t->swr, fr->nb_samples);
	if (room < 0 || (ret = conv_room(t, room)) < 0)
		return room < 0 ? room : ret;
	int n = swr_convert(t->swr, t->conv, room, (const uint8_t **)fr->extended_data,
		fr->nb_samples);
	if (n <= 0)
		return n;
	t->converted += n;
	/* the encoder takes every whole frame at once, so this holds less than one frame;
	 * should it ever not, the oldest samples go */
	int over = av_audio_fifo_size(t->fifo) + n - t->fifo_max;
	if (over > 0) {
		av_audio_fifo_drain(t->fifo, over);
		t->st.samples_dropped += (uint64_t)over;
	}
	if (av_audio_fifo_write(t->fifo, (void **)t->conv, n) < n)
		return AVERROR(ENOMEM);
	return encode_waiting(t, sink, arg);
}

int aac_transcode_push(struct aac_transcode *t, const uint8_t *data, size_t len,
	int64_t pts_us, aac_transcode_sink sink, void *arg)
{
	t->st.packets++;
	if (!data || !len || len > AAC_TRANSCODE_MAX_PACKET) {
		t->st.dropped++;
		return -EINVAL;
	}
	if (pts_us != AV_NOPTS_VALUE && (pts_us > PTS_LIMIT || pts_us < -PTS_LIMIT))
		pts_us = AV_NOPTS_VALUE;
	av_packet_unref(t->pkt);
	if (av_new_packet(t->pkt, (int)len) < 0)
		return -ENOMEM;
	memcpy(t->pkt->data, data, len);

	int ret = avcodec_send_packet(t->dec, t->pkt);
	if (ret < 0) {
		t->st.dropped++;
		return ret == AVERROR(ENOMEM) ? -ENOMEM : -EINVAL;
	}
	int made = 0;
	int64_t decoded = 0;
	bool first = true;
	while ((ret = avcodec_receive_frame(t->dec, t->frame)) == 0) {
		decoded += t->frame->nb_samples;
		if (decoded > t->dec->sample_rate || t->frame->sample_rate <= 0) {
			av_frame_unref(t->frame);
			ret = AVERROR_INVALIDDATA; /* a second or more from one packet: garbage */
			break;
		}
		if (first) {
			/* the first sound of this packet: does its pts follow the count? */
			first = false;
			if (pts_us == AV_NOPTS_VALUE) {
				if (!t->anchored)
					anchor(t, 0);
			} else if (!t->anchored || llabs(pts_us - in_clock(t)) > AAC_TRANSCODE_JUMP_US) {
				anchor(t, pts_us);
			}
		}
		ret = take_frame(t, t->frame, sink, arg);
		av_frame_unref(t->frame);
		if (ret < 0)
			break;
		made += ret;
	}
	if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
		return made;
	if (ret == AVERROR(ENOMEM))
		return -ENOMEM;
	/* what the decoder still holds of this packet is garbage too */
	while (avcodec_receive_frame(t->dec, t->frame) == 0)
		av_frame_unref(t->frame);
	t->st.dropped++;
	return -EINVAL;
}
