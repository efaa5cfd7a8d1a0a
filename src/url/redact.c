#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemes.h"
#include "strbuf.h"
#include "text.h"

static void redact_piece(void *ctx, const char *s, size_t n, char end)
{
	struct strbuf *b = ctx;
	const char *v = url_secret_value(s, n);

	if (v && v < s + n) {
		sb_add(b, s, (size_t)(v - s));
		sb_puts(b, "***");
	} else {
		sb_add(b, s, n);
	}
	if (end)
		sb_putc(b, end);
}

static void redact_parts(struct strbuf *b, const struct url_parts *p)
{
	sb_add(b, p->scheme, p->scheme_len);
	sb_puts(b, "://");
	if (p->userinfo_len)
		sb_puts(b, "***@");
	else if (p->userinfo)
		sb_putc(b, '@'); /* "udp://@239.0.0.1:1234" names no one */
	sb_add(b, p->hostport, p->hostport_len);
	url_for_each_piece(p->rest, redact_piece, b);
}

char *url_redact_parts(const struct url_parts *p)
{
	struct strbuf b = STRBUF_INIT;
	redact_parts(&b, p);
	return sb_take(&b);
}

void url_redact(const char *text, char *out, size_t outlen)
{
	struct strbuf b = STRBUF_INIT;
	struct url_parts p;

	if (!out || !outlen)
		return;
	if (!text || !url_split(text, &p))
		sb_puts(&b, "***");
	else if (url_is_demo(text))
		sb_puts(&b, text);
	else if (p.has_authority && !str_has_control(text))
		redact_parts(&b, &p);
	else if (p.has_authority || url_scheme_known(p.scheme, p.scheme_len)) {
		/* A scheme followed by "//", or one we know, cannot be a user name. */
		sb_add(&b, p.scheme, p.scheme_len);
		sb_puts(&b, "://***");
	} else {
		sb_puts(&b, "***");
	}
	/* cut bytewise: a short buffer holds a prefix of the whole (JSON gets its text cleaned
	 * later); out of memory: nothing of the URL rather than a piece of it */
	snprintf(out, outlen, "%s", b.failed ? "***" : b.p);
	sb_free(&b);
}
