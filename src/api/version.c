#include "version.h"

#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "media_version.h"
#include "onvif_version.h"
#include "webrtc_version.h"

#ifndef CAMSTREAM_VERSION   /* meson defines it; a bare syntax check may not */
#define CAMSTREAM_VERSION "unknown"
#endif

/* lws_get_library_version() is LWS_LIBRARY_VERSION, a blank and the git hash of its build;
 * Debian's version ends in a '-' with nothing after it ("4.1.6- "). The version is what comes
 * before the blank, without that dangling '-'. */
static void lws_version(char *buf, size_t n)
{
	const char *v = lws_get_library_version();
	size_t len = strcspn(v, " ");
	while (len > 1 && v[len - 1] == '-')
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(buf, v, len);
	buf[len] = '\0';
}

void version_print(FILE *out)
{
	char lws[64], libav[96], xml[32];
	lws_version(lws, sizeof(lws));
	media_version_libav(libav, sizeof(libav));
	onvif_version_libxml2(xml, sizeof(xml));
	fprintf(out, "camstream %s\n", CAMSTREAM_VERSION);
	fprintf(out, "libwebsockets %s\n", lws);
	fprintf(out, "FFmpeg %s (%s)\n", media_version_ffmpeg(), libav);
	fprintf(out, "libjpeg-turbo %s (built with; the library has no runtime version call)\n",
		media_version_libjpeg_turbo());
	fprintf(out, "OpenSSL %s\n", webrtc_version_openssl());
	fprintf(out, "libsrtp2 %s\n", webrtc_version_srtp());
	fprintf(out, "libxml2 %s\n", xml);
	fprintf(out, "libcurl %s\n", onvif_version_libcurl());
	fprintf(out, "jansson %s\n", jansson_version_str());
}

void version_get(struct version_info *v)
{
	v->camstream = CAMSTREAM_VERSION;
	lws_version(v->lws, sizeof(v->lws));
	v->ffmpeg = media_version_ffmpeg();
	v->libjpeg_turbo = media_version_libjpeg_turbo();
}
