#include <arpa/inet.h>
#include <netinet/in.h>

#include "check.h"
#include "netpolicy.h"

static struct net_policy make(const char *list)
{
	struct net_policy p = { .n = 0 };
	struct cs_error e_ = { 0 };
	CHECK(CS_OK == net_policy_add_list(&p, list, &e_));
	return p;
}

static void test_no_policy_allows_everything(void)
{
	struct net_policy p = { .n = 0 };
	CHECK(net_policy_check_host(&p, "10.1.2.3") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "evil.example") == NET_ALLOWED);
}

static void test_ipv4_ranges_match_by_prefix(void)
{
	struct net_policy p = make("192.168.1.0/24, 10.0.0.7");
	CHECK(net_policy_check_host(&p, "192.168.1.200") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "192.168.2.1") == NET_DENIED);
	CHECK(net_policy_check_host(&p, "10.0.0.7") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "10.0.0.8") == NET_DENIED);
}

static void test_odd_prefixes_and_host_bits_in_the_rule(void)
{
	struct net_policy p = make("172.16.5.9/12");
	CHECK(net_policy_check_host(&p, "172.31.255.255") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "172.32.0.0") == NET_DENIED);
}

static void test_ipv6_ranges_and_mapped_ipv4(void)
{
	struct net_policy p = make("fd00::/8,127.0.0.0/8");
	CHECK(net_policy_check_host(&p, "fd12:3456::1") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "fe80::1") == NET_DENIED);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sa.sin6_addr);
	CHECK(net_policy_allows_addr(&p, (struct sockaddr *)&sa));
	inet_pton(AF_INET6, "::ffff:8.8.8.8", &sa.sin6_addr);
	CHECK(!net_policy_allows_addr(&p, (struct sockaddr *)&sa));
}

static void test_names_exact_and_wildcard_case_insensitive(void)
{
	struct net_policy p = make("cam1.lan,*.cams.example");
	CHECK(net_policy_check_host(&p, "CAM1.lan") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "cam1.lan.") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "door.cams.example") == NET_ALLOWED);
	CHECK(net_policy_check_host(&p, "cams.example") == NET_DENIED);
	CHECK(net_policy_check_host(&p, "evilcams.example") == NET_DENIED);
	CHECK(net_policy_check_host(&p, "cam2.lan") == NET_DENIED);
	CHECK(net_policy_check_host(&p, "10.0.0.1") == NET_DENIED);
}

static void test_unlisted_names_are_resolved_when_ranges_exist(void)
{
	struct net_policy p = make("10.0.0.0/8");
	CHECK(net_policy_check_host(&p, "camera.lan") == NET_RESOLVE);
}

static void test_bad_entries_are_refused(void)
{
	const char *bad[] = { "10.0.0.0/33", "::/129", "a..b", "-/x", "10.0.0.0/", "*.", "a b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_policy p = { .n = 0 };
		struct cs_error e_ = { 0 };
		bool ok = net_policy_add_list(&p, bad[i], &e_);
		if (ok && p.n == 1)
			printf("#   accepted %s\n", bad[i]);
		CHECK(!ok || p.n != 1);
	}
}

int main(void)
{
	RUN(test_no_policy_allows_everything);
	RUN(test_ipv4_ranges_match_by_prefix);
	RUN(test_odd_prefixes_and_host_bits_in_the_rule);
	RUN(test_ipv6_ranges_and_mapped_ipv4);
	RUN(test_names_exact_and_wildcard_case_insensitive);
	RUN(test_unlisted_names_are_resolved_when_ranges_exist);
	RUN(test_bad_entries_are_refused);
	return CHECK_DONE();
}
