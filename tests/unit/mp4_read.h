/* fMP4 bytes read back as players read them, for the tests: libavformat's mov demuxer from
 * memory (every packet with its stream, times, key flag and bytes), libavcodec decoding the
 * video, and the ffmpeg and ffprobe commands on a file. Header-only, test code. */
#ifndef CAMSTREAM_TEST_MP4_READ_H
#define CAMSTREAM_TEST_MP4_READ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

struct mp4_packet {
	bool video;
	int64_t pts, dts, duration;     /* in the track's timescale */
	bool key;
	uint8_t *data;
	size_t size;
};

struct mp4_track {
	bool present;
	enum AVCodecID codec;
	int width, height, rate, channels;
	uint8_t *extradata;             /* the avcC/hvcC record or the ASC */
	size_t extradata_len;
	int timescale;
};

struct mp4_read {
	struct mp4_packet *pk;          /* in the demuxer's order */
	size_t n, nv, na;
	struct mp4_track video, audio;
	int decoded, decode_errors;     /* pictures out of the video decoder, and its refusals */
};

static inline void mp4_read_free(struct mp4_read *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->pk[i].data);
	free(r->pk);
	free(r->video.extradata);
	free(r->audio.extradata);
	memset(r, 0, sizeof(*r));
}

struct mp4_mem {
	const uint8_t *p;
	size_t len, pos;
};

static inline int mp4_mem_read(void *opaque, uint8_t *buf, int n)
{
	struct mp4_mem *m = opaque;
	size_t left = m->len - m->pos;
	if (!left)
		return AVERROR_EOF;
	if ((size_t)n > left)
		n = (int)left;
	memcpy(buf, m->p + m->pos, (size_t)n);
	m->pos += (size_t)n;
	return n;
}

static inline int64_t mp4_mem_seek(void *opaque, int64_t off, int whence)
{
	struct mp4_mem *m = opaque;
	int64_t to;
	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return (int64_t)m->len;
	case SEEK_SET:
		to = off;
		break;
	case SEEK_CUR:
		to = (int64_t)m->pos + off;
		break;
	case SEEK_END:
		to = (int64_t)m->len + off;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if (to < 0 || to > (int64_t)m->len)
		return AVERROR(EINVAL);
	m->pos = (size_t)to;
	return to;
}

static inline bool mp4_track_from(struct mp4_track *t, const AVStream *st)
{
	const AVCodecParameters *par = st->codecpar;
	t->present = true;
	t->codec = par->codec_id;
	t->width = par->width;
	t->height = par->height;
	t->rate = par->sample_rate;
	t->channels = par->ch_layout.nb_channels;
	t->timescale = st->time_base.num == 1 ? st->time_base.den : 0;
	if (par->extradata_size > 0) {
		t->extradata = malloc((size_t)par->extradata_size);
		if (!t->extradata)
			return false;
		memcpy(t->extradata, par->extradata, (size_t)par->extradata_size);
		t->extradata_len = (size_t)par->extradata_size;
	}
	return true;
}

static inline int mp4_drain(AVCodecContext *dec, AVFrame *fr)
{
	int n = 0;
	while (avcodec_receive_frame(dec, fr) == 0) {
		n++;
		av_frame_unref(fr);
	}
	return n;
}

static inline bool mp4_keep(struct mp4_read *r, const AVPacket *pkt, bool video)
{
	struct mp4_packet *v = realloc(r->pk, (r->n + 1) * sizeof(*v));
	if (!v)
		return false;
	r->pk = v;
	struct mp4_packet *p = &r->pk[r->n];
	*p = (struct mp4_packet){ video, pkt->pts, pkt->dts, pkt->duration,
		pkt->flags & AV_PKT_FLAG_KEY, malloc((size_t)pkt->size + 1), (size_t)pkt->size };
	if (!p->data)
		return false;
	memcpy(p->data, pkt->data, (size_t)pkt->size);
	r->n++;
	if (video)
		r->nv++;
	else
		r->na++;
	return true;
}

/* Demuxes the @len bytes at @p with libavformat (the format found by probing) and decodes
 * the video with libavcodec. false when the bytes do not open or something failed. */
static inline bool mp4_read(const uint8_t *p, size_t len, struct mp4_read *r)
{
	memset(r, 0, sizeof(*r));
	struct mp4_mem m = { p, len, 0 };
	AVFormatContext *fc = avformat_alloc_context();
	unsigned char *iobuf = av_malloc(4096);
	AVIOContext *io = iobuf ? avio_alloc_context(iobuf, 4096, 0, &m, mp4_mem_read, NULL,
		mp4_mem_seek) : NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	AVCodecContext *dec = NULL;
	bool ok = fc && io && pkt && fr;
	if (!ok) {
		if (!io)
			av_free(iobuf);
		avformat_free_context(fc);
		fc = NULL;
		goto out;
	}
	fc->pb = io;
	if (avformat_open_input(&fc, NULL, NULL, NULL) < 0) {
		ok = false; /* fc was freed */
		goto out;
	}
	ok = avformat_find_stream_info(fc, NULL) >= 0;
	int vs = -1, as = -1;
	for (unsigned i = 0; ok && i < fc->nb_streams; i++) {
		enum AVMediaType type = fc->streams[i]->codecpar->codec_type;
		if (type == AVMEDIA_TYPE_VIDEO && vs < 0) {
			vs = (int)i;
			ok = mp4_track_from(&r->video, fc->streams[i]);
		} else if (type == AVMEDIA_TYPE_AUDIO && as < 0) {
			as = (int)i;
			ok = mp4_track_from(&r->audio, fc->streams[i]);
		}
	}
	const AVCodec *c = ok && vs >= 0 ? avcodec_find_decoder(r->video.codec) : NULL;
	dec = c ? avcodec_alloc_context3(c) : NULL;
	if (dec) {
		dec->thread_count = 1;
		if (avcodec_parameters_to_context(dec, fc->streams[vs]->codecpar) < 0 ||
			avcodec_open2(dec, c, NULL) < 0)
			avcodec_free_context(&dec);
	}
	while (ok && av_read_frame(fc, pkt) >= 0) {
		bool video = pkt->stream_index == vs;
		if (video || pkt->stream_index == as)
			ok = mp4_keep(r, pkt, video);
		if (video && dec) {
			if (avcodec_send_packet(dec, pkt) < 0)
				r->decode_errors++;
			r->decoded += mp4_drain(dec, fr);
		}
		av_packet_unref(pkt);
	}
	if (ok && dec) {
		avcodec_send_packet(dec, NULL);
		r->decoded += mp4_drain(dec, fr);
	}
out:
	avcodec_free_context(&dec);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avformat_close_input(&fc);
	if (io) {
		av_freep(&io->buffer);
		avio_context_free(&io);
	}
	return ok;
}

/* The ffmpeg command decodes the @len bytes at @p (written to a temporary file) with
 * -xerror (the first error ends it), and ffprobe counts the video frames: that count in
 * *@frames. Returns the ffmpeg command's output and ffprobe's, "" when neither had a word to
 * say but the count (the caller frees it), or NULL when the commands are not here. */
static inline char *mp4_ffmpeg(const uint8_t *p, size_t len, int *frames)
{
	*frames = -1;
	if (system("ffmpeg -version >/dev/null 2>&1 && ffprobe -version >/dev/null 2>&1") != 0)
		return NULL;
	char path[] = "/tmp/camstream_mp4_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return strdup("mkstemp failed");
	bool written = write(fd, p, len) == (ssize_t)len;
	close(fd);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -xerror -i %s -map 0 -f null - 2>&1 "
		"&& ffprobe -v error -count_frames -select_streams v -show_entries "
		"stream=nb_read_frames -of csv=p=0 %s 2>&1", path, path);
	FILE *f = written ? popen(cmd, "r") : NULL;
	char out[1024] = "";
	size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[n] = '\0';
	int status = f ? pclose(f) : -1;
	unlink(path);
	char *end = NULL;
	long count = strtol(out, &end, 10);
	if (status == 0 && end != out && *end == '\n' && end[1] == '\0') {
		*frames = (int)count;
		return strdup("");
	}
	return strdup(out[0] ? out : "ffmpeg failed without a word");
}

#endif
