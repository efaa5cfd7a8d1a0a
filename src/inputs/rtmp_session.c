/* The meaning of an RTMP connection's messages: protocol control, commands and their replies,
 * media and data for the callback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtmp_amf.h"
#include "rtmp_internal.h"

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
		return rtmp_fail(c, -ENOBUFS, "reply too long");
	return rtmp_out_msg(c, csid, MSG_CMD0, msid, w->p, w->n);
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
		return rtmp_fail(c, -ECANCELED, "stopped by the server");
	return 0;
}

static int cmd_connect(struct rtmp_conn *c, struct amf_reader *r, double txid)
{
	char app[MAX_STR] = "", tc_url[MAX_STR] = "";
	if (c->connected)
		return rtmp_fail(c, -EPROTO, "connect twice");
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
				return rtmp_fail(c, -EPROTO, "bad connect command object");
		}
		if (more < 0)
			return rtmp_fail(c, -EPROTO, "bad connect command object");
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
		rtmp_finish(c);
		return 0;
	}
	if (rtmp_out_control(c, MSG_WINDOW, OUR_WINDOW, -1) < 0 ||
		rtmp_out_control(c, MSG_PEER_BW, OUR_WINDOW, 2) < 0 ||
		rtmp_out_control(c, MSG_CHUNK_SIZE, OUR_CHUNK, -1) < 0)
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
		return rtmp_fail(c, -EPROTO, "publish or play before connect");
	if (c->publishing || c->unpublished)
		return rtmp_fail(c, -EPROTO, "publish or play again on one connection");
	if (!amf_skip(r) || !read_cstr(r, name, sizeof(name)))
		return rtmp_fail(c, -EPROTO, "bad publish or play command");
	if (publish && amf_peek(r) == AMF_STRING && !read_cstr(r, type, sizeof(type)))
		return rtmp_fail(c, -EPROTO, "bad publish type");
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
		rtmp_finish(c);
		return 0;
	}
	if (rtmp_out_user(c, UC_STREAM_BEGIN, to) < 0 ||
		reply_status(c, to, "status", "NetStream.Publish.Start", "Start publishing.") < 0)
		return c->result;
	c->publishing = true;
	c->stage = RTMP_PUBLISHING;
	return 0;
}

/* FCUnpublish, closeStream, deleteStream: the first one ends the publishing. The connection
 * stays until the peer closes it: publishers close right after deleteStream, and GStreamer's
 * rtmp2sink reports an error when the server closes first. */
static int unpublish(struct rtmp_conn *c, uint32_t msid)
{
	if (!c->publishing)
		return 0;
	c->publishing = false;
	c->unpublished = true;
	c->stage = RTMP_CLOSING;
	struct rtmp_event ev = { .kind = RTMP_EV_UNPUBLISH, .stream_id = msid };
	return call(c, &ev, NULL);
}

static int command(struct rtmp_conn *c, const uint8_t *p, size_t n, uint32_t msid)
{
	struct amf_reader r = { p, n };
	const uint8_t *name;
	size_t len;
	double txid = 0;
	if (!amf_string(&r, &name, &len))
		return rtmp_fail(c, -EPROTO, "a command without a name");
	if (amf_peek(&r) == AMF_NUMBER)
		amf_number(&r, &txid);
#define IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
	if (IS("connect"))
		return cmd_connect(c, &r, txid);
	if (!c->connected)
		return rtmp_fail(c, -EPROTO, "a command before connect");
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
	if (!c->publishing || n == 0)
		return 0; /* nothing to say it belongs to yet, or nothing at all */
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
			return rtmp_fail(c, -EPROTO, "bad aggregate message");
		unsigned type = p[0];
		uint32_t len = be(p + 1, 3);
		uint32_t sts = be(p + 4, 3) | (uint32_t)p[7] << 24;
		if (len > n - 11 || n - 11 - len < 4)
			return rtmp_fail(c, -EPROTO, "bad aggregate message");
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
			return rtmp_fail(c, -EPROTO, "short set chunk size");
		if (be(p, 4) == 0 || be(p, 4) > 0x7fffffffu)
			return rtmp_fail(c, -EPROTO, "bad chunk size");
		c->in_chunk = be(p, 4);
		return 0;
	case MSG_ABORT:
		if (n < 4)
			return rtmp_fail(c, -EPROTO, "short abort");
		for (unsigned i = 0; i < c->ncs; i++)
			if (c->cs[i].used && c->cs[i].csid == be(p, 4) && c->cs[i].in_progress) {
				c->cs[i].in_progress = false;
				c->cs[i].have = 0;
			}
		return 0;
	case MSG_WINDOW:
		if (n < 4)
			return rtmp_fail(c, -EPROTO, "short window acknowledgement size");
		c->window = be(p, 4);
		c->acked_at = c->bytes_in;
		return 0;
	case MSG_USER:
		if (n >= 6 && be(p, 2) == UC_PING_REQUEST)
			return rtmp_out_user(c, UC_PING_RESPONSE, be(p + 2, 4));
		return 0;
	default: /* Acknowledgement, Set Peer Bandwidth: nothing to do */
		return 0;
	}
}

/* A whole message came. */
int rtmp_message(struct rtmp_conn *c, struct chunk_stream *s)
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
