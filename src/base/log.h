/* log: leveled, thread-safe logging to stderr. The last line of defence against leaking
 * credentials: every formatted line is scrubbed of "scheme://user:pass@" userinfo before it
 * is written, but callers still pass URLs through url redaction first. */
#ifndef CAMSTREAM_LOG_H
#define CAMSTREAM_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level. */
bool log_parse_level(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replace the userinfo of every "scheme://userinfo@" in @s (in place) by "***".
 * Used on lines from libraries (FFmpeg, lws) that may echo a URL. Returns @s. */
char *log_scrub(char *s);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
