/* redact: what of a camera URL may be shown. The userinfo and the values of secret-named
 * pairs in the path, query and fragment become "***"; text that does not parse is reduced to
 * its scheme and "***". Every URL that reaches a log line, an error message, a reply or a
 * metric label goes through here first (and log lines are scrubbed once more). Pure. */
#ifndef CAMSTREAM_REDACT_H
#define CAMSTREAM_REDACT_H

#include <stddef.h>

#include "split.h"

/* @p shown safely; NULL if out of memory. The caller frees it. */
char *url_redact_parts(const struct url_parts *p);

/* Redacts any URL-looking text into @out (always NUL-terminated). Never fails: text that
 * does not parse is reduced to its scheme and "***". */
void url_redact(const char *text, char *out, size_t outlen);

#endif
