#include "forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "text.h"

bool forwarded_trusted(const struct net_policy *trusted, const char *a)
{
	if (!trusted->n)
		return false; /* an empty net_policy allows everything; no proxy is trusted here */
	if (!strncmp(a, "::ffff:", 7) && strchr(a, '.'))
		a += 7;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, a, &s4.sin_addr) == 1)
		return net_policy_allows_addr(trusted, (struct sockaddr *)&s4);
	if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1)
		return net_policy_allows_addr(trusted, (struct sockaddr *)&s6);
	return false;
}

void forwarded_client(const struct net_policy *trusted, char *xff, char *out, size_t size)
{
	for (;;) {
		char *comma = strrchr(xff, ',');
		char *hop = comma ? comma + 1 : xff;
		hop += strspn(hop, " \t");
		hop[strcspn(hop, " \t")] = '\0';
		unsigned char bin[16];
		if (!*hop || (inet_pton(AF_INET, hop, bin) != 1 && inet_pton(AF_INET6, hop, bin) != 1))
			return; /* not an address: keep the last hop that was */
		str_copy(out, size, hop);
		if (!comma || !forwarded_trusted(trusted, hop))
			return;
		*comma = '\0';
	}
}
