/* Unit tests for options: the query options of /ws/stream, as fragments lws has already
 * percent-decoded. */
#include "options.h"

#include <string.h>

#include "check.h"

/* Parses one fragment. */
static enum cs_err parse1(struct stream_opts *o, const char *frag, struct cs_error *err)
{
	const char *args[] = { frag };

	return opts_parse(o, args, 1, err);
}

/* Every value in @bad for @name is refused with a message naming @name. */
static void check_refused(const char *name, const char *const *bad, size_t n)
{
	struct stream_opts o;
	char frag[128];
	struct cs_error e_ = { 0 };
	char *err = e_.msg;
	enum cs_err rc;
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(frag, sizeof(frag), "%s=%s", name, bad[i]);
		err[0] = '\0';
		rc = parse1(&o, frag, &e_);
		if (rc != CS_BAD_REQUEST)
			printf("#   not refused: %s\n", frag);
		CHECK(rc == CS_BAD_REQUEST);
		CHECK(strncmp(err, name, strlen(name)) == 0);
		opts_free(&o);
	}
}

static void test_defaults_without_arguments(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(opts_parse(&o, NULL, 0, &e_) == CS_OK);
	CHECK(o.src == NULL);
	CHECK(o.fps == 0);
	CHECK(o.width == 0 && o.height == 0);
	CHECK(o.quality == 80);
	CHECK(o.transport == TRANSPORT_TCP);
	opts_free(&o);
}

static void test_all_options_together(void)
{
	const char *args[] = {
		"rtsp_url=rtsp://h/x", "fps=12.5", "width=640", "height=360", "quality=70",
		"transport=udp",
	};
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_OK);
	CHECK_STR(o.src, "rtsp://h/x");
	CHECK(o.fps == 12.5);
	CHECK(o.width == 640 && o.height == 360);
	CHECK(o.quality == 70);
	CHECK(o.transport == TRANSPORT_UDP);
	opts_free(&o);
}

static void test_rtsp_url_is_kept_as_given_without_decoding(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "rtsp_url=rtsp://u:p%40ss@h/a%20b?x=1=2", &e_) == CS_OK);
	CHECK_STR(o.src, "rtsp://u:p%40ss@h/a%20b?x=1=2");
	opts_free(&o);
}

static void test_cam_url_is_an_alias_of_rtsp_url(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "cam_url=rtsp://h/x", &e_) == CS_OK);
	CHECK_STR(o.src, "rtsp://h/x");
	opts_free(&o);
}

static void test_rtsp_url_and_cam_url_together_are_refused(void)
{
	const char *args[] = { "rtsp_url=rtsp://h/x", "cam_url=rtsp://h/y" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "rtsp_url") && strstr(err, "cam_url"));
	CHECK(o.src == NULL);
}

static void test_empty_rtsp_url_is_refused(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "rtsp_url=", &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "rtsp_url is empty");
	CHECK(parse1(&o, "cam_url=", &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "cam_url is empty");
}

static void test_repeated_name_is_refused(void)
{
	const char *args[] = { "fps=5", "fps=10" };
	const char *urls[] = { "rtsp_url=rtsp://alice:s3cret@h/x", "rtsp_url=rtsp://h/y" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "fps is given more than once");
	CHECK(opts_parse(&o, urls, N(urls), &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "rtsp_url is given more than once");
	CHECK(o.src == NULL);
}

static void test_fps_accepts_integers_and_fractions(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "fps=10", &e_) == CS_OK);
	CHECK(o.fps == 10);
	CHECK(parse1(&o, "fps=0.5", &e_) == CS_OK);
	CHECK(o.fps == 0.5);
	CHECK(parse1(&o, "fps=.5", &e_) == CS_OK);
	CHECK(o.fps == 0.5);
	CHECK(parse1(&o, "fps=240", &e_) == CS_OK);
	CHECK(o.fps == OUTPUT_MAX_FPS);
	CHECK(parse1(&o, "fps=007", &e_) == CS_OK);
	CHECK(o.fps == 7);
}

static void test_fps_refuses_bad_values(void)
{
	static const char *const bad[] = {
		"0", "0.0", "-1", "1e999", "1e2", "nan", "NAN", "inf", "10abc", "", "240.5", "241",
		"+5", " 5", "5 ", "0x10", "1.2.3", ".", "1,5",
		"99999999999999999999999999999999999999999999999999999999999999",
	};

	check_refused("fps", bad, N(bad));
}

static void test_width_and_height_accept_1_to_max(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "width=1", &e_) == CS_OK);
	CHECK(o.width == 1);
	CHECK(parse1(&o, "width=8192", &e_) == CS_OK);
	CHECK(o.width == OPTS_MAX_DIM);
	CHECK(parse1(&o, "height=720", &e_) == CS_OK);
	CHECK(o.height == 720 && o.width == 0);
}

static void test_width_refuses_bad_values(void)
{
	static const char *const bad[] = {
		"0", "-1", "8193", "1e999", "1e3", "nan", "10abc", "", "+5", " 5", "0x10", "1.5",
		"99999999999999999999", "2147483648", "-2147483649",
	};

	check_refused("width", bad, N(bad));
}

static void test_height_refuses_bad_values(void)
{
	static const char *const bad[] = { "0", "-1", "8193", "abc", "", "99999999999999999999" };

	check_refused("height", bad, N(bad));
}

static void test_quality_accepts_1_to_100(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "quality=1", &e_) == CS_OK);
	CHECK(o.quality == 1);
	CHECK(parse1(&o, "quality=100", &e_) == CS_OK);
	CHECK(o.quality == 100);
}

static void test_quality_refuses_bad_values(void)
{
	static const char *const bad[] = {
		"0", "-1", "101", "1e999", "nan", "10abc", "", "+5", "50.5", "99999999999999999999",
	};

	check_refused("quality", bad, N(bad));
}

static void test_quality_error_message_shows_the_value(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "quality=abc", &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "quality must be an integer from 1 to 100 (got \"abc\")");
}

static void test_transport_accepts_tcp_udp_auto(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(parse1(&o, "transport=tcp", &e_) == CS_OK);
	CHECK(o.transport == TRANSPORT_TCP);
	CHECK(parse1(&o, "transport=udp", &e_) == CS_OK);
	CHECK(o.transport == TRANSPORT_UDP);
	CHECK(parse1(&o, "transport=auto", &e_) == CS_OK);
	CHECK(o.transport == TRANSPORT_AUTO);
}

static void test_transport_refuses_other_values_and_lists_choices(void)
{
	static const char *const bad[] = { "TCP", "http", "", "tcp ", "udp_multicast" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	check_refused("transport", bad, N(bad));
	CHECK(parse1(&o, "transport=http", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "tcp, udp or auto") != NULL);
}

static void test_echoed_value_is_capped_and_printable(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;
	char frag[200] = "width=";

	memset(frag + 6, '9', 150);
	frag[156] = '\0';
	CHECK(parse1(&o, frag, &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "9999999999999999999999999999999999999999...\")") != NULL);
	CHECK(strstr(err, "99999999999999999999999999999999999999999") == NULL);
	CHECK(parse1(&o, "fps=1\n2\"", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "(got \"1?2?\")") != NULL);
}

static void test_unknown_name_is_named_with_encoding_hint(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "subtype=0", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "\"subtype\"") != NULL);
	CHECK(strstr(err, "encodeURIComponent") != NULL);
	CHECK(strstr(err, "rtsp_url") != NULL);
}

static void test_names_are_case_sensitive(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "FPS=10", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "\"FPS\"") != NULL);
}

static void test_unknown_name_after_rtsp_url_is_not_echoed(void)
{
	/* "?rtsp_url=rtsp://alice:pa&ss3cret=x@h/..." split at the unencoded '&'. */
	const char *args[] = { "rtsp_url=rtsp://alice:pa", "ss3cret=x@h/x" };
	const char *bare[] = { "rtsp_url=rtsp://alice:pa", "ss3cret@h/x" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "encodeURIComponent") != NULL);
	CHECK_NOT_CONTAINS(err, "ss3cret");
	CHECK_NOT_CONTAINS(err, "alice");
	CHECK(o.src == NULL);
	CHECK(opts_parse(&o, bare, N(bare), &e_) == CS_BAD_REQUEST);
	CHECK_NOT_CONTAINS(err, "ss3cret");
	CHECK_NOT_CONTAINS(err, "alice");
}

static void test_unknown_name_that_is_not_a_plain_word_is_not_echoed(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "ss3cret@h/x=1", &e_) == CS_BAD_REQUEST);
	CHECK_NOT_CONTAINS(err, "ss3cret");
	CHECK(parse1(&o, "=5", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "unknown query parameter") != NULL);
}

static void test_rtsp_url_value_is_never_echoed(void)
{
	const char *args[] = { "rtsp_url=rtsp://alice:s3cret@h/x", "quality=0" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	CHECK_NOT_CONTAINS(err, "s3cret");
	CHECK(o.src == NULL); /* freed on failure */
}

static void test_known_name_without_value_is_refused(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "fps", &e_) == CS_BAD_REQUEST);
	CHECK_STR(err, "fps has no value (fps=...)");
	CHECK(parse1(&o, "rtsp_url", &e_) == CS_BAD_REQUEST);
}

static void test_unknown_fragment_without_value_is_refused(void)
{
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(parse1(&o, "subtype", &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "\"subtype\" has no value") != NULL);
}

static void test_empty_fragments_are_skipped(void)
{
	const char *args[] = { "", "fps=5", NULL, "" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_OK);
	CHECK(o.fps == 5);
}

static void test_output_is_safe_to_free_after_failure_and_twice(void)
{
	const char *args[] = { "rtsp_url=rtsp://h/x", "width=0" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	opts_free(&o);
	opts_free(&o);
	opts_free(NULL);
	CHECK(o.src == NULL);
}

static void test_error_buffer_may_be_absent(void)
{
	struct stream_opts o;

	CHECK(parse1(&o, "fps=x", NULL) == CS_BAD_REQUEST);
	CHECK(opts_parse(NULL, NULL, 0, NULL) == CS_BAD_REQUEST);
}

static void test_transport_names(void)
{
	CHECK_STR(transport_name(TRANSPORT_TCP), "tcp");
	CHECK_STR(transport_name(TRANSPORT_UDP), "udp");
	CHECK_STR(transport_name(TRANSPORT_AUTO), "auto");
}

static void test_name_selects_a_named_stream(void)
{
	const char *args[] = { "name=camera_1", "fps=5" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_OK);
	CHECK_STR(o.name, "camera_1");
	CHECK(o.src == NULL);
	CHECK(o.fps == 5);
	opts_free(&o);
	CHECK(o.name == NULL);
}

static void test_name_and_url_together_are_refused(void)
{
	const char *args[] = { "name=camera_1", "rtsp_url=rtsp://h/x" };
	const char *empty[] = { "name=" };
	struct stream_opts o;
	struct cs_error e_ = { 0 };
	char *err = e_.msg;

	CHECK(opts_parse(&o, args, N(args), &e_) == CS_BAD_REQUEST);
	CHECK(strstr(err, "not both") != NULL);
	CHECK(opts_parse(&o, empty, N(empty), &e_) == CS_BAD_REQUEST);
}

int main(void)
{
	RUN(test_defaults_without_arguments);
	RUN(test_all_options_together);
	RUN(test_rtsp_url_is_kept_as_given_without_decoding);
	RUN(test_cam_url_is_an_alias_of_rtsp_url);
	RUN(test_rtsp_url_and_cam_url_together_are_refused);
	RUN(test_empty_rtsp_url_is_refused);
	RUN(test_repeated_name_is_refused);
	RUN(test_fps_accepts_integers_and_fractions);
	RUN(test_fps_refuses_bad_values);
	RUN(test_width_and_height_accept_1_to_max);
	RUN(test_width_refuses_bad_values);
	RUN(test_height_refuses_bad_values);
	RUN(test_quality_accepts_1_to_100);
	RUN(test_quality_refuses_bad_values);
	RUN(test_quality_error_message_shows_the_value);
	RUN(test_transport_accepts_tcp_udp_auto);
	RUN(test_transport_refuses_other_values_and_lists_choices);
	RUN(test_echoed_value_is_capped_and_printable);
	RUN(test_unknown_name_is_named_with_encoding_hint);
	RUN(test_names_are_case_sensitive);
	RUN(test_name_selects_a_named_stream);
	RUN(test_name_and_url_together_are_refused);
	RUN(test_unknown_name_after_rtsp_url_is_not_echoed);
	RUN(test_unknown_name_that_is_not_a_plain_word_is_not_echoed);
	RUN(test_rtsp_url_value_is_never_echoed);
	RUN(test_known_name_without_value_is_refused);
	RUN(test_unknown_fragment_without_value_is_refused);
	RUN(test_empty_fragments_are_skipped);
	RUN(test_output_is_safe_to_free_after_failure_and_twice);
	RUN(test_error_buffer_may_be_absent);
	RUN(test_transport_names);
	return CHECK_DONE();
}
