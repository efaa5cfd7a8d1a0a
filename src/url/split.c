#include "split.h"

#include <string.h>

#include "authority.h"
#include "text.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const secret_words[] = {
	"user", "username", "password", "pass", "pwd", "passwd", "passphrase", "token", "auth",
	"key", "secret", "signature", "sig",
};
static const char *const secret_parts[] = {
	"password", "passwd", "passphrase", "secret", "token", "apikey",
};

const char *const *url_secret_words(size_t *n)
{
	*n = N_ELEM(secret_words);
	return secret_words;
}

const char *const *url_secret_parts(size_t *n)
{
	*n = N_ELEM(secret_parts);
	return secret_parts;
}

static bool is_secret_name(const char *name, size_t n)
{
	char low[64];
	size_t i, j = 0, k, wl;

	for (i = 0; i < n; i++) {
		char c = name[i];

		/* Decoded, so that "pass%77ord" is still a password. */
		if (c == '%' && i + 2 < n && ascii_hex_val(name[i + 1]) >= 0 && ascii_hex_val(name[i + 2]) >= 0) {
			c = (char)(ascii_hex_val(name[i + 1]) * 16 + ascii_hex_val(name[i + 2]));
			i += 2;
		}
		if (j + 1 >= sizeof(low))
			return true; /* too long to judge: hide the value */
		low[j++] = ascii_lower(c);
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

void url_for_each_piece(const char *rest, url_piece_fn *fn, void *ctx)
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

const char *url_secret_value(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);

	return eq && is_secret_name(s, (size_t)(eq - s)) ? eq + 1 : NULL;
}

static void find_at_piece(void *ctx, const char *s, size_t n, char end)
{
	const char **at = ctx, *v = url_secret_value(s, n), *q;

	(void)end;
	for (q = s; q < (v ? v : s + n); q++)
		if (*q == '@')
			*at = q;
}

bool url_split(const char *text, struct url_parts *p)
{
	const char *s = text, *auth, *at;
	size_t auth_len;

	memset(p, 0, sizeof(*p));
	if (!ascii_is_alpha(*s))
		return false;
	while (ascii_is_alnum(*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	if (*s != ':')
		return false;
	p->scheme = text;
	p->scheme_len = (size_t)(s - text);
	if (strncmp(s + 1, "//", 2) != 0) {
		p->rest = s + 1;
		return true;
	}
	p->has_authority = true;
	auth = s + 3;
	at = authority_userinfo_end(auth, AUTHORITY_STOPS, &auth_len);
	/* an '@' further on, outside a secret value, ends a mangled userinfo */
	url_for_each_piece(auth + auth_len, find_at_piece, &at);
	if (at) {
		p->userinfo = auth;
		p->userinfo_len = (size_t)(at - auth);
		p->at_past_authority = at >= auth + auth_len;
		p->hostport = at + 1;
	} else {
		p->hostport = auth;
	}
	p->hostport_len = strcspn(p->hostport, AUTHORITY_STOPS);
	p->rest = p->hostport + p->hostport_len;
	return true;
}

