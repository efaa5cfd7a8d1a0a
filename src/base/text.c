#include "text.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

size_t str_copy(char *dst, size_t cap, const char *src)
{
	if (!src)
		src = "";
	size_t len = strnlen(src, cap);
	if (len == cap) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}

bool str_eq_nocase(const char *a, size_t n, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] == '\0' || ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return b[n] == '\0';
}

bool str_fits(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

bool str_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

void str_utf8_clean(const char *in, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	while (*s && o + 5 < cap) {
		int n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
			: (*s & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0 && !(n == 2 && *s < 0xc2) && !(n == 4 && *s > 0xf4);
		for (int i = 1; ok && i < n; i++)
			ok = (s[i] & 0xc0) == 0x80;
		if (ok && n == 3) /* no overlong forms, no UTF-16 surrogates */
			ok = !(s[0] == 0xe0 && s[1] < 0xa0) && !(s[0] == 0xed && s[1] >= 0xa0);
		if (ok && n == 4)
			ok = !(s[0] == 0xf0 && s[1] < 0x90) && !(s[0] == 0xf4 && s[1] >= 0x90);
		if (!ok) {
			out[o++] = '?';
			s++;
			continue;
		}
		memcpy(out + o, s, (size_t)n);
		o += (size_t)n;
		s += n;
	}
	out[o] = '\0';
}

void text_iso8601(int64_t wall_us, bool millis, char *out, size_t cap)
{
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;
	char base[32];
	if (wall_us < 0 || !gmtime_r(&secs, &tm) ||
		!strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, cap, "-");
		return;
	}
	if (millis)
		snprintf(out, cap, "%s.%03dZ", base, (int)(wall_us % 1000000 / 1000));
	else
		snprintf(out, cap, "%sZ", base);
}

bool text_uri_component(char *out, size_t cap, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = ascii_is_alnum((char)*p) || strchr("-_.!~*'()", *p);
		if (n + (plain ? 1 : 3) >= cap) {
			if (cap)
				out[0] = '\0';
			return false;
		}
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (cap)
		out[n] = '\0';
	return cap > 0;
}
