/* av_pull: the input that pulls a camera's stream with libavformat: RTSP and RTSPS (H.264,
 * H.265, MJPEG; audio alongside), RTMP and RTMPS, and what --allow-schemes adds. */
#ifndef CAMSTREAM_AV_PULL_H
#define CAMSTREAM_AV_PULL_H

#include "input.h"

extern const struct input_ops av_pull_input;

#endif
