#include "access.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool access_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* walk the longer one in full, so the time says nothing about the matching prefix */
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

static bool query_token_ok(struct lws *wsi, const char *token)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (total <= 0)
		return false;
	char *buf = malloc((size_t)total + 1);
	if (!buf)
		return false;
	bool ok = false;
	for (int i = 0; !ok; i++) {
		int len = lws_hdr_copy_fragment(wsi, buf, total + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0)
			break;
		if (len >= 6 && !strncmp(buf, "token=", 6))
			ok = access_equal(buf + 6, (size_t)len - 6, token, strlen(token));
	}
	free(buf);
	return ok;
}

bool access_token_ok(struct lws *wsi, const struct config *cfg)
{
	if (!cfg->token[0])
		return true;
	char auth[512];
	int n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && !strncasecmp(auth, "Bearer ", 7)) {
		const char *t = auth + 7;
		while (*t == ' ')
			t++;
		return access_equal(t, strlen(t), cfg->token, strlen(cfg->token));
	}
	return query_token_ok(wsi, cfg->token);
}

/* The host part of "scheme://host[:port]" or of a Host header "host[:port]", lowercase. */
static void host_of(const char *s, char *out, size_t cap)
{
	const char *p = strstr(s, "://");
	p = p ? p + 3 : s;
	size_t n;
	if (*p == '[') {
		n = strcspn(p, "]");
		n += p[n] == ']';
	} else {
		n = strcspn(p, ":/");
	}
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	out[n] = '\0';
}

static bool listed(const char *list, const char *origin)
{
	size_t olen = strlen(origin);
	for (const char *p = list; *p;) {
		p += strspn(p, ", ");
		size_t n = strcspn(p, ", ");
		if (n && n == olen && !strncmp(p, origin, n))
			return true;
		p += n;
	}
	return false;
}

bool access_origin_ok(struct lws *wsi, const struct config *cfg)
{
	char origin[512];
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true; /* not a browser: wscat, curl, scripts */
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return false;
	if (cfg->allow_origin[0])
		return listed(cfg->allow_origin, origin);
	if (!strcmp(origin, "null"))
		return true; /* web/index.html opened from disk */
	char host[300], ohost[300], hdr[300];
	if (lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HOST) <= 0)
		return false;
	host_of(hdr, host, sizeof(host));
	host_of(origin, ohost, sizeof(ohost));
	return host[0] && !strcmp(host, ohost);
}
