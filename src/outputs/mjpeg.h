/* mjpeg: GET /mjpeg, multipart/x-mixed-replace for a bare <img src> (ad-hoc ?rtsp_url= or
 * ?cam_url=, or ?name=). Service thread only. */
#ifndef CAMSTREAM_MJPEG_H
#define CAMSTREAM_MJPEG_H

#include <libwebsockets.h>

extern const struct lws_protocols mjpeg_protocol;

#endif
