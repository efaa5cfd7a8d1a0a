/* split: a camera URL cut into its parts the way FFmpeg cuts it, and which of its query pairs
 * hold secrets. Pointers into the text; nothing is copied or decoded. Pure: any thread.
 *
 * FFmpeg opens a URL as given, so it is cut as FFmpeg 5.1 does (base/authority.h): the
 * authority ends at the first of "/?#", and the userinfo at the LAST '@' inside it. A password
 * holding '/', '?' or '#' is cut short by FFmpeg ("rtsp://u:12/34@host/s" goes to host "u"),
 * so an '@' after the authority is taken as the end of a mangled userinfo: url_parse refuses
 * the URL, and redaction hides everything up to that '@'. The one exception is an '@' in the
 * value of a secret-named pair such as a DVR path's "password=Admin@123", which redaction
 * hides anyway. An e-mail address in a camera URL's query must therefore be percent-encoded. */
#ifndef CAMSTREAM_SPLIT_H
#define CAMSTREAM_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

struct url_parts {
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

/* false when @text does not start with "scheme:". */
bool url_split(const char *text, struct url_parts *p);

/* Calls @fn for each "name=value" (or bare) piece of the path, query and fragment @rest,
 * with the byte that ends it: pieces end at '/', '&', '?' and '#' in the path, at '&' and '#'
 * in the query, at '&' in the fragment. Pairs in the path count too: some DVRs take
 * "rtsp://ip/user=admin&password=x&channel=1". */
typedef void url_piece_fn(void *ctx, const char *s, size_t n, char end);
void url_for_each_piece(const char *rest, url_piece_fn *fn, void *ctx);

/* Where the value of a secret-named pair starts in the piece @s, or NULL. A name is secret
 * when it is one of the secret words, ends in "_word", "-word" or ".word" (access_token,
 * X-Amz-Signature), or contains one of the secret parts (camPassword); percent-escapes in it
 * are decoded first. Hiding a harmless value costs little; showing a secret does. */
const char *url_secret_value(const char *s, size_t n);

/* The lists behind url_secret_value, for the page's copy of them (a test keeps both equal). */
const char *const *url_secret_words(size_t *n);
const char *const *url_secret_parts(size_t *n);

#endif
