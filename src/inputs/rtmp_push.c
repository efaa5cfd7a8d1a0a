#include "rtmp_push.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>

#include "clock.h"
#include "log.h"
#include "rtmp_media.h"

/* A worker waiting for a publisher or a message wakes this often to notice a stop. */
#define WAIT_STEP_US 50000

struct push_msg {
	struct push_msg *next;
	enum push_kind kind;
	uint32_t ts_ms;
	size_t len;
	uint8_t data[];
};

/* One publisher. Shared by its connection (until push_pub_end) and the worker that claimed it
 * (until it played the last message): freed by the last of them. Fields under reg->lock. */
struct push_pub {
	struct push_pub *next;       /* in reg->pubs while not ended */
	struct push_registry *reg;
	char *key;
	int refs;
	bool ended;                  /* the connection is gone */
	bool claimed;                /* a worker plays it */
	atomic_bool failed;          /* the worker ran out of memory taking a message */
	struct push_msg *head, *tail;
	size_t bytes;                /* queued */
	pthread_cond_t cond;         /* a message came, or the end */
};

struct push_registry {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* a publisher began */
	struct push_pub *pubs;       /* publishers not ended */
};

struct push_registry *push_registry_create(void)
{
	struct push_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

void push_registry_destroy(struct push_registry *r)
{
	if (!r)
		return;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Under reg->lock. */
static void pub_unref_locked(struct push_pub *p)
{
	if (--p->refs > 0)
		return;
	while (p->head) {
		struct push_msg *m = p->head;
		p->head = m->next;
		free(m);
	}
	pthread_cond_destroy(&p->cond);
	free(p->key);
	free(p);
}

static void unlink_pub(struct push_registry *r, struct push_pub *p)
{
	for (struct push_pub **pp = &r->pubs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->next = NULL;
}

static struct push_pub *find_live(struct push_registry *r, const char *key)
{
	for (struct push_pub *p = r->pubs; p; p = p->next)
		if (!strcmp(p->key, key))
			return p;
	return NULL;
}

struct push_pub *push_pub_begin(struct push_registry *r, const char *key, bool *busy)
{
	*busy = false;
	struct push_pub *p = calloc(1, sizeof(*p));
	if (!p || !(p->key = strdup(key))) {
		free(p);
		return NULL;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->reg = r;
	p->refs = 1;
	pthread_mutex_lock(&r->lock);
	if (find_live(r, key)) {
		pthread_mutex_unlock(&r->lock);
		*busy = true;
		pthread_cond_destroy(&p->cond);
		free(p->key);
		free(p);
		return NULL;
	}
	p->next = r->pubs;
	r->pubs = p;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return p;
}

bool push_pub_send(struct push_pub *p, enum push_kind kind, uint32_t ts_ms, const uint8_t *data,
	size_t len)
{
	struct push_msg *m = malloc(sizeof(*m) + len);
	if (!m) {
		atomic_store(&p->failed, true);
		return false;
	}
	m->next = NULL;
	m->kind = kind;
	m->ts_ms = ts_ms;
	m->len = len;
	memcpy(m->data, data, len);
	struct push_registry *r = p->reg;
	pthread_mutex_lock(&r->lock);
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	p->bytes += len;
	bool room = p->bytes <= PUSH_QUEUE_MAX_BYTES;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&r->lock);
	return room;
}

bool push_pub_room(struct push_pub *p)
{
	pthread_mutex_lock(&p->reg->lock);
	bool room = p->bytes <= PUSH_QUEUE_MAX_BYTES / 2;
	pthread_mutex_unlock(&p->reg->lock);
	return room;
}

bool push_pub_failed(struct push_pub *p)
{
	return atomic_load(&p->failed);
}

void push_pub_end(struct push_pub *p)
{
	struct push_registry *r = p->reg;
	pthread_mutex_lock(&r->lock);
	p->ended = true;
	unlink_pub(r, p);
	pthread_cond_signal(&p->cond);
	pub_unref_locked(p);
	pthread_mutex_unlock(&r->lock);
}

bool push_registry_live(struct push_registry *r, const char *key)
{
	pthread_mutex_lock(&r->lock);
	bool live = find_live(r, key) != NULL;
	pthread_mutex_unlock(&r->lock);
	return live;
}

/* ---- the worker's side -------------------------------------------------------------- */

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int64_t until = clock_mono_us() + WAIT_STEP_US;
	struct timespec t = { .tv_sec = until / 1000000, .tv_nsec = until % 1000000 * 1000 };
	pthread_cond_timedwait(c, m, &t);
}

/* The publisher of @key, claimed (one reference), or NULL once the source is stopping. */
static struct push_pub *claim(struct push_registry *r, const char *key, struct source *s)
{
	struct push_pub *p = NULL;
	pthread_mutex_lock(&r->lock);
	while (!source_stopping(s)) {
		p = find_live(r, key);
		if (p && !p->claimed) {
			p->claimed = true;
			p->refs++;
			break;
		}
		p = NULL;
		timed_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return p;
}

/* The next message (the caller frees it), or NULL when the publisher ended and everything it
 * sent was taken, or the source is stopping. *@waited_us: how long it blocked. */
static struct push_msg *take(struct push_pub *p, struct source *s, int64_t *waited_us)
{
	struct push_registry *r = p->reg;
	struct push_msg *m = NULL;
	int64_t t0 = 0;
	pthread_mutex_lock(&r->lock);
	while (!(m = p->head) && !p->ended && !source_stopping(s)) {
		if (!t0)
			t0 = clock_mono_us();
		timed_wait(&p->cond, &r->lock);
	}
	if (m) {
		p->head = m->next;
		if (!p->head)
			p->tail = NULL;
		p->bytes -= m->len;
	}
	pthread_mutex_unlock(&r->lock);
	*waited_us = t0 ? clock_mono_us() - t0 : 0;
	return m;
}

static void release(struct push_pub *p)
{
	struct push_registry *r = p->reg;
	pthread_mutex_lock(&r->lock);
	pub_unref_locked(p);
	pthread_mutex_unlock(&r->lock);
}

/* What one publisher's session knows. Worker only. */
struct play {
	struct source *s;
	const char *key;
	AVCodecParameters *vpar;     /* the current video format, NULL before the first */
	AVCodecParameters *apar;     /* the current audio format */
	bool playing;                /* source_playing was said for this publisher */
	bool warned_video, warned_audio;
	double fps, width, height;   /* from onMetaData, 0 when it did not say */
	int64_t ts_base_ms;          /* unwrapping the 32-bit millisecond clock */
	uint32_t ts_last;
	bool ts_started;
};

/* The publisher's 32-bit milliseconds as a 64-bit clock (it wraps after 49 days). */
static int64_t unwrap_ms(struct play *pl, uint32_t ts)
{
	if (!pl->ts_started) {
		pl->ts_started = true;
	} else if (ts < pl->ts_last && pl->ts_last - ts > 0x80000000u) {
		pl->ts_base_ms += 0x100000000LL;
	} else if (ts > pl->ts_last && ts - pl->ts_last > 0x80000000u) {
		pl->ts_base_ms -= 0x100000000LL; /* a late message from before the wrap */
		int64_t v = pl->ts_base_ms + ts;
		pl->ts_base_ms += 0x100000000LL;
		return v;
	}
	pl->ts_last = ts;
	return pl->ts_base_ms + ts;
}

/* Whether @par already has @extradata. */
static bool same_extradata(const AVCodecParameters *par, const uint8_t *x, size_t len)
{
	return par && (size_t)par->extradata_size == len && !memcmp(par->extradata, x, len);
}

static AVCodecParameters *new_par(enum AVMediaType type, enum AVCodecID id, const uint8_t *x,
	size_t len)
{
	AVCodecParameters *par = avcodec_parameters_alloc();
	if (!par)
		return NULL;
	par->codec_type = type;
	par->codec_id = id;
	if (len) {
		par->extradata = av_mallocz(len + AV_INPUT_BUFFER_PADDING_SIZE);
		if (!par->extradata) {
			avcodec_parameters_free(&par);
			return NULL;
		}
		memcpy(par->extradata, x, len);
		par->extradata_size = (int)len;
	}
	return par;
}

static void on_video(struct play *pl, const struct push_msg *m, int64_t waited_us)
{
	struct rtmp_video v;
	if (rtmp_video_parse(m->data, m->len, &v) != 0) {
		log_debug("publisher of %s: a malformed video message, dropped", pl->key);
		return;
	}
	if (v.codec == RTMP_V_UNKNOWN) {
		if (!pl->warned_video)
			log_warn("publisher of %s sends a video codec other than H.264 and H.265: "
				"its video is dropped", pl->key);
		pl->warned_video = true;
		return;
	}
	if (v.type == RTMP_VP_CONFIG) {
		if (same_extradata(pl->vpar, v.data, v.len))
			return; /* repeated (some encoders send it before every key picture) */
		AVCodecParameters *par = new_par(AVMEDIA_TYPE_VIDEO,
			v.codec == RTMP_V_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264, v.data, v.len);
		if (!par)
			return;
		if (pl->width > 0 && pl->height > 0) {
			par->width = (int)pl->width;
			par->height = (int)pl->height;
		}
		avcodec_parameters_free(&pl->vpar);
		pl->vpar = par;
		/* a new format (the first, or a new resolution): the log starts over at the next
		 * key picture, the decoder reopens */
		source_video_format(pl->s, par);
		if (pl->apar)
			source_audio_format(pl->s, pl->apar);
		if (!pl->playing) {
			source_playing(pl->s, v.codec == RTMP_V_H265 ? "hevc" : "h264", 0, 0, pl->fps);
			pl->playing = true;
		}
		return;
	}
	if (v.type != RTMP_VP_FRAME || !v.len || !pl->vpar)
		return;
	int64_t dts = unwrap_ms(pl, m->ts_ms);
	source_push_video(pl->s, v.data, v.len, (dts + v.cts_ms) * 1000, dts * 1000, v.key,
		waited_us);
}

/* The sample rate and channel count an AudioSpecificConfig gives (ISO 14496-3 1.6.2.1). */
static bool asc_format(const uint8_t *c, size_t len, int *rate, int *channels)
{
	static const int rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
		16000, 12000, 11025, 8000, 7350 };
	uint64_t bits = 0;
	for (size_t i = 0; i < 8; i++)
		bits = bits << 8 | (i < len ? c[i] : 0);
	if (len < 2)
		return false;
	unsigned pos = 0;
#define TAKE(n) ((unsigned)(bits >> (64 - (pos += (n)))) & ((1u << (n)) - 1))
	unsigned aot = TAKE(5);
	if (aot == 31)
		(void)TAKE(6);
	unsigned idx = TAKE(4);
	if (idx == 15) {
		if (len < 5)
			return false;
		*rate = (int)TAKE(24);
	} else if (idx < 13) {
		*rate = rates[idx];
	} else {
		return false;
	}
	*channels = (int)TAKE(4);
#undef TAKE
	if (*channels == 7)
		*channels = 8;
	return *rate > 0 && *channels > 0 && *channels <= 8;
}

/* The audio format of @a as FFmpeg names it: AAC with its config, MP3, G.711. */
static AVCodecParameters *audio_par(const struct rtmp_audio *a)
{
	static const int mp3_rates[4] = { 5512, 11025, 22050, 44100 };
	enum AVCodecID id;
	int rate = (int)a->rate, ch = (int)a->channels;
	const uint8_t *x = NULL;
	size_t xlen = 0;
	switch (a->format) {
	case 10:
		id = AV_CODEC_ID_AAC;
		if (!asc_format(a->data, a->len, &rate, &ch))
			return NULL;
		x = a->data;
		xlen = a->len;
		break;
	case 2:
		id = AV_CODEC_ID_MP3;
		if (rate <= 3)
			rate = mp3_rates[rate];
		break;
	case 7:
		id = AV_CODEC_ID_PCM_ALAW;
		rate = 8000;
		break;
	case 8:
		id = AV_CODEC_ID_PCM_MULAW;
		rate = 8000;
		break;
	default:
		return NULL;
	}
	AVCodecParameters *par = new_par(AVMEDIA_TYPE_AUDIO, id, x, xlen);
	if (!par)
		return NULL;
	par->sample_rate = rate > 0 ? rate : 8000;
	av_channel_layout_default(&par->ch_layout, ch > 0 ? ch : 1);
	return par;
}

static void on_audio(struct play *pl, const struct push_msg *m)
{
	struct rtmp_audio a;
	if (rtmp_audio_parse(m->data, m->len, &a) != 0)
		return;
	bool aac = a.format == 10;
	bool new_format = aac ? a.config && !same_extradata(pl->apar, a.data, a.len)
		: !pl->apar || pl->apar->codec_id != (a.format == 2 ? AV_CODEC_ID_MP3
			: a.format == 7 ? AV_CODEC_ID_PCM_ALAW : AV_CODEC_ID_PCM_MULAW);
	if (new_format) {
		AVCodecParameters *par = audio_par(&a);
		if (!par) {
			if (!pl->warned_audio)
				log_warn("publisher of %s sends audio the server does not carry (FLV "
					"sound format %u): its audio is dropped", pl->key, a.format);
			pl->warned_audio = true;
			return;
		}
		avcodec_parameters_free(&pl->apar);
		pl->apar = par;
		/* the coded log takes the audio format after the video's */
		if (pl->vpar)
			source_audio_format(pl->s, par);
	}
	if ((aac && a.config) || !a.len || !pl->apar)
		return;
	int64_t t = unwrap_ms(pl, m->ts_ms);
	source_push_audio(pl->s, a.data, a.len, t * 1000);
}

static void on_data(struct play *pl, const struct push_msg *m)
{
	struct rtmp_meta meta;
	if (rtmp_meta_parse(m->data, m->len, &meta) != 0)
		return;
	if (meta.framerate > 0 && meta.framerate < 1000)
		pl->fps = meta.framerate;
	if (meta.width > 0 && meta.width < 65536 && meta.height > 0 && meta.height < 65536) {
		pl->width = meta.width;
		pl->height = meta.height;
	}
}

/* Plays one publisher until it ends (and its queue is empty) or the source stops. */
static void play(struct source *s, struct push_pub *p, const char *key)
{
	struct play pl = { .s = s, .key = key };
	struct push_msg *m;
	int64_t waited, waited_since_video = 0;
	log_info("source %s: a publisher began", source_params(s)->display_url);
	while ((m = take(p, s, &waited))) {
		source_count_bytes(s, m->len);
		/* the decoder's "behind" test wants the wait since the last picture, as av_pull
		 * gives it: audio between pictures must not make every picture look unwaited */
		waited_since_video += waited;
		switch (m->kind) {
		case PUSH_VIDEO:
			on_video(&pl, m, waited_since_video);
			waited_since_video = 0;
			break;
		case PUSH_AUDIO:
			on_audio(&pl, m);
			break;
		case PUSH_DATA:
			on_data(&pl, m);
			break;
		}
		free(m);
	}
	if (pl.vpar)
		source_flush_video(s);
	avcodec_parameters_free(&pl.vpar);
	avcodec_parameters_free(&pl.apar);
}

static int64_t run_session(struct source *s, struct cs_error *why)
{
	const struct source_params *sp = source_params(s);
	struct push_registry *r = sp->input_ctx;
	const char *key = sp->url;
	int64_t started = clock_mono_us();
	struct push_pub *p;
	while ((p = claim(r, key, s))) {
		play(s, p, key);
		release(p);
		if (source_stopping(s))
			break;
		struct cs_error gone;
		cs_fail(&gone, CS_SOURCE_ENDED, "the publisher of %s left; waiting for it to "
			"come back", key);
		gone.clean = true;
		source_interrupted(s, &gone);
	}
	/* the session ends only when the source is stopped (the ingest stops it when nobody
	 * publishes the key any more) */
	cs_fail(why, CS_SOURCE_ENDED, "nobody publishes %s any more", key);
	why->clean = true;
	return clock_mono_us() - started;
}

const struct input_ops rtmp_push_input = {
	.name = "push",
	.run_session = run_session,
};
