#include "rtmp_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtmp_amf.h"

#define HANDSHAKE_LEN 1536
#define RTMP_VERSION 3
#define DEFAULT_CHUNK 128
#define OUR_CHUNK 4096
#define OUR_WINDOW 2500000u
#define MAX_STR 2048            /* the longest app, tcUrl or stream name we take */
#define MAX_CSID (65599u)
#define KEEP_BUF (256u * 1024)  /* a finished message's buffer above this is freed */

/* message types */
enum {
	MSG_CHUNK_SIZE = 1, MSG_ABORT = 2, MSG_ACK = 3, MSG_USER = 4, MSG_WINDOW = 5,
	MSG_PEER_BW = 6, MSG_AUDIO = 8, MSG_VIDEO = 9, MSG_DATA3 = 15, MSG_SO3 = 16,
	MSG_CMD3 = 17, MSG_DATA0 = 18, MSG_SO0 = 19, MSG_CMD0 = 20, MSG_AGGREGATE = 22,
};
/* user control events */
enum { UC_STREAM_BEGIN = 0, UC_PING_REQUEST = 6, UC_PING_RESPONSE = 7 };
/* our chunk streams */
enum { CS_CONTROL = 2, CS_COMMAND = 3, CS_STREAM = 5 };
#define OUR_STREAM_ID 1

/* Where the reader is. */
enum rd {
	RD_C0,       /* the version byte */
	RD_C1,       /* 1536 bytes, echoed as S2 while they come */
	RD_C2,       /* 1536 bytes, skipped */
	RD_BASIC,    /* the first byte of a chunk's basic header */
	RD_BASIC2,   /* its 1 or 2 more bytes (hb) */
	RD_HEADER,   /* the message header, 11, 7 or 3 bytes (hb) */
	RD_EXT,      /* the extended timestamp (hb) */
	RD_PAYLOAD,  /* the chunk's data */
};

/* One chunk stream: the last header it had, and its message in progress. */
struct chunk_stream {
	uint32_t csid;
	bool used;
	bool seen;           /* a type 0 header came: types 1-3 may follow */
	bool ext;            /* the last type 0-2 header had an extended timestamp */
	uint32_t ts_field;   /* that header's timestamp field (extended value when ext) */
	uint32_t timestamp;  /* the absolute timestamp of the current (or last) message */
	uint32_t msg_len, stream_id;
	uint8_t type;
	bool in_progress;    /* a message is partly read */
	uint8_t *buf;        /* its bytes (grown as they come, at most msg_len) */
	size_t cap, have;
	uint64_t last_use;
};

struct rtmp_conn {
	struct rtmp_limits lim;
	rtmp_event_fn fn;
	void *arg;
	enum rtmp_stage stage;
	int result;          /* what feed returns once it is not 0 */
	char error[96];

	/* the reader */
	enum rd rd;
	size_t skip;         /* handshake bytes still to come in RD_C1/RD_C2 */
	uint8_t hb[16];
	size_t hb_have, hb_need;
	unsigned fmt;
	uint32_t cur_csid;
	struct chunk_stream *cur;
	uint32_t chunk_left;  /* payload bytes of the current chunk still to come */
	bool cont;            /* the current chunk continues a message (type 3 mid-message) */
	uint32_t in_chunk;    /* the peer's chunk size */
	struct chunk_stream *cs;
	unsigned ncs;
	uint64_t tick;
	size_t held;          /* bytes of buffers held by chunk streams */
	uint64_t bytes_in;

	/* acknowledgements we owe */
	uint32_t window;      /* 0: the peer asked for none */
	uint64_t acked_at;

	/* the session */
	bool connected, publishing;
	double txid_connect;

	/* the output */
	uint32_t out_chunk;
	size_t out_head, out_len;
	uint8_t out[RTMP_OUT_MAX];
};

/* ---- helpers ---- */

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void wbe(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static int fail(struct rtmp_conn *c, int err, const char *why)
{
	if (c->result >= 0) {
		size_t n = strlen(why);
		if (n >= sizeof(c->error))
			n = sizeof(c->error) - 1;
		memcpy(c->error, why, n);
		c->error[n] = '\0';
		c->result = err < 0 ? err : -EPROTO;
		c->stage = RTMP_CLOSING;
	}
	return c->result;
}

static void finish(struct rtmp_conn *c)
{
	if (c->result == 0)
		c->result = RTMP_CLOSE;
	c->stage = RTMP_CLOSING;
}

/* ---- output ---- */

static bool out_room(struct rtmp_conn *c, size_t n)
{
	if (c->out_head) { /* keep the pending bytes at the front */
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
	}
	return n <= sizeof(c->out) - c->out_len;
}

static int out_raw(struct rtmp_conn *c, const void *b, size_t n)
{
	if (!out_room(c, n))
		return fail(c, -ENOBUFS, "output full: the peer does not read");
	memcpy(c->out + c->out_len, b, n);
	c->out_len += n;
	return 0;
}

/* One message in chunks of out_chunk: a type 0 header, then type 3 headers. */
static int out_msg(struct rtmp_conn *c, unsigned csid, unsigned type, uint32_t msid,
	const uint8_t *body, size_t len)
{
	size_t chunks = len ? (len + c->out_chunk - 1) / c->out_chunk : 1;
	if (!out_room(c, 12 + (chunks - 1) + len))
		return fail(c, -ENOBUFS, "output full: the peer does not read");
	uint8_t *p = c->out + c->out_len;
	p[0] = (uint8_t)csid;   /* type 0, csid < 64 */
	wbe(p + 1, 0, 3);       /* timestamp 0 */
	wbe(p + 4, (uint32_t)len, 3);
	p[7] = (uint8_t)type;
	p[8] = (uint8_t)msid;   /* little-endian */
	p[9] = (uint8_t)(msid >> 8);
	p[10] = (uint8_t)(msid >> 16);
	p[11] = (uint8_t)(msid >> 24);
	p += 12;
	for (size_t off = 0; off < len;) {
		if (off) {
			*p++ = (uint8_t)(0xc0 | csid);
		}
		size_t k = len - off < c->out_chunk ? len - off : c->out_chunk;
		memcpy(p, body + off, k);
		p += k;
		off += k;
	}
	c->out_len = (size_t)(p - c->out);
	return 0;
}

static int out_control(struct rtmp_conn *c, unsigned type, uint32_t v, int extra)
{
	uint8_t b[5];
	wbe(b, v, 4);
	b[4] = (uint8_t)extra;
	return out_msg(c, CS_CONTROL, type, 0, b, extra >= 0 ? 5 : 4);
}

static int out_user(struct rtmp_conn *c, unsigned event, uint32_t v)
{
	uint8_t b[6];
	wbe(b, event, 2);
	wbe(b + 2, v, 4);
	return out_msg(c, CS_CONTROL, MSG_USER, 0, b, sizeof(b));
}

/* A status object: level, code, description. */
static void status_object(struct amf_writer *w, const char *level, const char *code,
	const char *desc)
{
	amfw_object(w);
	amfw_key(w, "level");
	amfw_string(w, level);
	amfw_key(w, "code");
	amfw_string(w, code);
	amfw_key(w, "description");
	amfw_string(w, desc);
}

/* Bounded copies of what a callback gave: its words must not grow our output unbounded. */
static const char *bounded(char *buf, size_t cap, const char *s, const char *dflt)
{
	if (!s || !*s)
		s = dflt;
	size_t n = strnlen(s, cap - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static int out_amf(struct rtmp_conn *c, unsigned csid, uint32_t msid, struct amf_writer *w)
{
	if (w->n > w->cap)
		return fail(c, -ENOBUFS, "reply too long");
	return out_msg(c, csid, MSG_CMD0, msid, w->p, w->n);
}

/* `_result` or `_error` to @txid with a null and then @what: 0 undefined, 1 the number @num. */
static int reply_simple(struct rtmp_conn *c, const char *name, double txid, int what,
	double num)
{
	uint8_t b[64];
	struct amf_writer w = { b, sizeof(b), 0 };
	amfw_string(&w, name);
	amfw_number(&w, txid);
	amfw_null(&w);
	if (what)
		amfw_number(&w, num);
	else
		amfw_undefined(&w);
	return out_amf(c, CS_COMMAND, 0, &w);
}

static int reply_status(struct rtmp_conn *c, uint32_t msid, const char *level,
	const char *code, const char *desc)
{
	uint8_t b[1024];
	struct amf_writer w = { b, sizeof(b), 0 };
	amfw_string(&w, "onStatus");
	amfw_number(&w, 0);
	amfw_null(&w);
	status_object(&w, level, code, desc);
	amfw_key(&w, "details");
	amfw_string(&w, "");
	amfw_end(&w);
	return out_amf(c, CS_STREAM, msid, &w);
}

/* ---- commands ---- */

/* A string value as a C string in @buf: false when it is not a string, holds a NUL byte or
 * does not fit. */
static bool read_cstr(struct amf_reader *r, char *buf, size_t cap)
{
	const uint8_t *s;
	size_t n;
	if (!amf_string(r, &s, &n) || n >= cap || memchr(s, 0, n))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static int call(struct rtmp_conn *c, struct rtmp_event *ev, struct rtmp_reply *reply)
{
	struct rtmp_reply ignored;
	memset(reply ? reply : &ignored, 0, sizeof(ignored));
	if (c->fn(c->arg, ev, reply ? reply : &ignored) < 0)
		return fail(c, -ECANCELED, "stopped by the server");
	return 0;
}

static int cmd_connect(struct rtmp_conn *c, struct amf_reader *r, double txid)
{
	char app[MAX_STR] = "", tc_url[MAX_STR] = "";
	if (c->connected)
		return fail(c, -EPROTO, "connect twice");
	double encoding = 0;
	if (amf_enter(r)) {
		const uint8_t *k;
		size_t kn;
		int more;
		while ((more = amf_key(r, &k, &kn)) > 0) {
			bool ok = true;
			if (kn == 3 && !memcmp(k, "app", 3))
				ok = read_cstr(r, app, sizeof(app));
			else if (kn == 5 && !memcmp(k, "tcUrl", 5))
				ok = read_cstr(r, tc_url, sizeof(tc_url));
			else if (kn == 14 && !memcmp(k, "objectEncoding", 14) &&
				amf_peek(r) == AMF_NUMBER)
				ok = amf_number(r, &encoding);
			else
				ok = amf_skip(r);
			if (!ok)
				return fail(c, -EPROTO, "bad connect command object");
		}
		if (more < 0)
			return fail(c, -EPROTO, "bad connect command object");
	}
	struct rtmp_event ev = { .kind = RTMP_EV_CONNECT, .app = app, .tc_url = tc_url };
	struct rtmp_reply rep;
	if (call(c, &ev, &rep) < 0)
		return c->result;

	char code[256], desc[256];
	uint8_t b[1024];
	struct amf_writer w = { b, sizeof(b), 0 };
	if (rep.refuse) {
		amfw_string(&w, "_error");
		amfw_number(&w, txid);
		amfw_null(&w);
		status_object(&w, "error",
			bounded(code, sizeof(code), rep.code, "NetConnection.Connect.Rejected"),
			bounded(desc, sizeof(desc), rep.description, "Connection rejected."));
		amfw_end(&w);
		if (out_amf(c, CS_COMMAND, 0, &w) < 0)
			return c->result;
		finish(c);
		return 0;
	}
	if (out_control(c, MSG_WINDOW, OUR_WINDOW, -1) < 0 ||
		out_control(c, MSG_PEER_BW, OUR_WINDOW, 2) < 0 ||
		out_control(c, MSG_CHUNK_SIZE, OUR_CHUNK, -1) < 0)
		return c->result;
	c->out_chunk = OUR_CHUNK;
	amfw_string(&w, "_result");
	amfw_number(&w, txid);
	amfw_object(&w);
	amfw_key(&w, "fmsVer");
	amfw_string(&w, "FMS/3,0,1,123");
	amfw_key(&w, "capabilities");
	amfw_number(&w, 31);
	amfw_end(&w);
	status_object(&w, "status", "NetConnection.Connect.Success", "Connection succeeded.");
	amfw_key(&w, "objectEncoding");
	amfw_number(&w, encoding == 3 ? 3 : 0);
	amfw_end(&w);
	if (out_amf(c, CS_COMMAND, 0, &w) < 0)
		return c->result;
	c->connected = true;
	c->stage = RTMP_CONNECTED;
	return 0;
}

/* publish and play: name (and publish's type) after the null command object. */
static int cmd_stream(struct rtmp_conn *c, struct amf_reader *r, uint32_t msid, bool publish)
{
	char name[MAX_STR] = "", type[32] = "live";
	if (!c->connected)
		return fail(c, -EPROTO, "publish or play before connect");
	if (c->publishing)
		return fail(c, -EPROTO, "publish or play while publishing");
	if (!amf_skip(r) || !read_cstr(r, name, sizeof(name)))
		return fail(c, -EPROTO, "bad publish or play command");
	if (publish && amf_peek(r) == AMF_STRING && !read_cstr(r, type, sizeof(type)))
		return fail(c, -EPROTO, "bad publish type");
	if (publish && strcmp(type, "live") && strcmp(type, "record") && strcmp(type, "append"))
		memcpy(type, "live", sizeof("live"));
	struct rtmp_event ev = { .kind = publish ? RTMP_EV_PUBLISH : RTMP_EV_PLAY, .name = name,
		.publish_type = publish ? type : NULL, .stream_id = msid };
	struct rtmp_reply rep;
	if (call(c, &ev, &rep) < 0)
		return c->result;
	uint32_t to = msid ? msid : OUR_STREAM_ID;
	char code[256], desc[256];
	if (!publish || rep.refuse) {
		if (reply_status(c, to, "error",
			bounded(code, sizeof(code), rep.code,
				publish ? "NetStream.Publish.Denied" : "NetStream.Play.Failed"),
			bounded(desc, sizeof(desc), rep.description,
				publish ? "Publishing refused." : "Publish only.")) < 0)
			return c->result;
		finish(c);
		return 0;
	}
	if (out_user(c, UC_STREAM_BEGIN, to) < 0 ||
		reply_status(c, to, "status", "NetStream.Publish.Start", "Start publishing.") < 0)
		return c->result;
	c->publishing = true;
	c->stage = RTMP_PUBLISHING;
	return 0;
}

static int unpublish(struct rtmp_conn *c, uint32_t msid)
{
	if (!c->publishing)
		return 0;
	c->publishing = false;
	struct rtmp_event ev = { .kind = RTMP_EV_UNPUBLISH, .stream_id = msid };
	if (call(c, &ev, NULL) < 0)
		return c->result;
	finish(c);
	return 0;
}

static int command(struct rtmp_conn *c, const uint8_t *p, size_t n, uint32_t msid)
{
	struct amf_reader r = { p, n };
	const uint8_t *name;
	size_t len;
	double txid = 0;
	if (!amf_string(&r, &name, &len))
		return fail(c, -EPROTO, "a command without a name");
	if (amf_peek(&r) == AMF_NUMBER)
		amf_number(&r, &txid);
#define IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
	if (IS("connect"))
		return cmd_connect(c, &r, txid);
	if (!c->connected)
		return fail(c, -EPROTO, "a command before connect");
	if (IS("createStream"))
		return reply_simple(c, "_result", txid, 1, OUR_STREAM_ID);
	if (IS("releaseStream") || IS("FCPublish"))
		return txid != 0 ? reply_simple(c, "_result", txid, 0, 0) : 0;
	if (IS("getStreamLength"))
		return txid != 0 ? reply_simple(c, "_result", txid, 1, 0) : 0;
	if (IS("publish"))
		return cmd_stream(c, &r, msid, true);
	if (IS("play"))
		return cmd_stream(c, &r, msid, false);
	if (IS("deleteStream") || IS("closeStream") || IS("FCUnpublish"))
		return unpublish(c, msid);
	if (IS("_result") || IS("_error") || IS("onStatus"))
		return 0; /* answers to what we never ask */
#undef IS
	if (txid == 0)
		return 0;
	uint8_t b[256];
	struct amf_writer w = { b, sizeof(b), 0 };
	amfw_string(&w, "_error");
	amfw_number(&w, txid);
	amfw_null(&w);
	status_object(&w, "error", "NetConnection.Call.Failed", "Unknown command.");
	amfw_end(&w);
	return out_amf(c, CS_COMMAND, 0, &w);
}

/* ---- media and data ---- */

static int media(struct rtmp_conn *c, unsigned type, uint32_t msid, uint32_t ts,
	const uint8_t *p, size_t n)
{
	if (!c->publishing)
		return 0; /* nothing to say it belongs to yet */
	struct rtmp_event ev = { .stream_id = msid, .timestamp = ts, .data = p, .len = n };
	if (type == MSG_AUDIO || type == MSG_VIDEO) {
		ev.kind = type == MSG_AUDIO ? RTMP_EV_AUDIO : RTMP_EV_VIDEO;
		return call(c, &ev, NULL);
	}
	if (type == MSG_DATA3) { /* AMF3 data: the AMF0 switch first */
		if (!n || p[0] != 0)
			return 0;
		p++, n--;
	}
	struct amf_reader r = { p, n };
	amf_string_is(&r, "@setDataFrame");
	struct amf_reader at = r;
	if (!amf_string_is(&r, "onMetaData"))
		return 0;
	ev.kind = RTMP_EV_DATA;
	ev.data = at.p;
	ev.len = at.n;
	return call(c, &ev, NULL);
}

static int aggregate(struct rtmp_conn *c, uint32_t msid, uint32_t ts, const uint8_t *p,
	size_t n)
{
	bool first = true;
	uint32_t base = 0;
	while (n) {
		if (n < 11)
			return fail(c, -EPROTO, "bad aggregate message");
		unsigned type = p[0];
		uint32_t len = be(p + 1, 3);
		uint32_t sts = be(p + 4, 3) | (uint32_t)p[7] << 24;
		if (len > n - 11 || n - 11 - len < 4)
			return fail(c, -EPROTO, "bad aggregate message");
		if (first)
			base = sts, first = false;
		if ((type == MSG_AUDIO || type == MSG_VIDEO || type == MSG_DATA0) &&
			media(c, type, msid, ts + (sts - base), p + 11, len) < 0)
			return c->result;
		if (c->result)
			return 0;
		p += 11 + len + 4;
		n -= 11 + (size_t)len + 4;
	}
	return 0;
}

static int control(struct rtmp_conn *c, unsigned type, const uint8_t *p, size_t n)
{
	switch (type) {
	case MSG_CHUNK_SIZE:
		if (n < 4)
			return fail(c, -EPROTO, "short set chunk size");
		if (be(p, 4) == 0 || be(p, 4) > 0x7fffffffu)
			return fail(c, -EPROTO, "bad chunk size");
		c->in_chunk = be(p, 4);
		return 0;
	case MSG_ABORT:
		if (n < 4)
			return fail(c, -EPROTO, "short abort");
		for (unsigned i = 0; i < c->ncs; i++)
			if (c->cs[i].used && c->cs[i].csid == be(p, 4) && c->cs[i].in_progress) {
				c->cs[i].in_progress = false;
				c->cs[i].have = 0;
			}
		return 0;
	case MSG_WINDOW:
		if (n < 4)
			return fail(c, -EPROTO, "short window acknowledgement size");
		c->window = be(p, 4);
		c->acked_at = c->bytes_in;
		return 0;
	case MSG_USER:
		if (n >= 6 && be(p, 2) == UC_PING_REQUEST)
			return out_user(c, UC_PING_RESPONSE, be(p + 2, 4));
		return 0;
	default: /* Acknowledgement, Set Peer Bandwidth: nothing to do */
		return 0;
	}
}

/* A whole message came. */
static int message(struct rtmp_conn *c, struct chunk_stream *s)
{
	const uint8_t *p = s->buf;
	size_t n = s->msg_len;
	switch (s->type) {
	case MSG_CHUNK_SIZE:
	case MSG_ABORT:
	case MSG_ACK:
	case MSG_USER:
	case MSG_WINDOW:
	case MSG_PEER_BW:
		return control(c, s->type, p, n);
	case MSG_CMD3:
		if (!n)
			return 0;
		p++, n--; /* the AMF0 switch */
		/* fall through */
	case MSG_CMD0:
		return command(c, p, n, s->stream_id);
	case MSG_AUDIO:
	case MSG_VIDEO:
	case MSG_DATA0:
	case MSG_DATA3:
		return media(c, s->type, s->stream_id, s->timestamp, p, n);
	case MSG_AGGREGATE:
		return c->publishing ? aggregate(c, s->stream_id, s->timestamp, p, n) : 0;
	default: /* shared objects and what we do not know */
		return 0;
	}
}

/* ---- chunk streams ---- */

/* The slot of @csid, made when new (an idle one is reused when all are taken). */
static struct chunk_stream *stream_of(struct rtmp_conn *c, uint32_t csid)
{
	struct chunk_stream *idle = NULL, *free_slot = NULL;
	for (unsigned i = 0; i < c->ncs; i++) {
		struct chunk_stream *s = &c->cs[i];
		if (s->used && s->csid == csid) {
			s->last_use = ++c->tick;
			return s;
		}
		if (!s->used && !free_slot)
			free_slot = s;
		if (s->used && !s->in_progress && (!idle || s->last_use < idle->last_use))
			idle = s;
	}
	struct chunk_stream *s = free_slot ? free_slot : idle;
	if (!s)
		return NULL;
	c->held -= s->cap;
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->csid = csid;
	s->last_use = ++c->tick;
	return s;
}

/* Room for @k more bytes of @s's message. */
static int grow(struct rtmp_conn *c, struct chunk_stream *s, size_t k)
{
	if (s->have + k <= s->cap)
		return 0;
	size_t want = s->cap ? s->cap * 2 : 4096;
	if (want < s->have + k)
		want = s->have + k;
	if (want > s->msg_len)
		want = s->msg_len;
	/* all chunk streams together hold at most two messages' worth */
	if (c->held - s->cap + want > 2 * c->lim.max_message)
		return fail(c, -ENOBUFS, "too much data in messages in progress");
	uint8_t *b = realloc(s->buf, want);
	if (!b)
		return fail(c, -ENOMEM, "out of memory");
	c->held = c->held - s->cap + want;
	s->buf = b;
	s->cap = want;
	return 0;
}

static void release(struct rtmp_conn *c, struct chunk_stream *s)
{
	s->in_progress = false;
	s->have = 0;
	if (s->cap > KEEP_BUF) {
		c->held -= s->cap;
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

/* The header is read (and the extended timestamp, if any): the chunk's payload is next. */
static int chunk_begin(struct rtmp_conn *c)
{
	struct chunk_stream *s = c->cur;
	if (!c->cont) {
		if (s->msg_len > c->lim.max_message)
			return fail(c, -EMSGSIZE, "message too long");
		unsigned busy = 0;
		for (unsigned i = 0; i < c->ncs; i++)
			busy += c->cs[i].used && c->cs[i].in_progress;
		if (busy >= c->lim.max_chunk_streams)
			return fail(c, -EPROTO, "too many chunk streams in progress");
		s->in_progress = true;
		s->have = 0;
	}
	uint32_t left = s->msg_len - (uint32_t)s->have;
	c->chunk_left = left < c->in_chunk ? left : c->in_chunk;
	c->rd = RD_PAYLOAD;
	if (c->chunk_left == 0) { /* an empty message */
		int rc = message(c, s);
		release(c, s);
		c->rd = RD_BASIC;
		return rc;
	}
	return 0;
}

/* The message header (in hb) of a type 0-2 chunk, or none for type 3. */
static int header_done(struct rtmp_conn *c)
{
	struct chunk_stream *s = c->cur;
	const uint8_t *h = c->hb;
	if (c->fmt < 3) {
		if (s->in_progress)
			return fail(c, -EPROTO, "a new message header inside a message");
		uint32_t field = be(h, 3);
		if (c->fmt <= 1) {
			s->msg_len = be(h + 3, 3);
			s->type = h[6];
		}
		if (c->fmt == 0)
			s->stream_id = (uint32_t)h[7] | (uint32_t)h[8] << 8 | (uint32_t)h[9] << 16 |
				(uint32_t)h[10] << 24;
		s->ext = field == 0xffffff;
		s->ts_field = field;
		c->cont = false;
		if (s->ext) {
			c->rd = RD_EXT, c->hb_have = 0, c->hb_need = 4;
			return 0;
		}
		s->timestamp = c->fmt == 0 ? field : s->timestamp + field;
		return chunk_begin(c);
	}
	c->cont = s->in_progress;
	if (s->ext) {
		/* the extended timestamp again: always before a new message's first chunk, and
		 * before a continuation chunk when the peer repeats it (detected below) */
		c->rd = RD_EXT, c->hb_have = 0, c->hb_need = 4;
		return 0;
	}
	if (!c->cont)
		s->timestamp += s->ts_field;
	return chunk_begin(c);
}

static int consume(struct rtmp_conn *c, const uint8_t *p, size_t n);

static int ext_done(struct rtmp_conn *c)
{
	struct chunk_stream *s = c->cur;
	uint32_t v = be(c->hb, 4);
	if (c->fmt == 3 && c->cont) {
		int rc = chunk_begin(c);
		if (rc || c->rd != RD_PAYLOAD)
			return rc;
		/* A continuation chunk repeats the extended timestamp (Adobe's servers, ffmpeg,
		 * OBS) or does not (older librtmp). As SRS does: the 4 bytes are the timestamp
		 * when they equal it, else they are the payload's first bytes. */
		if (v == s->ts_field || v == s->timestamp)
			return 0;
		uint8_t again[4];
		memcpy(again, c->hb, 4);
		return consume(c, again, 4);
	}
	if (c->fmt == 3) {
		s->ts_field = v;
		s->timestamp += v;
	} else {
		s->ts_field = v;
		s->timestamp = c->fmt == 0 ? v : s->timestamp + v;
	}
	return chunk_begin(c);
}

static int basic_done(struct rtmp_conn *c)
{
	struct chunk_stream *s = stream_of(c, c->cur_csid);
	if (!s)
		return fail(c, -EPROTO, "too many chunk streams in progress");
	if (c->fmt != 0 && !s->seen)
		return fail(c, -EPROTO, "a chunk stream that starts without a full header");
	if (c->fmt == 0)
		s->seen = true;
	c->cur = s;
	static const size_t header_len[4] = { 11, 7, 3, 0 };
	c->hb_have = 0;
	c->hb_need = header_len[c->fmt];
	c->rd = RD_HEADER;
	return c->hb_need ? 0 : header_done(c);
}

/* Fills hb from the input; true when it holds hb_need bytes. */
static bool gather(struct rtmp_conn *c, const uint8_t **p, size_t *n)
{
	size_t k = c->hb_need - c->hb_have;
	if (k > *n)
		k = *n;
	memcpy(c->hb + c->hb_have, *p, k);
	c->hb_have += k;
	*p += k;
	*n -= k;
	return c->hb_have == c->hb_need;
}

static int handshake_c0(struct rtmp_conn *c, uint8_t version)
{
	if (version != RTMP_VERSION)
		return fail(c, -EPROTO, "not RTMP version 3 (encrypted RTMP is not served)");
	uint8_t s0s1[1 + HANDSHAKE_LEN];
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint32_t t = (uint32_t)((uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
	s0s1[0] = RTMP_VERSION;
	wbe(s0s1 + 1, t, 4);
	memset(s0s1 + 5, 0, 4);
	/* random enough to be a handshake's filler: nothing depends on it being secret */
	uint64_t x = ((uint64_t)now.tv_nsec << 20) ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15u;
	for (size_t i = 9; i < sizeof(s0s1); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		s0s1[i] = (uint8_t)(x >> 32);
	}
	return out_raw(c, s0s1, sizeof(s0s1));
}

static int consume(struct rtmp_conn *c, const uint8_t *p, size_t n)
{
	while (n && c->result == 0) {
		switch (c->rd) {
		case RD_C0:
			if (handshake_c0(c, *p) < 0)
				return c->result;
			p++, n--;
			c->rd = RD_C1;
			c->skip = HANDSHAKE_LEN;
			break;
		case RD_C1:
		case RD_C2: {
			size_t k = n < c->skip ? n : c->skip;
			if (c->rd == RD_C1 && out_raw(c, p, k) < 0) /* S2 echoes C1 */
				return c->result;
			p += k, n -= k;
			c->skip -= k;
			if (c->skip == 0) {
				if (c->rd == RD_C1) {
					c->rd = RD_C2;
					c->skip = HANDSHAKE_LEN;
				} else {
					c->rd = RD_BASIC;
					c->stage = RTMP_CONNECTING;
				}
			}
			break;
		}
		case RD_BASIC:
			c->fmt = *p >> 6;
			c->cur_csid = *p & 0x3f;
			p++, n--;
			if (c->cur_csid <= 1) {
				c->hb_have = 0;
				c->hb_need = c->cur_csid == 0 ? 1 : 2;
				c->rd = RD_BASIC2;
			} else if (basic_done(c) < 0) {
				return c->result;
			}
			break;
		case RD_BASIC2:
			if (!gather(c, &p, &n))
				break;
			c->cur_csid = 64u + c->hb[0] + (c->hb_need == 2 ? 256u * c->hb[1] : 0);
			if (basic_done(c) < 0)
				return c->result;
			break;
		case RD_HEADER:
			if (gather(c, &p, &n) && header_done(c) < 0)
				return c->result;
			break;
		case RD_EXT:
			if (gather(c, &p, &n) && ext_done(c) < 0)
				return c->result;
			break;
		case RD_PAYLOAD: {
			struct chunk_stream *s = c->cur;
			size_t k = n < c->chunk_left ? n : c->chunk_left;
			if (grow(c, s, k) < 0)
				return c->result;
			memcpy(s->buf + s->have, p, k);
			s->have += k;
			c->chunk_left -= (uint32_t)k;
			p += k, n -= k;
			if (c->chunk_left)
				break;
			c->rd = RD_BASIC;
			if (s->have == s->msg_len) {
				int rc = message(c, s);
				release(c, s);
				if (rc < 0)
					return rc;
			}
			break;
		}
		}
	}
	return c->result;
}

/* ---- the interface ---- */

struct rtmp_conn *rtmp_conn_create(const struct rtmp_limits *lim, rtmp_event_fn fn, void *arg)
{
	struct rtmp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_message)
		c->lim.max_message = RTMP_DEFAULT_MAX_MESSAGE;
	if (c->lim.max_message > 0xffffff)
		c->lim.max_message = 0xffffff; /* the header's length field holds no more */
	if (!c->lim.max_chunk_streams)
		c->lim.max_chunk_streams = RTMP_DEFAULT_MAX_CHUNK_STREAMS;
	if (c->lim.max_chunk_streams > 1024)
		c->lim.max_chunk_streams = 1024;
	/* slots for the streams' headers: those in progress, and as many idle */
	c->ncs = 2 * c->lim.max_chunk_streams;
	c->cs = calloc(c->ncs, sizeof(*c->cs));
	if (!c->cs) {
		free(c);
		return NULL;
	}
	c->fn = fn;
	c->arg = arg;
	c->stage = RTMP_HANDSHAKE;
	c->rd = RD_C0;
	c->in_chunk = DEFAULT_CHUNK;
	c->out_chunk = DEFAULT_CHUNK;
	return c;
}

void rtmp_conn_destroy(struct rtmp_conn *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->ncs; i++)
		free(c->cs[i].buf);
	free(c->cs);
	free(c);
}

int rtmp_conn_feed(struct rtmp_conn *c, const uint8_t *data, size_t len)
{
	if (c->result)
		return c->result;
	c->bytes_in += len;
	consume(c, data, len);
	if (c->result == 0 && c->window && c->bytes_in - c->acked_at >= c->window) {
		c->acked_at = c->bytes_in;
		out_control(c, MSG_ACK, (uint32_t)c->bytes_in, -1);
	}
	return c->result;
}

size_t rtmp_conn_pending(struct rtmp_conn *c, const uint8_t **data)
{
	*data = c->out + c->out_head;
	return c->out_len;
}

void rtmp_conn_sent(struct rtmp_conn *c, size_t n)
{
	if (n > c->out_len)
		n = c->out_len;
	c->out_head += n;
	c->out_len -= n;
	if (!c->out_len)
		c->out_head = 0;
}

enum rtmp_stage rtmp_conn_stage(const struct rtmp_conn *c)
{
	return c->stage;
}

const char *rtmp_conn_error(const struct rtmp_conn *c)
{
	return c->error;
}

uint64_t rtmp_conn_bytes_in(const struct rtmp_conn *c)
{
	return c->bytes_in;
}
