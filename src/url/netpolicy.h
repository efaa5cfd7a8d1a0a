/* netpolicy: which camera hosts ad-hoc URLs may reach (--allow-hosts): host names (exact, or
 * "*.example.com" for any name under it) and address ranges in CIDR form (10.0.0.0/8,
 * fd00::/8; a bare address is a /32 or /128). Pure: safe on any thread once built. */
#ifndef CAMSTREAM_NETPOLICY_H
#define CAMSTREAM_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include "error.h"

#define NET_POLICY_MAX_RULES 64

struct net_rule {
	bool is_range;
	int family;               /* AF_INET or AF_INET6, for ranges */
	unsigned char addr[16];   /* network address, for ranges */
	int prefix;               /* prefix length, for ranges */
	char name[254];           /* lowercase host name, "*.suffix" for a wildcard */
};

struct net_policy {
	struct net_rule rules[NET_POLICY_MAX_RULES];
	int n;                    /* 0 = no policy: every host allowed */
};

/* Adds the comma-separated @list. CS_BAD_REQUEST, with a message in @err, for an entry that is
 * neither a host name nor an address range, or when the list is full. */
enum cs_err net_policy_add_list(struct net_policy *p, const char *list, struct cs_error *err);

enum net_verdict {
	NET_ALLOWED,
	NET_DENIED,
	NET_RESOLVE,  /* a name not listed as such: allowed only if every address it resolves
	                 to is in a listed range */
};

/* The verdict for @host as parsed from a URL (IPv6 without brackets). */
enum net_verdict net_policy_check_host(const struct net_policy *p, const char *host);
/* Whether one resolved address is inside a listed range. */
bool net_policy_allows_addr(const struct net_policy *p, const struct sockaddr *sa);

#endif
