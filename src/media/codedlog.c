/* codedlog: see codedlog.h for what and why. */
#include "codedlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nal.h"

struct coded_log {
	pthread_mutex_t lock;   /* guards everything below; readers hold it only to take refs */
	size_t max_bytes, max_entries;

	/* The window: a ring of max_entries slots, oldest at head. Each slot holds one
	 * reference. Seqs are consecutive: ring[head] has first_seq. */
	struct coded_entry **ring;
	size_t head, count, bytes;
	uint64_t first_seq;     /* of the oldest entry; next_seq when empty */
	uint64_t next_seq;      /* the seq the next append gets */
	uint64_t key_seq;       /* the newest key picture, where readers join; 0: none in the
	                         * window. Before it only the tail of the GOP before. */
	int64_t newest_wall;    /* t_wall_us of the newest entry */
	uint64_t epoch;         /* resets so far */

	struct coded_entry *last_key;        /* one reference, or NULL */
	struct coded_params *current[CODED_KINDS]; /* per kind: one reference, or NULL */
	uint64_t versions[CODED_KINDS];      /* per kind: the last version given */

	struct coded_log_stats stats;        /* entries and bytes are filled on request */
};

/* ---- params ---- */

struct coded_params *coded_params_ref(struct coded_params *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void coded_params_unref(struct coded_params *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

/* One allocation: the struct, then the config, then the sets. */
static struct coded_params *params_alloc(size_t config_len, size_t sets_len)
{
	struct coded_params *p;

	if (config_len > SIZE_MAX - sizeof(*p) - sets_len)
		return NULL;
	p = calloc(1, sizeof(*p) + config_len + sets_len);
	if (!p)
		return NULL;
	atomic_init(&p->refs, 1);
	p->config = (const uint8_t *)(p + 1);
	p->config_len = config_len;
	p->sets = p->config + config_len;
	p->sets_len = sets_len;
	return p;
}

static bool nal_codec_of(enum coded_codec codec, enum nal_codec *out)
{
	if (codec == CODED_H264)
		*out = NAL_H264;
	else if (codec == CODED_H265)
		*out = NAL_H265;
	else
		return false;
	return true;
}

/* The parameter sets of @units, VPS, SPS, PPS in that order, into @out (@cap units). */
static size_t order_sets(enum nal_codec nc, const struct nal_unit *units, size_t n,
	struct nal_unit *out, size_t cap, bool *too_many)
{
	static const int order[2][3] = {
		{ NAL_H264_SPS, NAL_H264_PPS, -1 },
		{ NAL_H265_VPS, NAL_H265_SPS, NAL_H265_PPS },
	};
	size_t k = 0;

	*too_many = false;
	for (int t = 0; t < 3; t++) {
		int type = order[nc == NAL_H265][t];
		for (size_t i = 0; type >= 0 && i < n; i++) {
			if (nal_type(nc, units[i].data, units[i].len) != type)
				continue;
			/* cameras often repeat their sets in one access unit (x264 inline and the
			 * packetizer's config-interval): a copy adds nothing */
			bool copy = false;
			for (size_t j = 0; j < k && !copy; j++)
				copy = out[j].len == units[i].len &&
					!memcmp(out[j].data, units[i].data, units[i].len);
			if (copy)
				continue;
			if (k == cap) {
				*too_many = true;
				return k;
			}
			out[k++] = units[i];
		}
	}
	return k;
}

/* coded_params_video with units; *@err says why when it returns NULL. */
static struct coded_params *params_video(enum coded_codec codec, const struct nal_unit *units,
	size_t n, int *err)
{
	struct nal_unit sets[NAL_CONFIG_MAX_UNITS];
	struct coded_params *p;
	enum nal_codec nc;
	struct nal_sps sps = { 0 };
	size_t config_len, sets_len = 0;
	bool too_many;
	int r;

	*err = -EINVAL;
	if (!nal_codec_of(codec, &nc))
		return NULL;
	size_t k = order_sets(nc, units, n, sets, NAL_CONFIG_MAX_UNITS, &too_many);
	if (too_many)
		return NULL;
	r = nc == NAL_H264 ? nal_build_avcc(sets, k, NULL, 0, &config_len) :
		nal_build_hvcc(sets, k, NULL, 0, &config_len);
	if (r < 0)
		return NULL;
	for (size_t i = 0; i < k; i++) {
		sets_len += 4 + sets[i].len;
		if (!sps.width && nal_type(nc, sets[i].data, sets[i].len) ==
			(nc == NAL_H264 ? NAL_H264_SPS : NAL_H265_SPS))
			nal_parse_sps(nc, sets[i].data, sets[i].len, &sps); /* the builder's SPS */
	}
	*err = -ENOMEM;
	p = params_alloc(config_len, sets_len);
	if (!p)
		return NULL;
	p->kind = CODED_VIDEO;
	p->codec = codec;
	p->width = sps.width;
	p->height = sps.height;
	uint8_t *w = (uint8_t *)p->config;
	r = nc == NAL_H264 ? nal_build_avcc(sets, k, w, config_len, &config_len) :
		nal_build_hvcc(sets, k, w, config_len, &config_len);
	if (r < 0) { /* cannot happen: the same input fitted a moment ago */
		*err = r;
		free(p);
		return NULL;
	}
	w = (uint8_t *)p->sets;
	for (size_t i = 0; i < k; i++) {
		size_t len = sets[i].len;
		w[0] = (uint8_t)(len >> 24);
		w[1] = (uint8_t)(len >> 16);
		w[2] = (uint8_t)(len >> 8);
		w[3] = (uint8_t)len;
		memcpy(w + 4, sets[i].data, len);
		w += 4 + len;
	}
	*err = 0;
	return p;
}

struct coded_params *coded_params_video(enum coded_codec codec, const uint8_t *const *sets,
	const size_t *lens, size_t n)
{
	struct nal_unit units[NAL_CONFIG_MAX_UNITS];
	int err;

	if (n > NAL_CONFIG_MAX_UNITS || (n && (!sets || !lens)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		units[i].data = sets[i];
		units[i].len = sets[i] ? lens[i] : 0;
	}
	return params_video(codec, units, n, &err);
}

struct coded_params *coded_params_audio(enum coded_codec codec, unsigned sample_rate,
	unsigned channels, const uint8_t *config, size_t config_len)
{
	struct coded_params *p;

	if (codec < CODED_AAC || codec > CODED_MP3 || !sample_rate || !channels)
		return NULL;
	if (!config)
		config_len = 0;
	if (codec == CODED_AAC && config_len < 2)
		return NULL;
	p = params_alloc(config_len, 0);
	if (!p)
		return NULL;
	p->kind = CODED_AUDIO;
	p->codec = codec;
	p->sample_rate = sample_rate;
	p->channels = channels;
	if (config_len)
		memcpy((uint8_t *)p->config, config, config_len);
	return p;
}

struct coded_params *coded_params_sound(enum coded_codec codec, unsigned sample_rate,
	unsigned channels)
{
	if (codec != CODED_PCMA && codec != CODED_PCMU && codec != CODED_OPUS)
		return NULL;
	struct coded_params *p = coded_params_audio(codec, sample_rate, channels, NULL, 0);
	if (p)
		p->kind = CODED_SOUND;
	return p;
}

bool coded_params_same(const struct coded_params *a, const struct coded_params *b)
{
	if (!a || !b)
		return a == b;
	return a->kind == b->kind && a->codec == b->codec && a->sample_rate == b->sample_rate &&
		a->channels == b->channels && a->config_len == b->config_len &&
		a->sets_len == b->sets_len && !memcmp(a->config, b->config, a->config_len) &&
		!memcmp(a->sets, b->sets, a->sets_len);
}

/* ---- entries ---- */

struct coded_entry *coded_entry_create(size_t len)
{
	struct coded_entry *e;

	if (len > SIZE_MAX - sizeof(*e))
		return NULL;
	/* the header zeroed, not the data: its writer fills it whole (a key picture is 100 KB
	 * and more; zeroing it was a quarter of an RTMP ingest's instructions) */
	e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	atomic_init(&e->refs, 1);
	e->len = len;
	return e;
}

struct coded_entry *coded_entry_ref(struct coded_entry *e)
{
	if (e)
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	return e;
}

void coded_entry_unref(struct coded_entry *e)
{
	if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
		coded_params_unref(e->params);
		free(e);
	}
}

/* The parameter sets a stream has after an access unit that carried @inband: for each type,
 * the in-band units of that type if the access unit has any, else @current's. */
static size_t merge_sets(enum nal_codec nc, const struct nal_unit *inband, size_t n_inband,
	const struct coded_params *current, struct nal_unit *out, size_t cap, bool *too_many)
{
	struct nal_iter it;
	struct nal_unit u;
	size_t k = 0;

	*too_many = false;
	for (size_t i = 0; i < n_inband && k < cap; i++)
		out[k++] = inband[i];
	if (!current)
		return k;
	nal_iter_lp(&it, current->sets, current->sets_len, 4);
	while (nal_iter_next(&it, &u) > 0) {
		int type = nal_type(nc, u.data, u.len);
		bool have = false;
		for (size_t i = 0; i < n_inband && !have; i++)
			have = nal_type(nc, inband[i].data, inband[i].len) == type;
		if (have)
			continue;
		if (k == cap) {
			*too_many = true;
			break;
		}
		out[k++] = u;
	}
	return k;
}

int coded_entry_from_au(enum coded_codec codec, const uint8_t *au, size_t len,
	unsigned nal_length_size, struct coded_params *current, struct coded_entry **entry,
	struct coded_params **changed)
{
	struct nal_unit inband[NAL_CONFIG_MAX_UNITS], merged[NAL_CONFIG_MAX_UNITS], u;
	struct coded_params *fresh = NULL;
	struct coded_entry *e = NULL;
	struct nal_iter it;
	enum nal_codec nc;
	size_t need, n_inband = 0;
	bool too_many = false;
	int r;

	*entry = NULL;
	*changed = NULL;
	if (!nal_codec_of(codec, &nc))
		return -EINVAL;
	if (current && (current->kind != CODED_VIDEO || current->codec != codec))
		current = NULL; /* the camera changed codec: only in-band sets can tell */
	r = nal_length_size ? nal_lp_to_lp4(au, len, nal_length_size, NULL, 0, &need) :
		nal_annexb_to_lp(au, len, NULL, 0, &need);
	if (r < 0)
		return r;
	if (need == 0)
		return -EINVAL;
	e = coded_entry_create(need);
	if (!e)
		return -ENOMEM;
	r = nal_length_size ? nal_lp_to_lp4(au, len, nal_length_size, e->data, need, &need) :
		nal_annexb_to_lp(au, len, e->data, need, &need);
	if (r < 0)
		goto fail;
	e->kind = CODED_VIDEO;
	nal_iter_lp(&it, e->data, e->len, 4);
	while (nal_iter_next(&it, &u) > 0) {
		int type = nal_type(nc, u.data, u.len);
		e->key |= nal_is_key(nc, type);
		if (!nal_is_param_set(nc, type))
			continue;
		if (n_inband == NAL_CONFIG_MAX_UNITS) {
			too_many = true;
			continue;
		}
		inband[n_inband++] = u;
	}
	r = -EINVAL;
	if (too_many)
		goto fail;
	if (n_inband) {
		size_t k = merge_sets(nc, inband, n_inband, current, merged, NAL_CONFIG_MAX_UNITS,
			&too_many);
		if (too_many)
			goto fail;
		fresh = params_video(codec, merged, k, &r);
		if (!fresh)
			goto fail;
		if (coded_params_same(fresh, current)) {
			coded_params_unref(fresh);
			fresh = NULL;
		}
	}
	r = -ENODATA;
	if (!fresh && !current)
		goto fail;
	e->params = coded_params_ref(fresh ? fresh : current);
	*entry = e;
	*changed = fresh;
	return 0;
fail:
	coded_entry_unref(e);
	return r;
}

/* ---- the log ---- */

struct coded_log *coded_log_create(size_t max_bytes, size_t max_entries)
{
	struct coded_log *log;

	if (!max_bytes || !max_entries || max_entries > SIZE_MAX / sizeof(*log->ring))
		return NULL;
	log = calloc(1, sizeof(*log));
	if (!log)
		goto fail;
	log->ring = calloc(max_entries, sizeof(*log->ring));
	if (!log->ring)
		goto fail_ring;
	if (pthread_mutex_init(&log->lock, NULL) != 0)
		goto fail_lock;
	log->max_bytes = max_bytes;
	log->max_entries = max_entries;
	log->first_seq = log->next_seq = 1;
	return log;

fail_lock:
	free(log->ring);
fail_ring:
	free(log);
fail:
	return NULL;
}

static struct coded_entry *at(const struct coded_log *log, uint64_t seq)
{
	return log->ring[(log->head + (size_t)(seq - log->first_seq)) % log->max_entries];
}

/* Under the lock. The oldest entry leaves the window. */
static void drop_oldest(struct coded_log *log)
{
	struct coded_entry *e = log->ring[log->head];

	log->ring[log->head] = NULL;
	log->head = (log->head + 1) % log->max_entries;
	log->count--;
	log->bytes -= e->len;
	if (log->first_seq == log->key_seq)
		log->key_seq = 0;
	log->first_seq++;
	coded_entry_unref(e); /* frees only if no reader holds it: a quick free() */
}

static void drop_all(struct coded_log *log)
{
	while (log->count)
		drop_oldest(log);
}

void coded_log_destroy(struct coded_log *log)
{
	if (!log)
		return;
	drop_all(log);
	coded_entry_unref(log->last_key);
	for (unsigned k = 0; k < CODED_KINDS; k++)
		coded_params_unref(log->current[k]);
	pthread_mutex_destroy(&log->lock);
	free(log->ring);
	free(log);
}

/* Under the lock, before @e is published: makes its params the current ones of its kind, or
 * swaps them for the current object if the bytes are the same. */
static void track_params(struct coded_log *log, struct coded_entry *e)
{
	unsigned k = (unsigned)e->kind < CODED_KINDS ? (unsigned)e->kind : CODED_VIDEO;
	struct coded_params *cur = log->current[k];

	if (!e->params || e->params == cur)
		return;
	if (coded_params_same(e->params, cur)) {
		coded_params_unref(e->params);
		e->params = coded_params_ref(cur);
		return;
	}
	if (!e->params->version) /* never published: still the writer's alone */
		e->params->version = ++log->versions[k];
	log->current[k] = coded_params_ref(e->params);
	coded_params_unref(cur);
}

void coded_log_append(struct coded_log *log, struct coded_entry *e)
{
	if (!log || !e)
		return;
	pthread_mutex_lock(&log->lock);
	e->seq = log->next_seq++;
	track_params(log, e);
	bool key = e->kind == CODED_VIDEO && e->key;
	if (key) {
		/* the GOP before leaves but for its tail, which readers that have not read it yet
		 * (it came in the same batch as this picture) still get */
		while (log->count && at(log, log->first_seq)->t_wall_us <
			e->t_wall_us - CODED_TAIL_US)
			drop_oldest(log);
		coded_entry_unref(log->last_key);
		log->last_key = coded_entry_ref(e);
		log->stats.keys++;
	}
	/* make room: the new entry itself always stays */
	while (log->count && (log->count >= log->max_entries ||
		log->bytes + e->len > log->max_bytes || log->bytes + e->len < log->bytes)) {
		drop_oldest(log);
		log->stats.dropped_by_bound++;
	}
	log->ring[(log->head + log->count) % log->max_entries] = e;
	log->count++;
	log->bytes += e->len;
	if (log->count == 1)
		log->first_seq = e->seq;
	if (key)
		log->key_seq = e->seq;
	log->newest_wall = e->t_wall_us;
	log->stats.appended++;
	pthread_mutex_unlock(&log->lock);
}

void coded_log_reset(struct coded_log *log)
{
	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	drop_all(log);
	coded_entry_unref(log->last_key);
	log->last_key = NULL;
	log->epoch++;
	log->stats.resets++;
	pthread_mutex_unlock(&log->lock);
}

void coded_log_set_params(struct coded_log *log, enum coded_kind kind,
	struct coded_params *params)
{
	if (!log || (unsigned)kind >= CODED_KINDS || (params && params->kind != kind))
		return;
	pthread_mutex_lock(&log->lock);
	struct coded_params *cur = log->current[kind];
	if (!params) {
		log->current[kind] = NULL;
		coded_params_unref(cur);
	} else if (params != cur && !coded_params_same(params, cur)) {
		if (!params->version)
			params->version = ++log->versions[kind];
		log->current[kind] = coded_params_ref(params);
		coded_params_unref(cur);
	}
	pthread_mutex_unlock(&log->lock);
}

struct coded_params *coded_log_params(struct coded_log *log, enum coded_kind kind)
{
	struct coded_params *p;

	if (!log || (unsigned)kind >= CODED_KINDS)
		return NULL;
	pthread_mutex_lock(&log->lock);
	p = coded_params_ref(log->current[kind]);
	pthread_mutex_unlock(&log->lock);
	return p;
}

/* Under the lock: moves @cur to the key picture of the window, counting what it passes
 * over. false if the window has no key picture. */
static bool join(struct coded_log *log, struct coded_cursor *cur)
{
	if (!log->count || !log->key_seq)
		return false;
	if (cur->started && log->key_seq > cur->next_seq) {
		cur->skipped += log->key_seq - cur->next_seq;
		cur->jumps++;
	}
	cur->started = true;
	cur->epoch = log->epoch;
	cur->next_seq = log->key_seq;
	return true;
}

bool coded_log_read(struct coded_log *log, struct coded_cursor *cur, int64_t max_lag_us,
	struct coded_entry **entry)
{
	bool got = false;

	*entry = NULL;
	if (!log || !cur)
		return false;
	pthread_mutex_lock(&log->lock);
	bool joining = !cur->started || cur->epoch != log->epoch || cur->next_seq < log->first_seq;
	if (joining && !join(log, cur))
		goto out;
	if (cur->next_seq >= log->next_seq)
		goto out; /* caught up */
	struct coded_entry *e = at(log, cur->next_seq);
	bool at_key = cur->next_seq == log->key_seq;
	/* Lagging: the rest of this GOP is not worth sending; the next key picture will drop it
	 * and the cursor jumps there. The key picture itself is where a reader starts. */
	if (max_lag_us > 0 && !at_key && log->newest_wall - e->t_wall_us > max_lag_us)
		goto out;
	*entry = coded_entry_ref(e);
	cur->next_seq++;
	got = true;
out:
	pthread_mutex_unlock(&log->lock);
	return got;
}

bool coded_log_newest_key(struct coded_log *log, struct coded_entry **entry)
{
	*entry = NULL;
	if (!log)
		return false;
	pthread_mutex_lock(&log->lock);
	*entry = coded_entry_ref(log->last_key);
	pthread_mutex_unlock(&log->lock);
	return *entry != NULL;
}

void coded_log_get_stats(struct coded_log *log, struct coded_log_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	*stats = log->stats;
	stats->entries = log->count;
	stats->bytes = log->bytes;
	pthread_mutex_unlock(&log->lock);
}
