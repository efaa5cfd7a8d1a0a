#include "onvif_version.h"

#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <libxml/parser.h>

void onvif_version_libxml2(char *buf, size_t n)
{
	/* MMmmpp as a decimal string; anything else is shown as it is */
	const char *raw = xmlParserVersion;
	char *end;
	long v = strtol(raw, &end, 10);
	if (end != raw && !*end && v > 0)
		snprintf(buf, n, "%ld.%ld.%ld", v / 10000, v / 100 % 100, v % 100);
	else
		snprintf(buf, n, "%s", raw);
}

const char *onvif_version_libcurl(void)
{
	return curl_version_info(CURLVERSION_NOW)->version;
}
