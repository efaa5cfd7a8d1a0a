/* ws_stream: the /ws/stream WebSocket protocol. Per-connection state, sending the newest
 * frame as one binary message in fragments, the error text then close. Service thread only. */
#ifndef CAMSTREAM_WS_STREAM_H
#define CAMSTREAM_WS_STREAM_H

#include <libwebsockets.h>

#define WS_STREAM_PROTOCOL "camstream-stream"
#define WS_STREAM_FRAGMENT (64 * 1024)

int ws_stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len);
size_t ws_stream_session_size(void);

#endif
