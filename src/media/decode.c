#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "clock.h"
#include "log.h"

/* Catching up (see decode.h). */
#define WAITED_US 2000          /* a read that blocked this long kept up with its camera */
#define CATCH_UP_AFTER 3        /* pictures in a row found waiting: behind */
#define CATCH_UP_SHOW_US 500000 /* one picture this often is encoded all the same */
#define CATCH_UP_KEYS_US 1000000

struct picdec {
	const char *display_url;   /* not owned */
	AVCodecParameters *par;    /* the session's stream (owned) */
	AVCodecContext *dec;       /* NULL while closed */
	AVPacket *pkt;
	AVFrame *pic;
	bool open_failed;          /* logged; tried again at the next key picture */
	char failure[160];         /* why, while open_failed */
	int failure_err;           /* FFmpeg's error code for it */
	uint64_t errors;           /* units that failed to decode (this session) */

	/* key pictures only */
	bool keys_only;
	int64_t last_key_pts;      /* µs, or AV_NOPTS_VALUE */
	int64_t gop_us;            /* between the last two key pictures; 0 until measured */

	/* catching up */
	uint64_t decoded;          /* pictures decoded since the decoder opened */
	unsigned unwaited;         /* pictures in a row whose data was already waiting */
	int64_t behind_since;      /* monotonic µs when that run began; 0 if not behind */
	int64_t last_sent_us;      /* monotonic µs of the last picture handed over on time */
	int64_t waited_us;         /* of the unit being decoded */
	int64_t need_interval_us;
};

struct picdec *picdec_create(const char *display_url)
{
	struct picdec *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->display_url = display_url;
	d->pkt = av_packet_alloc();
	d->pic = av_frame_alloc();
	if (!d->pkt || !d->pic) {
		picdec_destroy(d);
		return NULL;
	}
	d->last_key_pts = AV_NOPTS_VALUE;
	return d;
}

void picdec_close(struct picdec *d)
{
	if (d->dec && d->errors)
		log_debug("source %s: %llu units failed to decode", d->display_url,
			(unsigned long long)d->errors);
	avcodec_free_context(&d->dec);
	d->keys_only = false;
	d->decoded = 0;
	d->unwaited = 0;
	d->behind_since = 0;
	d->errors = 0;
}

void picdec_destroy(struct picdec *d)
{
	if (!d)
		return;
	picdec_close(d);
	avcodec_parameters_free(&d->par);
	av_packet_free(&d->pkt);
	av_frame_free(&d->pic);
	free(d);
}

bool picdec_set_format(struct picdec *d, const AVCodecParameters *par)
{
	picdec_close(d);
	d->open_failed = false;
	d->last_key_pts = AV_NOPTS_VALUE;
	d->gop_us = 0;
	if (!d->par && !(d->par = avcodec_parameters_alloc()))
		return false;
	return avcodec_parameters_copy(d->par, par) >= 0;
}

bool picdec_is_open(const struct picdec *d)
{
	return d->dec != NULL;
}

const char *picdec_failure(const struct picdec *d, int *averr)
{
	if (!d->open_failed)
		return NULL;
	if (averr)
		*averr = d->failure_err;
	return d->failure;
}

static bool open_decoder(struct picdec *d)
{
	const AVCodec *codec = d->par ? avcodec_find_decoder(d->par->codec_id) : NULL;
	int ret = AVERROR_DECODER_NOT_FOUND;
	if (codec && (d->dec = avcodec_alloc_context3(codec)) &&
		avcodec_parameters_to_context(d->dec, d->par) >= 0) {
		/* Frame threads add a frame of delay each; slice threads add none. */
		d->dec->thread_type = FF_THREAD_SLICE;
		d->dec->thread_count = 2;
		d->dec->flags |= AV_CODEC_FLAG_LOW_DELAY;
		ret = avcodec_open2(d->dec, codec, NULL);
	}
	if (codec && ret >= 0) {
		log_debug("source %s: decoder opened", d->display_url);
		d->open_failed = false;
		return true;
	}
	avcodec_free_context(&d->dec);
	if (!d->open_failed) {
		char e[AV_ERROR_MAX_STRING_SIZE];
		av_strerror(ret, e, sizeof(e));
		d->failure_err = ret;
		snprintf(d->failure, sizeof(d->failure), "cannot decode %s: %s",
			d->par ? avcodec_get_name(d->par->codec_id) : "the stream", e);
		log_warn("source %s: %s", d->display_url, d->failure);
	}
	d->open_failed = true;
	return false;
}

/* Key pictures only, while every output asks for at most one picture a second and the key
 * pictures come at least that often. */
static bool keys_suffice(const struct picdec *d)
{
	if (d->gop_us <= 0)
		return false; /* not measured yet */
	int64_t need = d->need_interval_us;
	/* no output at all (INT64_MAX): a decoder kept warm for the next viewer keeps decoding
	 * every picture, so that viewer's first picture is the next one, not the next key */
	return need >= 1000000 && need != INT64_MAX && d->gop_us - need <= need / 20;
}

/* The one switch between key pictures only and every picture; @why goes to the debug log. */
static void set_keys_only(struct picdec *d, bool on, const char *why)
{
	d->keys_only = on;
	d->dec->skip_frame = on ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT;
	log_debug("source %s: %s", d->display_url, why);
}

/* Measures the key picture interval, and goes back to every picture once it is needed:
 * right after a key picture, so the pictures that follow have what they refer to. */
static void saw_picture(struct picdec *d, const AVFrame *pic)
{
	if (!pic->key_frame)
		return;
	int64_t pts = pic->best_effort_timestamp;
	if (pts != AV_NOPTS_VALUE && d->last_key_pts != AV_NOPTS_VALUE && pts > d->last_key_pts)
		d->gop_us = pts - d->last_key_pts;
	d->last_key_pts = pts;
	if (d->keys_only && !keys_suffice(d))
		set_keys_only(d, false, "decoding every picture again");
}

/* Whether the worker is behind its camera, so this picture is not to be encoded. */
static bool behind(struct picdec *d, int64_t now)
{
	bool waited = d->waited_us >= WAITED_US;

	if (waited || !d->decoded) {
		d->unwaited = 0;
		d->behind_since = 0;
		return false;
	}
	if (++d->unwaited < CATCH_UP_AFTER)
		return false;
	if (!d->behind_since)
		d->behind_since = now;
	if (now - d->behind_since >= CATCH_UP_KEYS_US && !d->keys_only) {
		/* back to every picture after the next key picture: see saw_picture */
		set_keys_only(d, true, "behind the camera, skipping to the next key picture");
		d->behind_since = now;
	}
	return now - d->last_sent_us < CATCH_UP_SHOW_US;
}

static void drain(struct picdec *d, picdec_fn fn, void *arg)
{
	for (;;) {
		int ret = avcodec_receive_frame(d->dec, d->pic);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return;
		if (ret < 0) {
			d->errors++;
			return;
		}
		int64_t now = clock_mono_us();
		saw_picture(d, d->pic);
		bool late = behind(d, now);
		d->decoded++;
		/* one waiting unit may give several pictures: only the first counts as waited */
		d->waited_us = 0;
		if (!late)
			d->last_sent_us = now;
		fn(arg, d->pic, late);
		av_frame_unref(d->pic);
	}
}

/* @pkt NULL flushes. */
static void send(struct picdec *d, const AVPacket *pkt, picdec_fn fn, void *arg)
{
	int ret = avcodec_send_packet(d->dec, pkt);
	if (ret == AVERROR(EAGAIN)) {
		/* The decoder is full: take its pictures, then it accepts the packet. */
		drain(d, fn, arg);
		ret = avcodec_send_packet(d->dec, pkt);
	}
	if (ret < 0 && ret != AVERROR_EOF) {
		if (!d->errors)
			log_debug("source %s: decode error %d", d->display_url, ret);
		d->errors++;
	}
	drain(d, fn, arg);
}

void picdec_decode(struct picdec *d, const uint8_t *data, size_t len, int64_t pts_us, bool key,
	int64_t waited_us, int64_t need_interval_us, picdec_fn fn, void *arg)
{
	if (!d->dec && (!key || !open_decoder(d)))
		return; /* a decoder starts at a key picture, with what it refers to */
	d->need_interval_us = need_interval_us;
	d->waited_us = waited_us;
	if (!d->keys_only && keys_suffice(d))
		set_keys_only(d, true, "decoding key pictures only: no output needs more");
	if (len > INT32_MAX || av_new_packet(d->pkt, (int)len) < 0) {
		d->errors++;
		return;
	}
	memcpy(d->pkt->data, data, len);
	d->pkt->pts = d->pkt->dts = pts_us;
	if (key)
		d->pkt->flags |= AV_PKT_FLAG_KEY;
	send(d, d->pkt, fn, arg);
	av_packet_unref(d->pkt);
}

void picdec_flush(struct picdec *d, picdec_fn fn, void *arg)
{
	if (d->dec)
		send(d, NULL, fn, arg);
}
