/* authority: where a URL's credentials are. The one rule every room cuts them by, so that
 * what is hidden in a log line, an error message or a reply is exactly what FFmpeg would
 * send as user and password (FFmpeg 5.1's av_url_split): the authority runs from just after
 * "scheme://" to the first byte of @stops, and the userinfo ends at the LAST '@' inside it.
 * "rtsp://u:p@ss@host/x" therefore has user "u", password "p@ss", host "host". Pure. */
#ifndef CAMSTREAM_AUTHORITY_H
#define CAMSTREAM_AUTHORITY_H

#include <stddef.h>

/* The stops of a URL on its own ("/?#"), and of a URL inside a line of text (blanks too). */
#define AUTHORITY_STOPS "/?#"
#define AUTHORITY_STOPS_IN_TEXT "/?# \t\r\n"

/* @auth points just after "://". Sets *@len to the authority's length and returns the '@'
 * that ends its userinfo, or NULL when it has none. */
const char *authority_userinfo_end(const char *auth, const char *stops, size_t *len);

#endif
