#include "flv_stream.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "flv.h"
#include "http_reply.h"
#include "hub.h"

_Static_assert(CODED_HEADROOM >= FLV_PREFIX_MAX + LWS_PRE,
	"an entry's headroom holds a tag prefix and lws' own header");

#define NO_TS INT64_MIN            /* FFmpeg's AV_NOPTS_VALUE */
#define MAX_SKIPS_PER_CALL 64      /* entries passed over (audio not wanted) in one call */

enum cs_err flv_stream_options(struct flv_stream *fs, struct query *q, struct cs_error *err)
{
	bool audio = true;
	enum cs_err e = query_take_bool(q, "audio", &audio, err);
	fs->no_audio = !audio;
	return e;
}

bool flv_stream_pending(const struct flv_stream *fs)
{
	return fs->built || fs->e;
}

/* ---- timestamps ---- */

static int32_t composition_ms(const struct coded_entry *e)
{
	if (e->kind == CODED_AUDIO || e->pts_us == NO_TS || e->dts_us == NO_TS)
		return 0;
	int64_t ms = (e->pts_us - e->dts_us) / 1000;
	return (int32_t)(ms < -0x7fffff ? -0x7fffff : ms > 0x7fffff ? 0x7fffff : ms);
}

/* ---- the pieces ---- */

/* Makes room for @need more bytes after the built ones. */
static bool build(struct flv_stream *fs, size_t need)
{
	uint8_t *b = realloc(fs->built, LWS_PRE + fs->built_len + need);
	if (!b)
		return false;
	fs->built = b;
	return true;
}

static bool add_metadata(struct flv_stream *fs, const struct coded_params *vp, uint32_t ts_ms)
{
	struct flv_meta m = { .video = vp->codec, .width = vp->width, .height = vp->height };
	struct source_stats st;
	if (hub_sub_stats(&fs->v->sub, &st))
		m.fps = st.fps_nominal > 0 ? st.fps_nominal : st.fps;
	if (fs->audio && fs->ap) {
		m.audio = CODED_AAC;
		m.sample_rate = fs->ap->sample_rate;
		m.channels = fs->ap->channels;
	}
	size_t need = flv_metadata(NULL, 0, fs->prev, &m, ts_ms, NULL);
	if (!build(fs, need))
		return false;
	flv_metadata(fs->built + LWS_PRE + fs->built_len, need, fs->prev, &m, ts_ms, &fs->prev);
	fs->built_len += need;
	return true;
}

static bool add_config(struct flv_stream *fs, struct coded_params *p, uint32_t ts_ms)
{
	size_t need = flv_config(NULL, 0, fs->prev, p, ts_ms, NULL);
	if (!need)
		return true; /* nothing FLV carries: the entries that use it are passed over too */
	if (!build(fs, need))
		return false;
	flv_config(fs->built + LWS_PRE + fs->built_len, need, fs->prev, p, ts_ms, &fs->prev);
	fs->built_len += need;
	struct coded_params **slot = p->kind == CODED_AUDIO ? &fs->ap : &fs->vp;
	coded_params_unref(*slot);
	*slot = coded_params_ref(p);
	return true;
}

/* The start: the header, onMetaData, the sequence headers. The header says audio when the
 * source has audio FLV carries (its parameters exist before its first frame) and the viewer
 * wants it; players that see the flag wait for an audio sequence header. */
static bool begin(struct flv_stream *fs, struct coded_entry *first)
{
	struct coded_params *ap = fs->no_audio ? NULL :
		hub_sub_coded_params(&fs->v->sub, CODED_AUDIO);
	fs->audio = ap && flv_carries(ap->codec) && ap->config_len > 0;
	if (!build(fs, FLV_HEADER_LEN)) {
		coded_params_unref(ap);
		return false;
	}
	flv_header(fs->built + LWS_PRE, fs->audio);
	fs->built_len = FLV_HEADER_LEN;
	fs->prev = 0;
	coded_params_unref(fs->ap);
	fs->ap = NULL;
	bool ok = true;
	if (fs->audio) {
		fs->ap = ap; /* for onMetaData; sent below */
		ap = NULL;
	}
	ok = add_metadata(fs, first->params, 0) && add_config(fs, first->params, 0);
	if (ok && fs->audio) {
		struct coded_params *a = fs->ap;
		fs->ap = NULL;
		ok = add_config(fs, a, 0);
		coded_params_unref(a);
	}
	coded_params_unref(ap);
	fs->begun = true;
	fs->join_lag_us = clock_wall_us() - first->t_wall_us;
	if (fs->join_lag_us < 0)
		fs->join_lag_us = 0;
	fs->join_mono_us = clock_mono_us();
	return ok;
}

static int64_t max_lag_us(const struct flv_stream *fs)
{
	if (!fs->begun)
		return 0; /* the first read joins at the key picture, whatever its age */
	int64_t credit = fs->join_lag_us - (clock_mono_us() - fs->join_mono_us);
	return FLV_MAX_LAG_US + (credit > 0 ? credit : 0);
}

/* Makes @e the bytes in hand (after what was built for it). */
static bool take(struct flv_stream *fs, struct coded_entry *e, struct cs_error *err)
{
	bool ok = true;
	if (!fs->begun) {
		ok = begin(fs, e);
	} else if (e->kind == CODED_VIDEO && e->params != fs->vp) {
		uint32_t ts_ms = (uint32_t)(fs->clock.last_out_us[0] / 1000);
		ok = add_metadata(fs, e->params, ts_ms) && add_config(fs, e->params, ts_ms);
	} else if (e->kind == CODED_AUDIO && e->params != fs->ap) {
		ok = add_config(fs, e->params, (uint32_t)(fs->clock.last_out_us[1] / 1000));
	}
	if (!ok) {
		coded_entry_unref(e);
		cs_fail_oom(err);
		return false;
	}
	int64_t t_us = flv_clock_place(&fs->clock, e);
	size_t n = flv_entry_prefix(fs->prefix, fs->prev, e, (uint32_t)(t_us / 1000),
		composition_ms(e), &fs->prev);
	if (!n) { /* cannot happen for entries that passed flv_carries */
		coded_entry_unref(e);
		return fs->built != NULL;
	}
	fs->e = e;
	fs->prefix_len = n;
	fs->e_start = e->data - n;
	fs->e_len = n + e->len;
	fs->e_off = 0;
	return true;
}

bool flv_stream_next(struct flv_stream *fs, struct cs_error *err)
{
	cs_error_clear(err);
	if (flv_stream_pending(fs))
		return true;
	for (int i = 0; i < MAX_SKIPS_PER_CALL; i++) {
		struct coded_entry *e = hub_sub_coded_next(&fs->v->sub, max_lag_us(fs));
		if (!e)
			return false;
		bool wanted = e->params && e->kind != CODED_SOUND && flv_carries(e->params->codec) &&
			(e->kind == CODED_VIDEO || (fs->begun && fs->audio));
		if (wanted)
			return take(fs, e, err);
		coded_entry_unref(e);
	}
	lws_callback_on_writable(fs->v->wsi); /* more to look at: in the next callback */
	return false;
}

int flv_stream_write(struct flv_stream *fs, enum lws_write_protocol wp)
{
	size_t cap = viewer_chunk_limit(fs->v->wsi);
	if (fs->built) {
		size_t n = fs->built_len - fs->built_off;
		if (n > cap)
			n = cap;
		if (viewer_write_shared(fs->v->wsi, fs->built + LWS_PRE + fs->built_off, n, wp))
			return -1;
		hub_sub_count_sent(&fs->v->sub, n);
		fs->built_off += n;
		if (fs->built_off == fs->built_len) {
			free(fs->built);
			fs->built = NULL;
			fs->built_len = fs->built_off = 0;
		}
		return 0;
	}
	if (!fs->e)
		return 0;
	size_t n = fs->e_len - fs->e_off;
	if (n > cap)
		n = cap;
	/* the headroom is every reader's scratch: the prefix goes there only now, right before
	 * the write that sends it (another viewer may have used it since this one took @e) */
	if (fs->e_off == 0)
		memcpy(fs->e_start, fs->prefix + FLV_PREFIX_MAX - fs->prefix_len, fs->prefix_len);
	if (viewer_write_shared(fs->v->wsi, fs->e_start + fs->e_off, n, wp))
		return -1;
	hub_sub_count_sent(&fs->v->sub, n);
	fs->e_off += n;
	if (fs->e_off == fs->e_len) {
		coded_entry_unref(fs->e);
		fs->e = NULL;
	}
	return 0;
}

enum cs_err flv_stream_no_start(struct flv_stream *fs, bool expired, struct cs_error *err)
{
	struct viewer *v = fs->v;
	struct source_stats st;
	enum cs_err e = viewer_source_error(v, err);
	if (e != CS_OK)
		return e;
	if (hub_sub_stats(&v->sub, &st) && st.coded == SOURCE_CODED_NO)
		return cs_fail(err, CS_UNSUPPORTED_CODEC, "%s sends %s: FLV carries H.264 and H.265 "
			"only (the JPEG endpoints show it)", viewer_label(v),
			st.codec[0] ? st.codec : "pictures FLV cannot carry");
	if (expired)
		return cs_fail(err, CS_TIMEOUT, "no key picture from %s within %.1f s",
			viewer_label(v), (double)viewer_first_wait_us(v->wsi) / 1e6);
	return CS_OK;
}

void flv_stream_free(struct flv_stream *fs)
{
	free(fs->built);
	fs->built = NULL;
	fs->built_len = fs->built_off = 0;
	coded_entry_unref(fs->e);
	fs->e = NULL;
	coded_params_unref(fs->vp);
	coded_params_unref(fs->ap);
	fs->vp = fs->ap = NULL;
}
