/* The server side of RTMP (src/inputs/rtmp_proto.c) and the media bodies
 * (src/inputs/rtmp_media.c): byte sequences a publisher sends, fed whole, one byte at a time
 * and in random pieces; the events seen and the reply bytes read back. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtmp_amf.h"
#include "rtmp_media.h"
#include "rtmp_proto.h"

/* ---- what the callback saw ---- */

#define MAX_EVENTS 1024
struct seen {
	enum rtmp_ev kind;
	char app[256], tc_url[256], name[256], type[16];
	uint32_t stream_id, timestamp;
	uint8_t data[600];  /* the first bytes */
	size_t len;
};
struct rec {
	struct seen ev[MAX_EVENTS];
	int n;
	int count[RTMP_EV_DATA + 1];
	/* the answers */
	bool refuse_connect, refuse_publish;
	const char *code, *description;
	int abort_on; /* an event kind + 1 whose callback returns -1 */
};

static void copy(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

static int on_event(void *arg, const struct rtmp_event *ev, struct rtmp_reply *reply)
{
	struct rec *r = arg;
	r->count[ev->kind]++;
	if (r->n < MAX_EVENTS) {
		struct seen *s = &r->ev[r->n++];
		s->kind = ev->kind;
		copy(s->app, sizeof(s->app), ev->app);
		copy(s->tc_url, sizeof(s->tc_url), ev->tc_url);
		copy(s->name, sizeof(s->name), ev->name);
		copy(s->type, sizeof(s->type), ev->publish_type);
		s->stream_id = ev->stream_id;
		s->timestamp = ev->timestamp;
		s->len = ev->len;
		if (ev->len)
			memcpy(s->data, ev->data, ev->len < sizeof(s->data) ? ev->len : sizeof(s->data));
	}
	if (r->abort_on == (int)ev->kind + 1)
		return -1;
	if ((ev->kind == RTMP_EV_CONNECT && r->refuse_connect) ||
		(ev->kind == RTMP_EV_PUBLISH && r->refuse_publish)) {
		reply->refuse = true;
		reply->code = r->code;
		reply->description = r->description;
	}
	return 0;
}

/* ---- a growing byte buffer: what a publisher sends ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void add(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void add_u8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	add(b, &x, 1);
}

static void add_be(struct buf *b, uint32_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		add_u8(b, v >> (8 * i));
}

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* C0 + C1 + C2 as a publisher sends them. */
static void handshake(struct buf *b)
{
	add_u8(b, 3);
	for (int i = 0; i < 1536; i++)
		add_u8(b, i * 7 + 1);
	for (int i = 0; i < 1536; i++)
		add_u8(b, i * 5 + 2);
}

static void basic(struct buf *b, unsigned fmt, uint32_t csid)
{
	if (csid < 64) {
		add_u8(b, fmt << 6 | csid);
	} else if (csid < 320) {
		add_u8(b, fmt << 6);
		add_u8(b, csid - 64);
	} else {
		add_u8(b, fmt << 6 | 1);
		add_u8(b, (csid - 64) & 0xff);
		add_u8(b, (csid - 64) >> 8);
	}
}

/* How a message is cut into chunks. */
struct chunking {
	size_t size;          /* the chunk size */
	bool ext_on_type3;    /* repeat the extended timestamp on continuation chunks */
};

/* One message: a type @fmt header (@ts the timestamp field: absolute for type 0, a delta
 * otherwise), then type 3 chunks. */
static void message(struct buf *b, const struct chunking *ck, unsigned fmt, uint32_t csid,
	uint32_t ts, unsigned type, uint32_t msid, const void *payload, size_t len)
{
	const uint8_t *p = payload;
	bool ext = ts >= 0xffffff;
	basic(b, fmt, csid);
	if (fmt <= 2)
		add_be(b, ext ? 0xffffff : ts, 3);
	if (fmt <= 1) {
		add_be(b, (uint32_t)len, 3);
		add_u8(b, type);
	}
	if (fmt == 0)
		for (int i = 0; i < 4; i++)
			add_u8(b, msid >> (8 * i));
	if (ext)
		add_be(b, ts, 4);
	for (size_t off = 0; off < len || (!len && off == 0);) {
		if (off) {
			basic(b, 3, csid);
			if (ext && ck->ext_on_type3)
				add_be(b, ts, 4);
		}
		size_t k = len - off < ck->size ? len - off : ck->size;
		add(b, p + off, k);
		off += k;
		if (!len)
			break;
	}
}

static const struct chunking plain = { 128, true };

/* ---- AMF0 bodies ---- */

struct amf {
	uint8_t b[2048];
	struct amf_writer w;
};

static struct amf *amf_new(void)
{
	struct amf *a = calloc(1, sizeof(*a));
	a->w.p = a->b;
	a->w.cap = sizeof(a->b);
	return a;
}

static void command(struct buf *b, const struct amf *a, uint32_t msid)
{
	message(b, &plain, 0, 3, 0, 20, msid, a->b, a->w.n);
}

static void cmd_connect(struct buf *b, const char *app, const char *tc_url)
{
	struct amf *a = amf_new();
	amfw_string(&a->w, "connect");
	amfw_number(&a->w, 1);
	amfw_object(&a->w);
	amfw_key(&a->w, "app");
	amfw_string(&a->w, app);
	amfw_key(&a->w, "type");
	amfw_string(&a->w, "nonprivate");
	amfw_key(&a->w, "flashVer");
	amfw_string(&a->w, "FMLE/3.0 (compatible; FMSc/1.0)");
	amfw_key(&a->w, "tcUrl");
	amfw_string(&a->w, tc_url);
	amfw_end(&a->w);
	command(b, a, 0);
	free(a);
}

/* name(txid, null[, string]) */
static void cmd_simple(struct buf *b, const char *name, double txid, const char *arg,
	uint32_t msid)
{
	struct amf *a = amf_new();
	amfw_string(&a->w, name);
	amfw_number(&a->w, txid);
	amfw_null(&a->w);
	if (arg)
		amfw_string(&a->w, arg);
	command(b, a, msid);
	free(a);
}

/* What ffmpeg sends up to its first media message. */
static void publish_session(struct buf *b, const char *name)
{
	handshake(b);
	cmd_connect(b, "live", "rtmp://127.0.0.1:1935/live");
	cmd_simple(b, "releaseStream", 2, name, 0);
	cmd_simple(b, "FCPublish", 3, name, 0);
	cmd_simple(b, "createStream", 4, NULL, 0);
	struct amf *a = amf_new();
	amfw_string(&a->w, "publish");
	amfw_number(&a->w, 5);
	amfw_null(&a->w);
	amfw_string(&a->w, name);
	amfw_string(&a->w, "live");
	message(b, &plain, 0, 8, 0, 20, 1, a->b, a->w.n);
	free(a);
}

/* ---- feeding ---- */

enum split { WHOLE, ONE_BYTE, RANDOM };

static unsigned rng = 12345;

static unsigned next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 16;
}

/* Feeds @b in the pieces @how says, sending all output as it goes (kept in @out when not
 * NULL); the last result. */
static int feed(struct rtmp_conn *c, const struct buf *b, enum split how, struct buf *out)
{
	int rc = 0;
	for (size_t off = 0; off < b->n && rc == 0;) {
		size_t k = how == WHOLE ? b->n : how == ONE_BYTE ? 1 : 1 + next_rand() % 700;
		if (k > b->n - off)
			k = b->n - off;
		rc = rtmp_conn_feed(c, b->p + off, k);
		off += k;
		const uint8_t *o;
		size_t n = rtmp_conn_pending(c, &o);
		if (out && n)
			add(out, o, n);
		rtmp_conn_sent(c, n);
	}
	return rc;
}

/* ---- reading what the server sent ---- */

struct out_msg {
	unsigned csid, type;
	uint32_t msid, len;
	uint8_t body[1024];
};

/* The messages after the handshake (S0 S1 S2), de-chunked (the server sends types 0 and 3
 * only; it sets its chunk size with a Set Chunk Size message). */
static int read_out(const struct buf *out, struct out_msg *m, int max)
{
	size_t off = 1 + 1536 * 2;
	uint32_t chunk = 128;
	int n = 0;
	while (off < out->n && n < max) {
		const uint8_t *p = out->p + off;
		CHECK((p[0] >> 6) == 0);
		struct out_msg *x = &m[n++];
		x->csid = p[0] & 0x3f;
		x->len = be(p + 4, 3);
		x->type = p[7];
		x->msid = p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24;
		off += 12;
		uint32_t got = 0;
		while (got < x->len) {
			if (got) {
				CHECK(out->p[off] == (0xc0 | x->csid));
				off++;
			}
			uint32_t k = x->len - got < chunk ? x->len - got : chunk;
			if (got + k <= sizeof(x->body))
				memcpy(x->body + got, out->p + off, k);
			got += k;
			off += k;
		}
		if (x->type == 1)
			chunk = be(x->body, 4);
	}
	CHECK(off == out->n);
	return n;
}

/* Reads a command's name, txid and its info object's level, code, description. */
struct status {
	char name[32], level[32], code[64], desc[128];
	double txid;
};

static void cstr(struct amf_reader *r, char *dst, size_t cap)
{
	const uint8_t *s;
	size_t n;
	dst[0] = 0;
	if (amf_string(r, &s, &n) && n < cap) {
		memcpy(dst, s, n);
		dst[n] = 0;
	}
}

static struct status read_status(const struct out_msg *m)
{
	struct status st = { 0 };
	struct amf_reader r = { m->body, m->len };
	cstr(&r, st.name, sizeof(st.name));
	amf_number(&r, &st.txid);
	/* _result's properties object, or the null of _error and onStatus */
	CHECK(amf_skip(&r));
	if (amf_enter(&r)) {
		const uint8_t *k;
		size_t kn;
		while (amf_key(&r, &k, &kn) > 0) {
			if (kn == 5 && !memcmp(k, "level", 5))
				cstr(&r, st.level, sizeof(st.level));
			else if (kn == 4 && !memcmp(k, "code", 4))
				cstr(&r, st.code, sizeof(st.code));
			else if (kn == 11 && !memcmp(k, "description", 11))
				cstr(&r, st.desc, sizeof(st.desc));
			else
				CHECK(amf_skip(&r));
		}
	}
	return st;
}

/* The index of the first message of @type (and, for commands, named @name) at or after @from,
 * or -1. */
static int find(const struct out_msg *m, int n, int from, unsigned type, const char *name)
{
	for (int i = from; i < n; i++) {
		if (m[i].type != type)
			continue;
		if (!name)
			return i;
		struct status st = read_status(&m[i]);
		if (!strcmp(st.name, name))
			return i;
	}
	return -1;
}

/* A session through publish, its events in @r and output in @out. */
static struct rtmp_conn *published(struct rec *r, struct buf *out, enum split how)
{
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, r);
	struct buf b = { 0 };
	publish_session(&b, "cam1");
	CHECK(feed(c, &b, how, out) == 0);
	CHECK(rtmp_conn_stage(c) == RTMP_PUBLISHING);
	free(b.p);
	return c;
}

/* ---- the handshake ---- */

static void test_handshake_s0_s1_s2(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 }, out = { 0 };
	handshake(&b);
	CHECK(rtmp_conn_stage(c) == RTMP_HANDSHAKE);
	CHECK(feed(c, &b, ONE_BYTE, &out) == 0);
	CHECK(out.n == 1 + 1536 * 2);
	CHECK(out.p[0] == 3);
	CHECK(be(out.p + 5, 4) == 0);           /* S1: the zero field (no digest) */
	CHECK(!memcmp(out.p + 1537, b.p + 1, 1536)); /* S2 echoes C1 */
	CHECK(rtmp_conn_stage(c) == RTMP_CONNECTING);
	CHECK(rtmp_conn_bytes_in(c) == b.n);
	CHECK(r.n == 0);
	rtmp_conn_destroy(c);
	free(b.p);
	free(out.p);
}

static void test_handshake_other_version_is_an_error(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	const uint8_t c0 = 6; /* RTMPE */
	CHECK(rtmp_conn_feed(c, &c0, 1) < 0);
	CHECK(strlen(rtmp_conn_error(c)) > 0);
	CHECK(rtmp_conn_stage(c) == RTMP_CLOSING);
	CHECK(rtmp_conn_feed(c, &c0, 1) < 0); /* and stays so */
	rtmp_conn_destroy(c);
	rtmp_conn_destroy(NULL);
}

/* ---- a whole session ---- */

static void session_in(enum split how)
{
	struct rec r = { 0 };
	struct buf out = { 0 };
	struct rtmp_conn *c = published(&r, &out, how);
	CHECK(r.n == 2);
	CHECK(r.ev[0].kind == RTMP_EV_CONNECT);
	CHECK_STR(r.ev[0].app, "live");
	CHECK_STR(r.ev[0].tc_url, "rtmp://127.0.0.1:1935/live");
	CHECK(r.ev[1].kind == RTMP_EV_PUBLISH);
	CHECK_STR(r.ev[1].name, "cam1");
	CHECK_STR(r.ev[1].type, "live");
	CHECK(r.ev[1].stream_id == 1);

	struct out_msg *m = calloc(64, sizeof(*m));
	int n = read_out(&out, m, 64);
	/* connect: Window Ack Size, Set Peer Bandwidth, Set Chunk Size, then _result */
	CHECK(n >= 8);
	CHECK(m[0].type == 5 && m[0].csid == 2 && be(m[0].body, 4) == 2500000);
	CHECK(m[1].type == 6 && m[1].csid == 2 && m[1].len == 5);
	CHECK(m[2].type == 1 && be(m[2].body, 4) == 4096);
	struct status st = read_status(&m[3]);
	CHECK_STR(st.name, "_result");
	CHECK(st.txid == 1 && m[3].csid == 3);
	CHECK_STR(st.code, "NetConnection.Connect.Success");
	/* releaseStream, FCPublish, createStream answered */
	int i = find(m, n, 4, 20, "_result");
	CHECK(i >= 0 && read_status(&m[i]).txid == 2);
	i = find(m, n, i + 1, 20, "_result");
	CHECK(i >= 0 && read_status(&m[i]).txid == 3);
	i = find(m, n, i + 1, 20, "_result");
	CHECK(i >= 0 && read_status(&m[i]).txid == 4);
	if (i >= 0) { /* the stream id: 1 */
		struct amf_reader ar = { m[i].body, m[i].len };
		double d = 0;
		CHECK(amf_skip(&ar) && amf_skip(&ar) && amf_skip(&ar) && amf_number(&ar, &d));
		CHECK(d == 1);
	}
	/* publish: StreamBegin 1, onStatus on chunk stream 5, stream 1 */
	i = find(m, n, 0, 4, NULL);
	CHECK(i >= 0 && be(m[i].body, 2) == 0 && be(m[i].body + 2, 4) == 1);
	i = find(m, n, 0, 20, "onStatus");
	CHECK(i >= 0);
	if (i >= 0) {
		st = read_status(&m[i]);
		CHECK(m[i].csid == 5 && m[i].msid == 1);
		CHECK_STR(st.level, "status");
		CHECK_STR(st.code, "NetStream.Publish.Start");
	}
	free(m);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_session_whole(void)
{
	session_in(WHOLE);
}

static void test_session_one_byte_at_a_time(void)
{
	session_in(ONE_BYTE);
}

static void test_session_random_pieces(void)
{
	for (int k = 0; k < 20; k++)
		session_in(RANDOM);
}

/* ---- chunk headers ---- */

static void test_header_types_0_to_3_add_deltas(void)
{
	for (int how = WHOLE; how <= RANDOM; how++) {
		struct rec r = { 0 };
		struct rtmp_conn *c = published(&r, NULL, how);
		struct buf b = { 0 };
		uint8_t v[200];
		memset(v, 0x17, sizeof(v));
		message(&b, &plain, 0, 6, 1000, 9, 1, v, 200);  /* ts 1000 */
		message(&b, &plain, 1, 6, 40, 9, 0, v, 150);    /* +40, new length */
		message(&b, &plain, 2, 6, 40, 0, 0, v, 150);    /* +40, same length */
		message(&b, &plain, 3, 6, 0, 0, 0, v, 150);     /* +40 again */
		CHECK(feed(c, &b, (enum split)how, NULL) == 0);
		CHECK(r.count[RTMP_EV_VIDEO] == 4);
		CHECK(r.ev[2].timestamp == 1000 && r.ev[2].len == 200);
		CHECK(r.ev[3].timestamp == 1040 && r.ev[3].len == 150);
		CHECK(r.ev[4].timestamp == 1080 && r.ev[4].len == 150);
		CHECK(r.ev[5].timestamp == 1120 && r.ev[5].len == 150);
		CHECK(r.ev[5].stream_id == 1 && r.ev[5].data[149 % 600] == 0x17);
		free(b.p);
		rtmp_conn_destroy(c);
	}
}

static void test_basic_headers_of_two_and_three_bytes(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, ONE_BYTE);
	struct buf b = { 0 };
	uint8_t v[300] = { 0x27 };
	message(&b, &plain, 0, 64 + 200, 10, 9, 1, v, 300);  /* 2-byte basic header */
	message(&b, &plain, 0, 64 + 1000, 20, 8, 1, v, 300); /* 3-byte */
	message(&b, &plain, 0, 65599, 30, 8, 1, v, 5);       /* the highest */
	CHECK(feed(c, &b, ONE_BYTE, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 1 && r.count[RTMP_EV_AUDIO] == 2);
	CHECK(r.ev[2].timestamp == 10 && r.ev[2].len == 300);
	CHECK(r.ev[3].timestamp == 20 && r.ev[3].len == 300);
	CHECK(r.ev[4].timestamp == 30 && r.ev[4].len == 5);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void ext_type3(bool repeat, enum split how)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, how);
	struct buf b = { 0 };
	struct chunking ck = { 128, repeat };
	uint8_t v[400];
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)(i * 3 + 1);
	const uint32_t ts = 0x01234567;
	message(&b, &ck, 0, 6, ts, 9, 1, v, sizeof(v));
	/* a type 3 header begins the next message: the extended field again, as the delta */
	for (size_t off = 0; off < sizeof(v); off += 128) {
		basic(&b, 3, 6);
		if (!off || repeat)
			add_be(&b, 0x01000000, 4);
		add(&b, v + off, sizeof(v) - off < 128 ? sizeof(v) - off : 128);
	}
	CHECK(feed(c, &b, how, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 2);
	CHECK(r.ev[2].timestamp == ts && r.ev[2].len == sizeof(v));
	CHECK(!memcmp(r.ev[2].data, v, sizeof(v)));
	CHECK(r.ev[3].timestamp == ts + 0x01000000u && r.ev[3].len == sizeof(v));
	CHECK(!memcmp(r.ev[3].data, v, sizeof(v)));
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_extended_timestamp_repeated_on_type3(void)
{
	ext_type3(true, WHOLE);
	ext_type3(true, ONE_BYTE);
	ext_type3(true, RANDOM);
}

static void test_extended_timestamp_not_repeated_on_type3(void)
{
	ext_type3(false, WHOLE);
	ext_type3(false, ONE_BYTE);
	ext_type3(false, RANDOM);
}

/* A peer that does not repeat the extended timestamp, and a last chunk of 2 bytes: the 4 bytes
 * read in its place are those 2 and the start of the next chunk. */
static void test_extended_timestamp_not_repeated_short_last_chunk(void)
{
	for (int how = WHOLE; how <= RANDOM; how++) {
		struct rec r = { 0 };
		struct rtmp_conn *c = published(&r, NULL, (enum split)how);
		struct buf b = { 0 };
		struct chunking ck = { 128, false };
		uint8_t v[130], a[3] = { 0xaf, 1, 0x21 };
		for (size_t i = 0; i < sizeof(v); i++)
			v[i] = (uint8_t)(i + 100);
		message(&b, &ck, 0, 6, 0x02000000, 9, 1, v, sizeof(v));
		message(&b, &ck, 0, 4, 0x02000010, 8, 1, a, sizeof(a));
		CHECK(feed(c, &b, (enum split)how, NULL) == 0);
		CHECK(r.count[RTMP_EV_VIDEO] == 1 && r.count[RTMP_EV_AUDIO] == 1);
		CHECK(r.ev[2].len == sizeof(v) && !memcmp(r.ev[2].data, v, sizeof(v)));
		CHECK(r.ev[2].timestamp == 0x02000000);
		CHECK(r.ev[3].len == sizeof(a) && r.ev[3].timestamp == 0x02000010);
		free(b.p);
		rtmp_conn_destroy(c);
	}
}

static void test_amf3_command_is_read_as_amf0(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 };
	handshake(&b);
	struct amf *a = amf_new();
	a->b[a->w.n++] = 0; /* the AMF0 switch of a type 17 command */
	amfw_string(&a->w, "connect");
	amfw_number(&a->w, 1);
	amfw_object(&a->w);
	amfw_key(&a->w, "app");
	amfw_string(&a->w, "live");
	amfw_end(&a->w);
	message(&b, &plain, 0, 3, 0, 17, 0, a->b, a->w.n);
	CHECK(feed(c, &b, ONE_BYTE, NULL) == 0);
	CHECK(r.count[RTMP_EV_CONNECT] == 1);
	CHECK_STR(r.ev[0].app, "live");
	CHECK(rtmp_conn_stage(c) == RTMP_CONNECTED);
	free(a);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_chunk_size_change_mid_stream(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, ONE_BYTE);
	struct buf b = { 0 };
	uint8_t v[5000];
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)i;
	message(&b, &plain, 0, 6, 0, 9, 1, v, 300); /* 128-byte chunks */
	uint8_t size[4] = { 0, 0, 0x10, 0 };        /* 4096 */
	message(&b, &plain, 0, 2, 0, 1, 0, size, 4);
	struct chunking big = { 4096, true };
	message(&b, &big, 1, 6, 40, 9, 0, v, sizeof(v)); /* 4096 + 904 */
	size_t at = b.n;
	CHECK(feed(c, &b, RANDOM, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 2);
	CHECK(r.ev[3].len == sizeof(v) && !memcmp(r.ev[3].data, v, sizeof(r.ev[3].data)));
	CHECK(r.ev[3].timestamp == 40);
	CHECK(b.n - at == 0); /* nothing appended after */
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_interleaved_audio_and_video_chunk_streams(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t v[300], a[200];
	memset(v, 0x66, sizeof(v));
	memset(a, 0xaa, sizeof(a));
	/* video's first chunk, audio's first chunk, video's second, audio's second, ... */
	basic(&b, 0, 6), add_be(&b, 100, 3), add_be(&b, 300, 3), add_u8(&b, 9), add_be(&b, 0x01000000, 4);
	add(&b, v, 128);
	basic(&b, 0, 4), add_be(&b, 90, 3), add_be(&b, 200, 3), add_u8(&b, 8), add_be(&b, 0x01000000, 4);
	add(&b, a, 128);
	basic(&b, 3, 6), add(&b, v, 128);
	basic(&b, 3, 4), add(&b, a, 72);
	basic(&b, 3, 6), add(&b, v, 44);
	CHECK(feed(c, &b, RANDOM, NULL) == 0);
	CHECK(r.count[RTMP_EV_AUDIO] == 1 && r.count[RTMP_EV_VIDEO] == 1);
	CHECK(r.ev[2].kind == RTMP_EV_AUDIO && r.ev[2].len == 200 && r.ev[2].timestamp == 90);
	CHECK(r.ev[2].data[199] == 0xaa);
	CHECK(r.ev[3].kind == RTMP_EV_VIDEO && r.ev[3].len == 300 && r.ev[3].timestamp == 100);
	CHECK(r.ev[3].data[299] == 0x66);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_abort_drops_a_message_in_progress(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t v[300] = { 0 };
	basic(&b, 0, 6), add_be(&b, 0, 3), add_be(&b, 300, 3), add_u8(&b, 9), add_be(&b, 0x01000000, 4);
	add(&b, v, 128);
	uint8_t abort_cs[4] = { 0, 0, 0, 6 };
	message(&b, &plain, 0, 2, 0, 2, 0, abort_cs, 4);
	message(&b, &plain, 0, 6, 50, 9, 1, v, 10); /* a new message on the same chunk stream */
	CHECK(feed(c, &b, ONE_BYTE, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 1);
	CHECK(r.ev[2].len == 10 && r.ev[2].timestamp == 50);
	free(b.p);
	rtmp_conn_destroy(c);
}

/* One aggregate sub-message (an FLV tag and its back pointer). */
static void sub_message(struct buf *b, unsigned type, uint32_t ts, const void *d, size_t n)
{
	add_u8(b, type);
	add_be(b, (uint32_t)n, 3);
	add_be(b, ts & 0xffffff, 3);
	add_u8(b, ts >> 24);
	add_be(b, 0, 3);
	add(b, d, n);
	add_be(b, (uint32_t)(11 + n), 4);
}

static void test_aggregate_splits_and_rebases_timestamps(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf agg = { 0 }, b = { 0 };
	uint8_t v[20], a[7];
	memset(v, 0x17, sizeof(v));
	memset(a, 0xaf, sizeof(a));
	sub_message(&agg, 9, 5000, v, sizeof(v));
	sub_message(&agg, 8, 5023, a, sizeof(a));
	sub_message(&agg, 9, 5040, v, 5);
	message(&b, &plain, 0, 6, 100, 22, 1, agg.p, agg.n);
	CHECK(feed(c, &b, ONE_BYTE, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 2 && r.count[RTMP_EV_AUDIO] == 1);
	CHECK(r.ev[2].kind == RTMP_EV_VIDEO && r.ev[2].timestamp == 100 && r.ev[2].len == 20);
	CHECK(r.ev[3].kind == RTMP_EV_AUDIO && r.ev[3].timestamp == 123 && r.ev[3].len == 7);
	CHECK(r.ev[4].kind == RTMP_EV_VIDEO && r.ev[4].timestamp == 140 && r.ev[4].len == 5);
	CHECK(r.ev[3].data[0] == 0xaf);

	/* a sub-message longer than the aggregate: an error */
	struct buf bad = { 0 };
	agg.p[3] = 0xff;
	message(&bad, &plain, 0, 6, 100, 22, 1, agg.p, agg.n);
	CHECK(feed(c, &bad, WHOLE, NULL) < 0);
	free(agg.p);
	free(b.p);
	free(bad.p);
	rtmp_conn_destroy(c);
}

/* ---- data ---- */

static void test_set_data_frame_is_cut_to_on_metadata(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct amf *a = amf_new();
	amfw_string(&a->w, "@setDataFrame");
	size_t cut = a->w.n;
	amfw_string(&a->w, "onMetaData");
	a->b[a->w.n++] = AMF_ECMA_ARRAY;
	a->w.n += 4;
	amfw_key(&a->w, "width");
	amfw_number(&a->w, 320);
	amfw_key(&a->w, "height");
	amfw_number(&a->w, 240);
	amfw_key(&a->w, "framerate");
	amfw_number(&a->w, 25);
	amfw_key(&a->w, "videocodecid");
	amfw_string(&a->w, "hvc1");
	amfw_key(&a->w, "nested");
	amfw_object(&a->w);
	amfw_key(&a->w, "x");
	amfw_bool(&a->w, true);
	amfw_end(&a->w);
	amfw_key(&a->w, "audiocodecid");
	amfw_number(&a->w, 10);
	amfw_end(&a->w);
	struct buf b = { 0 };
	message(&b, &plain, 0, 4, 0, 18, 1, a->b, a->w.n);
	/* AMF3 data: the AMF0 switch, then the same */
	uint8_t d3[2048];
	d3[0] = 0;
	memcpy(d3 + 1, a->b, a->w.n);
	message(&b, &plain, 0, 4, 0, 15, 1, d3, a->w.n + 1);
	/* onMetaData alone, and a data message of another name (ignored) */
	message(&b, &plain, 0, 4, 0, 18, 1, a->b + cut, a->w.n - cut);
	struct amf *o = amf_new();
	amfw_string(&o->w, "onTextData");
	message(&b, &plain, 0, 4, 0, 18, 1, o->b, o->w.n);
	CHECK(feed(c, &b, RANDOM, NULL) == 0);
	CHECK(r.count[RTMP_EV_DATA] == 3);
	for (int i = 2; i < 5; i++) {
		CHECK(r.ev[i].kind == RTMP_EV_DATA);
		CHECK(r.ev[i].len == a->w.n - cut);
		CHECK(!memcmp(r.ev[i].data, a->b + cut, r.ev[i].len));
		struct rtmp_meta meta;
		CHECK(rtmp_meta_parse(r.ev[i].data, r.ev[i].len, &meta) == 0);
		CHECK(meta.width == 320 && meta.height == 240 && meta.framerate == 25);
		CHECK(meta.videocodecid == 0x68766331 && meta.audiocodecid == 10);
	}
	free(a);
	free(o);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_meta_parse_refuses_what_is_not_metadata(void)
{
	struct rtmp_meta m;
	static const uint8_t not_meta[] = { 2, 0, 3, 'a', 'b', 'c' };
	CHECK(rtmp_meta_parse(not_meta, sizeof(not_meta), &m) < 0);
	CHECK(rtmp_meta_parse(NULL, 0, &m) < 0);
	/* objects nested deeper than AMF_MAX_DEPTH */
	struct amf *a = amf_new();
	amfw_string(&a->w, "onMetaData");
	for (int i = 0; i < 40; i++) {
		amfw_object(&a->w);
		amfw_key(&a->w, "k");
	}
	amfw_null(&a->w);
	for (int i = 0; i < 40; i++)
		amfw_end(&a->w);
	CHECK(rtmp_meta_parse(a->b, a->w.n, &m) < 0);
	free(a);
}

static void test_amf_reads_every_amf0_type(void)
{
	static const uint8_t v[] = {
		0, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, /* number pi */
		1, 1,                                              /* true */
		2, 0, 2, 'h', 'i',                                 /* string */
		3, 0, 1, 'a', 5, 0, 0, 9,                          /* object {a: null} */
		5, 6,                                              /* null, undefined */
		8, 0, 0, 0, 1, 0, 1, 'b', 6, 0, 0, 9,              /* ecma array {b: undefined} */
		10, 0, 0, 0, 2, 5, 1, 0,                           /* strict array [null, false] */
		11, 0x42, 0x76, 0, 0, 0, 0, 0, 0, 0, 0,            /* date */
		12, 0, 0, 0, 3, 'x', 'y', 'z',                     /* long string */
	};
	struct amf_reader r = { v, sizeof(v) };
	double d;
	CHECK(amf_number(&r, &d) && d > 3.14159 && d < 3.1416);
	int values = 1;
	while (r.n && amf_skip(&r))
		values++;
	CHECK(values == 10 && r.n == 0);
	const uint8_t *s;
	size_t n;
	struct amf_reader ls = { v + sizeof(v) - 8, 8 };
	CHECK(amf_string(&ls, &s, &n) && n == 3 && !memcmp(s, "xyz", 3));
	static const uint8_t bad[] = { 2, 0, 9, 'a' };       /* a string past the end */
	struct amf_reader br = { bad, sizeof(bad) };
	CHECK(!amf_skip(&br));
	static const uint8_t clip[] = { 4 };                 /* movie clip: not read */
	struct amf_reader cr = { clip, 1 };
	CHECK(!amf_skip(&cr));
}

/* ---- commands and refusals ---- */

static void test_connect_refused_gets_error_and_close(void)
{
	struct rec r = { .refuse_connect = true, .code = "NetConnection.Connect.Rejected",
		.description = "app must be live" };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 }, out = { 0 };
	handshake(&b);
	cmd_connect(&b, "other?token=abc", "rtmp://h/other?token=abc");
	cmd_simple(&b, "createStream", 2, NULL, 0);  /* after the refusal: not read */
	CHECK(feed(c, &b, ONE_BYTE, &out) == RTMP_CLOSE);
	CHECK(rtmp_conn_stage(c) == RTMP_CLOSING);
	CHECK(r.n == 1 && r.ev[0].kind == RTMP_EV_CONNECT);
	CHECK_STR(r.ev[0].app, "other?token=abc");  /* the query kept */
	struct out_msg m[8];
	int n = read_out(&out, m, 8);
	CHECK(n == 1);
	struct status st = read_status(&m[0]);
	CHECK_STR(st.name, "_error");
	CHECK(st.txid == 1);
	CHECK_STR(st.level, "error");
	CHECK_STR(st.code, "NetConnection.Connect.Rejected");
	CHECK_STR(st.desc, "app must be live");
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_publish_refused_gets_onstatus_error(void)
{
	struct rec r = { .refuse_publish = true, .code = "NetStream.Publish.BadName",
		.description = "already publishing" };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 }, out = { 0 };
	publish_session(&b, "cam1?token=s3cretvalue");
	CHECK(feed(c, &b, RANDOM, &out) == RTMP_CLOSE);
	CHECK(r.count[RTMP_EV_PUBLISH] == 1);
	CHECK_STR(r.ev[1].name, "cam1?token=s3cretvalue");
	struct out_msg *m = calloc(32, sizeof(*m));
	int n = read_out(&out, m, 32);
	int i = find(m, n, 0, 20, "onStatus");
	CHECK(i == n - 1);
	if (i >= 0) {
		struct status st = read_status(&m[i]);
		CHECK_STR(st.level, "error");
		CHECK_STR(st.code, "NetStream.Publish.BadName");
		CHECK_STR(st.desc, "already publishing");
		CHECK(m[i].csid == 5 && m[i].msid == 1);
	}
	CHECK(find(m, n, 0, 4, NULL) < 0); /* no StreamBegin */
	/* never a credential in what the server sends or says */
	CHECK(!memmem(out.p, out.n, "s3cret", 6));
	CHECK_NOT_CONTAINS(rtmp_conn_error(c), "s3cret");
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_publish_refused_without_words_gets_denied(void)
{
	struct rec r = { .refuse_publish = true };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 }, out = { 0 };
	publish_session(&b, "cam1");
	CHECK(feed(c, &b, WHOLE, &out) == RTMP_CLOSE);
	struct out_msg *m = calloc(32, sizeof(*m));
	int n = read_out(&out, m, 32);
	int i = find(m, n, 0, 20, "onStatus");
	CHECK(i >= 0);
	if (i >= 0)
		CHECK_STR(read_status(&m[i]).code, "NetStream.Publish.Denied");
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_play_is_refused(void)
{
	struct rec r = { .code = "NetStream.Play.Failed", .description = "publish only" };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 }, out = { 0 };
	handshake(&b);
	cmd_connect(&b, "live", "rtmp://h/live");
	cmd_simple(&b, "createStream", 2, NULL, 0);
	cmd_simple(&b, "play", 3, "cam1", 1);
	CHECK(feed(c, &b, WHOLE, &out) == RTMP_CLOSE);
	CHECK(r.count[RTMP_EV_PLAY] == 1);
	CHECK_STR(r.ev[1].name, "cam1");
	struct out_msg *m = calloc(32, sizeof(*m));
	int n = read_out(&out, m, 32);
	int i = find(m, n, 0, 20, "onStatus");
	CHECK(i >= 0);
	if (i >= 0) {
		struct status st = read_status(&m[i]);
		CHECK_STR(st.level, "error");
		CHECK_STR(st.code, "NetStream.Play.Failed");
	}
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_unknown_command_with_txid_gets_error(void)
{
	struct rec r = { 0 };
	struct buf out = { 0 };
	struct rtmp_conn *c = published(&r, &out, WHOLE);
	struct buf b = { 0 };
	cmd_simple(&b, "FCSubscribe", 7, "x", 0);
	cmd_simple(&b, "whatever", 0, NULL, 0); /* txid 0: no answer */
	cmd_simple(&b, "getStreamLength", 8, "x", 0);
	size_t before = out.n;
	CHECK(feed(c, &b, WHOLE, &out) == 0);
	CHECK(out.n > before);
	struct out_msg *m = calloc(64, sizeof(*m));
	int n = read_out(&out, m, 64);
	struct status st = read_status(&m[n - 2]);
	CHECK_STR(st.name, "_error");
	CHECK(st.txid == 7);
	st = read_status(&m[n - 1]);
	CHECK_STR(st.name, "_result");
	CHECK(st.txid == 8);
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_unpublish_ends_the_session(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	cmd_simple(&b, "FCUnpublish", 6, "cam1", 0);
	uint8_t v[10] = { 0x17 };
	message(&b, &plain, 0, 6, 0, 9, 1, v, sizeof(v)); /* dropped */
	cmd_simple(&b, "deleteStream", 7, NULL, 0);
	CHECK(feed(c, &b, ONE_BYTE, NULL) == 0); /* the peer closes */
	CHECK(r.count[RTMP_EV_UNPUBLISH] == 1 && r.count[RTMP_EV_VIDEO] == 0);
	CHECK(rtmp_conn_stage(c) == RTMP_CLOSING);
	/* publishing again on the same connection is an error */
	struct buf again = { 0 };
	cmd_simple(&again, "publish", 8, "cam1", 1);
	CHECK(feed(c, &again, WHOLE, NULL) < 0);
	free(again.p);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_callback_can_abort(void)
{
	struct rec r = { .abort_on = RTMP_EV_VIDEO + 1 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t v[10] = { 0x17 };
	message(&b, &plain, 0, 6, 0, 9, 1, v, sizeof(v));
	CHECK(feed(c, &b, WHOLE, NULL) < 0);
	CHECK(strlen(rtmp_conn_error(c)) > 0);
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_media_before_publish_is_ignored(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = rtmp_conn_create(NULL, on_event, &r);
	struct buf b = { 0 };
	handshake(&b);
	cmd_connect(&b, "live", "");
	uint8_t v[10] = { 0x17 };
	message(&b, &plain, 0, 6, 0, 9, 1, v, sizeof(v));
	CHECK(feed(c, &b, WHOLE, NULL) == 0);
	CHECK(r.n == 1 && rtmp_conn_stage(c) == RTMP_CONNECTED);
	free(b.p);
	rtmp_conn_destroy(c);
}

/* ---- protocol control ---- */

static void test_ping_request_gets_ping_response(void)
{
	struct rec r = { 0 };
	struct buf out = { 0 };
	struct rtmp_conn *c = published(&r, &out, WHOLE);
	struct buf b = { 0 };
	uint8_t ping[6] = { 0, 6, 0x12, 0x34, 0x56, 0x78 };
	message(&b, &plain, 0, 2, 0, 4, 0, ping, sizeof(ping));
	size_t before = out.n;
	CHECK(feed(c, &b, ONE_BYTE, &out) == 0);
	CHECK(out.n > before);
	struct out_msg *m = calloc(64, sizeof(*m));
	int n = read_out(&out, m, 64);
	CHECK(m[n - 1].type == 4 && m[n - 1].len == 6 && m[n - 1].csid == 2);
	CHECK(be(m[n - 1].body, 2) == 7 && be(m[n - 1].body + 2, 4) == 0x12345678);
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_acknowledgement_every_window(void)
{
	struct rec r = { 0 };
	struct buf out = { 0 };
	struct rtmp_conn *c = published(&r, &out, WHOLE);
	struct buf b = { 0 };
	uint8_t was[4] = { 0, 0, 0x10, 0 }; /* 4096 bytes */
	message(&b, &plain, 0, 2, 0, 5, 0, was, 4);
	CHECK(feed(c, &b, WHOLE, &out) == 0);
	size_t before = out.n;
	uint8_t v[1000];
	memset(v, 0x27, sizeof(v));
	int acks = 0;
	uint32_t last_seq = 0;
	for (int i = 0; i < 20; i++) { /* about 20 KB */
		struct buf one = { 0 };
		message(&one, &plain, i ? 3 : 0, 6, 40, 9, 1, v, sizeof(v));
		CHECK(feed(c, &one, ONE_BYTE, &out) == 0);
		free(one.p);
	}
	struct out_msg *m = calloc(128, sizeof(*m));
	int n = read_out(&out, m, 128);
	for (int i = 0; i < n; i++)
		if (m[i].type == 3) {
			acks++;
			CHECK(be(m[i].body, 4) > last_seq);
			last_seq = be(m[i].body, 4);
		}
	CHECK(out.n > before);
	CHECK(acks == 4); /* 20171 bytes in 4096-byte windows */
	CHECK(last_seq <= rtmp_conn_bytes_in(c) && last_seq + 4096 > rtmp_conn_bytes_in(c));
	free(m);
	free(b.p);
	free(out.p);
	rtmp_conn_destroy(c);
}

static void test_output_is_bounded(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t ping[6] = { 0, 6, 0, 0, 0, 1 };
	for (int i = 0; i < 10000; i++)
		message(&b, &plain, 0, 2, 0, 4, 0, ping, sizeof(ping));
	/* nothing is ever sent: the output fills up */
	int rc = rtmp_conn_feed(c, b.p, b.n);
	CHECK(rc < 0);
	const uint8_t *o;
	CHECK(rtmp_conn_pending(c, &o) <= RTMP_OUT_MAX);
	free(b.p);
	rtmp_conn_destroy(c);
}

/* ---- limits and garbage ---- */

static void test_message_of_16_mib_is_an_error(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	basic(&b, 0, 6), add_be(&b, 0, 3), add_be(&b, 0xffffff, 3), add_u8(&b, 9);
	add_be(&b, 0x01000000, 4);
	add_u8(&b, 0x17);
	CHECK(feed(c, &b, WHOLE, NULL) < 0);
	CHECK(strstr(rtmp_conn_error(c), "too long") != NULL);
	free(b.p);
	rtmp_conn_destroy(c);

	/* a smaller limit is the caller's */
	struct rtmp_limits lim = { .max_message = 1000 };
	c = rtmp_conn_create(&lim, on_event, &r);
	struct buf s = { 0 };
	publish_session(&s, "cam1");
	uint8_t v[1001] = { 0 };
	message(&s, &plain, 0, 6, 0, 9, 1, v, 1000);
	message(&s, &plain, 0, 6, 0, 9, 1, v, 1001);
	r = (struct rec){ 0 };
	CHECK(feed(c, &s, WHOLE, NULL) < 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 1);
	free(s.p);
	rtmp_conn_destroy(c);
}

static void test_chunk_size_with_top_bit_is_an_error(void)
{
	static const uint32_t sizes[] = { 0x80000000u, 0 };
	for (size_t k = 0; k < N(sizes); k++) {
		struct rec r = { 0 };
		struct rtmp_conn *c = published(&r, NULL, WHOLE);
		struct buf b = { 0 };
		uint8_t v[4];
		v[0] = (uint8_t)(sizes[k] >> 24), v[1] = v[2] = v[3] = 0;
		message(&b, &plain, 0, 2, 0, 1, 0, v, 4);
		CHECK(feed(c, &b, WHOLE, NULL) < 0);
		CHECK(strstr(rtmp_conn_error(c), "chunk size") != NULL);
		free(b.p);
		rtmp_conn_destroy(c);
	}
	/* the largest allowed one is fine */
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t v[4] = { 0x7f, 0xff, 0xff, 0xff };
	message(&b, &plain, 0, 2, 0, 1, 0, v, 4);
	uint8_t big[20000] = { 0x17 };
	struct chunking huge = { 0x7fffffff, true };
	message(&b, &huge, 0, 6, 0, 9, 1, big, sizeof(big));
	CHECK(feed(c, &b, RANDOM, NULL) == 0);
	CHECK(r.count[RTMP_EV_VIDEO] == 1 && r.ev[2].len == sizeof(big));
	free(b.p);
	rtmp_conn_destroy(c);
}

static void test_too_many_chunk_streams_in_progress(void)
{
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	uint8_t v[128] = { 0 };
	/* chunk streams 3 and 8 were used and are idle; 16 more begin a message each */
	for (uint32_t cs = 10; cs < 10 + 16; cs++) {
		basic(&b, 0, cs), add_be(&b, 0, 3), add_be(&b, 200, 3), add_u8(&b, 9);
		add_be(&b, 0x01000000, 4);
		add(&b, v, 128);
	}
	CHECK(feed(c, &b, WHOLE, NULL) == 0);
	struct buf more = { 0 };
	basic(&more, 0, 40), add_be(&more, 0, 3), add_be(&more, 200, 3), add_u8(&more, 9);
	add_be(&more, 0x01000000, 4);
	add(&more, v, 128);
	CHECK(feed(c, &more, WHOLE, NULL) < 0);
	CHECK(strstr(rtmp_conn_error(c), "chunk streams") != NULL);
	free(b.p);
	free(more.p);
	rtmp_conn_destroy(c);
}

static void test_garbage_is_an_error_not_a_crash(void)
{
	/* a type 1 header on a chunk stream that never had a type 0 one */
	struct rec r = { 0 };
	struct rtmp_conn *c = published(&r, NULL, WHOLE);
	struct buf b = { 0 };
	basic(&b, 1, 30), add_be(&b, 0, 3), add_be(&b, 10, 3), add_u8(&b, 9);
	add(&b, "0123456789", 10);
	CHECK(feed(c, &b, WHOLE, NULL) < 0);
	free(b.p);
	rtmp_conn_destroy(c);

	/* random bytes after the handshake, many seeds: never a crash, mostly an error */
	int errors = 0;
	for (unsigned seed = 1; seed <= 200; seed++) {
		struct rec rr = { 0 };
		struct rtmp_conn *g = rtmp_conn_create(NULL, on_event, &rr);
		struct buf gb = { 0 };
		handshake(&gb);
		rng = seed;
		for (int i = 0; i < 4000; i++)
			add_u8(&gb, next_rand());
		errors += feed(g, &gb, RANDOM, NULL) < 0;
		rtmp_conn_destroy(g);
		free(gb.p);
	}
	CHECK(errors > 150);

	/* a command before connect */
	struct rec r2 = { 0 };
	c = rtmp_conn_create(NULL, on_event, &r2);
	struct buf b2 = { 0 };
	handshake(&b2);
	cmd_simple(&b2, "publish", 5, "cam1?token=s3cretvalue", 1);
	CHECK(feed(c, &b2, WHOLE, NULL) < 0);
	CHECK_NOT_CONTAINS(rtmp_conn_error(c), "s3cret");
	CHECK(r2.n == 0);
	free(b2.p);
	rtmp_conn_destroy(c);
}

/* ---- media bodies ---- */

static void test_video_legacy_avc(void)
{
	struct rtmp_video v;
	static const uint8_t config[] = { 0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f };
	CHECK(rtmp_video_parse(config, sizeof(config), &v) == 0);
	CHECK(v.codec == RTMP_V_H264 && v.type == RTMP_VP_CONFIG && v.key);
	CHECK(v.len == 4 && v.data == config + 5);
	static const uint8_t frame[] = { 0x27, 1, 0xff, 0xff, 0xd8, 0, 0, 0, 1, 0x41 };
	CHECK(rtmp_video_parse(frame, sizeof(frame), &v) == 0);
	CHECK(v.type == RTMP_VP_FRAME && !v.key && v.cts_ms == -40 && v.len == 5);
	static const uint8_t end[] = { 0x17, 2, 0, 0, 0 };
	CHECK(rtmp_video_parse(end, sizeof(end), &v) == 0 && v.type == RTMP_VP_END);
	static const uint8_t info[] = { 0x57, 0 };  /* a video info frame */
	CHECK(rtmp_video_parse(info, sizeof(info), &v) == 0 && v.type == RTMP_VP_SKIP);
	CHECK(rtmp_video_parse(frame, 4, &v) == -EINVAL);
	CHECK(rtmp_video_parse(frame, 0, &v) == -EINVAL);
	static const uint8_t vp6[] = { 0x14, 0 };  /* On2 VP6: not ours */
	CHECK(rtmp_video_parse(vp6, sizeof(vp6), &v) == 0 && v.codec == RTMP_V_UNKNOWN);
}

static void test_video_legacy_hevc_codec_id_12(void)
{
	struct rtmp_video v;
	static const uint8_t config[] = { 0x1c, 0, 0, 0, 0, 1, 2, 3 };
	CHECK(rtmp_video_parse(config, sizeof(config), &v) == 0);
	CHECK(v.codec == RTMP_V_H265 && v.type == RTMP_VP_CONFIG && v.key && v.len == 3);
	static const uint8_t frame[] = { 0x2c, 1, 0, 0, 80, 0, 0, 0, 2, 2, 1 };
	CHECK(rtmp_video_parse(frame, sizeof(frame), &v) == 0);
	CHECK(v.codec == RTMP_V_H265 && v.type == RTMP_VP_FRAME && !v.key && v.cts_ms == 80);
	CHECK(v.len == 6);
}

static void test_video_enhanced_hvc1(void)
{
	struct rtmp_video v;
	static const uint8_t start[] = { 0x90, 'h', 'v', 'c', '1', 1, 2, 3, 4 };
	CHECK(rtmp_video_parse(start, sizeof(start), &v) == 0);
	CHECK(v.codec == RTMP_V_H265 && v.type == RTMP_VP_CONFIG && v.key);
	CHECK(v.data == start + 5 && v.len == 4);
	static const uint8_t coded[] = { 0x91, 'h', 'v', 'c', '1', 0xff, 0xff, 0xff, 0, 0, 0, 1, 9 };
	CHECK(rtmp_video_parse(coded, sizeof(coded), &v) == 0);
	CHECK(v.type == RTMP_VP_FRAME && v.key && v.cts_ms == -1 && v.len == 5);
	static const uint8_t coded_x[] = { 0xa3, 'h', 'v', 'c', '1', 0, 0, 0, 1, 9 };
	CHECK(rtmp_video_parse(coded_x, sizeof(coded_x), &v) == 0);
	CHECK(v.type == RTMP_VP_FRAME && !v.key && v.cts_ms == 0 && v.len == 5);
	CHECK(v.data == coded_x + 5);
	static const uint8_t end[] = { 0x92, 'h', 'v', 'c', '1' };
	CHECK(rtmp_video_parse(end, sizeof(end), &v) == 0 && v.type == RTMP_VP_END);
	static const uint8_t meta[] = { 0x94, 'h', 'v', 'c', '1', 2, 0, 0 };
	CHECK(rtmp_video_parse(meta, sizeof(meta), &v) == 0 && v.type == RTMP_VP_SKIP);
	static const uint8_t ts[] = { 0x95, 'h', 'v', 'c', '1', 0 };
	CHECK(rtmp_video_parse(ts, sizeof(ts), &v) == 0 && v.type == RTMP_VP_SKIP);
	static const uint8_t avc[] = { 0x93, 'a', 'v', 'c', '1', 0, 0, 0, 1, 9 };
	CHECK(rtmp_video_parse(avc, sizeof(avc), &v) == 0 && v.codec == RTMP_V_H264);
	static const uint8_t av1[] = { 0x90, 'a', 'v', '0', '1', 1 };
	CHECK(rtmp_video_parse(av1, sizeof(av1), &v) == 0 && v.codec == RTMP_V_UNKNOWN);
	CHECK(rtmp_video_parse(coded, 7, &v) == -EINVAL); /* no room for the cts */
	CHECK(rtmp_video_parse(start, 4, &v) == -EINVAL); /* no room for the FourCC */
}

static void test_audio_bodies(void)
{
	struct rtmp_audio a;
	static const uint8_t config[] = { 0xaf, 0, 0x12, 0x10 };
	CHECK(rtmp_audio_parse(config, sizeof(config), &a) == 0);
	CHECK(a.format == 10 && a.config && a.len == 2 && a.data == config + 2);
	CHECK(a.rate == 44100 && a.channels == 2 && a.bits == 16);
	static const uint8_t frame[] = { 0xae, 1, 0x21, 0x00 };
	CHECK(rtmp_audio_parse(frame, sizeof(frame), &a) == 0);
	CHECK(a.format == 10 && !a.config && a.len == 2 && a.channels == 1);
	static const uint8_t alaw[] = { 0x72, 0xd5, 0xd5 };
	CHECK(rtmp_audio_parse(alaw, sizeof(alaw), &a) == 0);
	CHECK(a.format == 7 && a.rate == 8000 && a.channels == 1 && a.len == 2);
	static const uint8_t mp3[] = { 0x2f, 0xff };
	CHECK(rtmp_audio_parse(mp3, sizeof(mp3), &a) == 0 && a.format == 2 && a.rate == 44100);
	CHECK(rtmp_audio_parse(config, 1, &a) == -EINVAL); /* AAC without its packet type */
	CHECK(rtmp_audio_parse(config, 0, &a) == -EINVAL);
}

/* ---- what real publishers send ---- */

static uint8_t *load(const char *name, size_t *n)
{
	const char *dir = getenv("CAMSTREAM_TEST_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *d = malloc(1 << 20);
	*n = fread(d, 1, 1 << 20, f);
	fclose(f);
	return d;
}

/* What a capture's events add up to. */
struct tally {
	int video, audio, data, video_config, audio_config, video_end, keys, h264, sized_meta;
	int unpublish;
	uint32_t last_video, last_audio;
	bool video_back, audio_back;  /* a timestamp went back */
	bool bad_body;
};

static int tally_event(void *arg, const struct rtmp_event *ev, struct rtmp_reply *reply)
{
	struct tally *t = arg;
	(void)reply;
	if (ev->kind == RTMP_EV_VIDEO) {
		struct rtmp_video v;
		if (rtmp_video_parse(ev->data, ev->len, &v) < 0)
			t->bad_body = true;
		t->video_config += v.type == RTMP_VP_CONFIG;
		t->video_end += v.type == RTMP_VP_END;
		t->keys += v.type == RTMP_VP_FRAME && v.key;
		t->h264 += v.codec == RTMP_V_H264;
		t->video_back |= t->video && ev->timestamp < t->last_video;
		t->last_video = ev->timestamp;
		t->video++;
	} else if (ev->kind == RTMP_EV_AUDIO) {
		struct rtmp_audio a;
		if (rtmp_audio_parse(ev->data, ev->len, &a) < 0 || a.format != 10)
			t->bad_body = true;
		t->audio_config += a.config;
		t->audio_back |= t->audio && ev->timestamp < t->last_audio;
		t->last_audio = ev->timestamp;
		t->audio++;
	} else if (ev->kind == RTMP_EV_DATA) {
		struct rtmp_meta m;
		if (rtmp_meta_parse(ev->data, ev->len, &m) < 0)
			t->bad_body = true;
		t->sized_meta += m.width == 320 && m.height == 240;
		t->data++;
	} else if (ev->kind == RTMP_EV_CONNECT) {
		if (strcmp(ev->app, "live") != 0)
			t->bad_body = true;
	} else if (ev->kind == RTMP_EV_UNPUBLISH) {
		t->unpublish++;
	} else if (ev->kind == RTMP_EV_PUBLISH) {
		if (strcmp(ev->name, "test") != 0)
			t->bad_body = true;
	}
	return 0;
}

static void capture_in(const uint8_t *d, size_t n, enum split how, struct tally *t, int *rc)
{
	struct rtmp_conn *c = rtmp_conn_create(NULL, tally_event, t);
	struct buf b = { (uint8_t *)d, n, n };
	*rc = feed(c, &b, how, NULL);
	rtmp_conn_destroy(c);
}

/* ffmpeg -re -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 3 -c:v libx264
 * -g 25 -c:a aac -f flv rtmp://... (tests/unit/data/record_rtmp.py): 3 s, whole. */
static void test_ffmpeg_capture(void)
{
	size_t n = 0;
	uint8_t *d = load("rtmp_ffmpeg.bin", &n);
	CHECK(d != NULL && n > 100000);
	if (!d)
		return;
	for (int how = WHOLE; how <= RANDOM; how++) {
		struct tally t = { 0 };
		int rc = 0;
		capture_in(d, n, (enum split)how, &t, &rc);
		CHECK(rc == 0 && t.unpublish == 1); /* it ends with FCUnpublish, deleteStream */
		CHECK(!t.bad_body);
		CHECK(t.data == 1 && t.sized_meta == 1);
		/* the sequence header, 75 pictures, the end of sequence ffmpeg's trailer writes */
		CHECK(t.video == 77 && t.video_config == 1 && t.video_end == 1 && t.h264 == 77);
		CHECK(t.keys == 3);
		CHECK(t.audio_config == 1 && t.audio >= 125 && t.audio <= 135);
		CHECK(!t.video_back && !t.audio_back);
		CHECK(t.last_video >= 2900 && t.last_video <= 3000);
		CHECK(t.last_audio >= 2900 && t.last_audio <= 3100);
	}
	free(d);
}

/* gst-launch-1.0 videotestsrc num-buffers=75 ! x264enc ! h264parse ! flvmux streamable=true
 * ! rtmp2sink, with AAC from audiotestsrc (tests/unit/data/record_rtmp.py): 3 s, whole. Its
 * flvmux sends @setDataFrame again and again, not all of them with the picture size. */
static void test_gstreamer_capture(void)
{
	size_t n = 0;
	uint8_t *d = load("rtmp_gst.bin", &n);
	CHECK(d != NULL && n > 100000);
	if (!d)
		return;
	for (int how = WHOLE; how <= RANDOM; how++) {
		struct tally t = { 0 };
		int rc = 0;
		capture_in(d, n, (enum split)how, &t, &rc);
		CHECK(rc == 0 && t.unpublish == 1);
		CHECK(!t.bad_body);
		CHECK(t.data >= 1 && t.sized_meta >= 1);
		CHECK(t.video == 77 && t.video_config == 1 && t.video_end == 1 && t.h264 == 77);
		CHECK(t.keys == 3);
		CHECK(t.audio_config == 1 && t.audio >= 125 && t.audio <= 135);
		CHECK(!t.video_back && !t.audio_back);
		CHECK(t.last_video >= 2900 && t.last_video <= 3100);
		CHECK(t.last_audio >= 2900 && t.last_audio <= 3100);
	}
	free(d);
}

int main(void)
{
	RUN(test_handshake_s0_s1_s2);
	RUN(test_handshake_other_version_is_an_error);
	RUN(test_session_whole);
	RUN(test_session_one_byte_at_a_time);
	RUN(test_session_random_pieces);
	RUN(test_header_types_0_to_3_add_deltas);
	RUN(test_basic_headers_of_two_and_three_bytes);
	RUN(test_extended_timestamp_repeated_on_type3);
	RUN(test_extended_timestamp_not_repeated_on_type3);
	RUN(test_extended_timestamp_not_repeated_short_last_chunk);
	RUN(test_amf3_command_is_read_as_amf0);
	RUN(test_chunk_size_change_mid_stream);
	RUN(test_interleaved_audio_and_video_chunk_streams);
	RUN(test_abort_drops_a_message_in_progress);
	RUN(test_aggregate_splits_and_rebases_timestamps);
	RUN(test_set_data_frame_is_cut_to_on_metadata);
	RUN(test_meta_parse_refuses_what_is_not_metadata);
	RUN(test_amf_reads_every_amf0_type);
	RUN(test_connect_refused_gets_error_and_close);
	RUN(test_publish_refused_gets_onstatus_error);
	RUN(test_publish_refused_without_words_gets_denied);
	RUN(test_play_is_refused);
	RUN(test_unknown_command_with_txid_gets_error);
	RUN(test_unpublish_ends_the_session);
	RUN(test_callback_can_abort);
	RUN(test_media_before_publish_is_ignored);
	RUN(test_ping_request_gets_ping_response);
	RUN(test_acknowledgement_every_window);
	RUN(test_output_is_bounded);
	RUN(test_message_of_16_mib_is_an_error);
	RUN(test_chunk_size_with_top_bit_is_an_error);
	RUN(test_too_many_chunk_streams_in_progress);
	RUN(test_garbage_is_an_error_not_a_crash);
	RUN(test_video_legacy_avc);
	RUN(test_video_legacy_hevc_codec_id_12);
	RUN(test_video_enhanced_hvc1);
	RUN(test_audio_bodies);
	RUN(test_ffmpeg_capture);
	RUN(test_gstreamer_capture);
	return CHECK_DONE();
}
