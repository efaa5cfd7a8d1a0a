/* url_redact: what of a camera URL may be shown. The userinfo and the values of secret-named
 * pairs in the path, query and fragment become "***"; text that does not parse is reduced to
 * its scheme and "***". How a URL is cut, and why an '@' past the authority ends a mangled
 * userinfo, is told at the top of url.c. Pure functions, no mutable statics: safe on any
 * thread. */
#include "url_internal.h"

#include <stdlib.h>
#include <string.h>

/* Query (and path) parameter names whose values are hidden. A name also counts when it ends
 * in "_word", "-word" or ".word" (access_token, X-Amz-Signature) or contains one of
 * secret_parts (camPassword). Hiding a harmless value costs little; showing a secret does. */
static const char *const secret_words[] = {
	"user", "username", "password", "pass", "pwd", "passwd", "passphrase", "token", "auth",
	"key", "secret", "signature", "sig",
};
static const char *const secret_parts[] = {
	"password", "passwd", "passphrase", "secret", "token", "apikey",
};

static bool is_secret_name(const char *name, size_t n)
{
	char low[64];
	size_t i, j = 0, k, wl;

	for (i = 0; i < n; i++) {
		char c = name[i];

		/* Decoded, so that "pass%77ord" is still a password. */
		if (c == '%' && i + 2 < n && hex_val(name[i + 1]) >= 0 && hex_val(name[i + 2]) >= 0) {
			c = (char)(hex_val(name[i + 1]) * 16 + hex_val(name[i + 2]));
			i += 2;
		}
		if (j + 1 >= sizeof(low))
			return true; /* too long to judge: hide the value */
		low[j++] = to_lower(c);
	}
	low[j] = '\0';
	for (k = 0; k < N_ELEM(secret_words); k++) {
		wl = strlen(secret_words[k]);
		if (j == wl && memcmp(low, secret_words[k], wl) == 0)
			return true;
		if (j > wl && memcmp(low + j - wl, secret_words[k], wl) == 0 &&
				strchr("_-.", low[j - wl - 1]))
			return true;
	}
	for (k = 0; k < N_ELEM(secret_parts); k++)
		if (strstr(low, secret_parts[k]))
			return true;
	return false;
}

/* Calls @fn for each "name=value" (or bare) piece of the path, query and fragment in @rest,
 * with the byte that ends it: pieces end at '/', '&', '?' and '#' in the path, at '&' and '#'
 * in the query, at '&' in the fragment. Pairs in the path count too: some DVRs take
 * "rtsp://ip/user=admin&password=x&channel=1". */
typedef void piece_fn(void *ctx, const char *s, size_t n, char end);

static void for_each_piece(const char *rest, piece_fn *fn, void *ctx)
{
	const char *delims = "/&?#";
	size_t n;

	for (;;) {
		n = strcspn(rest, delims);
		fn(ctx, rest, n, rest[n]);
		if (!rest[n])
			return;
		if (rest[n] == '?' && delims[0] == '/')
			delims = "&#";
		else if (rest[n] == '#')
			delims = "&";
		rest += n + 1;
	}
}

/* Where the value of a secret-named pair starts in @s, or NULL. */
static const char *secret_value(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);

	return eq && is_secret_name(s, (size_t)(eq - s)) ? eq + 1 : NULL;
}

static void find_at_piece(void *ctx, const char *s, size_t n, char end)
{
	const char **at = ctx, *v = secret_value(s, n), *q;

	(void)end;
	for (q = s; q < (v ? v : s + n); q++)
		if (*q == '@')
			*at = q;
}

static void redact_piece(void *ctx, const char *s, size_t n, char end)
{
	struct sbuf *b = ctx;
	const char *v = secret_value(s, n);

	if (v && v < s + n) {
		sb_putn(b, s, (size_t)(v - s));
		sb_puts(b, "***");
	} else {
		sb_putn(b, s, n);
	}
	if (end)
		sb_putc(b, end);
}

void url_redact_last_at(const char *rest, const char **at)
{
	for_each_piece(rest, find_at_piece, at);
}

static void redact_parts(struct sbuf *b, const struct parts *p)
{
	sb_putn(b, p->scheme, p->scheme_len);
	sb_puts(b, "://");
	if (p->userinfo_len)
		sb_puts(b, "***@");
	else if (p->userinfo)
		sb_putc(b, '@'); /* "udp://@239.0.0.1:1234" names no one */
	sb_putn(b, p->hostport, p->hostport_len);
	for_each_piece(p->rest, redact_piece, b);
}

char *url_redact_parts(const struct parts *p)
{
	struct sbuf b = { NULL, 0, 0 };
	char *out;

	redact_parts(&b, p);
	out = malloc(b.len + 1);
	if (!out)
		return NULL;
	b = (struct sbuf){ out, b.len + 1, 0 };
	redact_parts(&b, p);
	sb_end(&b);
	return out;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

void url_redact(const char *text, char *out, size_t outlen)
{
	struct sbuf b = { out, outlen, 0 };
	struct parts p;

	if (!out || !outlen)
		return;
	if (!text || !url_split(text, &p))
		sb_puts(&b, "***");
	else if (url_is_demo(text))
		sb_puts(&b, text);
	else if (p.has_authority && !has_control(text))
		redact_parts(&b, &p);
	else if (p.has_authority || url_scheme_is_known(p.scheme, p.scheme_len)) {
		/* A scheme followed by "//", or one we know, cannot be a user name. */
		sb_putn(&b, p.scheme, p.scheme_len);
		sb_puts(&b, "://***");
	} else {
		sb_puts(&b, "***");
	}
	sb_end(&b);
}
