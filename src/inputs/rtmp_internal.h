/* rtmp_internal: what the two halves of one RTMP connection share (internal to
 * rtmp_proto.c, the reader and writer of chunks, and rtmp_session.c, what the messages mean).
 * Nothing outside them includes it. */
#ifndef CAMSTREAM_RTMP_INTERNAL_H
#define CAMSTREAM_RTMP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtmp_proto.h"

#define HANDSHAKE_LEN 1536
#define RTMP_VERSION 3
#define DEFAULT_CHUNK 128
#define OUR_CHUNK 4096
#define OUR_WINDOW 2500000u
#define MAX_STR 2048            /* the longest app, tcUrl or stream name we take */
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
	bool connected, publishing, unpublished;

	/* the output */
	uint32_t out_chunk;
	size_t out_head, out_len;
	uint8_t out[RTMP_OUT_MAX];
};

static inline uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void wbe(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* rtmp_proto.c: the connection fails with @err (< 0) and @why (a fixed text: no peer's
 * words); returns the result. */
int rtmp_fail(struct rtmp_conn *c, int err, const char *why);
/* The connection ends once its output is sent (a refusal). */
void rtmp_finish(struct rtmp_conn *c);
/* Output: raw bytes (the handshake); one message in chunks (a type 0 header, then type 3
 * ones, at out_chunk bytes); a protocol control message of 4 bytes, or 5 with @extra >= 0;
 * a User Control event. Each returns 0, or the result when the output is full. */
int rtmp_out_raw(struct rtmp_conn *c, const void *b, size_t n);
int rtmp_out_msg(struct rtmp_conn *c, unsigned csid, unsigned type, uint32_t msid,
	const uint8_t *body, size_t len);
int rtmp_out_control(struct rtmp_conn *c, unsigned type, uint32_t v, int extra);
int rtmp_out_user(struct rtmp_conn *c, unsigned event, uint32_t v);

/* rtmp_session.c: a whole message of chunk stream @s came. */
int rtmp_message(struct rtmp_conn *c, struct chunk_stream *s);

#endif
