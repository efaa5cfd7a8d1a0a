/* fuzz_common: what the libFuzzer targets share (docs/FUZZING.md). Header-only, test code.
 *
 * How a target decides that a secret leaked. "The message contains the password" alone gives
 * false alarms: a password "must" is found in "... must be a string". So each check runs the
 * same input a second time with the secret "rotated" (every letter and digit replaced by
 * another of its class, everything else kept) and reports a leak only if the secret shows
 * in the first output but not in the second: then it came from the secret, not from a
 * template or another field. Rotation keeps the structure that parsers look at (the bytes
 * ":@/?#%&=", control bytes, lengths, hex digits stay hex digits), so both runs take the
 * same path. */
#ifndef CAMSTREAM_FUZZ_COMMON_H
#define CAMSTREAM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Secrets shorter than this are not looked for: "ab" is in too many places. */
#define FUZZ_MIN_SECRET 4

/* A failed invariant: libFuzzer reports the abort and writes the input to crash-<sha1>. */
#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                              \
		if (!(cond)) {                                                                \
			fprintf(stderr, "\n%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__,  \
				#cond);                                                               \
			fprintf(stderr, __VA_ARGS__);                                             \
			fprintf(stderr, "\n");                                                    \
			abort();                                                                  \
		}                                                                             \
	} while (0)

/* @data as a C string (caller frees), or NULL if it holds a NUL byte (such inputs are
 * rejected: every function under test takes C strings) or memory ran out. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s;

	if (memchr(data, '\0', size))
		return NULL;
	s = malloc(size + 1);
	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static inline char fuzz_rotate_char(char c)
{
	if (c >= 'a' && c <= 'f')
		return c == 'f' ? 'a' : (char)(c + 1);
	if (c >= 'g' && c <= 'z')
		return c == 'z' ? 'g' : (char)(c + 1);
	if (c >= 'A' && c <= 'F')
		return c == 'F' ? 'A' : (char)(c + 1);
	if (c >= 'G' && c <= 'Z')
		return c == 'Z' ? 'G' : (char)(c + 1);
	if (c >= '0' && c <= '9')
		return c == '9' ? '0' : (char)(c + 1);
	return c;
}

/* Rotates @n bytes of @s in place (see the top of this file). */
static inline void fuzz_rotate(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = fuzz_rotate_char(s[i]);
}

/* Whether rotation changes @s at all (it holds a letter or digit). */
static inline bool fuzz_rotatable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fuzz_rotate_char(s[i]) != s[i])
			return true;
	return false;
}

/* Whether @hay holds the @n bytes of @needle. NULL @hay holds nothing. */
static inline bool fuzz_contains(const char *hay, const char *needle, size_t n)
{
	if (!hay || !n)
		return false;
	for (const char *p = hay; (p = strchr(p, needle[0])) != NULL; p++)
		if (strncmp(p, needle, n) == 0)
			return true;
	return false;
}

/* The leak test: @secret (@n bytes) is in @out but not in @out2, the output of the same run
 * with the secret rotated. */
static inline bool fuzz_leaked(const char *out, const char *out2, const char *secret, size_t n)
{
	return n >= FUZZ_MIN_SECRET && fuzz_contains(out, secret, n) &&
		!fuzz_contains(out2, secret, n);
}

/* The next JSON string value of a "password" key in raw (maybe invalid) JSON text, from
 * @*pos on: its content at *@off, *@n bytes (up to a quote or backslash: escapes are not
 * followed). false when there is none. For messages about text that may not parse. */
static inline bool fuzz_raw_password(const char *t, size_t *pos, size_t *off, size_t *n)
{
	static const char key[] = "\"password\"";
	const char *p = t + *pos, *q;

	while ((p = strstr(p, key)) != NULL) {
		q = p + sizeof(key) - 1;
		q += strspn(q, " \t\r\n");
		if (*q++ != ':') {
			p++;
			continue;
		}
		q += strspn(q, " \t\r\n");
		if (*q++ != '"') {
			p++;
			continue;
		}
		*off = (size_t)(q - t);
		*n = strcspn(q, "\"\\");
		*pos = *off + *n;
		return true;
	}
	return false;
}

#endif
