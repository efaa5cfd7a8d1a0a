/* text: small string helpers every layer shares. Pure: any thread. */
#ifndef CAMSTREAM_TEXT_H
#define CAMSTREAM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII only, independent of the locale. */
static inline bool ascii_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool ascii_is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool ascii_is_alnum(char c) { return ascii_is_alpha(c) || ascii_is_digit(c); }
static inline char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}
/* 0..15 for a hex digit, else -1. */
static inline int ascii_hex_val(char c)
{
	if (ascii_is_digit(c))
		return c - '0';
	c = ascii_lower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}
/* Whether the @n bytes at @a equal the string @b, ignoring ASCII case. */
bool str_eq_nocase(const char *a, size_t n, const char *b);

/* Copies @src (NULL = "") into @dst (@cap > 0 bytes), cut short if need be at a UTF-8
 * character boundary: messages end up in JSON, which must not get half a character.
 * Returns the length copied. */
size_t str_copy(char *dst, size_t cap, const char *src);

/* Copies @src into @dst only if all of it and its NUL fit and it is not empty; false
 * (and @dst untouched) otherwise. For settings, where a cut value would be a wrong one. */
bool str_fits(char *dst, size_t cap, const char *src);

/* Whether @s holds a byte below 0x20 or DEL. */
bool str_has_control(const char *s);

/* Copies @in into @out (@cap > 0), replacing every byte that is not part of a well-formed
 * UTF-8 sequence by '?' (and cutting at a character boundary). */
void str_utf8_clean(const char *in, char *out, size_t cap);

/* @wall_us (µs since the epoch) as ISO 8601 UTC: "2024-05-01T12:00:00Z", or with @millis
 * "2024-05-01T12:00:00.123Z". "-" if it cannot be formatted. */
/* @in percent-encoded into @out as JavaScript's encodeURIComponent does (every byte but
 * A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX, upper-case hex), NUL-terminated. false, with @out
 * empty, when it does not fit in @cap. */
bool text_uri_component(char *out, size_t cap, const char *in);

void text_iso8601(int64_t wall_us, bool millis, char *out, size_t cap);

#endif
