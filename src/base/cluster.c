#include "cluster.h"

#include <stdio.h>
#include <string.h>

/* A host is letters, digits, '-', '.', or a bracketed IPv6 address; a port is 1-65535. The
 * host (without brackets, cut to fit @host) and the port (80 when none is given) go to @host
 * and *@port. */
static bool host_port_ok(const char *s, size_t n, char *host, size_t host_cap, int *port_out)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		while (i < n && s[i] != ']')
			i++;
		if (i == n || i < 3)
			return false;
		for (size_t k = 1; k < i; k++)
			if (!strchr("0123456789abcdefABCDEF:.", s[k]))
				return false;
		i++;
	} else {
		while (i < n && s[i] != ':') {
			char ch = s[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
				return false;
			i++;
		}
		if (i == 0)
			return false;
	}
	bool bracket = s[0] == '[';
	size_t hl = bracket ? i - 2 : i;
	if (hl >= host_cap)
		hl = host_cap - 1;
	memcpy(host, s + bracket, hl);
	host[hl] = '\0';
	*port_out = 80;
	if (i == n)
		return true;
	if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
		return false;
	unsigned port = 0;
	for (size_t k = i + 1; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		port = port * 10 + (unsigned)(s[k] - '0');
	}
	*port_out = (int)port;
	return port >= 1 && port <= 65535;
}

bool cluster_parse_peers(struct cluster *c, const char *list, char *why, size_t why_size)
{
	c->n = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		/* plain http: the balancer ends TLS, and the instances reach each other on the
		 * cluster's own network */
		const char *rest = !strncmp(p, "http://", 7) ? p + 7 : NULL;
		size_t hlen = rest ? len - (size_t)(rest - p) : 0;
		if (hlen && rest[hlen - 1] == '/')
			hlen--; /* one slash at the end is forgiven */
		if (!rest || (c->n < CLUSTER_MAX &&
		    !host_port_ok(rest, hlen, c->host[c->n], CLUSTER_URL_MAX, &c->port[c->n]))) {
			snprintf(why, why_size, "peer %d is not http://HOST[:PORT] (no path, no "
				"credentials; the instances speak plain http to each other)", c->n + 1);
			return false;
		}
		if (c->n == CLUSTER_MAX || (size_t)(rest - p) + hlen >= CLUSTER_URL_MAX) {
			snprintf(why, why_size, "at most %d peers of %d characters", CLUSTER_MAX,
				CLUSTER_URL_MAX - 1);
			return false;
		}
		memcpy(c->url[c->n], p, (size_t)(rest - p) + hlen);
		c->url[c->n][(size_t)(rest - p) + hlen] = '\0';
		for (int k = 0; k < c->n; k++)
			if (!strcmp(c->url[k], c->url[c->n])) {
				snprintf(why, why_size, "peer %d repeats peer %d", c->n + 1, k + 1);
				return false;
			}
		c->n++;
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(why, why_size, "the list ends with a comma");
			return false;
		}
	}
	if (c->n < 2) {
		snprintf(why, why_size, "a cluster lists at least 2 instances");
		return false;
	}
	return true;
}

uint64_t cluster_score(const char *name, const char *url)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		h ^= *s;
		h *= 0x100000001b3ull;
	}
	h *= 0x100000001b3ull; /* the zero byte between them: xor with 0 changes nothing */
	for (const unsigned char *s = (const unsigned char *)url; *s; s++) {
		h ^= *s;
		h *= 0x100000001b3ull;
	}
	/* splitmix64's finaliser: FNV's low bits mix poorly on their own */
	h += 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

int cluster_owner(const struct cluster *c, const char *name)
{
	if (c->n < 2)
		return 1;
	int best = 0;
	uint64_t best_score = cluster_score(name, c->url[0]);
	for (int i = 1; i < c->n; i++) {
		uint64_t s = cluster_score(name, c->url[i]);
		if (s > best_score) {
			best = i;
			best_score = s;
		}
	}
	return best + 1;
}

bool cluster_owns(const struct cluster *c, const char *name)
{
	return c->n < 2 || cluster_owner(c, name) == c->self;
}
