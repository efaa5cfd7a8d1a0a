#include "schemes.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The sources that are always allowed. */
static const char *const builtin_schemes[] = { "rtsp", "rtsps", "rtmp", "rtmps" };

/* Network schemes FFmpeg reads live video from; --allow-schemes may add these. HLS has no
 * scheme of its own: FFmpeg's hls demuxer reads .m3u8 playlists over http/https. */
static const char *const allowable_schemes[] = {
	"http", "https", "srt", "udp", "rtp", "srtp", "tcp", "tls", "rist", "mmsh", "mmst",
	"rtmpt", "rtmpe", "rtmpts", "rtmpte",
};

/* Schemes that read local files or devices, or wrap another URL (which could be file:).
 * "hls" is FFmpeg's deprecated "hls+<url>" wrapper; ipfs/ipns read the local gateway
 * configuration; httpproxy and ffrtmp* are FFmpeg's internal plumbing. */
static const char *const never_schemes[] = {
	"file", "concat", "concatf", "subfile", "pipe", "data", "fd", "crypto", "cache", "async",
	"tee", "unix", "md5", "hls", "ffrtmpcrypt", "ffrtmphttp", "httpproxy", "bluray",
	"android_content", "ipfs", "ipns",
};

static const struct {
	const char *scheme;
	int port;
} default_ports[] = {
	{ "rtsp", 554 }, { "rtsps", 322 }, { "rtmp", 1935 }, { "rtmps", 443 },
	{ "http", 80 }, { "https", 443 },
};

static bool in_list(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq_nocase(name, len, list[i]))
			return true;
	return false;
}

static bool is_builtin(const char *s, size_t n)
{
	return in_list(s, n, builtin_schemes, N_ELEM(builtin_schemes));
}

bool url_scheme_allowable(const char *s, size_t n)
{
	return in_list(s, n, allowable_schemes, N_ELEM(allowable_schemes));
}

bool url_scheme_never(const char *s, size_t n)
{
	return in_list(s, n, never_schemes, N_ELEM(never_schemes));
}

bool url_scheme_known(const char *s, size_t n)
{
	return is_builtin(s, n) || url_scheme_allowable(s, n) || url_scheme_never(s, n) ||
		str_eq_nocase(s, n, "demo");
}

bool url_scheme_name_ok(const char *s)
{
	if (!ascii_is_alpha(*s))
		return false;
	for (s++; *s; s++)
		if (!ascii_is_alnum(*s) && *s != '+' && *s != '-' && *s != '.')
			return false;
	return true;
}

int url_scheme_default_port(const char *scheme)
{
	for (size_t i = 0; i < N_ELEM(default_ports); i++)
		if (!strcmp(scheme, default_ports[i].scheme))
			return default_ports[i].port;
	return 0;
}

/* Anything after "demo:" or "demo://" is refused rather than ignored, so that "demo:foo"
 * cannot look as if it picked something. */
bool url_is_demo(const char *text)
{
	return str_eq_nocase(text, strlen(text), "demo:") ||
		str_eq_nocase(text, strlen(text), "demo://");
}

bool url_policy_allows(const struct url_policy *p, const char *scheme)
{
	if (!scheme)
		return false;
	size_t n = strlen(scheme);
	if (url_scheme_never(scheme, n))
		return false; /* even if someone filled @p by hand */
	if (is_builtin(scheme, n))
		return true;
	if (n >= sizeof(p->extra[0]))
		return false; /* cannot be in extra[], whose rows may lack a NUL when full */
	for (int i = 0; p && i < p->n_extra && i < (int)N_ELEM(p->extra); i++)
		if (str_eq_nocase(scheme, n, p->extra[i]))
			return true;
	return false;
}

enum cs_err url_policy_allow(struct url_policy *p, const char *scheme, struct cs_error *err)
{
	if (!p || !scheme || !*scheme)
		return cs_fail(err, CS_BAD_REQUEST, "empty scheme name");
	size_t n = strlen(scheme);
	if (!url_scheme_name_ok(scheme))
		return cs_fail(err, CS_BAD_REQUEST, "\"%.24s\" is not a scheme name", scheme);
	if (str_eq_nocase(scheme, n, "hls"))
		return cs_fail(err, CS_BAD_REQUEST, "scheme \"hls\" can never be allowed: it wraps "
			"another URL; allow http or https to play HLS playlists (.m3u8)");
	if (url_scheme_never(scheme, n))
		return cs_fail(err, CS_BAD_REQUEST, "scheme \"%.24s\" can never be allowed: it reads "
			"local files or wraps another URL", scheme);
	if (is_builtin(scheme, n) || url_policy_allows(p, scheme))
		return CS_OK;
	if (!url_scheme_allowable(scheme, n)) {
		char list[256];
		size_t len = 0;
		for (size_t i = 0; i < N_ELEM(allowable_schemes) && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
				allowable_schemes[i]);
		return cs_fail(err, CS_BAD_REQUEST, "unknown scheme \"%.24s\": schemes that can be "
			"allowed are %s", scheme, list);
	}
	if (p->n_extra < 0 || p->n_extra >= (int)N_ELEM(p->extra))
		return cs_fail(err, CS_BAD_REQUEST, "too many allowed schemes (at most %zu)",
			N_ELEM(p->extra));
	/* Allowable names are short, so they fit extra[] (checked by the loop bound). */
	size_t i;
	for (i = 0; i < n && i < sizeof(p->extra[0]) - 1; i++)
		p->extra[p->n_extra][i] = ascii_lower(scheme[i]);
	p->extra[p->n_extra][i] = '\0';
	p->n_extra++;
	return CS_OK;
}
