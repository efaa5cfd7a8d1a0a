#include "hls_mux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flv.h"
#include "fmp4.h"
#include "strbuf.h"

/* A part holds at most this many pictures and audio frames, whatever the timestamps say (a
 * publisher that stamps every picture alike never fills a part's duration). */
#define PART_MAX_PICTURES 256
#define PART_MAX_AUDIO 512
#define MIN_STEP_US 12          /* pictures this far apart at least: one 90 kHz tick */

struct part {
	struct hls_buf *buf;
	int64_t dur_us;
	bool independent;
};

struct seg {
	uint64_t msn;
	unsigned init_version;
	bool discontinuity;     /* an EXT-X-DISCONTINUITY goes before it */
	bool complete;
	int64_t start_us;       /* the timeline's dts of its first picture */
	int64_t dur_us;         /* complete: its length */
	int64_t wall_us;        /* when the source read its first picture */
	uint64_t first_part;    /* the number of its first part (parts are numbered across
	                         * segments, so the hinted part is simply the next one) */
	struct part *parts;
	size_t n_parts, cap_parts;
	size_t bytes;
};

struct init {
	unsigned version;
	struct hls_buf *buf;
};

/* An entry waiting in the part being built, with its place on the timeline. */
struct pending {
	struct coded_entry *e;
	int64_t t_us;           /* video: dts; audio: pts */
	uint32_t size;          /* bytes it takes in the mdat */
};

struct pend_list {
	struct pending *v;
	size_t n, cap;
};

struct hls_mux {
	struct seg *segs;       /* oldest first; the last one may be in progress */
	size_t n_segs, cap_segs;
	uint64_t next_msn;      /* the msn the next segment gets */
	uint64_t next_part;     /* the number the next part gets */
	unsigned lead_gaps;     /* gaps a young playlist may list in front (hls_mux_create) */
	uint64_t disc_seq;      /* discontinuities that left the window */

	struct init *inits;     /* the init segments the window's segments use */
	size_t n_inits, cap_inits;
	unsigned init_version;  /* the newest init's version (0: none yet) */
	struct coded_params *vp, *ap; /* what the newest init describes (references) */
	struct coded_params *audio;   /* the audio the caller says the source has (reference) */
	const struct coded_params *refused; /* the last params refused with -EINVAL */
	bool restart;           /* the next segment starts afresh: a new init, a discontinuity */

	struct flv_clock clock;
	bool in_segment;        /* a segment is in progress (the last of segs) */
	struct pend_list pv, pa; /* the part being built: video and audio */
	int64_t part_start_us;
	bool part_independent;
	int64_t last_t_us;      /* the last picture's dts */
	int64_t next_min_us;    /* the earliest dts the next picture may have */
	int64_t frame_us;       /* the interval between the last two pictures */
	uint64_t audio_next;    /* where the audio track's next sample goes (its timescale) */
	bool audio_started;

	uint32_t frag_seq;
	unsigned target_s;
	int64_t part_target_us; /* announced: fixed when the first segment completes */
	bool ready, ended;
	struct hls_mux_stats st;
};

struct hls_buf *hls_buf_ref(struct hls_buf *b)
{
	if (b)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void hls_buf_unref(struct hls_buf *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

static struct hls_buf *buf_new(size_t len)
{
	struct hls_buf *b = malloc(sizeof(*b) + len);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	return b;
}

struct hls_mux *hls_mux_create(unsigned gaps)
{
	struct hls_mux *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->restart = true;
	m->lead_gaps = gaps < HLS_MIN_SEGMENTS ? gaps : HLS_MIN_SEGMENTS - 1;
	m->next_msn = m->lead_gaps; /* room for the gaps a young playlist starts with */
	m->target_s = 1;
	m->part_target_us = HLS_PART_TARGET_US;
	return m;
}

static void pend_clear(struct pend_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		coded_entry_unref(l->v[i].e);
	l->n = 0;
}

static void seg_free(struct seg *s)
{
	for (size_t i = 0; i < s->n_parts; i++)
		hls_buf_unref(s->parts[i].buf);
	free(s->parts);
	memset(s, 0, sizeof(*s));
}

void hls_mux_destroy(struct hls_mux *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_segs; i++)
		seg_free(&m->segs[i]);
	free(m->segs);
	for (size_t i = 0; i < m->n_inits; i++)
		hls_buf_unref(m->inits[i].buf);
	free(m->inits);
	pend_clear(&m->pv);
	pend_clear(&m->pa);
	free(m->pv.v);
	free(m->pa.v);
	coded_params_unref(m->vp);
	coded_params_unref(m->ap);
	coded_params_unref(m->audio);
	free(m);
}

void hls_mux_set_audio(struct hls_mux *m, const struct coded_params *audio)
{
	if (audio && audio->codec != CODED_AAC)
		audio = NULL;
	if (coded_params_same(m->audio, audio))
		return;
	coded_params_unref(m->audio);
	m->audio = coded_params_ref((struct coded_params *)audio);
}

/* The bytes @e's picture takes in an mdat (written to @out when not NULL). H.264 goes as the
 * camera sent it, in-band parameter sets included, as every avc1 file ffmpeg writes from a
 * camera has them: a client that keeps the first init segment (ffmpeg's HLS demuxer skips a
 * second moov) still follows a new resolution. H.265 goes without them (fmp4.h): hvc1, which
 * Apple requires for HLS, wants them in the init segment only. */
static size_t video_sample(const struct coded_entry *e, uint8_t *out)
{
	if (e->params->codec == CODED_H264) {
		if (out)
			memcpy(out, e->data, e->len);
		return e->len;
	}
	return fmp4_video_sample(e->params->codec, e->data, e->len, out, out ? e->len : 0);
}

/* ---- parts and segments ---- */

static int pend_add(struct pend_list *l, const struct coded_entry *e, int64_t t_us,
	uint32_t size)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct pending *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct pending){ coded_entry_ref((struct coded_entry *)e), t_us, size };
	return 0;
}

static struct seg *cur_seg(struct hls_mux *m)
{
	return m->in_segment ? &m->segs[m->n_segs - 1] : NULL;
}

static uint64_t ticks90k(int64_t us)
{
	return us > 0 ? (uint64_t)us * 9 / 100 : 0;
}

/* The part being built becomes bytes, ending at @end_us (the next picture's dts). */
static int close_part(struct hls_mux *m, int64_t end_us)
{
	struct seg *s = cur_seg(m);
	if (!s || !m->pv.n) {
		pend_clear(&m->pa);
		return 0;
	}
	size_t nv = m->pv.n, na = m->pa.n;
	struct fmp4_sample *smp = calloc(nv + na + 1, sizeof(*smp));
	int r = -ENOMEM;
	if (!smp)
		goto out;
	if (end_us <= m->pv.v[nv - 1].t_us)
		end_us = m->pv.v[nv - 1].t_us + (m->frame_us > 0 ? m->frame_us : 40000);
	/* pictures the camera lost leave a hole after the part rather than stretch its last
	 * picture past the announced target (RFC 8216bis: a part is at most PART-TARGET) */
	if (m->ready && end_us - m->part_start_us > m->part_target_us)
		end_us = m->part_start_us + m->part_target_us;
	size_t data = 0;
	for (size_t i = 0; i < nv; i++) {
		const struct pending *p = &m->pv.v[i];
		int64_t next = i + 1 < nv ? m->pv.v[i + 1].t_us : end_us;
		int64_t cts = 0;
		if (p->e->pts_us != INT64_MIN && p->e->dts_us != INT64_MIN &&
			p->e->pts_us > p->e->dts_us)
			cts = p->e->pts_us - p->e->dts_us;
		smp[i] = (struct fmp4_sample){ .size = p->size,
			.duration = (uint32_t)(ticks90k(next) - ticks90k(p->t_us)),
			.cts = (int32_t)ticks90k(cts), .key = p->e->key };
		data += p->size;
	}
	struct fmp4_run runs[2] = { { .track_id = FMP4_VIDEO_TRACK,
		.base_dts = ticks90k(m->pv.v[0].t_us), .samples = smp, .n = nv } };
	size_t n_runs = 1;
	if (na && m->ap) {
		unsigned rate = m->ap->sample_rate;
		uint64_t first = (uint64_t)(m->pa.v[0].t_us > 0 ? m->pa.v[0].t_us : 0) * rate /
			1000000;
		/* the track stays contiguous unless the camera's clock moved on by over 2 frames;
		 * it never goes back */
		if (m->audio_started && first < m->audio_next + 2048)
			first = m->audio_next;
		for (size_t i = 0; i < na; i++) {
			smp[nv + i] = (struct fmp4_sample){ .size = m->pa.v[i].size, .duration = 1024,
				.key = true };
			data += m->pa.v[i].size;
		}
		runs[1] = (struct fmp4_run){ .track_id = FMP4_AUDIO_TRACK, .base_dts = first,
			.samples = smp + nv, .n = na };
		n_runs = 2;
		m->audio_next = first + 1024 * (uint64_t)na;
		m->audio_started = true;
	}
	size_t head = fmp4_moof_size(runs, n_runs);
	struct hls_buf *b = head ? buf_new(head + data) : NULL;
	if (!b)
		goto out;
	if (fmp4_moof_write(b->data, head, ++m->frag_seq, runs, n_runs) != head) {
		hls_buf_unref(b);
		r = -EINVAL;
		goto out;
	}
	size_t off = head;
	for (size_t i = 0; i < nv; i++)
		off += video_sample(m->pv.v[i].e, b->data + off);
	for (size_t i = 0; n_runs == 2 && i < na; i++) {
		memcpy(b->data + off, m->pa.v[i].e->data, m->pa.v[i].size);
		off += m->pa.v[i].size;
	}
	if (s->n_parts == s->cap_parts) {
		size_t cap = s->cap_parts ? s->cap_parts * 2 : 8;
		struct part *v = realloc(s->parts, cap * sizeof(*v));
		if (!v) {
			hls_buf_unref(b);
			goto out;
		}
		s->parts = v;
		s->cap_parts = cap;
	}
	s->parts[s->n_parts++] = (struct part){ b, end_us - m->part_start_us, m->part_independent };
	m->next_part++;
	s->bytes += b->len;
	m->st.parts_made++;
	r = HLS_PART_DONE;
out:
	free(smp);
	pend_clear(&m->pv);
	pend_clear(&m->pa);
	m->part_start_us = end_us;
	m->part_independent = false;
	if (m->next_min_us < end_us)
		m->next_min_us = end_us;
	return r;
}

static size_t complete_segs(const struct hls_mux *m)
{
	return m->n_segs - (m->in_segment ? 1 : 0);
}

static size_t window_bytes(const struct hls_mux *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_segs; i++)
		n += m->segs[i].bytes;
	return n;
}

/* Oldest segments leave while the window is over its bounds; inits nobody uses go too. */
static void trim(struct hls_mux *m)
{
	while (complete_segs(m) > HLS_WINDOW ||
		(complete_segs(m) > 1 && window_bytes(m) > HLS_MAX_BYTES)) {
		/* the segment after the one leaving becomes the first, whose EXT-X-DISCONTINUITY is
		 * not written: a tag left the playlist */
		if (m->n_segs > 1 && m->segs[1].discontinuity)
			m->disc_seq++;
		seg_free(&m->segs[0]);
		memmove(m->segs, m->segs + 1, (m->n_segs - 1) * sizeof(*m->segs));
		m->n_segs--;
	}
	unsigned oldest = m->n_segs ? m->segs[0].init_version : m->init_version;
	size_t k = 0;
	for (size_t i = 0; i < m->n_inits; i++) {
		if (m->inits[i].version < oldest)
			hls_buf_unref(m->inits[i].buf);
		else
			m->inits[k++] = m->inits[i];
	}
	m->n_inits = k;
}

static int close_segment(struct hls_mux *m, int64_t end_us)
{
	int r = close_part(m, end_us);
	struct seg *s = cur_seg(m);
	if (!s)
		return r < 0 ? r : 0;
	m->in_segment = false;
	if (!s->n_parts) { /* nothing made it into bytes: the segment never was */
		seg_free(s);
		m->n_segs--;
		m->next_msn--;
		return r < 0 ? r : 0;
	}
	s->complete = true;
	s->dur_us = 0;
	for (size_t i = 0; i < s->n_parts; i++)
		s->dur_us += s->parts[i].dur_us;
	unsigned t = (unsigned)((s->dur_us + 500000) / 1000000);
	if (t > m->target_s)
		m->target_s = t;
	if (!m->ready) {
		m->ready = true;
		for (size_t i = 0; i < s->n_parts; i++)
			if (s->parts[i].dur_us > m->part_target_us)
				m->part_target_us = s->parts[i].dur_us;
	}
	m->st.segments_made++;
	trim(m);
	return (r < 0 ? 0 : r) | HLS_PART_DONE | HLS_SEGMENT_DONE;
}

static bool inits_room(struct hls_mux *m)
{
	if (m->n_inits < m->cap_inits)
		return true;
	size_t cap = m->cap_inits ? m->cap_inits * 2 : 4;
	struct init *v = realloc(m->inits, cap * sizeof(*v));
	if (!v)
		return false;
	m->inits = v;
	m->cap_inits = cap;
	return true;
}

static int new_init(struct hls_mux *m, struct coded_params *video)
{
	struct strbuf sb = STRBUF_INIT;
	int r = fmp4_init(&sb, video, m->audio);
	if (r == 0 && sb.failed)
		r = -ENOMEM;
	if (r) {
		sb_free(&sb);
		return r;
	}
	struct hls_buf *b = buf_new(sb.len);
	if (!b || !inits_room(m)) {
		hls_buf_unref(b);
		sb_free(&sb);
		return -ENOMEM;
	}
	memcpy(b->data, sb.p, sb.len);
	sb_free(&sb);
	m->inits[m->n_inits++] = (struct init){ ++m->init_version, b };
	/* the audio track goes on where it was, in the new rate's samples: it never goes back */
	if (m->audio_started && m->audio && m->ap && m->ap->sample_rate != m->audio->sample_rate)
		m->audio_next = (m->audio_next * m->audio->sample_rate + m->ap->sample_rate - 1) /
			m->ap->sample_rate;
	coded_params_unref(m->vp);
	coded_params_unref(m->ap);
	m->vp = coded_params_ref(video);
	m->ap = coded_params_ref(m->audio);
	return 0;
}

/* A segment starts with the picture at @t_us (@e). */
static int start_segment(struct hls_mux *m, const struct coded_entry *e, int64_t t_us)
{
	bool disc = false;
	if (m->restart || !coded_params_same(m->vp, e->params) ||
		!coded_params_same(m->ap, m->audio)) {
		int r = new_init(m, e->params);
		if (r)
			return r;
		disc = m->n_segs > 0 || m->st.segments_made > 0;
		if (disc)
			m->st.discontinuities++;
		m->restart = false;
	}
	if (m->n_segs == m->cap_segs) {
		size_t cap = m->cap_segs ? m->cap_segs * 2 : 8;
		struct seg *v = realloc(m->segs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->segs = v;
		m->cap_segs = cap;
	}
	m->segs[m->n_segs++] = (struct seg){ .msn = m->next_msn++,
		.init_version = m->init_version, .discontinuity = disc, .start_us = t_us,
		.wall_us = e->t_wall_us, .first_part = m->next_part };
	m->in_segment = true;
	m->part_start_us = t_us;
	m->part_independent = e->key;
	return 0;
}

static int push_video(struct hls_mux *m, const struct coded_entry *e, bool discontinuity)
{
	const struct coded_params *p = e->params;
	if (!p || (p->codec != CODED_H264 && p->codec != CODED_H265)) {
		if (p && m->refused != p) {
			m->refused = p;
			return -EINVAL;
		}
		return 0;
	}
	size_t size = video_sample(e, NULL);
	if (size == 0 || size > UINT32_MAX / 2)
		return 0;
	/* pictures stamped alike (a stalled clock, an RTSP camera with B-frames and no dts)
	 * still get a decode time of their own */
	int64_t t = flv_clock_place(&m->clock, e);
	if (t < m->next_min_us)
		t = m->next_min_us;
	int flags = 0, r = 0;
	bool forced = false;    /* a segment too long without a key picture was cut */
	struct seg *s = cur_seg(m);
	int64_t est = m->frame_us > 0 ? m->frame_us : 40000;

	if (s && (discontinuity || !coded_params_same(m->vp, p) ||
		!coded_params_same(m->ap, m->audio))) {
		/* what came before ends here; the next segment starts afresh */
		r = close_segment(m, discontinuity ? m->last_t_us + est : t);
		flags |= r > 0 ? r : 0;
		m->restart = true;
		s = NULL;
	} else if (s) {
		int64_t seg_len = t - s->start_us, part_len = t - m->part_start_us;
		/* half a frame of slack: a camera's 1 s GOP whose key picture comes a few ms early
		 * must not make 2 s segments */
		if ((e->key && seg_len + est / 2 >= HLS_SEGMENT_MIN_US) ||
			seg_len >= HLS_SEGMENT_MAX_US ||
			s->n_parts >= HLS_MAX_PARTS) {
			forced = !e->key;
			r = close_segment(m, t);
			flags |= r > 0 ? r : 0;
			s = NULL;
		} else if (m->pv.n && (part_len + est > HLS_PART_TARGET_US + est / 4 ||
			m->pv.n >= PART_MAX_PICTURES)) {
			/* a part that starts with a key picture is INDEPENDENT; a key picture does not
			 * cut one short (every picture of an intra-only camera is one) */
			r = close_part(m, t);
			flags |= r > 0 ? r : 0;
			m->part_independent = e->key;
		}
	}
	if (r < 0 && r != -EINVAL)
		flags = r;
	if (t < m->next_min_us) /* no earlier than the part just closed ends */
		t = m->next_min_us;
	if (!s) {
		if (!e->key && !forced)
			goto done; /* wait for a key picture */
		int rs = start_segment(m, e, t);
		if (rs)
			return rs;
	}
	if (m->last_t_us && t > m->last_t_us)
		m->frame_us = t - m->last_t_us;
	m->last_t_us = t;
	if (!m->pv.n)
		m->part_start_us = t; /* after a hole, the part starts where its pictures do */
	if (pend_add(&m->pv, e, t, (uint32_t)size))
		return -ENOMEM;
	m->next_min_us = t + MIN_STEP_US;
done:
	return flags;
}

static int push_audio(struct hls_mux *m, const struct coded_entry *e)
{
	if (!m->in_segment || !m->ap || e->len == 0 || e->len > 65536 ||
		m->pa.n >= PART_MAX_AUDIO)
		return 0;
	if (e->params != m->ap && !coded_params_same(e->params, m->ap))
		return 0;
	int64_t t = flv_clock_place(&m->clock, e);
	return pend_add(&m->pa, e, t, (uint32_t)e->len) ? -ENOMEM : 0;
}

int hls_mux_push(struct hls_mux *m, const struct coded_entry *e, bool discontinuity)
{
	if (m->ended || e->kind == CODED_SOUND)   /* the AAC form of the same sound is read */
		return 0;
	if (e->kind == CODED_AUDIO)
		return push_audio(m, e);
	return push_video(m, e, discontinuity);
}

void hls_mux_end(struct hls_mux *m)
{
	if (m->ended)
		return;
	int64_t est = m->frame_us > 0 ? m->frame_us : 40000;
	close_segment(m, m->last_t_us + est);
	m->ended = true;
}

bool hls_mux_ended(const struct hls_mux *m)
{
	return m->ended;
}

bool hls_mux_ready(const struct hls_mux *m)
{
	return m->ready;
}

unsigned hls_mux_target_s(const struct hls_mux *m)
{
	return m->target_s;
}

void hls_mux_position(const struct hls_mux *m, struct hls_mux_pos *pos)
{
	const struct seg *s = m->in_segment ? &m->segs[m->n_segs - 1] : NULL;
	pos->msn = s ? s->msn : m->next_msn;
	pos->parts = s ? (unsigned)s->n_parts : 0;
	pos->oldest_msn = m->n_segs ? m->segs[0].msn : m->next_msn;
	pos->next_part = m->next_part;
}

static const struct seg *find_seg(const struct hls_mux *m, uint64_t msn)
{
	if (!m->n_segs || msn < m->segs[0].msn || msn > m->segs[m->n_segs - 1].msn)
		return NULL;
	return &m->segs[msn - m->segs[0].msn];
}

enum hls_have hls_mux_have(const struct hls_mux *m, uint64_t msn, int part)
{
	const struct seg *s = find_seg(m, msn);
	if (s && s->complete) {
		if (part < 0 || (size_t)part < s->n_parts)
			return HLS_HAVE;
		/* one past a segment's last part is the next segment's first (RFC 8216bis) */
		return (size_t)part == s->n_parts ? hls_mux_have(m, msn + 1, 0) : HLS_NEVER;
	}
	if (s && part >= 0 && (size_t)part < s->n_parts)
		return HLS_HAVE;
	struct hls_mux_pos pos;
	hls_mux_position(m, &pos);
	if (m->ended || msn < pos.msn || msn > pos.msn + 2)
		return HLS_NEVER;
	if (part > 1000)
		return HLS_NEVER;
	return HLS_LATER;
}

static void put_date(struct strbuf *sb, int64_t wall_us)
{
	time_t sec = (time_t)(wall_us / 1000000);
	struct tm tm;
	char text[40];
	if (!gmtime_r(&sec, &tm) || !strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm))
		return;
	sb_printf(sb, "#EXT-X-PROGRAM-DATE-TIME:%s.%03dZ\n", text,
		(int)(wall_us / 1000 % 1000));
}

char *hls_mux_playlist(const struct hls_mux *m, const char *prefix, const char *suffix)
{
	if (!m->ready)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	/* whole milliseconds, rounded up, so that the hold-back printed is three times the
	 * target printed */
	double part_target = (double)((m->part_target_us + 999) / 1000) / 1e3;
	size_t done = complete_segs(m);
	/* A young session lists gaps (EXT-X-GAP) in front of its first segments, so that the
	 * playlist has HLS_MIN_SEGMENTS from the start: Chromium's and Safari's own players
	 * refuse a live playlist of fewer (RFC 8216 6.3.3: a client starts three target
	 * durations from the end), and waiting for three real ones would cost two GOPs. */
	uint64_t first = m->n_segs ? m->segs[0].msn : m->next_msn;
	uint64_t gaps = done < HLS_MIN_SEGMENTS ? HLS_MIN_SEGMENTS - done : 0;
	if (gaps > first)
		gaps = first;
	if (gaps > m->lead_gaps)
		gaps = m->lead_gaps;
	sb_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:%u\n"
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f\n"
		"#EXT-X-PART-INF:PART-TARGET=%.3f\n#EXT-X-MEDIA-SEQUENCE:%llu\n",
		m->target_s, 3 * part_target, part_target,
		(unsigned long long)(first - gaps));
	if (m->disc_seq)
		sb_printf(&sb, "#EXT-X-DISCONTINUITY-SEQUENCE:%llu\n",
			(unsigned long long)m->disc_seq);
	unsigned map = 0;
	for (uint64_t k = gaps; k > 0 && m->n_segs; k--) {
		const struct seg *s0 = &m->segs[0];
		int64_t dur = s0->complete ? s0->dur_us : (int64_t)m->target_s * 1000000;
		if (!map) {
			map = s0->init_version;
			sb_printf(&sb, "#EXT-X-MAP:URI=\"%sinit%u.mp4%s\"\n", prefix, map,
				suffix);
		}
		put_date(&sb, s0->wall_us - (int64_t)k * dur);
		sb_printf(&sb, "#EXT-X-GAP\n#EXTINF:%.5f,\n%sgap.mp4%s\n", (double)dur / 1e6, prefix,
			suffix);
	}
	for (size_t i = 0; i < m->n_segs; i++) {
		const struct seg *s = &m->segs[i];
		if (!s->n_parts)
			continue;
		if (s->discontinuity && i > 0)
			sb_puts(&sb, "#EXT-X-DISCONTINUITY\n");
		if (s->init_version != map) {
			map = s->init_version;
			sb_printf(&sb, "#EXT-X-MAP:URI=\"%sinit%u.mp4%s\"\n", prefix, map,
				suffix);
		}
		put_date(&sb, s->wall_us);
		if (!s->complete || i + HLS_PART_SEGMENTS >= done)
			for (size_t k = 0; k < s->n_parts; k++)
				sb_printf(&sb, "#EXT-X-PART:DURATION=%.5f,URI=\"%spart%llu.m4s%s\"%s\n",
					(double)s->parts[k].dur_us / 1e6, prefix,
					(unsigned long long)(s->first_part + k), suffix,
					s->parts[k].independent ? ",INDEPENDENT=YES" : "");
		if (s->complete)
			sb_printf(&sb, "#EXTINF:%.5f,\n%sseg%llu.m4s%s\n", (double)s->dur_us / 1e6,
				prefix, (unsigned long long)s->msn, suffix);
	}
	if (m->ended) {
		sb_puts(&sb, "#EXT-X-ENDLIST\n");
	} else {
		sb_printf(&sb, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%spart%llu.m4s%s\"\n", prefix,
			(unsigned long long)m->next_part, suffix);
	}
	return sb_take(&sb);
}

unsigned hls_mux_init_version(const struct hls_mux *m)
{
	return m->n_segs ? m->segs[0].init_version : m->init_version;
}

struct hls_buf *hls_mux_init(const struct hls_mux *m, unsigned version)
{
	for (size_t i = 0; i < m->n_inits; i++)
		if (m->inits[i].version == version)
			return hls_buf_ref(m->inits[i].buf);
	return NULL;
}

/* The segment part @number is in, or NULL. */
static const struct seg *seg_of_part(const struct hls_mux *m, uint64_t number)
{
	for (size_t i = m->n_segs; i-- > 0;) {
		const struct seg *s = &m->segs[i];
		if (number >= s->first_part)
			return number < s->first_part + s->n_parts ? s : NULL;
	}
	return NULL;
}

enum hls_have hls_mux_have_part(const struct hls_mux *m, uint64_t number)
{
	if (seg_of_part(m, number))
		return HLS_HAVE;
	return !m->ended && (number == m->next_part || number == m->next_part + 1) ? HLS_LATER
		: HLS_NEVER;
}

struct hls_buf *hls_mux_part(const struct hls_mux *m, uint64_t number)
{
	const struct seg *s = seg_of_part(m, number);
	return s ? hls_buf_ref(s->parts[number - s->first_part].buf) : NULL;
}

size_t hls_mux_segment(const struct hls_mux *m, uint64_t msn, struct hls_buf **bufs,
	size_t cap)
{
	const struct seg *s = find_seg(m, msn);
	if (!s || !s->complete)
		return 0;
	for (size_t i = 0; i < s->n_parts && i < cap; i++)
		bufs[i] = hls_buf_ref(s->parts[i].buf);
	return s->n_parts;
}

void hls_mux_get_stats(const struct hls_mux *m, struct hls_mux_stats *st)
{
	*st = m->st;
	st->segments = complete_segs(m);
	st->parts = 0;
	for (size_t i = 0; i < m->n_segs; i++)
		st->parts += m->segs[i].n_parts;
	st->bytes = window_bytes(m);
}

bool hls_number_parse(const char *text, uint64_t max, uint64_t *out)
{
	if (!text || !*text || strlen(text) > 19)
		return false;
	uint64_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n > max)
		return false;
	*out = n;
	return true;
}

/* A number between @prefix and @suffix that make up the whole of @file. */
static bool file_number(const char *file, const char *prefix, const char *suffix,
	uint64_t max, uint64_t *out)
{
	size_t n = strlen(file), p = strlen(prefix), q = strlen(suffix);
	char num[24];
	if (n <= p + q || n - p - q >= sizeof(num) || strncmp(file, prefix, p) ||
		strcmp(file + n - q, suffix))
		return false;
	memcpy(num, file + p, n - p - q);
	num[n - p - q] = '\0';
	return hls_number_parse(num, max, out);
}

enum hls_file hls_file_parse(const char *file, uint64_t *number)
{
	*number = 0;
	if (!strcmp(file, "gap.mp4"))
		return HLS_FILE_GAP;
	if (file_number(file, "init", ".mp4", 1u << 30, number))
		return HLS_FILE_INIT;
	if (file_number(file, "seg", ".m4s", UINT64_MAX / 2, number))
		return HLS_FILE_SEGMENT;
	if (file_number(file, "part", ".m4s", UINT64_MAX / 2, number))
		return HLS_FILE_PART;
	return HLS_FILE_NONE;
}
