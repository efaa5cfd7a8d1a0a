/* The bytes of an RTMP connection: the handshake, chunks in (reassembled into messages per
 * chunk stream, bounded) and chunks out (a bounded output buffer). What the messages mean is
 * rtmp_session.c's. */
#include "rtmp_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtmp_internal.h"

int rtmp_fail(struct rtmp_conn *c, int err, const char *why)
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

void rtmp_finish(struct rtmp_conn *c)
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

int rtmp_out_raw(struct rtmp_conn *c, const void *b, size_t n)
{
	if (!out_room(c, n))
		return rtmp_fail(c, -ENOBUFS, "output full: the peer does not read");
	memcpy(c->out + c->out_len, b, n);
	c->out_len += n;
	return 0;
}

/* One message in chunks of out_chunk: a type 0 header, then type 3 headers. */
int rtmp_out_msg(struct rtmp_conn *c, unsigned csid, unsigned type, uint32_t msid,
	const uint8_t *body, size_t len)
{
	size_t chunks = len ? (len + c->out_chunk - 1) / c->out_chunk : 1;
	if (!out_room(c, 12 + (chunks - 1) + len))
		return rtmp_fail(c, -ENOBUFS, "output full: the peer does not read");
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

int rtmp_out_control(struct rtmp_conn *c, unsigned type, uint32_t v, int extra)
{
	uint8_t b[5];
	wbe(b, v, 4);
	b[4] = (uint8_t)extra;
	return rtmp_out_msg(c, CS_CONTROL, type, 0, b, extra >= 0 ? 5 : 4);
}

int rtmp_out_user(struct rtmp_conn *c, unsigned event, uint32_t v)
{
	uint8_t b[6];
	wbe(b, event, 2);
	wbe(b + 2, v, 4);
	return rtmp_out_msg(c, CS_CONTROL, MSG_USER, 0, b, sizeof(b));
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
		return rtmp_fail(c, -ENOBUFS, "too much data in messages in progress");
	uint8_t *b = realloc(s->buf, want);
	if (!b)
		return rtmp_fail(c, -ENOMEM, "out of memory");
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
			return rtmp_fail(c, -EMSGSIZE, "message too long");
		unsigned busy = 0;
		for (unsigned i = 0; i < c->ncs; i++)
			busy += c->cs[i].used && c->cs[i].in_progress;
		if (busy >= c->lim.max_chunk_streams)
			return rtmp_fail(c, -EPROTO, "too many chunk streams in progress");
		s->in_progress = true;
		s->have = 0;
	}
	uint32_t left = s->msg_len - (uint32_t)s->have;
	c->chunk_left = left < c->in_chunk ? left : c->in_chunk;
	c->rd = RD_PAYLOAD;
	if (c->chunk_left == 0) { /* an empty message */
		int rc = rtmp_message(c, s);
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
			return rtmp_fail(c, -EPROTO, "a new message header inside a message");
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
		return rtmp_fail(c, -EPROTO, "too many chunk streams in progress");
	if (c->fmt != 0 && !s->seen)
		return rtmp_fail(c, -EPROTO, "a chunk stream that starts without a full header");
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
		return rtmp_fail(c, -EPROTO, "not RTMP version 3 (encrypted RTMP is not served)");
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
	return rtmp_out_raw(c, s0s1, sizeof(s0s1));
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
			if (c->rd == RD_C1 && rtmp_out_raw(c, p, k) < 0) /* S2 echoes C1 */
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
				int rc = rtmp_message(c, s);
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
		rtmp_out_control(c, MSG_ACK, (uint32_t)c->bytes_in, -1);
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
