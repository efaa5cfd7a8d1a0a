/* check: a tiny TAP producer for the C unit tests. Each TEST is one behaviour; the runner
 * prints "ok N - name" or "not ok N - name" with the failing line, then the plan. Failures go
 * to stderr as well: meson's --print-errorlogs (what CI shows) prints only that. */
#ifndef CAMSTREAM_CHECK_H
#define CAMSTREAM_CHECK_H

#include <stdio.h>
#include <string.h>

/* The number of elements of the array @a. */
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int check_failed_;   /* failures in the current test */
static const char *check_skip_; /* why the current test could not run (SKIP), or NULL */
static int check_count_;
static int check_bad_;

/* a failure line, on stdout (TAP) and stderr */
#define CHECK_SAY_(...)                                                               \
	do {                                                                              \
		printf(__VA_ARGS__);                                                          \
		fprintf(stderr, __VA_ARGS__);                                                 \
	} while (0)

#define CHECK(cond)                                                                   \
	do {                                                                              \
		if (!(cond)) {                                                                \
			CHECK_SAY_("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);       \
			check_failed_++;                                                          \
		}                                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                              \
		const char *a_ = (a), *b_ = (b);                                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                      \
			CHECK_SAY_("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,               \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");                              \
			check_failed_++;                                                          \
		}                                                                             \
	} while (0)

#define CHECK_NOT_CONTAINS(hay, needle)                                               \
	do {                                                                              \
		const char *h_ = (hay);                                                       \
		if (!h_ || strstr(h_, (needle))) {                                            \
			CHECK_SAY_("#   %s:%d: \"%s\" contains \"%s\"\n", __FILE__, __LINE__,         \
				h_ ? h_ : "(null)", (needle));                                        \
			check_failed_++;                                                          \
		}                                                                             \
	} while (0)

/* The current test cannot run here (a library lacks what it needs): it says why, returns,
 * and is reported as skipped unless a check failed before. */
#define SKIP(why) (check_skip_ = (why))

#define RUN(test)                                                                     \
	do {                                                                              \
		check_failed_ = 0;                                                            \
		check_skip_ = NULL;                                                           \
		test();                                                                       \
		check_count_++;                                                               \
		if (check_failed_) {                                                          \
			check_bad_++;                                                             \
			fprintf(stderr, "not ok %d - %s\n", check_count_, #test);               \
		}                                                                             \
		printf("%sok %d - %s%s%s\n", check_failed_ ? "not " : "", check_count_, #test, \
			check_skip_ && !check_failed_ ? " # SKIP " : "",                          \
			check_skip_ && !check_failed_ ? check_skip_ : "");                        \
	} while (0)

#define CHECK_DONE()                                                                  \
	(printf("1..%d\n", check_count_), check_bad_ ? 1 : 0)

#endif
