/* onvif_version: the runtime versions of the libraries ONVIF runs on, for --version and
 * /metrics. Any thread. */
#ifndef CAMSTREAM_ONVIF_VERSION_H
#define CAMSTREAM_ONVIF_VERSION_H

#include <stddef.h>

/* "2.9.14": the libxml2 loaded, from its xmlParserVersion ("20914"), into @buf */
void onvif_version_libxml2(char *buf, size_t n);
/* "7.88.1": the libcurl loaded (curl_version_info()) */
const char *onvif_version_libcurl(void);

#endif
