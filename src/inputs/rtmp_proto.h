/* rtmp_proto: the server side of one RTMP connection, publish only. Pure: no I/O, no lws, no
 * FFmpeg; the caller feeds the bytes it read and sends the bytes this leaves pending.
 * Bounded: a message is at most limits.max_message bytes, at most limits.max_chunk_streams
 * chunk streams hold a message in progress, the pending output is at most RTMP_OUT_MAX bytes.
 *
 * What it speaks (Adobe's RTMP 1.0 specification, and what real peers send beyond it):
 * - the simple handshake: C0 must be version 3; S1 is our time, 4 zero bytes (no digest: Flash
 *   Player 9 clients such as librtmp fall back to the simple form) and random bytes; S2 echoes
 *   C1. C2 is read and not checked, as nginx-rtmp and SRS do.
 * - chunks of every basic-header length (1, 2, 3 bytes) and message-header type (0-3),
 *   extended timestamps, Set Chunk Size, Abort, Acknowledgement, Window Acknowledgement Size
 *   (an Acknowledgement goes out for every window of bytes received), Set Peer Bandwidth
 *   (read, ignored), User Control (a Ping request is answered), aggregate messages.
 * - AMF0 commands: connect, releaseStream, FCPublish, createStream, publish, deleteStream,
 *   closeStream, FCUnpublish, getStreamLength, play; data messages @setDataFrame/onMetaData
 *   (AMF0, and AMF3 data whose first byte is the AMF0 switch 0).
 * The replies go where real servers put them: protocol control on chunk stream 2 (message
 * stream 0), commands on chunk stream 3, a stream's status on chunk stream 5 with message
 * stream id 1.
 *
 * Threads: a connection is one caller's object (the lws service thread); no locks. */
#ifndef CAMSTREAM_RTMP_PROTO_H
#define CAMSTREAM_RTMP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTMP_DEFAULT_MAX_MESSAGE (8u * 1024 * 1024)
#define RTMP_DEFAULT_MAX_CHUNK_STREAMS 16u
/* The most output a connection holds before it is an error (a peer that does not read). */
#define RTMP_OUT_MAX (64u * 1024)
/* What rtmp_conn_feed returns when the connection ends after its pending output. */
#define RTMP_CLOSE 1

struct rtmp_limits {
	size_t max_message;          /* 0: RTMP_DEFAULT_MAX_MESSAGE */
	unsigned max_chunk_streams;  /* 0: RTMP_DEFAULT_MAX_CHUNK_STREAMS */
};

enum rtmp_ev {
	RTMP_EV_CONNECT,
	RTMP_EV_PUBLISH,
	RTMP_EV_PLAY,
	RTMP_EV_UNPUBLISH,
	RTMP_EV_VIDEO,
	RTMP_EV_AUDIO,
	RTMP_EV_DATA,
};

/* What the callback is told. Every pointer is valid only during the call. */
struct rtmp_event {
	enum rtmp_ev kind;
	const char *app;          /* CONNECT: the command object's "app" as sent (query kept) */
	const char *tc_url;       /* CONNECT: "tcUrl", or "" */
	const char *name;         /* PUBLISH, PLAY: the stream name as sent (query kept) */
	const char *publish_type; /* PUBLISH: "live" (the default), "record", "append" */
	uint32_t stream_id;       /* the message stream id */
	uint32_t timestamp;       /* VIDEO/AUDIO/DATA: absolute ms (deltas added, 32-bit wrap) */
	const uint8_t *data;      /* VIDEO/AUDIO: the message payload (an FLV tag body);
	                             DATA: the AMF0 values from "onMetaData" on (a leading
	                             "@setDataFrame" string cut) */
	size_t len;
};

/* What the callback answers for CONNECT, PUBLISH and PLAY (zeroed before the call). The
 * strings are copied before the callback's caller returns. A refused CONNECT gets `_error`
 * (code default NetConnection.Connect.Rejected), a refused PUBLISH an onStatus error (default
 * NetStream.Publish.Denied); PLAY is always refused (default NetStream.Play.Failed), the
 * callback only picks the words. After a refusal the feed returns RTMP_CLOSE. */
struct rtmp_reply {
	bool refuse;
	const char *code;          /* e.g. "NetStream.Publish.BadName"; NULL: the default */
	const char *description;   /* NULL: a default */
};

/* 0 to go on; < 0 aborts (rtmp_conn_feed returns < 0, rtmp_conn_error says so). */
typedef int (*rtmp_event_fn)(void *arg, const struct rtmp_event *ev, struct rtmp_reply *reply);

/* A new connection in RTMP_HANDSHAKE; @lim NULL for the defaults. NULL when out of memory. */
struct rtmp_conn *rtmp_conn_create(const struct rtmp_limits *lim, rtmp_event_fn fn, void *arg);
void rtmp_conn_destroy(struct rtmp_conn *c); /* NULL ok */

/* Consumes all of @data (any split, down to 1 byte at a time), calling the callback for each
 * event. 0 = go on; RTMP_CLOSE = close once the pending output is sent (a refusal went out,
 * or the peer unpublished: deleteStream/closeStream/FCUnpublish); < 0 = protocol error or out
 * of memory: close now, rtmp_conn_error() says why (never with a stream name's query: it may
 * hold a token). Once it returned non-zero, later calls consume nothing and return the same. */
int rtmp_conn_feed(struct rtmp_conn *c, const uint8_t *data, size_t len);

/* The output to send: *@data gets its start, the return value its length (0: nothing). */
size_t rtmp_conn_pending(struct rtmp_conn *c, const uint8_t **data);
/* @n bytes of the pending output went out. */
void rtmp_conn_sent(struct rtmp_conn *c, size_t n);

enum rtmp_stage { RTMP_HANDSHAKE, RTMP_CONNECTING, RTMP_CONNECTED, RTMP_PUBLISHING,
	RTMP_CLOSING };
enum rtmp_stage rtmp_conn_stage(const struct rtmp_conn *c);
/* Why the connection failed ("" while it has not). */
const char *rtmp_conn_error(const struct rtmp_conn *c);

/* Bytes fed so far (the handshake included): the publisher's byte count. */
uint64_t rtmp_conn_bytes_in(const struct rtmp_conn *c);

#endif
