/* ws_jpeg: the /ws/stream WebSocket protocol (seed 002): one JPEG per binary message, the
 * error as JSON text and then a close. Service thread only. */
#ifndef CAMSTREAM_WS_JPEG_H
#define CAMSTREAM_WS_JPEG_H

#include <libwebsockets.h>

#define WS_JPEG_PROTOCOL "camstream-stream"
#define WS_JPEG_FRAGMENT (64 * 1024)

/* The protocol's table entry (its callback answers everything but CONFIRM_UPGRADE, which
 * the server's gate decides). */
extern const struct lws_protocols ws_jpeg_protocol;

#endif
