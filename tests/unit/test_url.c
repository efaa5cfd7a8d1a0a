/* Unit tests for url (and the error code table it reports with): what a camera URL may be,
 * how it is cut, and that no credential survives redaction or an error message. */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "redact.h"
#include "split.h"
#include "text.h"

static void test_rtsp_url_with_path_parses(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://cam.local/stream1", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.text, "rtsp://cam.local/stream1");
	CHECK_STR(u.redacted, "rtsp://cam.local/stream1");
	CHECK_STR(u.scheme, "rtsp");
	CHECK_STR(u.host, "cam.local");
	CHECK(u.port == 554);
	CHECK(!u.has_credentials);
	CHECK(!u.is_demo);
	url_free(&u);
}

static void test_scheme_is_case_insensitive_and_lowercased(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("RTSP://Cam.Local:8554/x", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.scheme, "rtsp");
	CHECK_STR(u.text, "RTSP://Cam.Local:8554/x");
	CHECK_STR(u.host, "Cam.Local");
	url_free(&u);
}

static void test_default_ports_per_scheme(void)
{
	static const struct {
		const char *url;
		int port;
	} cases[] = {
		{ "rtsp://h/", 554 }, { "rtsps://h/", 322 }, { "rtmp://h/app", 1935 },
		{ "rtmps://h/app", 443 }, { "http://h/", 80 }, { "https://h/", 443 },
		{ "srt://h:9000", 9000 }, { "srt://h", 0 },
	};
	struct url_policy p = { .n_extra = 0 };
	struct cam_url u;
	struct cs_error e_ = { 0 };
	size_t i;

	CHECK(CS_OK == url_policy_allow(&p, "http", &e_));
	CHECK(CS_OK == url_policy_allow(&p, "https", &e_));
	CHECK(CS_OK == url_policy_allow(&p, "srt", &e_));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(url_parse(cases[i].url, &p, &u, &e_) == CS_OK);
		CHECK(u.port == cases[i].port);
		url_free(&u);
	}
}

static void test_explicit_port_overrides_default(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h:8554/x", NULL, &u, &e_) == CS_OK);
	CHECK(u.port == 8554);
	url_free(&u);
}

static void test_empty_port_means_default(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h:/x", NULL, &u, &e_) == CS_OK);
	CHECK(u.port == 554);
	url_free(&u);
}

static void test_port_65535_is_accepted(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h:65535/x", NULL, &u, &e_) == CS_OK);
	CHECK(u.port == 65535);
	url_free(&u);
}

static void test_ports_outside_1_to_65535_are_refused(void)
{
	static const char *const bad[] = {
		"rtsp://h:0/x", "rtsp://h:65536/x", "rtsp://h:99999999999999999999/x",
		"rtsp://h:-1/x", "rtsp://h:0x10/x",
	};
	struct cam_url u;
	struct cs_error e_ = { 0 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(url_parse(bad[i], NULL, &u, &e_) == CS_BAD_REQUEST);
		CHECK(u.text == NULL && u.host == NULL);
	}
}

static void test_ipv4_host(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://192.168.1.10:554/Streaming/Channels/101", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.host, "192.168.1.10");
	CHECK(u.port == 554);
	url_free(&u);
}

static void test_ipv6_literal_without_port(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://[::1]/stream", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.host, "::1");
	CHECK(u.port == 554);
	CHECK_STR(u.redacted, "rtsp://[::1]/stream");
	url_free(&u);
}

static void test_ipv6_literal_with_port_and_credentials(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://admin:x@[fe80::1]:8554/s", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.host, "fe80::1");
	CHECK(u.port == 8554);
	CHECK(u.has_credentials);
	CHECK_STR(u.redacted, "rtsp://***@[fe80::1]:8554/s");
	url_free(&u);
}

static void test_ipv6_without_brackets_is_refused_with_hint(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("rtsp://fe80::1/s", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "brackets") != NULL);
}

static void test_unencoded_at_in_password_ends_userinfo_at_last_at(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://u:p@ssw0rd@host/x", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.host, "host");
	CHECK(u.has_credentials);
	CHECK_STR(u.text, "rtsp://u:p@ssw0rd@host/x"); /* FFmpeg gets it as given */
	CHECK_STR(u.redacted, "rtsp://***@host/x");
	CHECK_NOT_CONTAINS(u.redacted, "ssw0rd");
	url_free(&u);
}

static void test_several_unencoded_ats_in_password(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://me@home:a@b@c@10.0.0.2:554/live", NULL, &u, &e_) ==
		CS_OK);
	CHECK_STR(u.host, "10.0.0.2");
	CHECK_STR(u.redacted, "rtsp://***@10.0.0.2:554/live");
	url_free(&u);
}

static void test_percent_encoded_at_in_password(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://u:p%40ss@host/x", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.host, "host");
	CHECK_STR(u.text, "rtsp://u:p%40ss@host/x");
	CHECK_STR(u.redacted, "rtsp://***@host/x");
	url_free(&u);
}

static void test_user_without_password_is_credentials_and_redacted(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://operator@host", NULL, &u, &e_) == CS_OK);
	CHECK(u.has_credentials);
	CHECK_STR(u.host, "host");
	CHECK_STR(u.redacted, "rtsp://***@host");
	url_free(&u);
}

static void test_password_without_user_is_credentials_and_redacted(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://:pass@host", NULL, &u, &e_) == CS_OK);
	CHECK(u.has_credentials);
	CHECK_STR(u.redacted, "rtsp://***@host");
	url_free(&u);
}

static void test_empty_userinfo_is_not_credentials(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://@host/x", NULL, &u, &e_) == CS_OK);
	CHECK(!u.has_credentials);
	CHECK_STR(u.host, "host");
	url_free(&u);
}

static void test_password_with_unencoded_slash_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	/* FFmpeg would connect to host "admin", port 1234: refuse rather than mislead. */
	CHECK(url_parse("rtsp://admin:1234/abcd@10.0.0.2/s", NULL, &u, &e_) ==
		CS_BAD_REQUEST);
	CHECK(strstr(err, "percent-encode") != NULL);
	CHECK_NOT_CONTAINS(err, "abcd");
	CHECK_NOT_CONTAINS(err, "1234");
}

static void test_password_with_slash_and_equals_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	/* A base64-style password: FFmpeg would connect to host "admin", port 12. */
	CHECK(url_parse("rtsp://admin:12/cd+e=@10.0.0.2/s", NULL, &u, &e_) ==
		CS_BAD_REQUEST);
	CHECK_NOT_CONTAINS(err, "cd+e");
}

static void test_at_in_path_or_query_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("rtsp://u:p@h/x@y", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse("rtsp://h/x?mail=a@b.example", NULL, &u, &e_) ==
		CS_BAD_REQUEST);
	CHECK(strstr(err, "%40") != NULL);
	CHECK(url_parse("rtsp://h/x?mail=a%40b.example", NULL, &u, &e_) == CS_OK);
	url_free(&u);
}

static void test_query_string_inside_camera_url_is_kept(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h/cam/realmonitor?channel=1&subtype=0", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.text, "rtsp://h/cam/realmonitor?channel=1&subtype=0");
	CHECK_STR(u.redacted, "rtsp://h/cam/realmonitor?channel=1&subtype=0");
	url_free(&u);
}

static void test_fragment_is_kept(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h/x?a=1#part", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.redacted, "rtsp://h/x?a=1#part");
	url_free(&u);
}

static void test_characters_ffmpeg_passes_through_are_tolerated(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h/a|b?x={1}#y#z", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.text, "rtsp://h/a|b?x={1}#y#z");
	url_free(&u);
}

static void test_secret_query_values_are_redacted(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://h/x?channel=1&Password=hunter2&token=t0k&sig=abc&api_key=k3y"
		"&X-Amz-Signature=zz&user=bob", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.redacted, "rtsp://h/x?channel=1&Password=***&token=***&sig=***&api_key=***"
		"&X-Amz-Signature=***&user=***");
	url_free(&u);
}

static void test_secret_values_in_dvr_style_path_are_redacted(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsp://10.0.0.3:554/user=admin&password=p@ss&channel=1&stream=0.sdp?",
		NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.redacted,
		"rtsp://10.0.0.3:554/user=***&password=***&channel=1&stream=0.sdp?");
	url_free(&u);
}

static void test_credentials_and_secret_query_redacted_together(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("rtsps://alice:s3cret@cam:7441/live?auth=xyz&res=hd", NULL, &u, &e_) == CS_OK);
	CHECK_STR(u.redacted, "rtsps://***@cam:7441/live?auth=***&res=hd");
	CHECK_NOT_CONTAINS(u.redacted, "alice");
	CHECK_NOT_CONTAINS(u.redacted, "s3cret");
	url_free(&u);
}

static void test_errors_never_contain_credentials(void)
{
	static const char *const bad[] = {
		"rtsp://alice:s3cret@h:0/x",
		"rtsp://alice:s3cret@h:70000/x",
		"rtsp://alice:s3cret@/x",
		"rtsp://alice:s3cret@h/a b",
		"rtsp://alice:s3cret@h/a\tb",
		"http://alice:s3cret@h/x",
		"file://alice:s3cret@h/x",
		"gopher://alice:s3cret@h/x",
		"alice:s3cret@h/x",
		"rtsp://alice:s3cret/x@h/x",
		"rtsp://alice:s3cret@fe80::1/x",
		"rtsp://alice:s3cret@[v1.x]/x",
		"rtsp:alice:s3cret@h/x",
	};
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(url_parse(bad[i], NULL, &u, &e_) != CS_OK);
		CHECK(err[0] != '\0');
		CHECK_NOT_CONTAINS(err, "alice");
		CHECK_NOT_CONTAINS(err, "s3cret");
	}
}

static void test_file_scheme_can_never_be_allowed(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("file:/etc/passwd", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
	CHECK(strstr(err, "can never be allowed") != NULL);
	CHECK(url_parse("FILE:///etc/passwd", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
}

static void test_concat_scheme_can_never_be_allowed(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("concat:a.ts|b.ts", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
	CHECK(strstr(err, "\"concat\" can never be allowed") != NULL);
}

static void test_unknown_scheme_is_not_allowed(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("gopher://h/x", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
	CHECK(strstr(err, "gopher") != NULL);
}

static void test_http_is_refused_by_default_with_hint(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("http://h/video.mjpg", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
	CHECK(strstr(err, "--allow-schemes") != NULL);
	CHECK(strstr(err, "http") != NULL);
}

static void test_http_is_allowed_after_policy_allow(void)
{
	struct url_policy p = { .n_extra = 0 };
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(CS_OK == url_policy_allow(&p, "http", &e_));
	CHECK(url_parse("http://h/video.mjpg", &p, &u, &e_) == CS_OK);
	CHECK_STR(u.scheme, "http");
	CHECK(u.port == 80);
	url_free(&u);
	CHECK(url_parse("https://h/video.mjpg", &p, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
}

static void test_policy_allow_refuses_never_allowed_schemes(void)
{
	static const char *const never[] = {
		"file", "concat", "subfile", "pipe", "data", "fd", "crypto", "cache", "async",
		"tee", "unix", "FILE", "concatf", "md5",
	};
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };
	char *err = e_.msg;
	size_t i;

	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		err[0] = '\0';
		CHECK(CS_OK != url_policy_allow(&p, never[i], &e_));
		CHECK(strstr(err, "can never be allowed") != NULL);
	}
	CHECK(p.n_extra == 0);
}

static void test_policy_allow_refuses_unknown_scheme(void)
{
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(CS_OK != url_policy_allow(&p, "gopher", &e_));
	CHECK(strstr(err, "unknown scheme") != NULL);
	CHECK(CS_OK != url_policy_allow(&p, "", &e_));
	CHECK(CS_OK != url_policy_allow(&p, "not a scheme", &e_));
	CHECK(p.n_extra == 0);
}

static void test_policy_allow_refuses_hls_and_points_to_http(void)
{
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(CS_OK != url_policy_allow(&p, "hls", &e_));
	CHECK(strstr(err, "https") != NULL);
}

static void test_policy_allow_accepts_live_network_schemes(void)
{
	static const char *const ok[] = {
		"http", "https", "srt", "udp", "rtp", "tcp", "tls", "mmsh", "mmst", "rtmpt",
		"rtmpe", "rtmpts", "rtmpte",
	};
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(CS_OK == url_policy_allow(&p, ok[i], &e_));
		CHECK(url_policy_allows(&p, ok[i]));
	}
}

static void test_policy_allow_is_case_insensitive(void)
{
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };

	CHECK(CS_OK == url_policy_allow(&p, "HTTPS", &e_));
	CHECK_STR(p.extra[0], "https");
	CHECK(url_policy_allows(&p, "https"));
	CHECK(url_policy_allows(&p, "Https"));
}

static void test_policy_allow_twice_adds_once(void)
{
	struct url_policy p = { .n_extra = 0 };
	struct cs_error e_ = { 0 };

	CHECK(CS_OK == url_policy_allow(&p, "srt", &e_));
	CHECK(CS_OK == url_policy_allow(&p, "SRT", &e_));
	CHECK(CS_OK == url_policy_allow(&p, "rtsp", &e_)); /* built in: nothing to add */
	CHECK(p.n_extra == 1);
}

static void test_policy_allow_refuses_when_list_is_full(void)
{
	struct url_policy p = { .n_extra = 16 };
	struct cs_error e_ = { 0 };

	CHECK(CS_OK != url_policy_allow(&p, "http", &e_));
	CHECK(p.n_extra == 16);
}

static void test_policy_allows_builtin_schemes_only_by_default(void)
{
	struct url_policy p = { .n_extra = 0 };

	CHECK(url_policy_allows(NULL, "rtsp"));
	CHECK(url_policy_allows(&p, "RTSPS"));
	CHECK(url_policy_allows(&p, "rtmp"));
	CHECK(url_policy_allows(&p, "rtmps"));
	CHECK(!url_policy_allows(&p, "http"));
	CHECK(!url_policy_allows(&p, "file"));
	CHECK(!url_policy_allows(&p, NULL));
}

static void test_policy_allows_never_a_forbidden_scheme_filled_by_hand(void)
{
	struct url_policy p = { .extra = { "file" }, .n_extra = 1 };

	CHECK(!url_policy_allows(&p, "file"));
}

static void test_too_long_url_is_refused(void)
{
	size_t n = URL_MAX_LEN + 1;
	char *s = malloc(n + 1);
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(s != NULL);
	if (!s)
		return;
	memset(s, 'a', n);
	memcpy(s, "rtsp://h/", 9);
	s[n] = '\0';
	CHECK(url_parse(s, NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "longer") != NULL);
	s[n - 1] = '\0'; /* exactly URL_MAX_LEN */
	CHECK(url_parse(s, NULL, &u, &e_) == CS_OK);
	url_free(&u);
	free(s);
}

static void test_control_characters_are_refused(void)
{
	static const char *const bad[] = {
		"rtsp://h/x\n", "rtsp://h/x\r\nInjected: 1", "rtsp://h/\x7f", "rtsp://h/\x1b[31m",
	};
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(url_parse(bad[i], NULL, &u, &e_) == CS_BAD_REQUEST);
		CHECK(strstr(err, "control character") != NULL);
	}
}

static void test_space_is_refused_with_encoding_hint(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("rtsp://u:a b@h/x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "'+'") != NULL);
	CHECK(strstr(err, "percent-encode") != NULL);
}

static void test_empty_and_null_url_are_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse(NULL, NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "empty") != NULL);
}

static void test_missing_host_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("rtsp:///x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "host") != NULL);
	CHECK(url_parse("rtsp://u:p@/x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse("rtsp:h/x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse("rtsp://", NULL, &u, &e_) == CS_BAD_REQUEST);
}

static void test_missing_scheme_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("192.168.1.10/stream", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse("//h/x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "scheme") != NULL);
}

static void test_demo_source(void)
{
	static const char *const ok[] = { "demo:", "DEMO:", "demo://", "Demo://" };
	struct cam_url u;
	struct cs_error e_ = { 0 };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(url_parse(ok[i], NULL, &u, &e_) == CS_OK);
		CHECK(u.is_demo);
		CHECK_STR(u.scheme, "demo");
		CHECK_STR(u.host, "");
		CHECK_STR(u.text, ok[i]);
		CHECK_STR(u.redacted, ok[i]);
		CHECK(u.port == 0);
		CHECK(!u.has_credentials);
		url_free(&u);
	}
}

static void test_demo_with_anything_after_is_refused(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(url_parse("demo:foo", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(url_parse("demo://h/x", NULL, &u, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "demo:") != NULL);
}

static void test_output_is_zeroed_on_failure(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	memset(&u, 0xa5, sizeof(u));
	CHECK(url_parse("http://h/x", NULL, &u, &e_) != CS_OK);
	CHECK(u.text == NULL && u.redacted == NULL && u.scheme == NULL && u.host == NULL);
	CHECK(u.port == 0 && !u.has_credentials && !u.is_demo);
	url_free(&u); /* still safe */
}

static void test_error_may_be_absent(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	CHECK(url_parse("file:/x", NULL, &u, NULL) == CS_SCHEME_NOT_ALLOWED);
	CHECK(url_parse("file:/x", NULL, &u, &e_) == CS_SCHEME_NOT_ALLOWED);
	CHECK(e_.code == CS_SCHEME_NOT_ALLOWED && e_.msg[0]);
}

static void test_a_long_message_is_cut_at_a_character_boundary(void)
{
	struct cs_error e;
	char text[2 * CS_ERROR_MSG];
	/* 'x' then two-byte characters: a cut must not leave half of one */
	text[0] = 'x';
	for (size_t i = 1; i + 2 < sizeof(text); i += 2) {
		text[i] = (char)0xc3;
		text[i + 1] = (char)0xa9;
		text[i + 2] = '\0';
	}
	CHECK(cs_fail(&e, CS_BAD_REQUEST, "%s", text) == CS_BAD_REQUEST);
	size_t n = strlen(e.msg);
	CHECK(n < CS_ERROR_MSG && n >= CS_ERROR_MSG - 2);
	CHECK(((unsigned char)e.msg[n - 1] & 0xc0) == 0x80); /* ends on a whole character */
	CHECK(!cs_refuse(&e, CS_NOT_FOUND, "gone") && e.code == CS_NOT_FOUND);
}

static void test_out_of_memory_is_server_busy(void)
{
	struct cs_error e;
	CHECK(cs_fail_oom(&e) == CS_SERVER_BUSY);
	CHECK(e.code == CS_SERVER_BUSY);
	/* the page retries on 1013; on 1008 it would give up on the camera for good */
	CHECK(cs_err_ws_close(e.code, false) == 1013);
	CHECK(cs_err_http_status(e.code) == 503);
}

static void test_url_free_accepts_null_and_twice(void)
{
	struct cam_url u;
	struct cs_error e_ = { 0 };

	url_free(NULL);
	CHECK(url_parse("rtsp://h/x", NULL, &u, &e_) == CS_OK);
	url_free(&u);
	url_free(&u);
	CHECK(u.text == NULL);
}

static void test_url_redact_hides_userinfo(void)
{
	char out[256];

	url_redact("rtsp://alice:s3cret@cam/x?password=p&ch=2", out, sizeof(out));
	CHECK_STR(out, "rtsp://***@cam/x?password=***&ch=2");
	url_redact("rtsp://u:p@ss@host/x", out, sizeof(out));
	CHECK_STR(out, "rtsp://***@host/x");
}

static void test_url_redact_reduces_unparseable_text(void)
{
	char out[256];

	url_redact("not a url at all", out, sizeof(out));
	CHECK_STR(out, "***");
	url_redact("file:/etc/passwd", out, sizeof(out));
	CHECK_STR(out, "file://***");
	url_redact(NULL, out, sizeof(out));
	CHECK_STR(out, "***");
	url_redact("rtsp://alice:s3cret@h/\r\nx", out, sizeof(out));
	CHECK_STR(out, "rtsp://***");
}

static void test_url_redact_hides_user_of_schemeless_text(void)
{
	char out[256];

	url_redact("alice:s3cret@cam/x", out, sizeof(out));
	CHECK_STR(out, "***");
}

static void test_url_redact_hides_password_with_unencoded_slash(void)
{
	char out[256];

	url_redact("rtsp://alice:12/s3cret@cam/x", out, sizeof(out));
	CHECK_STR(out, "rtsp://***@cam/x");
	url_redact("rtsp://alice:12/s3/cr=et@cam/x?a=1", out, sizeof(out));
	CHECK_STR(out, "rtsp://***@cam/x?a=1");
}

static void test_url_redact_truncates_safely(void)
{
	char out[16];
	char one[1] = { 'x' };

	memset(out, 'x', sizeof(out));
	url_redact("rtsp://alice:s3cret@averyveryverylonghostname/x", out, sizeof(out));
	CHECK_STR(out, "rtsp://***@aver"); /* 15 bytes and the NUL */
	url_redact("rtsp://alice:s3cret@h/x", one, sizeof(one));
	CHECK(one[0] == '\0');
	url_redact("rtsp://alice:s3cret@h/x", NULL, 0); /* no crash */
}

/* What the balancer hashes must match what the page writes with encodeURIComponent. */
static void test_uri_component_encodes_as_the_page_does(void)
{
	char out[64];
	CHECK(text_uri_component(out, sizeof(out), "rtsp://h:554/a b?c=d&e"));
	CHECK_STR(out, "rtsp%3A%2F%2Fh%3A554%2Fa%20b%3Fc%3Dd%26e");
	CHECK(text_uri_component(out, sizeof(out), "-_.!~*'()AZaz09\xc3\xa9"));
	CHECK_STR(out, "-_.!~*'()AZaz09%C3%A9");
	CHECK(!text_uri_component(out, 4, "a/b"));
	CHECK_STR(out, "");
	CHECK(text_uri_component(out, 4, "abc"));
	CHECK(!text_uri_component(out, 3, "abc"));
}

static void test_error_codes_are_the_documented_strings(void)
{
	CHECK_STR(cs_err_code(CS_OK), "ok");
	CHECK_STR(cs_err_code(CS_BAD_REQUEST), "bad_request");
	CHECK_STR(cs_err_code(CS_SCHEME_NOT_ALLOWED), "scheme_not_allowed");
	CHECK_STR(cs_err_code(CS_OPEN_FAILED), "open_failed");
	CHECK_STR(cs_err_code(CS_NOT_FOUND), "not_found");
	CHECK_STR(cs_err_code(CS_UNAUTHORIZED), "unauthorized");
	CHECK_STR(cs_err_code(CS_TIMEOUT), "timeout");
	CHECK_STR(cs_err_code(CS_UNSUPPORTED_CODEC), "unsupported_codec");
	CHECK_STR(cs_err_code(CS_SOURCE_ENDED), "source_ended");
	CHECK_STR(cs_err_code(CS_SERVER_BUSY), "server_busy");
	CHECK_STR(cs_err_code(CS_CLUSTER_CONFIG), "cluster_config");
	CHECK(cs_err_http_status(CS_CLUSTER_CONFIG) == 409);
	CHECK(cs_err_ws_close(CS_CLUSTER_CONFIG, 0) == 1008);
}

static void test_error_ws_close_codes(void)
{
	CHECK(cs_err_ws_close(CS_BAD_REQUEST, 0) == 1008);
	CHECK(cs_err_ws_close(CS_SCHEME_NOT_ALLOWED, 0) == 1008);
	CHECK(cs_err_ws_close(CS_SERVER_BUSY, 0) == 1013);
	CHECK(cs_err_ws_close(CS_SOURCE_ENDED, 1) == 1000);
	CHECK(cs_err_ws_close(CS_SOURCE_ENDED, 0) == 1011);
	CHECK(cs_err_ws_close(CS_OPEN_FAILED, 1) == 1011);
	CHECK(cs_err_ws_close(CS_UNAUTHORIZED, 0) == 1011);
	CHECK(cs_err_ws_close(CS_TIMEOUT, 0) == 1011);
}

static void test_error_http_statuses(void)
{
	CHECK(cs_err_http_status(CS_OK) == 200);
	CHECK(cs_err_http_status(CS_BAD_REQUEST) == 400);
	CHECK(cs_err_http_status(CS_SCHEME_NOT_ALLOWED) == 403);
	CHECK(cs_err_http_status(CS_NOT_FOUND) == 404);
	CHECK(cs_err_http_status(CS_UNAUTHORIZED) == 502);
	CHECK(cs_err_http_status(CS_OPEN_FAILED) == 502);
	CHECK(cs_err_http_status(CS_UNSUPPORTED_CODEC) == 502);
	CHECK(cs_err_http_status(CS_SOURCE_ENDED) == 502);
	CHECK(cs_err_http_status(CS_TIMEOUT) == 504);
	CHECK(cs_err_http_status(CS_SERVER_BUSY) == 503);
}

/* The page hides the same query values as the server: web/js/secrets.js holds its own copy of
 * the two lists (the page runs without the server), read here with a simple scanner. */
static size_t page_list(const char *js, const char *name, char out[][32], size_t cap)
{
	char decl[64];
	snprintf(decl, sizeof(decl), "const %s = [", name);
	const char *p = strstr(js, decl), *end = p ? strstr(p, "];") : NULL;
	size_t n = 0;
	if (!p || !end)
		return 0;
	for (p += strlen(decl); p < end && n < cap; p++) {
		if (*p != '\'')
			continue;
		const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
		if (!q || q - p - 1 >= 32)
			return 0;
		memcpy(out[n], p + 1, (size_t)(q - p - 1));
		out[n++][q - p - 1] = '\0';
		p = q;
	}
	return n;
}

static bool same_set(const char *const *a, size_t na, char b[][32], size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t k = 0; k < nb && !found; k++)
			found = !strcmp(a[i], b[k]);
		if (!found) {
			printf("#   %s is not in the page's list\n", a[i]);
			return false;
		}
	}
	return true;
}

static void test_the_page_hides_the_same_secret_names(void)
{
	const char *root = getenv("CAMSTREAM_WEB_ROOT");
	char path[4096], js[65536], page[64][32];
	snprintf(path, sizeof(path), "%s/js/secrets.js", root ? root : "web");
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	size_t len = fread(js, 1, sizeof(js) - 1, f);
	fclose(f);
	js[len] = '\0';

	size_t n;
	const char *const *words = url_secret_words(&n);
	size_t np = page_list(js, "SECRET_WORDS", page, 64);
	CHECK(np > 0);
	CHECK(same_set(words, n, page, np));
	const char *const *parts = url_secret_parts(&n);
	np = page_list(js, "SECRET_PARTS", page, 64);
	CHECK(np > 0);
	CHECK(same_set(parts, n, page, np));
}

static void test_with_userinfo_null_user_strips_it(void)
{
	char *a = url_with_userinfo("rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101", NULL,
		NULL);
	CHECK_STR(a, "rtsp://10.0.0.5:554/Streaming/Channels/101");
	free(a);
	char *b = url_with_userinfo("rtsp://[fd00::5]/main", NULL, NULL);
	CHECK_STR(b, "rtsp://[fd00::5]/main");
	free(b);
	char *c = url_with_userinfo("rtsp://10.0.0.5/x", "u s", NULL);
	CHECK_STR(c, "rtsp://u%20s@10.0.0.5/x");
	free(c);
}

int main(void)
{
	RUN(test_rtsp_url_with_path_parses);
	RUN(test_scheme_is_case_insensitive_and_lowercased);
	RUN(test_default_ports_per_scheme);
	RUN(test_explicit_port_overrides_default);
	RUN(test_empty_port_means_default);
	RUN(test_port_65535_is_accepted);
	RUN(test_ports_outside_1_to_65535_are_refused);
	RUN(test_ipv4_host);
	RUN(test_ipv6_literal_without_port);
	RUN(test_ipv6_literal_with_port_and_credentials);
	RUN(test_ipv6_without_brackets_is_refused_with_hint);
	RUN(test_unencoded_at_in_password_ends_userinfo_at_last_at);
	RUN(test_several_unencoded_ats_in_password);
	RUN(test_percent_encoded_at_in_password);
	RUN(test_user_without_password_is_credentials_and_redacted);
	RUN(test_password_without_user_is_credentials_and_redacted);
	RUN(test_empty_userinfo_is_not_credentials);
	RUN(test_password_with_unencoded_slash_is_refused);
	RUN(test_password_with_slash_and_equals_is_refused);
	RUN(test_at_in_path_or_query_is_refused);
	RUN(test_query_string_inside_camera_url_is_kept);
	RUN(test_fragment_is_kept);
	RUN(test_characters_ffmpeg_passes_through_are_tolerated);
	RUN(test_secret_query_values_are_redacted);
	RUN(test_secret_values_in_dvr_style_path_are_redacted);
	RUN(test_credentials_and_secret_query_redacted_together);
	RUN(test_errors_never_contain_credentials);
	RUN(test_file_scheme_can_never_be_allowed);
	RUN(test_concat_scheme_can_never_be_allowed);
	RUN(test_unknown_scheme_is_not_allowed);
	RUN(test_http_is_refused_by_default_with_hint);
	RUN(test_http_is_allowed_after_policy_allow);
	RUN(test_policy_allow_refuses_never_allowed_schemes);
	RUN(test_policy_allow_refuses_unknown_scheme);
	RUN(test_policy_allow_refuses_hls_and_points_to_http);
	RUN(test_policy_allow_accepts_live_network_schemes);
	RUN(test_policy_allow_is_case_insensitive);
	RUN(test_policy_allow_twice_adds_once);
	RUN(test_policy_allow_refuses_when_list_is_full);
	RUN(test_policy_allows_builtin_schemes_only_by_default);
	RUN(test_policy_allows_never_a_forbidden_scheme_filled_by_hand);
	RUN(test_too_long_url_is_refused);
	RUN(test_control_characters_are_refused);
	RUN(test_space_is_refused_with_encoding_hint);
	RUN(test_empty_and_null_url_are_refused);
	RUN(test_missing_host_is_refused);
	RUN(test_missing_scheme_is_refused);
	RUN(test_demo_source);
	RUN(test_demo_with_anything_after_is_refused);
	RUN(test_output_is_zeroed_on_failure);
	RUN(test_error_may_be_absent);
	RUN(test_a_long_message_is_cut_at_a_character_boundary);
	RUN(test_out_of_memory_is_server_busy);
	RUN(test_the_page_hides_the_same_secret_names);
	RUN(test_url_free_accepts_null_and_twice);
	RUN(test_url_redact_hides_userinfo);
	RUN(test_url_redact_reduces_unparseable_text);
	RUN(test_url_redact_hides_user_of_schemeless_text);
	RUN(test_url_redact_hides_password_with_unencoded_slash);
	RUN(test_url_redact_truncates_safely);
	RUN(test_uri_component_encodes_as_the_page_does);
	RUN(test_error_codes_are_the_documented_strings);
	RUN(test_error_ws_close_codes);
	RUN(test_error_http_statuses);
	RUN(test_with_userinfo_null_user_strips_it);
	return CHECK_DONE();
}
