/* Unit tests for forwarded: the client behind trusted proxies, from X-Forwarded-For. */
#include "forwarded.h"

#include <string.h>

#include "check.h"

static struct net_policy loopback, none;

static const char *client(const struct net_policy *p, const char *xff)
{
	static char out[64];
	char buf[256];
	strcpy(out, "peer");
	strcpy(buf, xff);
	forwarded_client(p, buf, out, sizeof(out));
	return out;
}

static void test_the_rightmost_untrusted_address_is_the_client(void)
{
	CHECK_STR(client(&loopback, "198.51.100.7, 10.1.2.3"), "10.1.2.3");
	CHECK_STR(client(&loopback, "198.51.100.7, 10.1.2.3, 127.0.0.1"), "10.1.2.3");
	CHECK_STR(client(&loopback, " 2001:db8::5 ,\t::1"), "2001:db8::5");
}

static void test_all_trusted_gives_the_leftmost(void)
{
	CHECK_STR(client(&loopback, "127.0.0.2,127.0.0.1"), "127.0.0.2");
}

static void test_garbage_stops_the_walk_at_the_last_address(void)
{
	CHECK_STR(client(&loopback, "10.0.0.1, unknown, 127.0.0.1"), "127.0.0.1");
	CHECK_STR(client(&loopback, "unknown"), "peer");
	CHECK_STR(client(&loopback, ""), "peer");
	CHECK_STR(client(&loopback, "10.0.0.1,,127.0.0.1"), "127.0.0.1");
	CHECK_STR(client(&loopback, "10.0.0.1:5555"), "peer");
}

static void test_nothing_is_trusted_without_a_policy(void)
{
	CHECK(!forwarded_trusted(&none, "127.0.0.1"));
	CHECK(forwarded_trusted(&loopback, "::ffff:127.0.0.1"));
	CHECK(!forwarded_trusted(&loopback, "example.com"));
	CHECK_STR(client(&none, "198.51.100.7, 10.1.2.3"), "10.1.2.3");
}

int main(void)
{
	if (net_policy_add_list(&loopback, "127.0.0.0/8,::1", NULL) != CS_OK)
		return 1;
	RUN(test_the_rightmost_untrusted_address_is_the_client);
	RUN(test_all_trusted_gives_the_leftmost);
	RUN(test_garbage_stops_the_walk_at_the_last_address);
	RUN(test_nothing_is_trusted_without_a_policy);
	return CHECK_DONE();
}
