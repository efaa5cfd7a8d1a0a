/* viewer: the one lifecycle every viewer goes through, whatever frames its bytes: WebSocket
 * JPEG, MJPEG, snapshot, raw frame, FLV, HLS and WebRTC.
 *   admission    against --max-clients and shutdown, counted from start to finish;
 *   the source   a named stream (?name= or the path) or a camera URL under the policies that
 *                apply to those (--named-only, the scheme allow-list, --allow-hosts);
 *   news         the hub's wake-up becomes a writable callback, unless mid-message;
 *   taking       the newest JPEG frame (latest frame wins) or, for coded readers, the log;
 *   writing      with the shared-buffer rule (lws writes a frame header into the LWS_PRE
 *                bytes before a fragment: kept intact for buffers other viewers share);
 *   the gate     a new frame starts only once the last one has left (see viewer_backlogged);
 *   the wait     for a first picture, bounded by --open-timeout plus a grace;
 *   teardown     exactly once, whichever of lws' callbacks comes first.
 * Outputs differ only in how they frame bytes and end. Service thread only. */
#ifndef CAMSTREAM_VIEWER_H
#define CAMSTREAM_VIEWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "error.h"
#include "frame.h"
#include "http_reply.h"
#include "hub.h"
#include "options.h"
#include "url.h"

struct viewer;

struct viewer_kind {
	const char *what;      /* for log lines: "viewer", "mjpeg viewer", "snapshot", ... */
	const char *path;      /* the endpoint, for the message when no source is named */
	bool coded;            /* reads the coded-picture log, not JPEG frames */
	bool no_fps;           /* fps does not apply (one picture) */
	bool quiet;            /* joins and leaves are logged at debug level only */
	/* viewer_start checks the source (and its policies) but does not subscribe: the output
	 * subscribes a reader of its own with viewer_subscribe, or joins one (HLS sessions) */
	bool deferred;
	/* Takes the kind's own query options out of @q (moving the rest down), or NULL. */
	enum cs_err (*own_options)(struct viewer *v, struct query *q, struct cs_error *err);
	/* The source has news; NULL: ask for a writable callback unless mid-frame. */
	void (*on_news)(struct viewer *v);
	/* HTTP viewers: LWS_CALLBACK_HTTP_WRITEABLE while live (see viewer_http_callback). */
	int (*http_writeable)(struct viewer *v);
	/* Releases the kind's own state, once, at viewer_finish; or NULL. */
	void (*on_finish)(struct viewer *v);
};

/* Per-connection state, embedded (anywhere) in an output's per-session data, which lws
 * allocates zeroed and frees after the connection or transaction ends. */
struct send_gate {
	uint32_t max_wnd;        /* the widest receive window the peer has announced */
	int64_t held_since;      /* monotonic µs since the window rule alone holds frames back */
};
struct viewer {
	struct hub_sub sub;         /* the hub's link; the hub never frees it */
	struct lws *wsi;
	const struct viewer_kind *kind;
	struct cam_url url;         /* an ad-hoc source's URL (owned) */
	struct stream_opts opts;    /* owned */
	struct frame *cur;          /* the JPEG being sent, one reference, or NULL */
	size_t off;                 /* its bytes already written */
	struct send_gate gate;
	lws_sorted_usec_list_t sul; /* the wait (viewer_wait) */
	bool expired;               /* the wait ran out */
	int64_t stall_armed_us;     /* when viewer_stall_watch last armed lws' timeout */
	bool started, counted, finished;
	char from[64];              /* the client's address, for log lines (access_client_addr) */
};

/* Admits @v, reads the query (and @path_name, the stream the path names, or NULL) and
 * subscribes it. CS_OK, or the refusal in @err. From here on @v is counted among the
 * clients until viewer_finish, whatever the outcome. */
enum cs_err viewer_start(struct viewer *v, struct lws *wsi, const struct viewer_kind *kind,
	const char *path_name, struct cs_error *err);
/* Subscribes @sub (v->sub, or a reader the output owns) to the source @v's request named and
 * viewer_start checked. CS_OK, or the refusal in @err. */
enum cs_err viewer_subscribe(struct viewer *v, struct hub_sub *sub, struct cs_error *err);
/* Releases everything @v holds, once (lws may report the end twice). */
void viewer_finish(struct viewer *v);
/* The stream name or the redacted camera URL, for log lines. */
const char *viewer_label(const struct viewer *v);
/* The query that names @v's source, for the follow-up URLs an answer gives (HLS parts, a WHEP
 * session): "?name=NAME", or "?rtsp_url=" and the camera URL encoded as the page's
 * encodeURIComponent does, so that a balancer hashing on the camera (docs/DEPLOY.md) sends
 * them where the first request went; "" for a camera URL with credentials, which no reply
 * may carry, or for one whose query would be over VIEWER_KEY_QUERY_MAX bytes. A new string, NULL if out of memory. */
#define VIEWER_KEY_QUERY_MAX 2048 /* longer: "" */
char *viewer_key_query(const struct viewer *v);
/* Whether @v's viewer is still in use (started and not finished). */
bool viewer_live(const struct viewer *v);

/* Waits @wait_us for something to happen: then v->expired is set and a writable callback
 * comes. 0 cancels the wait. */
void viewer_wait(struct viewer *v, int64_t wait_us);
/* --open-timeout plus the grace a first picture may take. */
int64_t viewer_first_wait_us(struct lws *wsi);

/* The newest frame @v has not had (latest frame wins; with @fresh, none that waited while
 * nobody asked), as v->cur from offset 0, marked busy; NULL if there is none. */
struct frame *viewer_take(struct viewer *v, bool fresh);
/* v->cur is all out: counted, dropped, no longer busy. */
void viewer_sent(struct viewer *v);
/* True while the last frame has not all left: bytes the kernel took still wait *unsent* in
 * the connection's send queue (SIOCOUTQNSD), held back by the peer's closed window or by
 * congestion; or the peer's kernel holds more than half its window unread. Bytes sent and
 * not yet acknowledged do not count: they are in the network, and waiting for them would cap
 * a long link at a frame per round trip. Latest frame wins only if frames cannot pile up in
 * the kernels either. When true, a timer asks again in 10 ms. */
bool viewer_backlogged(struct viewer *v);
/* The same for readers that must send everything they take (FLV): true only while bytes
 * the kernel took are still unsent, so that no more pile up behind them; the reader's lag
 * limit does the rest. One system call. When true, a timer asks again in 10 ms. */
bool viewer_unsent(struct viewer *v);
/* While a long HTTP answer goes out: a client that takes none of it for VIEWER_STALL_S is
 * dropped. Call on every write (and every look for more); it re-arms lws' timeout at most
 * once a second, since lws keeps timeouts in a sorted list and arming one walks it (a
 * thousand viewers arming at every picture cost a quarter of a core). */
void viewer_stall_watch(struct viewer *v);
/* The source's final error (CS_OK while it is healthy, opening or reconnecting). */
enum cs_err viewer_source_error(struct viewer *v, struct cs_error *err);

/* Writes @n bytes at @p, part of a buffer other connections share: the LWS_PRE bytes before
 * @p are put back after lws has written its header there (it is done with the buffer when
 * lws_write returns). 0, or -1 if the write failed. */
int viewer_write_shared(struct lws *wsi, unsigned char *p, size_t n,
	enum lws_write_protocol wp);
/* Writes the next chunk of the frame in hand (v->cur from v->off, at most
 * viewer_chunk_limit bytes) with @wp, or @last_wp for the chunk that ends it. 1 when the frame
 * is all written, 0 when more follows, -1 when the write failed. */
int viewer_write_next(struct viewer *v, enum lws_write_protocol wp,
	enum lws_write_protocol last_wp);
/* The most bytes one write should carry on @wsi: lws sends at most the protocol's
 * tx_packet_size (else rx_buffer_size, else 4096) at once and copies the rest to its heap. */
size_t viewer_chunk_limit(struct lws *wsi);

/* LWS_CALLBACK_TIMER and the wait's end: asks for a writable callback if still live. */
void viewer_on_timer(struct viewer *v);

/* A client that takes no bytes of an answer this long is dropped. */
#define VIEWER_STALL_S 30

/* A one-shot answer (a snapshot, a raw frame): @f (the caller's reference, now v->cur) is the
 * body of a 200 of @type with the @extra headers (http_write_head). The source is let go
 * first, kept warm for a page that polls. 0, or -1 if the headers could not be written; the
 * body follows with viewer_http_body. */
int viewer_http_answer(struct viewer *v, struct frame *f, const char *type,
	const struct http_header *extra, size_t n_extra);
/* HTTP_WRITEABLE during that answer: its next chunk; after the last, @v is finished and the
 * transaction ends. Returns what the callback returns. */
int viewer_http_body(struct viewer *v);

/* LWS_CALLBACK_HTTP of an HTTP viewer: GET only, viewer_start, then the wait for a first
 * answer (@wait_us; lws' own content timeout stays as a backstop past it) and a first look
 * (a running source may have a picture already). true to go on; false when the answer is
 * out, with *@ret what the callback returns. */
bool viewer_http_start(struct viewer *v, struct lws *wsi, const struct viewer_kind *kind,
	const char *path_name, int64_t wait_us, int *ret);

/* Every callback of an HTTP viewer after LWS_CALLBACK_HTTP, the same for all of them: writable
 * goes to the kind's http_writeable while @v is live, the timer asks for writable, the end of
 * the transaction or connection finishes @v, a GET's body is ignored (lws' dummy would end
 * the transaction). @v is NULL when lws has no per-session data. */
int viewer_http_callback(struct viewer *v, struct lws *wsi, enum lws_callback_reasons reason,
	void *user, void *in, size_t len);
/* An HTTP viewer that fails before its answer started: the failure is logged (a malformed
 * request at debug level), @v finished (before the transaction ends: lws frees @v with it)
 * and @err answered as JSON. Returns what the callback returns. */
int viewer_http_fail(struct viewer *v, const struct cs_error *err);

#endif
