#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authority.h"

static atomic_int current_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

bool log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (name && strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	if (name && strcmp(name, "warning") == 0) {
		*out = LOG_WARN;
		return true;
	}
	return false;
}

char *log_scrub(char *s)
{
	char *p = s;
	while ((p = strstr(p, "://")) != NULL) {
		char *auth = p + 3;
		/* Quotes do not end the authority: a password may hold them (over-scrubbing is
		 * harmless) */
		char *at = (char *)authority_userinfo_end(auth, AUTHORITY_STOPS_IN_TEXT, NULL);
		if (at && at > auth) {
			/* "***" is never longer than what it replaces unless userinfo is 1-2 bytes */
			size_t ulen = (size_t)(at - auth);
			if (ulen >= 3) {
				memcpy(auth, "***", 3);
				memmove(auth + 3, at, strlen(at) + 1);
			} else {
				memset(auth, '*', ulen);
			}
		}
		p = auth;
	}
	return s;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load(&current_level))
		return;

	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	log_scrub(line);

	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* one fprintf per line: stdio locks the stream, so lines from threads never interleave */
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		level_names[level], line);
}
