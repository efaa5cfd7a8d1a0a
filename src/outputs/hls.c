#include "hls.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "flv_http.h"
#include "hls_mux.h"
#include "http_reply.h"
#include "hub.h"
#include "log.h"
#include "random.h"
#include "strbuf.h"
#include "viewer.h"
#include "webrtc.h"

#define HLS_PREFIX "/hls/"
#define LIVE_PREFIX "/live/"
#define SID_LEN 32
#define NAME_MAX_LEN 256
#define MAX_HELD 1024               /* requests held server-wide */
#define IDLE_MIN_US 3000000         /* a session with no request this long ends (at least) */
#define SEG_PARTS_MAX 128           /* parts of one segment a request can send */
#define SWEEP_US 500000
#define TRIM_AFTER_HELD 256         /* a burst of this many held requests ends with trims */
#define TRIM_SWEEPS 4               /* the sweeps after a burst that trim (2 s) */

enum what { W_NONE, W_PLAYLIST, W_INIT, W_SEGMENT, W_PART, W_GAP };
enum { M_PLAYLIST, M_INIT, M_SEGMENT, M_PART };

struct hls_session;

/* One request; embedded in the protocol's per-session data, which lws keeps for the
 * connection's life: a kept-alive connection's next request starts it afresh. */
struct hls_req {
	struct viewer v;               /* a playlist request: the viewer lifecycle */
	enum what what;
	struct lws *wsi;
	struct hls_session *s;
	uint64_t msn;                  /* a segment's msn, a part's number, a playlist's _HLS_msn */
	int part;                      /* a playlist's _HLS_part (-1: none) */
	unsigned version;
	bool block;                    /* a playlist with _HLS_msn */
	bool live;                     /* asked as /live/{name}.m3u8 */
	bool no_audio;
	bool held, expired, answering, finished;
	struct hls_req *hnext;         /* the session's held requests */
	lws_sorted_usec_list_t sul;    /* the hold's deadline */
	struct hls_buf *bufs[SEG_PARTS_MAX];
	size_t n_bufs, i_buf, off;
};

struct hls_session {
	struct hls_session *next;
	struct hls *h;
	struct hub_sub sub;            /* the session's coded reader */
	char *key;                     /* the source: "n:" name, or "u:" transport and URL */
	bool no_audio;
	char sid[SID_LEN + 1];
	char *name;                    /* a named stream's name, or NULL */
	char *key_query;               /* ?name= or ?rtsp_url= for /hls/ URIs (viewer_key_query) */
	char *label;                   /* for log lines: the name or the redacted URL */
	struct hls_mux *mux;
	struct hls_req *held;
	int64_t last_us;               /* the last request */
	bool ending;                   /* the source is gone: its sub is let go at the sweep */
	struct cs_error why;           /* why it ended (CS_OK: still running) */
	/* the playlist's text as /hls/index.m3u8 and as /live/{name}.m3u8 give it (their URIs
	 * are relative to different folders), made once per change (@gen) */
	struct hls_buf *playlist[2];
	uint64_t gen, playlist_gen[2];
};

struct hls {
	struct app *app;
	struct lws_context *cx;
	struct hls_session *sessions;
	lws_sorted_usec_list_t sweep;
	bool sweeping;
	unsigned n_sessions, n_held;
	unsigned held_peak;            /* the most held since the last burst ended */
	unsigned trims_left;           /* sweeps that trim the heap after a burst */
	uint64_t requests[4], held_timeouts, refused, bytes_sent;
};

static void session_free(struct hls_session *s);
static void session_drop(struct hls_session *s);

/* ---- sessions ---- */

static struct hls_session *find_by_sid(struct hls *h, const char *sid)
{
	for (struct hls_session *s = h->sessions; s; s = s->next)
		if (access_equal(s->sid, SID_LEN, sid, strlen(sid)))
			return s;
	return NULL;
}

/* The session of @key: a running one, or with @ended also one that ended. */
static struct hls_session *find_by_key(struct hls *h, const char *key, bool no_audio,
	bool ended)
{
	for (struct hls_session *s = h->sessions; s; s = s->next)
		if (!strcmp(s->key, key) && s->no_audio == no_audio &&
			(ended || (!s->ending && !s->why.code)))
			return s;
	return NULL;
}

static void wake_held(struct hls_session *s)
{
	for (struct hls_req *r = s->held; r; r = r->hnext)
		lws_callback_on_writable(r->wsi);
}

static void unhold(struct hls_req *r)
{
	if (!r->held)
		return;
	struct hls_session *s = r->s;
	for (struct hls_req **p = &s->held; *p; p = &(*p)->hnext)
		if (*p == r) {
			*p = r->hnext;
			break;
		}
	r->hnext = NULL;
	r->held = false;
	s->h->n_held--;
	lws_sul_cancel(&r->sul);
	/* a burst of held requests is over: its connections close in the next moments; the
	 * sweeps then give back what they took (glibc keeps freed memory between long-lived
	 * buffers, and RSS would creep up burst after burst) */
	if (!s->h->n_held && s->h->held_peak >= TRIM_AFTER_HELD) {
		s->h->held_peak = 0;
		s->h->trims_left = TRIM_SWEEPS;
	}
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	struct hls_req *r = lws_container_of(sul, struct hls_req, sul);
	r->expired = true;
	lws_callback_on_writable(r->wsi);
}

/* Holds @r until its session has news or @wait_us passes. false when the server holds its
 * maximum already. */
static bool hold(struct hls_req *r, int64_t wait_us)
{
	struct hls_session *s = r->s;
	if (r->held)
		return true;
	if (s->h->n_held >= MAX_HELD) {
		s->h->refused++;
		return false;
	}
	r->held = true;
	r->hnext = s->held;
	s->held = r;
	s->h->n_held++;
	if (s->h->n_held > s->h->held_peak)
		s->h->held_peak = s->h->n_held;
	r->expired = false;
	lws_sul_schedule(s->h->cx, 0, &r->sul, on_deadline, wait_us);
	return true;
}

static int64_t idle_us(const struct hls_session *s)
{
	int64_t t = 3 * (int64_t)hls_mux_target_s(s->mux) * 1000000;
	return t > IDLE_MIN_US ? t : IDLE_MIN_US;
}

static void end_session(struct hls_session *s, const struct cs_error *why)
{
	if (s->why.code || s->ending)
		return;
	s->why = *why;
	if (!s->why.code)
		s->why.code = CS_SOURCE_ENDED;
	hls_mux_end(s->mux);
	s->gen++;
	s->ending = true;          /* the sweep lets the source go: not from inside on_news */
	log_info("hls %s: the stream ended (%s): the playlist ends", s->label, s->why.msg);
	wake_held(s);
}

/* The session's news: every new entry of the log into the mux. */
static void session_pull(struct hls_session *s)
{
	if (s->why.code || s->ending || !s->sub.entry)
		return;
	if (!s->no_audio) {
		struct coded_params *ap = hub_sub_coded_params(&s->sub, CODED_AUDIO);
		hls_mux_set_audio(s->mux, ap);
		coded_params_unref(ap);
	}
	bool changed = false;
	for (;;) {
		struct coded_cursor before = s->sub.cursor;
		struct coded_entry *e = hub_sub_coded_next(&s->sub, 0);
		if (!e)
			break;
		/* a reset of the log (the source reconnected) is a discontinuity; a jump over
		 * entries the session did not read in time (the tail of a GOP when the next key
		 * picture came in the same batch) is only a gap the timeline bridges */
		bool disc = before.started && s->sub.cursor.epoch != before.epoch;
		int r = hls_mux_push(s->mux, e, disc);
		coded_entry_unref(e);
		if (r > 0) {
			changed = true;
		} else if (r == -EINVAL) {
			end_session(s, &(struct cs_error){ .code = CS_UNSUPPORTED_CODEC,
				.msg = "the camera's pictures cannot go into fMP4" });
			return;
		}
	}
	if (changed)
		s->gen++;
	/* a first playlist waits for a segment, or for the source to say it cannot give one */
	if (changed || !hls_mux_ready(s->mux))
		wake_held(s);
	struct cs_error err;
	if (hub_sub_error(&s->sub, &err) != CS_OK)
		end_session(s, &err);
}

static struct hls_session *session_of(struct hub_sub *sub)
{
	return (struct hls_session *)(void *)((char *)sub - offsetof(struct hls_session, sub));
}

static void on_news(struct hub_sub *sub)
{
	struct hls_session *s = session_of(sub);
	session_pull(s);
	if (s->h->app->shutting_down)
		wake_held(s);
}

static void sweep(lws_sorted_usec_list_t *sul);

static void arm_sweep(struct hls *h)
{
	if (!h->sweeping && h->sessions) {
		h->sweeping = true;
		lws_sul_schedule(h->cx, 0, &h->sweep, sweep, SWEEP_US);
	}
}

/* Sessions that ended let their source go; idle ones end. */
static void sweep(lws_sorted_usec_list_t *sul)
{
	struct hls *h = lws_container_of(sul, struct hls, sweep);
	int64_t now = clock_mono_us();
	h->sweeping = false;
	if (h->trims_left) {
		h->trims_left--;
		malloc_trim(0);
	}
	for (struct hls_session **p = &h->sessions; *p;) {
		struct hls_session *s = *p;
		if (s->ending && s->sub.entry)
			hub_unsubscribe(h->app->hub, &s->sub);
		if (!s->held && now - s->last_us > idle_us(s)) {
			*p = s->next;
			log_info("hls %s: no client for %.1f s: session closed", s->label,
				(double)(now - s->last_us) / 1e6);
			session_free(s);
			continue;
		}
		p = &s->next;
	}
	arm_sweep(h);
}

static void session_free(struct hls_session *s)
{
	if (s->sub.entry && s->h->app->hub)
		hub_unsubscribe(s->h->app->hub, &s->sub);
	while (s->held) {
		struct hls_req *r = s->held;
		unhold(r);
		r->s = NULL;
	}
	s->h->n_sessions--;
	hls_buf_unref(s->playlist[0]);
	hls_buf_unref(s->playlist[1]);
	session_drop(s);
}

/* What names @v's source: the same for every request of the same camera or stream. */
static char *source_key(const struct viewer *v)
{
	struct strbuf sb = STRBUF_INIT;
	if (v->opts.name)
		sb_printf(&sb, "n:%s", v->opts.name);
	else
		sb_printf(&sb, "u:%d:%s", (int)v->opts.transport, v->url.text);
	return sb_take(&sb);
}

static void session_drop(struct hls_session *s)
{
	hls_mux_destroy(s->mux);
	free(s->key);
	free(s->label);
	free(s->name);
	free(s->key_query);
	free(s);
}

/* A new session of the source @v's request names (@key), subscribed to it. */
static struct hls_session *session_start(struct hls *h, struct viewer *v, char *key,
	bool no_audio, struct cs_error *err)
{
	struct hls_session *s = calloc(1, sizeof(*s));
	if (!s) {
		free(key);
		cs_fail_oom(err);
		return NULL;
	}
	s->key = key;
	/* gaps in front, as MediaMTX does for Safari: a young playlist still has three segments */
	s->mux = hls_mux_create(HLS_MIN_SEGMENTS - 1);
	s->label = strdup(viewer_label(v));
	s->name = v->opts.name ? strdup(v->opts.name) : NULL;
	s->key_query = viewer_key_query(v);
	if (!s->key || !s->mux || !s->label || !s->key_query || (v->opts.name && !s->name)) {
		session_drop(s);
		cs_fail_oom(err);
		return NULL;
	}
	s->h = h;
	s->no_audio = no_audio;
	s->sub.on_news = on_news;
	s->last_us = clock_mono_us();
	random_hex(s->sid, SID_LEN);
	enum cs_err e = viewer_subscribe(v, &s->sub, err);
	/* a source that already told why it cannot give pictures says so now */
	if (e == CS_OK && (e = hub_sub_error(&s->sub, err)) != CS_OK)
		hub_unsubscribe(h->app->hub, &s->sub);
	if (e != CS_OK) {
		session_drop(s);
		return NULL;
	}
	s->next = h->sessions;
	h->sessions = s;
	h->n_sessions++;
	arm_sweep(h);
	log_info("hls %s: session started", s->label);
	session_pull(s); /* the cached key picture and what followed it are there already */
	return s;
}

/* ---- answers ---- */

static void req_reset(struct hls_req *r)
{
	unhold(r);
	for (size_t i = 0; i < r->n_bufs; i++)
		hls_buf_unref(r->bufs[i]);
	r->n_bufs = r->i_buf = r->off = 0;
	r->answering = false;
}

/* Ends the request's own part: its viewer (a playlist request) and what it holds. Once. */
static void req_finish(struct hls_req *r)
{
	if (r->finished)
		return;
	r->finished = true;
	req_reset(r);
	viewer_finish(&r->v);
}

static int fail(struct hls_req *r, const struct cs_error *err)
{
	struct lws *wsi = r->wsi;
	if (r->what == W_PLAYLIST && r->v.started && !r->v.finished) {
		req_reset(r);
		r->finished = true;
		return viewer_http_fail(&r->v, err);
	}
	log_msg(err->code == CS_NOT_FOUND || err->code == CS_BAD_REQUEST ? LOG_DEBUG : LOG_INFO,
		"hls: %s (%s)", err->msg, cs_err_code(err->code));
	req_finish(r);
	return http_reply_cs(wsi, err);
}

static int failf(struct hls_req *r, enum cs_err code, const char *msg)
{
	struct cs_error err = { .code = code };
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	return fail(r, &err);
}

/* Starts the answer: the headers, then the buffers in r->bufs from the writable callbacks. */
static int answer(struct hls_req *r, const char *type, bool playlist)
{
	size_t len = 0;
	for (size_t i = 0; i < r->n_bufs; i++)
		len += r->bufs[i]->len;
	unhold(r);
	if (r->s)
		r->s->h->bytes_sent += len;
	(void)playlist; /* every answer is cache-control: no-store (http_write_head) */
	if (http_write_head(r->wsi, HTTP_STATUS_OK, type, len, NULL, 0))
		return -1;
	r->answering = true;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	lws_callback_on_writable(r->wsi);
	return 0;
}

static int write_more(struct hls_req *r)
{
	struct lws *wsi = r->wsi;
	size_t cap = viewer_chunk_limit(wsi);
	while (r->i_buf < r->n_bufs && r->off == r->bufs[r->i_buf]->len) {
		r->i_buf++;
		r->off = 0;
	}
	if (r->i_buf < r->n_bufs) {
		struct hls_buf *b = r->bufs[r->i_buf];
		size_t n = b->len - r->off;
		if (n > cap)
			n = cap;
		bool last = r->i_buf + 1 == r->n_bufs && r->off + n == b->len;
		if (viewer_write_shared(wsi, b->data + r->off, n,
				last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP))
			return -1;
		r->off += n;
		if (!last) {
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	req_finish(r);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The session's playlist text, made once per change and shared by every request. */
static struct hls_buf *playlist_of(struct hls_session *s, bool live)
{
	if (s->playlist[live] && s->playlist_gen[live] == s->gen)
		return hls_buf_ref(s->playlist[live]);
	char prefix[NAME_MAX_LEN + SID_LEN + 4];
	snprintf(prefix, sizeof(prefix), "%s%s%s/", live ? s->name : "", live ? "/" : "",
		s->sid);
	/* /live/{name}/... names the stream in the path; /hls/{sid}/... carries it in a query,
	 * for a balancer that hashes on it */
	char *text = hls_mux_playlist(s->mux, prefix, live ? "" : s->key_query);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	struct hls_buf *b = malloc(sizeof(*b) + n);
	if (b) {
		atomic_init(&b->refs, 1);
		b->len = n;
		memcpy(b->data, text, n);
	}
	free(text);
	if (!b)
		return NULL;
	hls_buf_unref(s->playlist[live]);
	s->playlist[live] = b;
	s->playlist_gen[live] = s->gen;
	return hls_buf_ref(b);
}

static int64_t hold_us(const struct hls_session *s)
{
	return idle_us(s); /* 3 x the target duration, 3 s at least */
}

/* A playlist request, after its session was found: now, or held until it can be. */
static int playlist_try(struct hls_req *r)
{
	struct hls_session *s = r->s;
	struct app *app = app_of(r->wsi);
	if (app->shutting_down)
		return failf(r, CS_SERVER_BUSY, "the server is shutting down");
	if (!s)
		return failf(r, CS_NOT_FOUND, "the HLS session ended: load the playlist again");
	s->last_us = clock_mono_us();
	if (!hls_mux_ready(s->mux)) {
		if (s->why.code)
			return fail(r, &s->why);
		struct cs_error err;
		if (r->expired)
			return failf(r, CS_TIMEOUT, "no complete segment from the camera in time");
		if (hub_sub_error(&s->sub, &err) != CS_OK)
			return fail(r, &err);
		struct source_stats st;
		if (hub_sub_stats(&s->sub, &st) && st.coded == SOURCE_CODED_NO) {
			cs_fail(&err, CS_UNSUPPORTED_CODEC, "%s sends %s: HLS carries H.264 and H.265 "
				"only (the JPEG endpoints show it)", s->label,
				st.codec[0] ? st.codec : "pictures fMP4 cannot carry");
			return fail(r, &err);
		}
		return hold(r, viewer_first_wait_us(r->wsi)) ? 0 :
			failf(r, CS_SERVER_BUSY, "the server holds its maximum of blocking requests");
	}
	if (r->block && !r->expired && !hls_mux_ended(s->mux) &&
		hls_mux_have(s->mux, r->msn, r->part) != HLS_HAVE) {
		struct hls_mux_pos pos;
		hls_mux_position(s->mux, &pos);
		if (r->msn > pos.msn + 2)
			return failf(r, CS_BAD_REQUEST, "_HLS_msn is more than two segments ahead of "
				"the playlist");
		if (hls_mux_have(s->mux, r->msn, r->part) == HLS_LATER) {
			if (!r->held && !hold(r, hold_us(s)))
				return failf(r, CS_SERVER_BUSY, "the server holds its maximum of blocking "
					"requests");
			return 0;
		}
	}
	if (r->expired && r->held)
		s->h->held_timeouts++;
	struct hls_buf *b = playlist_of(s, r->live);
	if (!b)
		return failf(r, CS_SERVER_BUSY, "out of memory");
	r->bufs[0] = b;
	r->n_bufs = 1;
	return answer(r, "application/vnd.apple.mpegurl", true);
}

/* An init, segment or part request. */
static int media_try(struct hls_req *r)
{
	struct hls_session *s = r->s;
	if (app_of(r->wsi)->shutting_down)
		return failf(r, CS_SERVER_BUSY, "the server is shutting down");
	if (!s)
		return failf(r, CS_NOT_FOUND, "the HLS session ended: load the playlist again");
	s->last_us = clock_mono_us();
	if (r->what == W_GAP) { /* a client that fetches a gap anyway gets no pictures */
		struct hls_buf *b = hls_mux_init(s->mux, hls_mux_init_version(s->mux));
		r->bufs[0] = b;
		r->n_bufs = b ? 1 : 0;
		return answer(r, "video/mp4", false);
	}
	if (r->what == W_INIT) {
		r->bufs[0] = hls_mux_init(s->mux, r->version);
		if (!r->bufs[0])
			return failf(r, CS_NOT_FOUND, "no such init segment in the playlist");
		r->n_bufs = 1;
		return answer(r, "video/mp4", false);
	}
	struct hls_mux_pos pos;
	hls_mux_position(s->mux, &pos);
	enum hls_have have = r->what == W_PART ? hls_mux_have_part(s->mux, r->msn) :
		hls_mux_have(s->mux, r->msn, -1);
	if (have == HLS_LATER && (r->what == W_PART || r->msn <= pos.msn + 1) && !r->expired) {
		if (!r->held && !hold(r, hold_us(s)))
			return failf(r, CS_SERVER_BUSY, "the server holds its maximum of blocking "
				"requests");
		return 0;
	}
	if (have != HLS_HAVE) {
		if (r->expired) {
			s->h->held_timeouts++;
			return failf(r, CS_TIMEOUT, "the part did not come in time");
		}
		return failf(r, CS_NOT_FOUND, r->what == W_PART ? "no such part in the playlist "
			"(it left the window, or is too far ahead)" : "no such segment in the playlist "
			"(it left the window, or is too far ahead)");
	}
	if (r->what == W_PART) {
		struct hls_buf *b = hls_mux_part(s->mux, r->msn);
		if (!b)
			return failf(r, CS_NOT_FOUND, "no such part in the playlist");
		r->bufs[0] = b;
		r->n_bufs = 1;
	} else {
		size_t n = hls_mux_segment(s->mux, r->msn, r->bufs, SEG_PARTS_MAX);
		if (n > SEG_PARTS_MAX) {
			for (size_t i = 0; i < SEG_PARTS_MAX; i++)
				hls_buf_unref(r->bufs[i]);
			return failf(r, CS_SERVER_BUSY, "the segment has too many parts");
		}
		r->n_bufs = n;
	}
	return answer(r, "video/mp4", false);
}

static int writeable(struct hls_req *r)
{
	if (r->finished)
		return 0;
	if (r->answering)
		return write_more(r);
	return r->what == W_PLAYLIST ? playlist_try(r) : media_try(r);
}

/* ---- requests ---- */

static struct hls_req *req_of(struct viewer *v)
{
	return (struct hls_req *)(void *)((char *)v - offsetof(struct hls_req, v));
}

/* Takes "@name=value" out of @q (the rest moves down): its value, or NULL. */
static const char *take_arg(struct query *q, const char *name, int *dup)
{
	size_t n = strlen(name);
	const char *value = NULL;
	for (int i = 0; i < q->n;) {
		if (!strncmp(q->args[i], name, n) && q->args[i][n] == '=') {
			if (value)
				(*dup)++;
			value = q->args[i] + n + 1;
			memmove(&q->args[i], &q->args[i + 1], (size_t)(q->n - i - 1) * sizeof(*q->args));
			q->n--;
			continue;
		}
		i++;
	}
	return value;
}

static enum cs_err playlist_options(struct viewer *v, struct query *q, struct cs_error *err)
{
	struct hls_req *r = req_of(v);
	bool audio = true;
	enum cs_err e = query_take_bool(q, "audio", &audio, err);
	if (e != CS_OK)
		return e;
	r->no_audio = !audio;
	int dup = 0;
	const char *msn = take_arg(q, "_HLS_msn", &dup);
	const char *part = take_arg(q, "_HLS_part", &dup);
	take_arg(q, "_HLS_skip", &dup);
	if (dup)
		return cs_fail(err, CS_BAD_REQUEST, "an _HLS_ option is given twice");
	r->part = -1;
	if (part && !msn)
		return cs_fail(err, CS_BAD_REQUEST, "_HLS_part needs _HLS_msn (RFC 8216bis 6.2.5.2)");
	uint64_t n;
	if (msn) {
		if (!hls_number_parse(msn, UINT64_MAX / 2, &r->msn))
			return cs_fail(err, CS_BAD_REQUEST, "_HLS_msn must be a segment number");
		r->block = true;
	}
	if (part) {
		if (!hls_number_parse(part, 100000, &n))
			return cs_fail(err, CS_BAD_REQUEST, "_HLS_part must be a part number");
		r->part = (int)n;
	}
	return CS_OK;
}

static void playlist_news(struct viewer *v)
{
	(void)v; /* the session wakes held requests; the request's own subscription is quiet */
}

static int playlist_writeable(struct viewer *v)
{
	return writeable(req_of(v));
}

static const struct viewer_kind playlist_kind = {
	.what = "hls playlist",
	.path = "/hls/index.m3u8",
	.coded = true,
	.no_fps = true,
	.quiet = true,
	.deferred = true,             /* the session reads the source, not each request */
	.own_options = playlist_options,
	.on_news = playlist_news,
	.http_writeable = playlist_writeable,
};

static int begin_playlist(struct hls_req *r, struct lws *wsi, const char *path_name)
{
	struct app *app = app_of(wsi);
	struct hls *h = app->hls;
	struct cs_error err;
	r->what = W_PLAYLIST;
	r->live = path_name != NULL;
	h->requests[M_PLAYLIST]++;
	if (viewer_start(&r->v, wsi, &playlist_kind, path_name, &err) != CS_OK)
		return fail(r, &err);
	char *key = source_key(&r->v);
	if (!key)
		return fail(r, &(struct cs_error){ .code = CS_SERVER_BUSY, .msg = "out of memory" });
	/* where the last session ended, a client still in it (a blocking reload) gets its end;
	 * any other request starts anew */
	struct hls_session *s = find_by_key(h, key, r->no_audio, r->block);
	if (s)
		free(key);
	else if (!(s = session_start(h, &r->v, key, r->no_audio, &err)))
		return fail(r, &err);
	r->s = s;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
		(int)(viewer_first_wait_us(wsi) / 1000000) + VIEWER_STALL_S);
	return playlist_try(r);
}

/* The file of a sub-resource URI, as hls_mux_playlist names them. */
static bool parse_file(struct hls_req *r, const char *file)
{
	uint64_t n;
	switch (hls_file_parse(file, &n)) {
	case HLS_FILE_GAP:
		r->what = W_GAP;
		return true;
	case HLS_FILE_INIT:
		r->what = W_INIT;
		r->version = (unsigned)n;
		return true;
	case HLS_FILE_SEGMENT:
		r->what = W_SEGMENT;
		r->msn = n;
		return true;
	case HLS_FILE_PART:
		r->what = W_PART;
		r->msn = n;
		return true;
	case HLS_FILE_NONE:
		break;
	}
	return false;
}

/* /hls/{sid}/{file} or /live/{name}/{sid}/{file}. */
static int begin_media(struct hls_req *r, struct lws *wsi, const char *name, const char *rest)
{
	struct hls *h = app_of(wsi)->hls;
	const char *slash = strchr(rest, '/');
	char sid[SID_LEN + 1];
	if (!slash || slash - rest != SID_LEN || strchr(slash + 1, '/'))
		return failf(r, CS_NOT_FOUND, "no such path");
	memcpy(sid, rest, SID_LEN);
	sid[SID_LEN] = '\0';
	if (!parse_file(r, slash + 1))
		return failf(r, CS_NOT_FOUND, "no such path");
	h->requests[r->what == W_INIT || r->what == W_GAP ? M_INIT : r->what == W_SEGMENT ?
		M_SEGMENT : M_PART]++;
	struct hls_session *s = find_by_sid(h, sid);
	if (!s || (name && (!s->name || strcmp(s->name, name))))
		return failf(r, CS_NOT_FOUND, "no such HLS session (it ended): load the playlist "
			"again");
	r->s = s;
	return media_try(r);
}

static int on_http(struct hls_req *r, struct lws *wsi)
{
	char uri[NAME_MAX_LEN + SID_LEN + 64];
	int ret;
	memset(r, 0, sizeof(*r));
	r->wsi = wsi;
	r->part = -1;
	int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	if (n <= 0)
		return http_reply_error(wsi, n < 0 ? HTTP_STATUS_NOT_FOUND :
			HTTP_STATUS_METHOD_NOT_ALLOWED, n < 0 ? CS_NOT_FOUND : CS_BAD_REQUEST,
			n < 0 ? "no such path" : "only GET is supported here");
	size_t hp = strlen(HLS_PREFIX), lp = strlen(LIVE_PREFIX);
	if (!strncmp(uri, HLS_PREFIX, hp)) {
		if (!strcmp(uri + hp, "index.m3u8")) {
			if (!access_http_check(wsi, true, NULL, &ret))
				return ret;
			return begin_playlist(r, wsi, NULL);
		}
		/* the session id is the capability: no token asked */
		if (!access_http_check(wsi, false, NULL, &ret))
			return ret;
		return begin_media(r, wsi, NULL, uri + hp);
	}
	if (strncmp(uri, LIVE_PREFIX, lp))
		return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
	char *name = uri + lp, *slash = strchr(name, '/');
	size_t len = strlen(name);
	if (!slash && len > 5 && !strcmp(name + len - 5, ".m3u8")) {
		name[len - 5] = '\0';
		if (!access_http_check(wsi, true, NULL, &ret))
			return ret;
		return begin_playlist(r, wsi, name);
	}
	if (!slash)
		return http_reply_error(wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
	*slash = '\0';
	if (!access_http_check(wsi, false, NULL, &ret))
		return ret;
	return begin_media(r, wsi, name, slash + 1);
}

/* The /live mount's connections: an FLV viewer, HLS requests, or a WHEP offer. */
enum live_kind { LIVE_HLS, LIVE_FLV, LIVE_WHEP };

struct live_pss {
	enum live_kind kind;
	union {
		struct flv_http flv;
		struct hls_req hls;
		struct whep_req whep;
	} u;
};

/* /live/{name}.flv is FLV; /live/{name}/whep is WHEP (MediaMTX's address of a stream at the
 * path live/{name}), its name copied into @name (@cap bytes); the rest is HLS. */
static enum live_kind kind_of(struct lws *wsi, char *name, size_t cap)
{
	char *uri = NULL;
	int n = 0;
	if (lws_http_get_uri_and_method(wsi, &uri, &n) < 0 || !uri || n < 4)
		return LIVE_HLS;
	if (!memcmp(uri + n - 4, ".flv", 4))
		return LIVE_FLV;
	size_t lp = strlen(LIVE_PREFIX), wl = strlen("/whep"), len = (size_t)n;
	if (len > lp && uri[len - 1] == '/')
		len--;   /* /live/{name}/whep/, as /api/streams/{name}/whep/ is taken */
	if (len > lp + wl && len - lp - wl < cap && !strncmp(uri, LIVE_PREFIX, lp) &&
		!memcmp(uri + len - wl, "/whep", wl)) {
		memcpy(name, uri + lp, len - lp - wl);
		name[len - lp - wl] = '\0';
		if (!strchr(name, '/'))
			return LIVE_WHEP;
	}
	return LIVE_HLS;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct live_pss *p = user;
	if (!p)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	if (reason == LWS_CALLBACK_HTTP) {
		/* a kept-alive connection's last request */
		if (p->kind == LIVE_HLS && p->u.hls.wsi)
			req_finish(&p->u.hls);
		else if (p->kind == LIVE_WHEP)
			whep_callback(wsi, LWS_CALLBACK_HTTP_DROP_PROTOCOL, &p->u.whep, NULL, 0);
		char name[sizeof(p->u.whep.name)];
		p->kind = kind_of(wsi, name, sizeof(name));
		if (p->kind == LIVE_FLV) {
			memset(&p->u.flv, 0, sizeof(p->u.flv));
			return flv_http_protocol.callback(wsi, reason, &p->u.flv, in, len);
		}
		if (p->kind == LIVE_WHEP)
			return whep_begin(wsi, &p->u.whep, name);
		return on_http(&p->u.hls, wsi);
	}
	if (p->kind == LIVE_FLV)
		return flv_http_callback(wsi, reason, &p->u.flv, in, len);
	if (p->kind == LIVE_WHEP)
		return whep_callback(wsi, reason, &p->u.whep, in, len);
	struct hls_req *r = &p->u.hls;
	switch (reason) {
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return r->wsi ? writeable(r) : 0;
	case LWS_CALLBACK_TIMER:
		if (r->wsi && !r->finished)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (r->wsi)
			req_finish(r);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols hls_protocol = {
	.name = "camstream-hls",
	.callback = callback,
	.per_session_data_size = sizeof(struct live_pss),
	.tx_packet_size = 64 * 1024 + 64,
};

/* ---- the registry ---- */

struct hls *hls_create(struct app *app, struct lws_context *cx)
{
	struct hls *h = calloc(1, sizeof(*h));
	if (h) {
		h->app = app;
		h->cx = cx;
	}
	return h;
}

void hls_shutdown(struct hls *h)
{
	if (!h)
		return;
	lws_sul_cancel(&h->sweep);
	h->sweeping = true; /* no more sweeps */
	for (struct hls_session *s = h->sessions; s; s = s->next) {
		end_session(s, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
		if (s->sub.entry && h->app->hub)
			hub_unsubscribe(h->app->hub, &s->sub);
		for (struct hls_req *r = s->held; r; r = r->hnext)
			lws_sul_cancel(&r->sul);
	}
}

void hls_destroy(struct hls *h)
{
	if (!h)
		return;
	while (h->sessions) {
		struct hls_session *s = h->sessions;
		h->sessions = s->next;
		session_free(s);
	}
	free(h);
}

void hls_get_metrics(const struct hls *h, struct hls_metrics *m)
{
	memset(m, 0, sizeof(*m));
	if (!h)
		return;
	m->sessions = h->n_sessions;
	m->held = h->n_held;
	memcpy(m->requests, h->requests, sizeof(m->requests));
	m->held_timeouts = h->held_timeouts;
	m->refused = h->refused;
	m->bytes_sent = h->bytes_sent;
}
