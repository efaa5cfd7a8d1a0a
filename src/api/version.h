/* version: what `camstream --version` prints and /metrics' camstream_build_info carries: our
 * version and the libraries the process runs with (their runtime versions where the library
 * has a call for it). Any thread; nothing is cached. */
#ifndef CAMSTREAM_VERSION_H
#define CAMSTREAM_VERSION_H

#include <stdio.h>

/* "camstream X.Y.Z", then one line per library: "NAME VERSION[ (DETAIL)]". */
void version_print(FILE *out);

/* The versions /metrics' build_info labels carry, as --version prints them. */
struct version_info {
	const char *camstream;     /* static */
	char lws[64];
	const char *ffmpeg;        /* static, the library's */
	const char *libjpeg_turbo; /* static; built with */
};
void version_get(struct version_info *v);

#endif
