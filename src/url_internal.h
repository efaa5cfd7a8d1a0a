/* url_internal: the insides of the url room, shared by url.c (parsing, the scheme policy) and
 * url_redact.c (redaction). Not for other rooms: include url.h instead. */
#ifndef CAMSTREAM_URL_INTERNAL_H
#define CAMSTREAM_URL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "url.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ASCII only, independent of the locale. */
static inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
static inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static inline int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	c = to_lower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* A bounded writer. @len counts every byte offered, so a pass with cap 0 measures. */
struct sbuf {
	char *p;
	size_t cap;
	size_t len;
};

static inline void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap && b->len < b->cap - 1) {
		size_t room = b->cap - 1 - b->len;

		memcpy(b->p + b->len, s, n < room ? n : room);
	}
	b->len += n;
}

static inline void sb_puts(struct sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static inline void sb_putc(struct sbuf *b, char c) { sb_putn(b, &c, 1); }

static inline void sb_end(struct sbuf *b)
{
	if (b->cap)
		b->p[b->len < b->cap - 1 ? b->len : b->cap - 1] = '\0';
}

/* A URL cut the way FFmpeg cuts it (see the top of url.c). Pointers into the text. */
struct parts {
	const char *scheme;
	size_t scheme_len;
	bool has_authority;       /* "//" follows "scheme:" */
	const char *userinfo;     /* NULL when there is no '@' */
	size_t userinfo_len;
	bool at_past_authority;   /* the userinfo's '@' lies past the first "/?#" */
	const char *hostport;
	size_t hostport_len;
	const char *rest;         /* path, query and fragment, to the end of the text */
};

/* ---- url.c ---- */

/* false when @text does not start with "scheme:". The userinfo ends at the last '@' of the
 * URL, except one in the value of a secret-named pair ("password=Admin@123" is hidden by
 * redaction anyway). When that '@' lies past the authority, FFmpeg would cut the URL
 * elsewhere: url_parse refuses it, redaction still hides everything before it. */
bool url_split(const char *text, struct parts *p);
/* "demo:" and "demo://" in any case. */
bool url_is_demo(const char *text);
/* A scheme of any of the lists (always, allowable, never) or "demo": not a user name. */
bool url_scheme_is_known(const char *s, size_t n);

/* ---- url_redact.c ---- */

/* Sets *@at to the last '@' in @rest (path, query and fragment) that is not in the value of
 * a secret-named pair; leaves it as it was when there is none. */
void url_redact_last_at(const char *rest, const char **at);
/* @p with its userinfo and secret values replaced by "***"; NULL if out of memory. The
 * caller frees it. */
char *url_redact_parts(const struct parts *p);

#endif
