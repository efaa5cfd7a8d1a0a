#include "coded_feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "aac_transcode.h"
#include "log.h"
#include "nal.h"

/* How the session's access units arrive. */
enum au_form { AU_NONE = 0, AU_ANNEXB, AU_LENGTH };

struct coded_feed {
	struct coded_log *log;     /* not owned */
	const char *display_url;   /* not owned */
	enum coded_codec vcodec;   /* CODED_NONE: no coded form */
	enum au_form au_form;
	unsigned nal_length_size;  /* AU_LENGTH: 1, 2 or 4 */
	struct coded_params *vparams; /* current video parameter sets (one reference), or NULL */
	struct coded_params *aparams; /* current audio format (one reference), or NULL */
	struct coded_params *sparams; /* the camera's own sound, copied as well (one reference),
	                               * or NULL: G.711 and Opus (codedlog.h, CODED_SOUND) */
	struct aac_transcode *aac; /* the session's audio into AAC (owned), or NULL: copied */
	enum AVCodecID audio_refused; /* the codec whose audio was last left out, said once */
	bool audio_drop_said;      /* a dropped audio packet was logged this session */
};

struct coded_feed *coded_feed_create(struct coded_log *log, const char *display_url)
{
	struct coded_feed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->log = log;
	f->display_url = display_url;
	return f;
}

/* Forgets the session's audio. */
static void drop_audio(struct coded_feed *f)
{
	if (f->aac) {
		struct aac_transcode_stats st;
		aac_transcode_get_stats(f->aac, &st);
		log_debug("source %s: audio transcoded: %llu packets, %llu dropped, %llu samples "
			"dropped, %llu AAC frames, %llu timestamp anchors", f->display_url,
			(unsigned long long)st.packets, (unsigned long long)st.dropped,
			(unsigned long long)st.samples_dropped, (unsigned long long)st.frames,
			(unsigned long long)st.anchors);
	}
	aac_transcode_destroy(f->aac);
	f->aac = NULL;
	coded_params_unref(f->aparams);
	f->aparams = NULL;
	coded_params_unref(f->sparams);
	f->sparams = NULL;
	f->audio_drop_said = false;
}

void coded_feed_destroy(struct coded_feed *f)
{
	if (!f)
		return;
	coded_params_unref(f->vparams);
	drop_audio(f);
	free(f);
}

/* The parameter sets an extradata holds: avcC/hvcC (FLV, MP4) or Annex B (an SDP's
 * sprop-parameter-sets), and the form of the access units that follow. */
static void take_extradata(struct coded_feed *f, const AVCodecParameters *par)
{
	enum nal_codec nc = f->vcodec == CODED_H264 ? NAL_H264 : NAL_H265;
	const uint8_t *sets[NAL_CONFIG_MAX_UNITS];
	size_t lens[NAL_CONFIG_MAX_UNITS], n = 0;
	struct nal_config cfg;

	f->au_form = AU_ANNEXB;
	f->nal_length_size = 4;
	if (par->extradata_size <= 0)
		return;
	const uint8_t *x = par->extradata;
	size_t len = (size_t)par->extradata_size;
	if (x[0] == 1) {
		/* a configuration record starts with version 1; the access units that follow are
		 * length-prefixed */
		f->au_form = AU_LENGTH;
		int rc = nc == NAL_H264 ? nal_parse_avcc(x, len, &cfg) : nal_parse_hvcc(x, len, &cfg);
		if (rc < 0) {
			log_debug("source %s: its decoder configuration record is malformed",
				f->display_url);
			return;
		}
		f->nal_length_size = cfg.length_size;
		for (size_t i = 0; i < cfg.n; i++, n++) {
			sets[n] = cfg.units[i].data;
			lens[n] = cfg.units[i].len;
		}
	} else {
		struct nal_iter it;
		struct nal_unit u;
		nal_iter_annexb(&it, x, len);
		while (n < NAL_CONFIG_MAX_UNITS && nal_iter_next(&it, &u) > 0)
			if (nal_is_param_set(nc, nal_type(nc, u.data, u.len))) {
				sets[n] = u.data;
				lens[n++] = u.len;
			}
	}
	if (n)
		f->vparams = coded_params_video(f->vcodec, sets, lens, n);
}

bool coded_feed_video(struct coded_feed *f, const AVCodecParameters *par)
{
	coded_params_unref(f->vparams);
	f->vparams = NULL;
	f->au_form = AU_NONE;
	/* the old session's audio goes; coded_feed_audio tells this one's, if it has any */
	drop_audio(f);
	coded_log_set_params(f->log, CODED_AUDIO, NULL);
	coded_log_set_params(f->log, CODED_SOUND, NULL);
	f->vcodec = par->codec_id == AV_CODEC_ID_H264 ? CODED_H264
		: par->codec_id == AV_CODEC_ID_HEVC ? CODED_H265 : CODED_NONE;
	if (f->vcodec != CODED_NONE)
		take_extradata(f, par);
	coded_log_reset(f->log);
	return f->vcodec != CODED_NONE;
}

/* The audio is left out of the log: said once per source and codec at warning level (a
 * reconnecting camera says the same each time), else for debugging. */
static void refuse_audio(struct coded_feed *f, enum AVCodecID id, const char *why)
{
	if (f->audio_refused != id)
		log_warn("source %s: its %s audio is left out: %s", f->display_url,
			avcodec_get_name(id), why);
	else
		log_debug("source %s: its %s audio is left out: %s", f->display_url,
			avcodec_get_name(id), why);
	f->audio_refused = id;
}

/* The AAC stream @par announces: the camera's own (copied), or the transcoder's. */
static void take_audio(struct coded_feed *f, const AVCodecParameters *par)
{
	if (par->codec_id == AV_CODEC_ID_AAC) {
		f->aparams = coded_params_audio(CODED_AAC, (unsigned)par->sample_rate,
			(unsigned)par->ch_layout.nb_channels, par->extradata,
			par->extradata_size > 0 ? (size_t)par->extradata_size : 0);
		if (!f->aparams)
			refuse_audio(f, par->codec_id, "no AudioSpecificConfig, or out of memory");
		else
			f->audio_refused = AV_CODEC_ID_NONE;
		return;
	}
	if (!aac_transcode_handles(par->codec_id)) {
		refuse_audio(f, par->codec_id, "the log carries AAC, and this codec is not "
			"transcoded to it");
		return;
	}
	char why[128];
	f->aac = aac_transcode_create(par, why, sizeof(why));
	if (f->aac) {
		size_t n;
		const uint8_t *asc = aac_transcode_config(f->aac, &n);
		f->aparams = coded_params_audio(CODED_AAC, aac_transcode_rate(f->aac),
			aac_transcode_channels(f->aac), asc, n);
		if (!f->aparams) {
			aac_transcode_destroy(f->aac);
			f->aac = NULL;
			snprintf(why, sizeof(why), "out of memory");
		}
	}
	if (!f->aparams) {
		refuse_audio(f, par->codec_id, why);
		return;
	}
	f->audio_refused = AV_CODEC_ID_NONE;
	log_debug("source %s: its %s audio (%d Hz) becomes AAC at %u Hz, %u channel(s)",
		f->display_url, avcodec_get_name(par->codec_id), par->sample_rate,
		aac_transcode_rate(f->aac), aac_transcode_channels(f->aac));
}

void coded_feed_audio(struct coded_feed *f, const AVCodecParameters *par)
{
	drop_audio(f);
	if (f->vcodec != CODED_NONE) { /* else nothing is logged for this session */
		take_audio(f, par);
		enum coded_codec own = par->codec_id == AV_CODEC_ID_PCM_ALAW ? CODED_PCMA :
			par->codec_id == AV_CODEC_ID_PCM_MULAW ? CODED_PCMU :
			par->codec_id == AV_CODEC_ID_OPUS ? CODED_OPUS : CODED_NONE;
		if (own != CODED_NONE && par->sample_rate > 0 && par->ch_layout.nb_channels > 0)
			f->sparams = coded_params_sound(own, (unsigned)par->sample_rate,
				(unsigned)par->ch_layout.nb_channels);
	}
	/* readers that start before the first frame know the audio to come, or that none will */
	coded_log_set_params(f->log, CODED_AUDIO, f->aparams);
	coded_log_set_params(f->log, CODED_SOUND, f->sparams);
}

const struct coded_params *coded_feed_params(const struct coded_feed *f)
{
	return f->vparams;
}

/* Whether a unit the log could not take (malformed further on, or no memory) is a key
 * picture all the same, by the units read before the walk stopped; the demuxer's @key_hint
 * when none was read. The decoder opens at key pictures: it must not miss one. */
static bool scan_key(const struct coded_feed *f, const uint8_t *data, size_t len, unsigned nls,
	bool key_hint)
{
	enum nal_codec nc = f->vcodec == CODED_H264 ? NAL_H264 : NAL_H265;
	struct nal_iter it;
	struct nal_unit u;
	bool any = false;
	if (nls)
		nal_iter_lp(&it, data, len, nls);
	else
		nal_iter_annexb(&it, data, len);
	while (nal_iter_next(&it, &u) == 1) {
		int type = nal_type(nc, u.data, u.len);
		if (nal_is_key(nc, type))
			return true;
		any |= nal_is_vcl(nc, type);
	}
	return any ? false : key_hint;
}

bool coded_feed_picture(struct coded_feed *f, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t dts_us, int64_t wall_us, bool key_hint, bool *changed)
{
	struct coded_entry *e = NULL;
	struct coded_params *fresh = NULL;
	unsigned nls = f->au_form == AU_LENGTH ? f->nal_length_size : 0;

	if (changed)
		*changed = false;
	if (f->vcodec == CODED_NONE)
		return key_hint;
	if (coded_entry_from_au(f->vcodec, data, len, nls, f->vparams, &e, &fresh) < 0)
		return scan_key(f, data, len, nls, key_hint);
	if (fresh) {
		/* new parameter sets in the stream: a resolution change, or the first ones */
		coded_params_unref(f->vparams);
		f->vparams = fresh;
		if (changed)
			*changed = true;
	}
	if (!e)
		return key_hint;
	bool key = e->key;
	if (!e->params) {
		coded_entry_unref(e); /* nothing can play it before the parameter sets */
		return key;
	}
	e->pts_us = pts_us;
	e->dts_us = dts_us;
	e->t_wall_us = wall_us;
	coded_log_append(f->log, e);
	return key;
}

/* The transcoder's sink: one AAC frame into the log. */
struct aac_put {
	struct coded_feed *f;
	int64_t wall_us;
};

static void append_audio(struct coded_feed *f, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t wall_us)
{
	struct coded_entry *e = coded_entry_create(len);
	if (!e)
		return;
	memcpy(e->data, data, len);
	e->kind = CODED_AUDIO;
	e->pts_us = e->dts_us = pts_us;
	e->t_wall_us = wall_us;
	e->params = coded_params_ref(f->aparams);
	coded_log_append(f->log, e);
}

/* The camera's own sound, one packet an entry, beside its AAC form. */
static void append_sound(struct coded_feed *f, const uint8_t *data, size_t len, int64_t pts_us,
	int64_t wall_us)
{
	struct coded_entry *e = len ? coded_entry_create(len) : NULL;
	if (!e)
		return;
	memcpy(e->data, data, len);
	e->kind = CODED_SOUND;
	e->pts_us = e->dts_us = pts_us;
	e->t_wall_us = wall_us;
	e->params = coded_params_ref(f->sparams);
	coded_log_append(f->log, e);
}

static void put_aac(void *arg, const uint8_t *frame, size_t len, int64_t pts_us)
{
	struct aac_put *p = arg;
	append_audio(p->f, frame, len, pts_us, p->wall_us);
}

void coded_feed_audio_frame(struct coded_feed *f, const uint8_t *data, size_t len,
	int64_t pts_us, int64_t wall_us)
{
	if (f->sparams && f->vcodec != CODED_NONE)
		append_sound(f, data, len, pts_us, wall_us);
	if (!f->aparams || f->vcodec == CODED_NONE)
		return;
	if (!f->aac) {
		append_audio(f, data, len, pts_us, wall_us);
		return;
	}
	struct aac_put p = { .f = f, .wall_us = wall_us };
	if (aac_transcode_push(f->aac, data, len, pts_us, put_aac, &p) == -EINVAL &&
		!f->audio_drop_said) {
		f->audio_drop_said = true;
		log_debug("source %s: an audio packet that does not decode is dropped (the "
			"count is logged when the session ends)", f->display_url);
	}
}
