#include "media_version.h"

#include <stdio.h>

#include <jconfig.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

/* jconfig.h defines LIBJPEG_TURBO_VERSION as a bare number token (2.1.5), not a string */
#define STR_(x) #x
#define STR(x) STR_(x)

const char *media_version_ffmpeg(void)
{
	return av_version_info();
}

static void split(unsigned v, unsigned out[3])
{
	out[0] = AV_VERSION_MAJOR(v);
	out[1] = AV_VERSION_MINOR(v);
	out[2] = AV_VERSION_MICRO(v);
}

void media_version_libav(char *buf, size_t n)
{
	unsigned f[3], c[3];
	split(avformat_version(), f);
	split(avcodec_version(), c);
	snprintf(buf, n, "libavformat %u.%u.%u, libavcodec %u.%u.%u",
		f[0], f[1], f[2], c[0], c[1], c[2]);
}

const char *media_version_libjpeg_turbo(void)
{
	return STR(LIBJPEG_TURBO_VERSION);
}
