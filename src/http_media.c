/* http_media: pictures over plain HTTP. GET /snapshot answers one JPEG, GET /mjpeg a
 * multipart/x-mixed-replace stream for a bare <img src>. Both subscribe to the hub like a
 * WebSocket viewer; the hub shares the camera session. Service thread only.
 *
 * What this room relies on in libwebsockets 4.1.6 (h1; Debian builds it without HTTP stream
 * compression, the only thing that makes h1 chunk or rewrite a body):
 * - lws_write() on an h1 HTTP connection sends exactly the bytes it is given and writes
 *   nothing before the pointer. A JPEG is shared with other clients all the same, so the
 *   LWS_PRE bytes before each chunk are saved and put back (h2 would write a frame header
 *   there; the cost is 16 bytes).
 * - One send() is capped at the protocol's tx_packet_size (else rx_buffer_size, else 4096);
 *   what the kernel does not take is copied to lws' heap and HTTP_WRITEABLE is withheld until
 *   it drained. A chunk is therefore at most that cap (and 64 KiB): a slow client costs one
 *   frame reference and at most one chunk, and latest frame wins.
 * - lws arms a 5 s PENDING_TIMEOUT_HTTP_CONTENT before LWS_CALLBACK_HTTP; only a request
 *   body's completion clears it. Waiting for a camera or streaming takes longer, so this room
 *   sets it itself: a backstop while waiting, a stall limit while sending, none while idle.
 * - lws drops an HTTP connection that keeps its header table for timeout_secs_ah_idle + 360 s
 *   ("ah excessive hold"). In 4.1.6 built with h2, as Debian's is, that watchdog is never
 *   armed (a misplaced #if; later lws fixed it), but /mjpeg detaches the table once the query
 *   has been read all the same: it frees the 16 KB header buffer for the stream's life and
 *   keeps a long stream alive on a fixed lws.
 * - lws_http_transaction_completed() on a keep-alive connection rebinds the protocol: it
 *   delivers HTTP_DROP_PROTOCOL and frees the per-request data before it returns. So a request
 *   is cleaned up before its last reply is written, and @r is never touched after.
 */
#include "http_media.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "http_reply.h"
#include "log.h"
#include "server.h"
#include "viewer.h"

#define CHUNK_MAX (64 * 1024)      /* most JPEG bytes per HTTP_WRITEABLE */
#define LWS_SEND_DEFAULT 4096      /* lws' send cap when the protocol sets none */
#define WAIT_GRACE_US 2000000      /* the first picture may take open_timeout + this */
#define FRESH_MIN_US 250000        /* a newest frame this old is current whatever the rate */
#define STALE_WAIT_US 1000000      /* most time spent waiting for a newer frame */
#define STALL_S 30                 /* a client that takes no bytes this long is dropped */
#define BOUNDARY "camstream-mjpeg-boundary"
#define PART_TYPE "Content-Type: image/jpeg\r\n"
#define ADVANCE_ARG "advance_headers="

enum kind { KIND_NONE = 0, KIND_SNAPSHOT, KIND_MJPEG };
/* PHASE_WAIT: MJPEG before its headers; a snapshot of a source that was running (its
 * newest frame must be current). PHASE_COLD: a snapshot of a source that had no picture yet
 * (the first one wins). PHASE_NEWER: a snapshot waiting for a frame newer than a stale one. */
enum phase { PHASE_WAIT = 0, PHASE_STREAM, PHASE_COLD, PHASE_NEWER };
/* An MJPEG part: [headers (advance_headers=0 only)] JPEG chunks, then the tail: the next
 * boundary line (and, in advance mode, the next part's headers). */
enum part { PART_IDLE = 0, PART_HEAD, PART_BODY, PART_TAIL };

static struct media_req *req_of(struct hub_sub *sub)
{
	return (struct media_req *)(void *)((char *)sub - offsetof(struct media_req, sub));
}

static const char *label(const struct media_req *r)
{
	if (r->opts.name)
		return r->opts.name;
	return r->url.redacted ? r->url.redacted : "-";
}

static void on_news(struct hub_sub *sub)
{
	struct media_req *r = req_of(sub);
	/* mid-part, the chunk loop asks for the next callback itself */
	if (!r->cur && !r->finished)
		lws_callback_on_writable(r->wsi);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	struct media_req *r = lws_container_of(sul, struct media_req, sul);
	r->expired = true;
	lws_callback_on_writable(r->wsi);
}

/* Releases everything the request holds, once: lws may report the end twice (CLOSED_HTTP and
 * HTTP_DROP_PROTOCOL), and a finished reply ends it first. */
static void finish(struct media_req *r, struct lws *wsi)
{
	if (!r->wsi || r->finished)
		return;
	r->finished = true;
	lws_sul_cancel(&r->sul);
	struct server_state *st = server_get(wsi);
	if (st->hub)
		hub_unsubscribe(st->hub, &r->sub);
	frame_unref(r->cur);
	r->cur = NULL;
	if (r->counted) {
		r->counted = false;
		st->clients--;
		log_info("mjpeg viewer left: %s (%d viewers)", label(r), st->clients);
	}
	url_free(&r->url);
	opts_free(&r->opts);
}

/* Answers {"error","code"} and ends the transaction. @r is released first: the reply ends
 * the transaction, and lws frees the per-request data with it. */
static int reply_error(struct lws *wsi, struct media_req *r, unsigned int status,
	enum cs_err e, const char *msg)
{
	char text[320];
	snprintf(text, sizeof(text), "%s", msg);
	if (r->kind == KIND_MJPEG || e != CS_BAD_REQUEST)
		log_info("%s %s: %s (%s)", r->kind == KIND_MJPEG ? "mjpeg" : "snapshot", label(r),
			text, cs_err_code(e));
	finish(r, wsi);
	return http_reply_error(wsi, status, e, text);
}

/* advance_headers=0|1 is this room's own option (opts_parse does not know it): it is taken
 * out of @args. */
static enum cs_err take_advance(struct media_req *r, const char **args, int *n, char *err,
	size_t errlen)
{
	int kept = 0;
	bool seen = false;
	for (int i = 0; i < *n; i++) {
		if (strncmp(args[i], ADVANCE_ARG, strlen(ADVANCE_ARG))) {
			args[kept++] = args[i];
			continue;
		}
		const char *v = args[i] + strlen(ADVANCE_ARG);
		if (r->kind != KIND_MJPEG) {
			snprintf(err, errlen, "advance_headers applies to /mjpeg only");
			return CS_BAD_REQUEST;
		}
		if (seen) {
			snprintf(err, errlen, "advance_headers is given twice");
			return CS_BAD_REQUEST;
		}
		if (strcmp(v, "0") && strcmp(v, "1")) {
			snprintf(err, errlen, "advance_headers must be 0 or 1");
			return CS_BAD_REQUEST;
		}
		seen = true;
		r->advance = v[0] == '1';
	}
	*n = kept;
	return CS_OK;
}

/* Fills r->opts (and r->url for an ad-hoc source) from the query; @path_name is the stream
 * named by the path, or NULL. */
static enum cs_err parse_request(struct lws *wsi, struct media_req *r, const char *path_name,
	char *err, size_t errlen)
{
	const char *args[HTTP_MAX_ARGS];
	char *store = NULL;
	int n = http_query_args(wsi, &store, args);
	if (n < 0) {
		snprintf(err, errlen, n == -2 ? "too many query parameters" : "out of memory");
		return CS_BAD_REQUEST;
	}
	enum cs_err e = take_advance(r, args, &n, err, errlen);
	if (e == CS_OK)
		e = opts_parse(&r->opts, args, (size_t)n, err, errlen);
	free(store);
	if (e != CS_OK)
		return e;

	if (r->kind == KIND_SNAPSHOT && r->opts.fps > 0) {
		snprintf(err, errlen, "fps does not apply to a snapshot");
		return CS_BAD_REQUEST;
	}
	if (path_name) {
		if (r->opts.src || r->opts.name) {
			snprintf(err, errlen, "the path names the stream: leave out rtsp_url and name");
			return CS_BAD_REQUEST;
		}
		r->opts.name = strdup(path_name);
		if (!r->opts.name) {
			snprintf(err, errlen, "out of memory");
			return CS_BAD_REQUEST;
		}
	}
	if (r->opts.src && r->opts.name) {
		snprintf(err, errlen, "give either rtsp_url (or cam_url) or name, not both");
		return CS_BAD_REQUEST;
	}
	if (!r->opts.src && !r->opts.name) {
		snprintf(err, errlen, "rtsp_url is required: %s?rtsp_url=<camera URL, "
			"percent-encoded> (or ?name=<stream>)",
			r->kind == KIND_MJPEG ? "/mjpeg" : "/snapshot");
		return CS_BAD_REQUEST;
	}
	r->named = r->opts.name != NULL;
	return CS_OK;
}

static int begin(struct lws *wsi, struct media_req *r, enum kind kind, const char *path_name)
{
	struct server_state *st = server_get(wsi);
	char err[256];

	/* lws gives every transaction fresh zeroed data; this only guards a reused one */
	finish(r, wsi);
	memset(r, 0, sizeof(*r));
	r->wsi = wsi;
	r->kind = kind;
	r->sub.on_news = on_news;
	r->advance = true;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return reply_error(wsi, r, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
	if (st->shutting_down)
		return reply_error(wsi, r, 0, CS_SERVER_BUSY, "the server is shutting down");
	/* MJPEG viewers and snapshots in flight are clients like WebSocket viewers */
	if (st->cfg->max_clients && st->clients >= st->cfg->max_clients) {
		snprintf(err, sizeof(err), "the server is serving its maximum of %d viewers",
			st->cfg->max_clients);
		return reply_error(wsi, r, 0, CS_SERVER_BUSY, err);
	}
	r->counted = true;
	st->clients++;
	enum cs_err e = parse_request(wsi, r, path_name, err, sizeof(err));
	if (e == CS_OK)
		e = viewer_subscribe(st, &r->sub, &r->opts, &r->url, err, sizeof(err));
	if (e != CS_OK)
		return reply_error(wsi, r, 0, e, err);

	int64_t wait_us = (int64_t)st->cfg->open_timeout_ms * 1000 + WAIT_GRACE_US;
	r->deadline_us = clock_mono_us() + wait_us;
	lws_sul_schedule(lws_get_context(wsi), 0, &r->sul, on_deadline, wait_us);
	/* lws' 5 s content timeout would cut the wait short; ours decides, lws' is a backstop */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)(wait_us / 1000000) + STALL_S);
	if (kind == KIND_MJPEG)
		log_info("mjpeg viewer connected: %s (%d viewers)", label(r), st->clients);
	struct frame *f = kind == KIND_SNAPSHOT ? hub_sub_newest(&r->sub) : NULL;
	if (kind == KIND_SNAPSHOT && !f)
		r->phase = PHASE_COLD;
	frame_unref(f);
	/* a running source may have a picture already: look at once */
	lws_callback_on_writable(wsi);
	return 0;
}

int http_media_request(struct lws *wsi, struct media_req *r, const char *path)
{
	return begin(wsi, r, !strcmp(path, "/mjpeg") ? KIND_MJPEG : KIND_SNAPSHOT, NULL);
}

int http_media_snapshot_named(struct lws *wsi, struct media_req *r, const char *name)
{
	return begin(wsi, r, KIND_SNAPSHOT, name);
}

/* ---- writing ----------------------------------------------------------------------------- */

static size_t chunk_limit(struct lws *wsi)
{
	const struct lws_protocols *pr = lws_get_protocol(wsi);
	size_t cap = LWS_SEND_DEFAULT;
	if (pr && pr->tx_packet_size)
		cap = pr->tx_packet_size;
	else if (pr && pr->rx_buffer_size)
		cap = pr->rx_buffer_size;
	return cap < CHUNK_MAX ? cap : CHUNK_MAX;
}

/* Writes @n bytes of a frame other clients may be sending too; see the top of the file for
 * why the LWS_PRE bytes before @p are put back (lws is done with them when it returns). */
static int write_shared(struct lws *wsi, unsigned char *p, size_t n, enum lws_write_protocol wp)
{
	unsigned char saved[LWS_PRE];
	memcpy(saved, p - LWS_PRE, LWS_PRE);
	int m = lws_write(wsi, p, n, wp);
	memcpy(p - LWS_PRE, saved, LWS_PRE);
	return m < (int)n ? -1 : 0;
}

/* Writes @len bytes of @text (small: headers, boundaries) from a buffer with LWS_PRE room. */
static int write_text(struct lws *wsi, const char *text, size_t len, enum lws_write_protocol wp)
{
	unsigned char buf[LWS_PRE + 512];
	if (len > sizeof(buf) - LWS_PRE)
		return -1;
	memcpy(buf + LWS_PRE, text, len);
	return lws_write(wsi, buf + LWS_PRE, len, wp) < (int)len ? -1 : 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
	unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
		(const unsigned char *)value, (int)strlen(value), p, end);
}

/* ISO 8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z */
static void iso8601(int64_t wall_us, char *out, size_t cap)
{
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;
	char base[32];
	if (!gmtime_r(&secs, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, cap, "-");
		return;
	}
	snprintf(out, cap, "%s.%03dZ", base, (int)(wall_us % 1000000 / 1000));
}

/* ---- /snapshot ----------------------------------------------------------------------------- */

/* Takes @f for the answer, lets the source go (kept warm for a page that polls) and writes
 * the headers; the body follows in chunks. */
static int snapshot_head(struct media_req *r, struct lws *wsi, struct frame *f)
{
	struct server_state *st = server_get(wsi);

	lws_sul_cancel(&r->sul);
	r->cur = f;
	r->off = 0;
	hub_sub_count_sent(&r->sub, f->len);
	hub_sub_keep_warm(&r->sub, st->cfg->keep_warm_s);
	hub_unsubscribe(st->hub, &r->sub);

	char age[24], seq[24], size[32], captured[40];
	int64_t age_ms = (clock_wall_us() - f->t_capture_us) / 1000;
	snprintf(age, sizeof(age), "%" PRId64, age_ms > 0 ? age_ms : 0);
	snprintf(seq, sizeof(seq), "%" PRIu64, f->seq);
	snprintf(size, sizeof(size), "%dx%d", f->width, f->height);
	iso8601(f->t_capture_us, captured, sizeof(captured));

	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "image/jpeg", f->len, &p, end) ||
		add_header(wsi, "cache-control:", "no-store", &p, end) ||
		add_header(wsi, "access-control-allow-origin:", "*", &p, end) ||
		add_header(wsi, "x-frame-age-ms:", age, &p, end) ||
		add_header(wsi, "x-frame-captured:", captured, &p, end) ||
		add_header(wsi, "x-frame-seq:", seq, &p, end) ||
		add_header(wsi, "x-frame-size:", size, &p, end) ||
		lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start))
		return -1;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_S);
	log_debug("snapshot %s: %zu bytes, frame %" PRIu64 ", %s ms old", label(r), f->len,
		f->seq, age);
	lws_callback_on_writable(wsi);
	return 0;
}

static int snapshot_body(struct media_req *r, struct lws *wsi)
{
	struct frame *f = r->cur;
	size_t n = f->len - r->off, cap = chunk_limit(wsi);
	if (n > cap)
		n = cap;
	bool last = r->off + n == f->len;
	if (write_shared(wsi, f->data + r->off, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP))
		return -1;
	r->off += n;
	if (!last) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_S);
		lws_callback_on_writable(wsi);
		return 0;
	}
	finish(r, wsi); /* before the transaction ends: lws frees @r there */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Whether @f is the current picture: no older than 1.5 frame intervals of the source. */
static bool is_current(struct media_req *r, const struct frame *f)
{
	struct source_stats stats;
	int64_t fresh_us = FRESH_MIN_US;
	if (hub_sub_stats(&r->sub, &stats) && stats.fps > 0 && 1.5e6 / stats.fps > fresh_us)
		fresh_us = (int64_t)(1.5e6 / stats.fps);
	return clock_wall_us() - f->t_capture_us <= fresh_us;
}

/* A cold source's first picture is the answer. A running source's newest picture is the
 * answer at once if it is current. A source kept
 * warm for snapshots decodes but does not encode while nobody is subscribed, so its newest
 * JPEG can be as old as the previous request: then the next picture (due within a frame
 * interval, now that someone wants it) is waited for, at most STALE_WAIT_US, and the old one
 * is the answer if none comes (its age is in the headers). */
static int snapshot_writeable(struct media_req *r, struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char msg[256];
	int clean = 0;

	if (r->cur)
		return snapshot_body(r, wsi);
	if (st->shutting_down)
		return reply_error(wsi, r, 0, CS_SERVER_BUSY, "the server is shutting down");
	struct frame *f = hub_sub_newest(&r->sub);
	if (f) {
		if (r->expired || r->phase == PHASE_COLD ||
			(r->phase == PHASE_NEWER ? f->seq > r->stale_seq : is_current(r, f)))
			return snapshot_head(r, wsi, f);
		if (r->phase != PHASE_NEWER) {
			r->phase = PHASE_NEWER;
			r->stale_seq = f->seq;
			lws_sul_cancel(&r->sul);
			lws_sul_schedule(lws_get_context(wsi), 0, &r->sul, on_deadline, STALE_WAIT_US);
		}
		frame_unref(f);
		return 0;
	}
	enum cs_err e = hub_sub_error(&r->sub, msg, sizeof(msg), &clean);
	if (e != CS_OK)
		return reply_error(wsi, r, 0, e, msg);
	if (r->expired) {
		snprintf(msg, sizeof(msg), "no picture from the source within %.1f s",
			st->cfg->open_timeout_ms / 1000.0 + WAIT_GRACE_US / 1e6);
		return reply_error(wsi, r, 0, CS_TIMEOUT, msg);
	}
	return 0;
}

/* ---- /mjpeg ------------------------------------------------------------------------------ */

/* The response headers and the opening boundary (with the first part's headers in advance
 * mode). After this the response can only end by closing the connection. */
static int mjpeg_start(struct media_req *r, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK,
			"multipart/x-mixed-replace; boundary=" BOUNDARY,
			LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
		add_header(wsi, "cache-control:", "no-store, no-cache, must-revalidate, max-age=0",
			&p, end) ||
		add_header(wsi, "pragma:", "no-cache", &p, end) ||
		add_header(wsi, "access-control-allow-origin:", "*", &p, end) ||
		/* a reverse proxy (nginx) must pass a live stream on, not buffer it */
		add_header(wsi, "x-accel-buffering:", "no", &p, end) ||
		lws_finalize_http_header(wsi, &p, end))
		return -1;
	int n = snprintf((char *)p, (size_t)(end - p), "--" BOUNDARY "\r\n%s",
		r->advance ? PART_TYPE "\r\n" : "");
	if (n < 0 || n >= end - p)
		return -1;
	p += n;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start))
		return -1;

	lws_sul_cancel(&r->sul);
	r->phase = PHASE_STREAM;
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	lws_http_headers_detach(wsi);
	return 0;
}

static void part_begin(struct media_req *r, struct lws *wsi, struct frame *f)
{
	r->cur = f;
	r->off = 0;
	r->part = r->advance ? PART_BODY : PART_HEAD;
	hub_sub_set_busy(&r->sub, true);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_S);
}

/* advance_headers=0: the part's own headers, with what only the frame knows. */
static int part_head(struct media_req *r, struct lws *wsi)
{
	char text[256];
	int64_t t = r->cur->t_capture_us;
	int n = snprintf(text, sizeof(text), PART_TYPE "Content-Length: %zu\r\n"
		"X-Timestamp: %" PRId64 ".%06" PRId64 "\r\n\r\n", r->cur->len, t / 1000000,
		t % 1000000);
	if (write_text(wsi, text, (size_t)n, LWS_WRITE_HTTP))
		return -1;
	r->part = PART_BODY;
	lws_callback_on_writable(wsi);
	return 0;
}

static int part_body(struct media_req *r, struct lws *wsi)
{
	struct frame *f = r->cur;
	size_t n = f->len - r->off, cap = chunk_limit(wsi);
	if (n > cap)
		n = cap;
	if (write_shared(wsi, f->data + r->off, n, LWS_WRITE_HTTP))
		return -1;
	r->off += n;
	if (r->off == f->len)
		r->part = PART_TAIL;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_S);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The boundary right after the JPEG, and in advance mode the next part's headers: Chrome
 * shows a part only once the next part's header block is complete, so without them every
 * picture would appear one frame late. */
static int part_tail(struct media_req *r, struct lws *wsi)
{
	static const char adv[] = "\r\n--" BOUNDARY "\r\n" PART_TYPE "\r\n";
	static const char plain[] = "\r\n--" BOUNDARY "\r\n";
	if (r->advance ? write_text(wsi, adv, sizeof(adv) - 1, LWS_WRITE_HTTP)
		: write_text(wsi, plain, sizeof(plain) - 1, LWS_WRITE_HTTP))
		return -1;
	hub_sub_count_sent(&r->sub, r->cur->len);
	frame_unref(r->cur);
	r->cur = NULL;
	r->part = PART_IDLE;
	hub_sub_set_busy(&r->sub, false);
	/* idle: no stall limit while the source has nothing new (a named stream reconnecting) */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	/* a newer frame may have come meanwhile */
	lws_callback_on_writable(wsi);
	return 0;
}

/* Before the response starts: the first frame starts it; an error is still a JSON answer. */
static int mjpeg_wait(struct media_req *r, struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char msg[256];
	int clean = 0;

	if (st->shutting_down)
		return reply_error(wsi, r, 0, CS_SERVER_BUSY, "the server is shutting down");
	struct frame *f = hub_sub_latest(&r->sub, false);
	if (f) {
		if (mjpeg_start(r, wsi)) {
			frame_unref(f);
			return -1;
		}
		part_begin(r, wsi, f);
		lws_callback_on_writable(wsi);
		return 0;
	}
	enum cs_err e = hub_sub_error(&r->sub, msg, sizeof(msg), &clean);
	if (e != CS_OK)
		return reply_error(wsi, r, 0, e, msg);
	if (!r->expired)
		return 0;
	if (!r->named) {
		snprintf(msg, sizeof(msg), "no picture from the source within %.1f s",
			st->cfg->open_timeout_ms / 1000.0 + WAIT_GRACE_US / 1e6);
		return reply_error(wsi, r, 0, CS_TIMEOUT, msg);
	}
	/* a named stream reconnects: start the response, pictures follow when they come */
	return mjpeg_start(r, wsi);
}

static int mjpeg_writeable(struct media_req *r, struct lws *wsi)
{
	struct server_state *st = server_get(wsi);
	char msg[256];
	int clean = 0;

	if (r->phase == PHASE_WAIT)
		return mjpeg_wait(r, wsi);
	if (st->shutting_down)
		return -1; /* lws sends what it holds, then closes */
	switch (r->part) {
	case PART_HEAD:
		return part_head(r, wsi);
	case PART_BODY:
		return part_body(r, wsi);
	case PART_TAIL:
		return part_tail(r, wsi);
	default:
		break;
	}
	if (server_send_backlogged(wsi, &r->gate)) {
		/* the last picture has not all left yet: a newer one later, not a queue */
		lws_set_timer_usecs(wsi, 10 * 1000);
		return 0;
	}
	struct frame *f = hub_sub_latest(&r->sub, false);
	if (f) {
		part_begin(r, wsi, f);
		return r->advance ? part_body(r, wsi) : part_head(r, wsi);
	}
	enum cs_err e = hub_sub_error(&r->sub, msg, sizeof(msg), &clean);
	if (e != CS_OK) {
		/* the body cannot carry an error: the end of the response is the message */
		log_info("mjpeg viewer %s: %s (%s): ending the response", label(r), msg,
			cs_err_code(e));
		return -1;
	}
	return 0;
}

int http_media_callback(struct lws *wsi, enum lws_callback_reasons reason,
	struct media_req *r, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!r->wsi || r->finished)
			return 0;
		return r->kind == KIND_MJPEG ? mjpeg_writeable(r, wsi) : snapshot_writeable(r, wsi);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		finish(r, wsi);
		return 0;
	case LWS_CALLBACK_TIMER:
		if (r->wsi && !r->finished)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0; /* a GET with a body: ignored; the dummy would end the transaction */
	default:
		return lws_callback_http_dummy(wsi, reason, lws_wsi_user(wsi), in, len);
	}
}
