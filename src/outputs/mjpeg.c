/* mjpeg: GET /mjpeg, multipart/x-mixed-replace for a bare <img src>. The viewer lifecycle is
 * viewer.c's; this file frames parts. Service thread only.
 *
 * What this room relies on in libwebsockets 4.1.6 (h1; Debian builds it without HTTP stream
 * compression, the only thing that makes h1 chunk or rewrite a body):
 * - lws_write() on an h1 HTTP connection sends exactly the bytes it is given and writes
 *   nothing before the pointer (h2 would write a frame header there: the shared-buffer rule
 *   is kept all the same, for 16 bytes).
 * - One send() is capped at the protocol's tx_packet_size; what the kernel does not take is
 *   copied to lws' heap and HTTP_WRITEABLE is withheld until it drained. A chunk is therefore
 *   at most that cap: a slow client costs one frame reference and one chunk.
 * - lws arms a 5 s PENDING_TIMEOUT_HTTP_CONTENT before LWS_CALLBACK_HTTP; only a request
 *   body's completion clears it. Waiting for a camera or streaming takes longer, so this room
 *   sets it itself: a backstop while waiting, a stall limit while sending, none while idle.
 * - /mjpeg detaches the header table once the query has been read: it frees the 16 KB header
 *   buffer for the stream's life (and 4.1.6's "ah excessive hold" watchdog, were it armed,
 *   would cut a long stream).
 * - lws_http_transaction_completed() on a keep-alive connection rebinds the protocol: it
 *   delivers HTTP_DROP_PROTOCOL and frees the per-request data before it returns. So a request
 *   is cleaned up before its last reply is written, and nothing touches it after. */
#include "mjpeg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "http_reply.h"
#include "log.h"
#include "viewer.h"

#define BOUNDARY "camstream-mjpeg-boundary"
#define PART_TYPE "Content-Type: image/jpeg\r\n"

/* An MJPEG part: [headers (advance_headers=0 only)] JPEG chunks, then the tail: the next
 * boundary line (and, in advance mode, the next part's headers). */
enum part { PART_IDLE = 0, PART_HEAD, PART_BODY, PART_TAIL };

struct mjpeg {
	struct viewer v;
	bool streaming;            /* the response has started */
	bool advance;              /* the next part's headers follow each JPEG at once */
	enum part part;
};

static struct mjpeg *mjpeg_of(struct viewer *v)
{
	return (struct mjpeg *)(void *)((char *)v - offsetof(struct mjpeg, v));
}

/* advance_headers=0|1 is this endpoint's own option: it is taken out of the query. */
static enum cs_err take_advance(struct viewer *v, struct query *q, struct cs_error *err)
{
	struct mjpeg *m = mjpeg_of(v);
	m->advance = true;
	return query_take_bool(q, "advance_headers", &m->advance, err);
}

static int writeable(struct viewer *v);

static const struct viewer_kind kind = {
	.what = "mjpeg viewer",
	.path = "/mjpeg",
	.own_options = take_advance,
	.http_writeable = writeable,
};


static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
	unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
		(const unsigned char *)value, (int)strlen(value), p, end);
}

/* Writes @len bytes of @text (small: headers, boundaries) from a buffer with LWS_PRE room. */
static int write_text(struct lws *wsi, const char *text, size_t len)
{
	unsigned char buf[LWS_PRE + 512];
	if (len > sizeof(buf) - LWS_PRE)
		return -1;
	memcpy(buf + LWS_PRE, text, len);
	return lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP) < (int)len ? -1 : 0;
}

/* The response headers and the opening boundary (with the first part's headers in advance
 * mode). After this the response can only end by closing the connection. */
static int start_response(struct mjpeg *m, struct lws *wsi)
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
		m->advance ? PART_TYPE "\r\n" : "");
	if (n < 0 || n >= end - p)
		return -1;
	p += n;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start))
		return -1;

	viewer_wait(&m->v, 0);
	m->streaming = true;
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	lws_http_headers_detach(wsi);
	return 0;
}

static void part_begin(struct mjpeg *m, struct lws *wsi)
{
	m->part = m->advance ? PART_BODY : PART_HEAD;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
}

/* advance_headers=0: the part's own headers, with what only the frame knows. */
static int part_head(struct mjpeg *m, struct lws *wsi)
{
	char text[256];
	int64_t t = m->v.cur->t_capture_us;
	int n = snprintf(text, sizeof(text), PART_TYPE "Content-Length: %zu\r\n"
		"X-Timestamp: %" PRId64 ".%06" PRId64 "\r\n\r\n", m->v.cur->len, t / 1000000,
		t % 1000000);
	if (write_text(wsi, text, (size_t)n))
		return -1;
	m->part = PART_BODY;
	lws_callback_on_writable(wsi);
	return 0;
}

static int part_body(struct mjpeg *m, struct lws *wsi)
{
	int done = viewer_write_next(&m->v, LWS_WRITE_HTTP, LWS_WRITE_HTTP);
	if (done < 0)
		return -1;
	if (done)
		m->part = PART_TAIL;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, VIEWER_STALL_S);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The boundary right after the JPEG, and in advance mode the next part's headers: Chrome
 * shows a part only once the next part's header block is complete, so without them every
 * picture would appear one frame late. */
static int part_tail(struct mjpeg *m, struct lws *wsi)
{
	static const char adv[] = "\r\n--" BOUNDARY "\r\n" PART_TYPE "\r\n";
	static const char plain[] = "\r\n--" BOUNDARY "\r\n";
	if (m->advance ? write_text(wsi, adv, sizeof(adv) - 1)
		: write_text(wsi, plain, sizeof(plain) - 1))
		return -1;
	viewer_sent(&m->v);
	m->part = PART_IDLE;
	/* idle: no stall limit while the source has nothing new (a named stream reconnecting) */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	/* a newer frame may have come meanwhile */
	lws_callback_on_writable(wsi);
	return 0;
}

/* Before the response starts: the first frame starts it; an error is still a JSON answer. */
static int wait_first(struct mjpeg *m, struct lws *wsi)
{
	struct cs_error err;
	if (app_of(wsi)->shutting_down)
		return viewer_http_fail(&m->v, &(struct cs_error){ .code = CS_SERVER_BUSY,
			.msg = "the server is shutting down" });
	if (viewer_take(&m->v, false)) {
		if (start_response(m, wsi))
			return -1;
		part_begin(m, wsi);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (viewer_source_error(&m->v, &err) != CS_OK)
		return viewer_http_fail(&m->v, &err);
	if (!m->v.expired)
		return 0;
	if (!m->v.opts.name) {
		cs_fail(&err, CS_TIMEOUT, "no picture from the source within %.1f s",
			(double)viewer_first_wait_us(wsi) / 1e6);
		return viewer_http_fail(&m->v, &err);
	}
	/* a named stream reconnects: start the response, pictures follow when they come */
	return start_response(m, wsi);
}

static int writeable(struct viewer *v)
{
	struct mjpeg *m = mjpeg_of(v);
	struct lws *wsi = v->wsi;
	if (!m->streaming)
		return wait_first(m, wsi);
	if (app_of(wsi)->shutting_down)
		return -1; /* lws sends what it holds, then closes */
	switch (m->part) {
	case PART_HEAD:
		return part_head(m, wsi);
	case PART_BODY:
		return part_body(m, wsi);
	case PART_TAIL:
		return part_tail(m, wsi);
	case PART_IDLE:
		break;
	}
	if (viewer_backlogged(&m->v))
		return 0; /* the last picture has not all left yet: a newer one later, not a queue */
	if (viewer_take(&m->v, false)) {
		part_begin(m, wsi);
		return m->advance ? part_body(m, wsi) : part_head(m, wsi);
	}
	struct cs_error err;
	if (viewer_source_error(&m->v, &err) != CS_OK) {
		/* the body cannot carry an error: the end of the response is the message */
		log_info("mjpeg viewer %s: %s (%s): ending the response", viewer_label(&m->v),
			err.msg, cs_err_code(err.code));
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	struct mjpeg *m = user;
	int ret;

	if (reason != LWS_CALLBACK_HTTP)
		return viewer_http_callback(m ? &m->v : NULL, wsi, reason, user, in, len);
	if (!access_http_check(wsi, true, "/mjpeg", &ret) ||
		!viewer_http_start(&m->v, wsi, &kind, NULL, viewer_first_wait_us(wsi), &ret))
		return ret;
	return 0;
}

const struct lws_protocols mjpeg_protocol = {
	.name = "camstream-mjpeg",
	.callback = callback,
	.per_session_data_size = sizeof(struct mjpeg),
	.tx_packet_size = 64 * 1024 + 64,
};
