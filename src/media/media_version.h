/* media_version: the versions of the media libraries this process runs with, for --version
 * and /metrics. Any thread; the strings are static or copied into the caller's buffer. */
#ifndef CAMSTREAM_MEDIA_VERSION_H
#define CAMSTREAM_MEDIA_VERSION_H

#include <stddef.h>

/* FFmpeg's release as its libavutil reports it at run time (av_version_info(), e.g. "5.1.6"
 * or a distribution's "5.1.6-0+deb12u1"). */
const char *media_version_ffmpeg(void);
/* "libavformat 59.27.100, libavcodec 59.37.100": the runtime versions of the two libraries
 * that do the work, into @buf (always terminated). */
void media_version_libav(char *buf, size_t n);
/* libjpeg-turbo's version at build time ("2.1.5"): its 2.x API has no runtime call. */
const char *media_version_libjpeg_turbo(void);

#endif
