/* strbuf: the one string builder. It grows as text is added; after an allocation fails it
 * stays failed and every further append does nothing, so a builder checks once, at the end.
 * Owned by whoever declared it; not shared between threads. */
#ifndef CAMSTREAM_STRBUF_H
#define CAMSTREAM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;       /* NUL-terminated once anything was added (owned) */
	size_t len;    /* bytes in p, without the NUL */
	size_t cap;
	bool failed;   /* an allocation failed: the text is incomplete */
};

#define STRBUF_INIT { NULL, 0, 0, false }

void sb_add(struct strbuf *b, const void *s, size_t n);
void sb_puts(struct strbuf *b, const char *s);
void sb_putc(struct strbuf *b, char c);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text, handed to the caller (who frees it), or NULL if it failed; @b is empty again. An
 * empty builder gives "". */
char *sb_take(struct strbuf *b);
void sb_free(struct strbuf *b);

#endif
