#include "netpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a.b", "*.b", lowercase letters, digits, '-', '.'; no empty labels. */
static bool valid_name(const char *s)
{
	if (!strncmp(s, "*.", 2))
		s += 2;
	size_t label = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* Parses an address with an optional "/prefix" into @r. */
static bool parse_range(const char *text, struct net_rule *r)
{
	char buf[64];
	size_t n = strlen(text);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, text, n + 1);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, r->addr) == 1)
		r->family = AF_INET6;
	else
		return false;
	int max = r->family == AF_INET ? 32 : 128;
	r->prefix = max;
	if (slash) {
		char *end;
		errno = 0;
		long v = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || v < 0 || v > max)
			return false;
		r->prefix = (int)v;
	}
	/* keep only the network part, so matching compares like with like */
	int bytes = r->family == AF_INET ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = r->prefix - 8 * i;
		unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
		r->addr[i] &= mask;
	}
	r->is_range = true;
	return true;
}

enum cs_err net_policy_add_list(struct net_policy *p, const char *list, struct cs_error *err)
{
	const char *s = list;
	while (*s) {
		s += strspn(s, ", \t");
		size_t len = strcspn(s, ", \t");
		if (!len)
			break;
		if (p->n == NET_POLICY_MAX_RULES) {
			return cs_fail(err, CS_BAD_REQUEST, "--allow-hosts takes at most %d entries",
				NET_POLICY_MAX_RULES);
		}
		struct net_rule *r = &p->rules[p->n];
		memset(r, 0, sizeof(*r));
		char entry[256];
		if (len >= sizeof(entry)) {
			return cs_fail(err, CS_BAD_REQUEST, "--allow-hosts: an entry is too long");
		}
		for (size_t i = 0; i < len; i++)
			entry[i] = (char)tolower((unsigned char)s[i]);
		entry[len] = '\0';
		if (!parse_range(entry, r)) {
			if (len >= sizeof(r->name) || !valid_name(entry)) {
				return cs_fail(err, CS_BAD_REQUEST, "--allow-hosts: \"%.64s\" is neither a "
					"host name nor an address range such as 10.0.0.0/8", entry);
			}
			memcpy(r->name, entry, len + 1);
		}
		p->n++;
		s += len;
	}
	return CS_OK;
}

static bool in_range(const struct net_rule *r, int family, const unsigned char *addr)
{
	if (!r->is_range || r->family != family)
		return false;
	int full = r->prefix / 8, rest = r->prefix % 8;
	if (memcmp(r->addr, addr, (size_t)full))
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & mask) == r->addr[full];
}

static bool addr_allowed(const struct net_policy *p, int family, const unsigned char *addr)
{
	/* an IPv4-mapped IPv6 address is judged as the IPv4 address it carries */
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (family == AF_INET6 && !memcmp(addr, mapped, 12))
		return addr_allowed(p, AF_INET, addr + 12);
	for (int i = 0; i < p->n; i++)
		if (in_range(&p->rules[i], family, addr))
			return true;
	return false;
}

bool net_policy_allows_addr(const struct net_policy *p, const struct sockaddr *sa)
{
	if (p->n == 0)
		return true;
	if (sa->sa_family == AF_INET)
		return addr_allowed(p, AF_INET,
			(const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return addr_allowed(p, AF_INET6,
			((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
	return false;
}

static bool name_matches(const char *rule, const char *host)
{
	if (strncmp(rule, "*.", 2))
		return !strcmp(rule, host);
	size_t rl = strlen(rule + 1), hl = strlen(host); /* rule + 1 = ".suffix" */
	return hl > rl && !strcmp(host + hl - rl, rule + 1);
}

enum net_verdict net_policy_check_host(const struct net_policy *p, const char *host)
{
	if (p->n == 0)
		return NET_ALLOWED;
	unsigned char addr[16];
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr_allowed(p, AF_INET, addr) ? NET_ALLOWED : NET_DENIED;
	if (inet_pton(AF_INET6, host, addr) == 1)
		return addr_allowed(p, AF_INET6, addr) ? NET_ALLOWED : NET_DENIED;

	char lower[256];
	size_t n = strlen(host);
	if (n == 0 || n >= sizeof(lower))
		return NET_DENIED;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)host[i]);
	if (lower[n - 1] == '.')
		lower[n - 1] = '\0'; /* "cam.example." is "cam.example" */
	bool any_range = false;
	for (int i = 0; i < p->n; i++) {
		if (p->rules[i].is_range)
			any_range = true;
		else if (name_matches(p->rules[i].name, lower))
			return NET_ALLOWED;
	}
	return any_range ? NET_RESOLVE : NET_DENIED;
}
