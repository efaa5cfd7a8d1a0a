/* fuzz_rtmp: the server side of RTMP (src/inputs/rtmp_proto.c) on what a peer may send, and
 * the media-body parsers (src/inputs/rtmp_media.c) on every VIDEO, AUDIO and DATA message.
 * The input, after two control bytes, is what the peer sends. The control bytes:
 *   byte 0, bit 0: put a handshake (C0 version 3, C1, C2) in front, so that the input is
 *                  chunks from its first byte
 *           bit 1: the callback refuses CONNECT        bit 2: it refuses PUBLISH
 *           bit 3: small limits (messages of 4 KiB, 2 chunk streams)
 *           bit 4: the output is never sent (it must stay bounded)
 *   byte 1: seeds the sizes of the pieces the input is fed in (1 byte to 4 KiB)
 * The captures of real publishers (tests/unit/data/rtmp_*.bin) with a zero control byte pair
 * in front are seeds.
 * Invariants, beyond "no crash, no ASan/UBSan report, no leak":
 * - the pending output is at most RTMP_OUT_MAX; after the handshake it reads back as whole
 *   chunks of type 0 and 3 (at the chunk size our own Set Chunk Size says);
 * - once the feed returned non-zero it returns the same again; < 0 comes with a reason, and
 *   the reason never holds a '?' (no stream name, so no query, is ever quoted);
 * - every event's data lies in one piece of memory of its length; a body parser's result
 *   points inside the body it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtmp_media.h"
#include "rtmp_proto.h"

struct state {
	unsigned flags;
	unsigned events;
};

static void inside(const uint8_t *part, size_t plen, const uint8_t *whole, size_t wlen)
{
	if (!plen)
		return;
	FUZZ_CHECK(part >= whole && part + plen <= whole + wlen, "a result outside its body\n");
}

static int on_event(void *arg, const struct rtmp_event *ev, struct rtmp_reply *reply)
{
	struct state *s = arg;
	s->events++;
	if (ev->len) {
		/* the whole of it is readable (ASan says otherwise) */
		volatile uint8_t x = ev->data[0] ^ ev->data[ev->len - 1];
		(void)x;
	}
	switch (ev->kind) {
	case RTMP_EV_CONNECT:
		FUZZ_CHECK(ev->app && ev->tc_url, "connect without strings\n");
		if (s->flags & 2) {
			reply->refuse = true;
			reply->code = "NetConnection.Connect.Rejected";
		}
		break;
	case RTMP_EV_PUBLISH:
		FUZZ_CHECK(ev->name && ev->publish_type, "publish without strings\n");
		if (s->flags & 4) {
			reply->refuse = true;
			reply->description = "refused";
		}
		break;
	case RTMP_EV_PLAY:
		FUZZ_CHECK(ev->name, "play without a name\n");
		break;
	case RTMP_EV_VIDEO: {
		struct rtmp_video v;
		if (rtmp_video_parse(ev->data, ev->len, &v) == 0)
			inside(v.data, v.len, ev->data, ev->len);
		break;
	}
	case RTMP_EV_AUDIO: {
		struct rtmp_audio a;
		if (rtmp_audio_parse(ev->data, ev->len, &a) == 0)
			inside(a.data, a.len, ev->data, ev->len);
		break;
	}
	case RTMP_EV_DATA: {
		struct rtmp_meta m;
		rtmp_meta_parse(ev->data, ev->len, &m);
		break;
	}
	default:
		break;
	}
	return 0;
}

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Reads what the server sent: S0 S1 S2, then chunks of type 0 (csid < 64) and 3. */
struct reader {
	size_t skip;         /* handshake bytes still to pass */
	uint8_t hdr[12];
	size_t hlen;
	uint32_t chunk, left_msg, left_chunk, type, csid;
	uint8_t size_msg[4];
	size_t size_have;
};

static void read_out(struct reader *r, const uint8_t *p, size_t n)
{
	while (n) {
		if (r->skip) {
			size_t k = n < r->skip ? n : r->skip;
			p += k, n -= k, r->skip -= k;
			continue;
		}
		if (r->left_chunk) {
			size_t k = n < r->left_chunk ? n : r->left_chunk;
			for (size_t i = 0; i < k && r->type == 1 && r->size_have < 4; i++)
				r->size_msg[r->size_have++] = p[i];
			p += k, n -= k;
			r->left_chunk -= (uint32_t)k;
			r->left_msg -= (uint32_t)k;
			if (r->left_msg == 0 && r->type == 1 && r->size_have == 4)
				r->chunk = be(r->size_msg, 4);
			continue;
		}
		if (r->left_msg) { /* a continuation chunk's one-byte header */
			FUZZ_CHECK(*p == (0xc0 | r->csid), "continuation header %02x\n", *p);
			p++, n--;
			r->left_chunk = r->left_msg < r->chunk ? r->left_msg : r->chunk;
			continue;
		}
		r->hdr[r->hlen++] = *p++;
		n--;
		FUZZ_CHECK(r->hdr[0] >> 6 == 0, "a message that starts with type %d\n", r->hdr[0] >> 6);
		if (r->hlen < 12)
			continue;
		r->hlen = 0;
		r->csid = r->hdr[0] & 0x3f;
		FUZZ_CHECK(r->csid >= 2, "chunk stream %u\n", r->csid);
		r->type = r->hdr[7];
		r->left_msg = be(r->hdr + 4, 3);
		r->size_have = 0;
		FUZZ_CHECK(r->left_msg > 0, "an empty message\n");
		r->left_chunk = r->left_msg < r->chunk ? r->left_msg : r->chunk;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct state st = { .flags = data[0], .events = 0 };
	uint32_t rng = data[1] * 2654435761u + 1;
	data += 2, size -= 2;

	struct rtmp_limits small = { .max_message = 4096, .max_chunk_streams = 2 };
	struct rtmp_conn *c = rtmp_conn_create(st.flags & 8 ? &small : NULL, on_event, &st);
	if (!c)
		return 0;
	struct reader rd = { .skip = 1 + 2 * 1536, .chunk = 128 };
	bool send = !(st.flags & 16);
	int rc = 0;
	if (st.flags & 1) {
		static uint8_t hs[1 + 2 * 1536];
		hs[0] = 3;
		rc = rtmp_conn_feed(c, hs, sizeof(hs));
		FUZZ_CHECK(rc == 0, "the handshake failed: %s\n", rtmp_conn_error(c));
		FUZZ_CHECK(rtmp_conn_stage(c) == RTMP_CONNECTING, "stage after the handshake\n");
	}
	for (size_t off = 0; off < size;) {
		rng = rng * 1103515245u + 12345u;
		size_t k = 1 + (rng >> 16) % 4096;
		if (k > size - off)
			k = size - off;
		int was = rc;
		rc = rtmp_conn_feed(c, data + off, k);
		off += k;
		if (was)
			FUZZ_CHECK(rc == was, "the result changed from %d to %d\n", was, rc);
		if (rc < 0) {
			const char *e = rtmp_conn_error(c);
			FUZZ_CHECK(e && *e, "an error without a reason\n");
			FUZZ_CHECK(!strchr(e, '?'), "a reason with a query: %s\n", e);
			FUZZ_CHECK(rtmp_conn_stage(c) == RTMP_CLOSING, "an error and not closing\n");
		}
		const uint8_t *o;
		size_t n = rtmp_conn_pending(c, &o);
		FUZZ_CHECK(n <= RTMP_OUT_MAX, "pending output of %zu\n", n);
		if (send && n) {
			read_out(&rd, o, n);
			rtmp_conn_sent(c, n);
		}
	}
	FUZZ_CHECK(rtmp_conn_bytes_in(c) == size + (st.flags & 1 ? 1 + 2 * 1536 : 0) ||
			rc != 0, "bytes in\n");
	rtmp_conn_destroy(c);
	return 0;
}
