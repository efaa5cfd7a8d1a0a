/* flv_ws: WS-FLV, /ws/flv?rtsp_url= (or cam_url=, name=): the same bytes as HTTP-FLV in
 * binary messages (mpegts.js type 'flv' with a ws:// URL reads them as one byte stream; a
 * message is one chunk of the stream, boundaries mean nothing). Failures end it as
 * /ws/stream does: a JSON text message, then the close. Service thread only. */
#ifndef CAMSTREAM_FLV_WS_H
#define CAMSTREAM_FLV_WS_H

#include <libwebsockets.h>

#define FLV_WS_PATH "/ws/flv"

extern const struct lws_protocols flv_ws_protocol;

#endif
