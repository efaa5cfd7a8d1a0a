#include <stdlib.h>

#include "check.h"
#include "config.h"

static enum config_result load(struct config *c, int argc, char **argv)
{
	FILE *out = fopen("/dev/null", "w");
	enum config_result r = config_load(c, argc, argv, out);
	fclose(out);
	return r;
}

static void test_defaults_match_the_documentation(void)
{
	struct config c;
	char *argv[] = { "camstream", NULL };
	CHECK(load(&c, 1, argv) == CONFIG_OK);
	CHECK_STR(c.host, "0.0.0.0");
	CHECK(c.port == 8000);
	CHECK(c.open_timeout_ms == 10000);
	CHECK(c.read_timeout_ms == 5000);
	CHECK(!c.isolate);
	CHECK(c.max_clients == 100);
	CHECK(c.log_level == LOG_INFO);
	CHECK(!url_policy_allows(&c.policy, "http"));
	CHECK(c.rtmp_port == 1935);
	CHECK(!c.rtmp_port_given);
	CHECK(c.rtmp_grace_s == 5);
	CHECK(c.webrtc_port == 8189);
	CHECK(!c.webrtc_port_given);
	CHECK_STR(c.webrtc_host, "");
	CHECK(c.onvif_discovery);
}

static void test_onvif_discovery_on_or_off(void)
{
	struct config c;
	char *off[] = { "camstream", "--onvif-discovery", "off", NULL };
	CHECK(load(&c, 3, off) == CONFIG_OK);
	CHECK(!c.onvif_discovery);
	char *on[] = { "camstream", "--onvif-discovery", "on", NULL };
	CHECK(load(&c, 3, on) == CONFIG_OK);
	CHECK(c.onvif_discovery);
	char *bad[] = { "camstream", "--onvif-discovery", "maybe", NULL };
	CHECK(load(&c, 3, bad) == CONFIG_ERROR);
}

static void test_cluster_and_trusted_proxy(void)
{
	struct config c;
	char *none[] = { "camstream", NULL };
	CHECK(load(&c, 1, none) == CONFIG_OK);
	CHECK(c.cluster.n == 0 && c.cluster.self == 0 && c.trusted_proxy.n == 0);
	char *ok[] = { "camstream", "--cluster-peers", "http://127.0.0.1:8101,http://127.0.0.1:8102",
		"--cluster-self", "2", "--trusted-proxy", "127.0.0.1,10.0.0.0/8", NULL };
	CHECK(load(&c, 7, ok) == CONFIG_OK);
	CHECK(c.cluster.n == 2 && c.cluster.self == 2);
	CHECK(c.trusted_proxy.n == 2);
	char *no_self[] = { "camstream", "--cluster-peers", "http://a:1,http://b:1", NULL };
	CHECK(load(&c, 3, no_self) == CONFIG_ERROR);
	char *past[] = { "camstream", "--cluster-peers", "http://a:1,http://b:1", "--cluster-self",
		"3", NULL };
	CHECK(load(&c, 5, past) == CONFIG_ERROR);
	char *alone[] = { "camstream", "--cluster-self", "1", NULL };
	CHECK(load(&c, 3, alone) == CONFIG_ERROR);
	char *name[] = { "camstream", "--trusted-proxy", "proxy.local", NULL };
	CHECK(load(&c, 3, name) == CONFIG_ERROR);
}

static void test_webrtc_port_and_hosts(void)
{
	struct config c;
	char *off[] = { "camstream", "--webrtc-port", "off", NULL };
	CHECK(load(&c, 3, off) == CONFIG_OK);
	CHECK(c.webrtc_port == -1);
	CHECK(c.webrtc_port_given);
	char *any[] = { "camstream", "--webrtc-port", "0", "--webrtc-host",
		"192.0.2.7,2001:db8::1", NULL };
	CHECK(load(&c, 5, any) == CONFIG_OK);
	CHECK(c.webrtc_port == 0);
	CHECK_STR(c.webrtc_host, "192.0.2.7,2001:db8::1");
	/* candidates carry numeric addresses: a name, an empty item or a port is refused */
	static const char *const bad[] = { "cam.example", "192.0.2.7,", ",192.0.2.7",
		"192.0.2.7,,192.0.2.8", "192.0.2.7:8189", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "camstream", "--webrtc-host", (char *)bad[i], NULL };
		if (load(&c, 3, argv) != CONFIG_ERROR) {
			printf("#   accepted --webrtc-host %s\n", bad[i]);
			CHECK(0);
		}
	}
}

static void test_rtmp_port_takes_a_number_zero_or_off(void)
{
	struct config c;
	char *off[] = { "camstream", "--rtmp-port", "off", NULL };
	CHECK(load(&c, 3, off) == CONFIG_OK);
	CHECK(c.rtmp_port == -1);
	CHECK(c.rtmp_port_given);
	char *any[] = { "camstream", "--rtmp-port", "0", "--rtmp-grace", "0.5", NULL };
	CHECK(load(&c, 5, any) == CONFIG_OK);
	CHECK(c.rtmp_port == 0);
	CHECK(c.rtmp_port_given);
	CHECK(c.rtmp_grace_s == 0.5);
	setenv("CAMSTREAM_RTMP_PORT", "19350", 1);
	char *none[] = { "camstream", NULL };
	CHECK(load(&c, 1, none) == CONFIG_OK);
	CHECK(c.rtmp_port == 19350);
	CHECK(c.rtmp_port_given); /* asked for explicitly: not binding it is an error */
	unsetenv("CAMSTREAM_RTMP_PORT");
}

static void test_command_line_sets_every_option(void)
{
	struct config c;
	char *argv[] = { "camstream", "--host", "127.0.0.1", "--port", "0", "--web-root", "/tmp",
		"--allow-schemes", "http,https", "--open-timeout", "2.5", "--read-timeout", "1",
		"--isolate", "--max-clients", "3", "--log-level", "debug", NULL };
	CHECK(load(&c, 18, argv) == CONFIG_OK);
	CHECK_STR(c.host, "127.0.0.1");
	CHECK(c.port == 0);
	CHECK_STR(c.web_root, "/tmp");
	CHECK(url_policy_allows(&c.policy, "http"));
	CHECK(url_policy_allows(&c.policy, "https"));
	CHECK(c.open_timeout_ms == 2500);
	CHECK(c.read_timeout_ms == 1000);
	CHECK(c.isolate);
	CHECK(c.max_clients == 3);
	CHECK(c.log_level == LOG_DEBUG);
}

static void test_environment_sets_options_and_command_line_wins(void)
{
	struct config c;
	setenv("CAMSTREAM_PORT", "9000", 1);
	setenv("CAMSTREAM_READ_TIMEOUT", "7", 1);
	setenv("CAMSTREAM_ISOLATE", "1", 1);
	char *argv[] = { "camstream", "--port", "9001", NULL };
	CHECK(load(&c, 3, argv) == CONFIG_OK);
	CHECK(c.port == 9001);
	CHECK(c.read_timeout_ms == 7000);
	CHECK(c.isolate);
	unsetenv("CAMSTREAM_PORT");
	unsetenv("CAMSTREAM_READ_TIMEOUT");
	unsetenv("CAMSTREAM_ISOLATE");
}

static void test_bad_values_are_refused(void)
{
	struct config c;
	char *cases[][3] = {
		{ "camstream", "--port", "70000" }, { "camstream", "--port", "12ab" },
		{ "camstream", "--open-timeout", "0" }, { "camstream", "--read-timeout", "-1" },
		{ "camstream", "--max-clients", "many" }, { "camstream", "--log-level", "loud" },
		{ "camstream", "--allow-schemes", "file" }, { "camstream", "--allow-schemes", "pipe" },
		{ "camstream", "--allow-schemes", "nosuch" }, { "camstream", "--nosuch", "1" },
		{ "camstream", "--rtmp-port", "65536" }, { "camstream", "--rtmp-port", "of" },
		{ "camstream", "--rtmp-port", "-1" }, { "camstream", "--rtmp-grace", "-2" },
		{ "camstream", "--webrtc-port", "65536" }, { "camstream", "--webrtc-port", "no" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { cases[i][0], cases[i][1], cases[i][2], NULL };
		if (load(&c, 3, argv) != CONFIG_ERROR) {
			printf("#   accepted %s %s\n", cases[i][1], cases[i][2]);
			CHECK(0);
		}
	}
}

static void test_bad_environment_value_is_refused(void)
{
	struct config c;
	setenv("CAMSTREAM_MAX_CLIENTS", "-5", 1);
	char *argv[] = { "camstream", NULL };
	CHECK(load(&c, 1, argv) == CONFIG_ERROR);
	unsetenv("CAMSTREAM_MAX_CLIENTS");
}

static void test_help_and_version_exit_successfully(void)
{
	struct config c;
	char *help[] = { "camstream", "--help", NULL };
	char *version[] = { "camstream", "--version", NULL };
	CHECK(load(&c, 2, help) == CONFIG_EXIT_OK);
	CHECK(load(&c, 2, version) == CONFIG_EXIT_OK);
}

int main(void)
{
	RUN(test_defaults_match_the_documentation);
	RUN(test_rtmp_port_takes_a_number_zero_or_off);
	RUN(test_webrtc_port_and_hosts);
	RUN(test_onvif_discovery_on_or_off);
	RUN(test_cluster_and_trusted_proxy);
	RUN(test_command_line_sets_every_option);
	RUN(test_environment_sets_options_and_command_line_wins);
	RUN(test_bad_values_are_refused);
	RUN(test_bad_environment_value_is_refused);
	RUN(test_help_and_version_exit_successfully);
	return CHECK_DONE();
}
