/* onvif_xml: the device answers camstream reads (src/onvif/onvif_xml.c), on fixtures shaped
 * like real devices' (tests/unit/data/onvif: Hikvision-like answers with env:/tt: prefixes,
 * Dahua-like ones with default namespaces and white space, a Media2 answer, faults, WS-Discovery
 * ProbeMatches), and the documents it must refuse: a DTD (XXE, billion laughs), bad XML, too
 * big, too deep, the wrong answer. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "onvif_xml.h"

static char *load(const char *name, size_t *n)
{
	const char *dir = getenv("CAMSTREAM_TEST_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/onvif/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("# cannot open %s\n", path);
		return NULL;
	}
	char *d = malloc(ONVIF_XML_MAX + 1);
	*n = fread(d, 1, ONVIF_XML_MAX, f);
	fclose(f);
	d[*n] = '\0';
	return d;
}

/* The fixture @name through onvif_parse_device_info (used for the refusals: any parser would
 * do, this one has string fields a leak would show in). */
static enum cs_err device_info_of(const char *name, struct onvif_device_info *di,
	struct cs_error *err)
{
	size_t n = 0;
	char *x = load(name, &n);
	if (!x)
		return cs_fail(err, CS_INTERNAL, "no fixture");
	enum cs_err e = onvif_parse_device_info(x, n, di, err);
	free(x);
	return e;
}

#define PARSE(fn, name, ...)                                                          \
	({                                                                                \
		size_t n_ = 0;                                                                \
		char *x_ = load(name, &n_);                                                   \
		enum cs_err e_ = x_ ? fn(x_, n_, __VA_ARGS__) : CS_INTERNAL;                  \
		free(x_);                                                                     \
		e_;                                                                           \
	})

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
			: (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (!n)
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

/* ---- time ---- */

static void time_utc_read_as_unix_seconds(void)
{
	struct cs_error err;
	int64_t t = -1;
	CHECK(PARSE(onvif_parse_time, "hik_time.xml", &t, &err) == CS_OK);
	CHECK(t == 1709188215); /* 2024-02-29T06:30:15Z, not the LocalDateTime */
}

static void time_local_used_when_no_utc(void)
{
	struct cs_error err;
	int64_t t = -1;
	CHECK(PARSE(onvif_parse_time, "dahua_time_local.xml", &t, &err) == CS_OK);
	CHECK(t == 1704067199); /* 2023-12-31T23:59:59 read as if UTC */
}

static void time_invalid_date_refused(void)
{
	static const char *const bad[] = { "<Month>13</Month><Day>1</Day><Year>2024</Year>",
		"<Month>2</Month><Day>30</Day><Year>2024</Year>",
		"<Month>1</Month><Day>1</Day><Year>-5</Year>",
		"<Month>1</Month><Day>1</Day>" };
	for (size_t i = 0; i < N(bad); i++) {
		char x[1024];
		struct cs_error err;
		int64_t t = 0;
		snprintf(x, sizeof(x), "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/"
			"soap-envelope\"><s:Body><GetSystemDateAndTimeResponse><SystemDateAndTime>"
			"<UTCDateTime><Date>%s</Date><Time><Hour>1</Hour><Minute>2</Minute>"
			"<Second>3</Second></Time></UTCDateTime></SystemDateAndTime>"
			"</GetSystemDateAndTimeResponse></s:Body></s:Envelope>", bad[i]);
		CHECK(onvif_parse_time(x, strlen(x), &t, &err) == CS_OPEN_FAILED);
		CHECK(strstr(err.msg, "date and time") != NULL);
	}
}

static void time_without_any_datetime_refused(void)
{
	const char *x = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"
		"<GetSystemDateAndTimeResponse><SystemDateAndTime><DateTimeType>NTP</DateTimeType>"
		"</SystemDateAndTime></GetSystemDateAndTimeResponse></s:Body></s:Envelope>";
	struct cs_error err;
	int64_t t;
	CHECK(onvif_parse_time(x, strlen(x), &t, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer has no UTCDateTime");
}

/* ---- device information ---- */

static void device_info_fields_read(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(PARSE(onvif_parse_device_info, "hik_device_info.xml", &di, &err) == CS_OK);
	CHECK_STR(di.manufacturer, "HIKVISION");
	CHECK_STR(di.model, "DS-2CD2143G2-I");
	CHECK_STR(di.firmware, "V5.7.3 build 220112");
	CHECK_STR(di.serial, "DS-2CD2143G2-I20220301AAWRJ12345678");
	CHECK_STR(di.hardware, "88");
}

static void device_info_absent_fields_empty(void)
{
	const char *x = "<Envelope><Body><GetDeviceInformationResponse><Model>  M 1\n</Model>"
		"</GetDeviceInformationResponse></Body></Envelope>";
	struct cs_error err;
	struct onvif_device_info di;
	memset(&di, 'x', sizeof(di));
	CHECK(onvif_parse_device_info(x, strlen(x), &di, &err) == CS_OK);
	CHECK_STR(di.model, "M 1");
	CHECK_STR(di.manufacturer, "");
	CHECK_STR(di.firmware, "");
	CHECK_STR(di.serial, "");
	CHECK_STR(di.hardware, "");
}

static void long_string_cut_at_utf8_boundary(void)
{
	char x[4096];
	size_t o = (size_t)snprintf(x, sizeof(x), "<Envelope><Body><GetDeviceInformationResponse>"
		"<Manufacturer>ab");
	for (int i = 0; i < 300; i++) {
		memcpy(x + o, "\xc3\xa9", 2); /* é */
		o += 2;
	}
	snprintf(x + o, sizeof(x) - o, "</Manufacturer></GetDeviceInformationResponse>"
		"</Body></Envelope>");
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, strlen(x), &di, &err) == CS_OK);
	CHECK(strlen(di.manufacturer) == ONVIF_STR - 2); /* "ab" + 62 é: the 63rd would not fit */
	CHECK(valid_utf8(di.manufacturer));
}

/* ---- services ---- */

static void services_media_and_media2(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "services.xml", &s, &err) == CS_OK);
	CHECK_STR(s.media, "http://192.168.1.64/onvif/Media");
	CHECK_STR(s.media2, "http://192.168.1.64/onvif/Media2");
}

static void services_media1_only_trimmed(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "services_media1_only.xml", &s, &err) == CS_OK);
	CHECK_STR(s.media, "http://10.0.0.7:8080/onvif/media_service");
	CHECK_STR(s.media2, "");
}

static void services_too_long_xaddr_left_out(void)
{
	char *x = malloc(8192), *u = malloc(2000);
	memset(u, 'a', 1999);
	u[1999] = '\0';
	snprintf(x, 8192, "<Envelope><Body><GetServicesResponse><Service><Namespace>"
		"http://www.onvif.org/ver10/media/wsdl</Namespace><XAddr>http://h/%s</XAddr>"
		"</Service></GetServicesResponse></Body></Envelope>", u);
	struct cs_error err;
	struct onvif_services s;
	CHECK(onvif_parse_services(x, strlen(x), &s, &err) == CS_OK);
	CHECK_STR(s.media, "");
	free(x);
	free(u);
}

static void capabilities_media_xaddr_keeps_media2(void)
{
	struct cs_error err;
	struct onvif_services s;
	snprintf(s.media, sizeof(s.media), "old");
	snprintf(s.media2, sizeof(s.media2), "http://keep/me");
	CHECK(PARSE(onvif_parse_capabilities, "capabilities.xml", &s, &err) == CS_OK);
	CHECK_STR(s.media, "http://192.168.1.108/onvif/media_service");
	CHECK_STR(s.media2, "http://keep/me");
}

/* ---- profiles ---- */

static void profiles_media1_hikvision(void)
{
	struct cs_error err;
	struct onvif_profile p[ONVIF_MAX_PROFILES];
	size_t n = 99;
	CHECK(PARSE(onvif_parse_profiles, "hik_profiles_media1.xml", p, N(p), &n, &err) == CS_OK);
	CHECK(n == 3);
	if (n != 3)
		return;
	CHECK_STR(p[0].token, "Profile_1");
	CHECK_STR(p[0].name, "mainStream");
	CHECK_STR(p[0].encoding, "H264");
	CHECK(p[0].width == 2560 && p[0].height == 1440 && p[0].fps == 25);
	CHECK_STR(p[1].token, "Profile_2");
	CHECK(p[1].width == 640 && p[1].height == 360 && p[1].fps == 12.5);
	CHECK_STR(p[2].name, "audioOnly");
	CHECK_STR(p[2].encoding, "");
	CHECK(p[2].width == 0 && p[2].height == 0 && p[2].fps == 0);
}

static void profiles_media1_dahua_default_namespaces(void)
{
	struct cs_error err;
	struct onvif_profile p[ONVIF_MAX_PROFILES];
	size_t n = 0;
	CHECK(PARSE(onvif_parse_profiles, "dahua_profiles_media1.xml", p, N(p), &n, &err) ==
		CS_OK);
	CHECK(n == 2);
	if (n != 2)
		return;
	CHECK_STR(p[0].token, "MediaProfile000");
	CHECK_STR(p[0].name, "MediaProfile_Channel1_MainStream");
	CHECK(p[0].width == 1920 && p[0].height == 1080 && p[0].fps == 30);
	CHECK_STR(p[1].encoding, "JPEG");
	CHECK(p[1].width == 704 && p[1].height == 576 && p[1].fps == 15);
}

static void profiles_media2_encodings_normalised(void)
{
	struct cs_error err;
	struct onvif_profile p[ONVIF_MAX_PROFILES];
	size_t n = 0;
	CHECK(PARSE(onvif_parse_profiles, "media2_profiles.xml", p, N(p), &n, &err) == CS_OK);
	CHECK(n == 3);
	if (n != 3)
		return;
	CHECK_STR(p[0].encoding, "H265");
	CHECK(p[0].width == 3840 && p[0].height == 2160 && p[0].fps == 20);
	CHECK_STR(p[1].encoding, "H264"); /* Encoding="H.264" as an attribute */
	CHECK(p[1].width == 640 && p[1].height == 480 && p[1].fps == 15);
	CHECK_STR(p[2].encoding, "H265"); /* HEVC */
	CHECK_STR(p[2].token, "Profile_3");
	CHECK(p[2].fps == 0);
}

static void profiles_kept_up_to_cap(void)
{
	struct cs_error err;
	struct onvif_profile p[2];
	size_t n = 0;
	CHECK(PARSE(onvif_parse_profiles, "hik_profiles_media1.xml", p, 2, &n, &err) == CS_OK);
	CHECK(n == 2);
	CHECK_STR(p[1].token, "Profile_2");
}

static void profiles_none_is_not_an_error(void)
{
	const char *x = "<Envelope><Body><GetProfilesResponse/></Body></Envelope>";
	struct cs_error err;
	struct onvif_profile p[1];
	size_t n = 9;
	CHECK(onvif_parse_profiles(x, strlen(x), p, 1, &n, &err) == CS_OK);
	CHECK(n == 0);
}

static void profiles_bad_numbers_are_unknown(void)
{
	const char *x = "<Envelope><Body><GetProfilesResponse><Profiles token=\" t \"><Name>n</Name>"
		"<VideoEncoderConfiguration><Encoding>H264</Encoding><Resolution><Width>-1</Width>"
		"<Height>99999999999</Height></Resolution><RateControl><FrameRateLimit>nan"
		"</FrameRateLimit></RateControl></VideoEncoderConfiguration></Profiles>"
		"</GetProfilesResponse></Body></Envelope>";
	struct cs_error err;
	struct onvif_profile p[1];
	size_t n = 0;
	CHECK(onvif_parse_profiles(x, strlen(x), p, 1, &n, &err) == CS_OK);
	CHECK(n == 1 && p[0].width == 0 && p[0].height == 0 && p[0].fps == 0);
	CHECK_STR(p[0].token, "t");
}

/* ---- stream URI ---- */

static void stream_uri_media1(void)
{
	struct cs_error err;
	char uri[ONVIF_URI_MAX];
	CHECK(PARSE(onvif_parse_stream_uri, "stream_uri_v10.xml", uri, sizeof(uri), &err) ==
		CS_OK);
	CHECK_STR(uri, "rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast"
		"&profile=Profile_1");
}

static void stream_uri_media2_trimmed(void)
{
	struct cs_error err;
	char uri[ONVIF_URI_MAX];
	CHECK(PARSE(onvif_parse_stream_uri, "stream_uri_v20.xml", uri, sizeof(uri), &err) ==
		CS_OK);
	CHECK_STR(uri, "rtsp://192.168.1.64:554/Streaming/Channels/102?transportmode=unicast"
		"&profile=Profile_2");
}

static void stream_uri_too_long_refused_not_cut(void)
{
	struct cs_error err;
	char uri[40];
	CHECK(PARSE(onvif_parse_stream_uri, "stream_uri_v10.xml", uri, sizeof(uri), &err) ==
		CS_OPEN_FAILED);
	CHECK_STR(uri, "");
	CHECK_STR(err.msg, "the device's stream Uri is longer than 39 bytes");
}

static void stream_uri_missing_refused(void)
{
	const char *x = "<Envelope><Body><GetStreamUriResponse><MediaUri><Timeout>PT0S</Timeout>"
		"</MediaUri></GetStreamUriResponse></Body></Envelope>";
	struct cs_error err;
	char uri[64];
	CHECK(onvif_parse_stream_uri(x, strlen(x), uri, sizeof(uri), &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer has no stream Uri");
}

/* ---- faults ---- */

static void fault_not_authorized_is_unauthorized(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(device_info_of("fault_not_authorized.xml", &di, &err) == CS_UNAUTHORIZED);
	CHECK(strstr(err.msg, "Sender not Authorized") != NULL);
}

static void fault_failed_authentication_is_unauthorized(void)
{
	struct cs_error err;
	int64_t t;
	CHECK(PARSE(onvif_parse_time, "fault_failed_authentication.xml", &t, &err) ==
		CS_UNAUTHORIZED);
}

static void fault_reason_not_authorized_is_unauthorized(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "fault_reason_only.xml", &s, &err) == CS_UNAUTHORIZED);
}

static void fault_other_is_open_failed_with_reason(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "fault_action_not_supported.xml", &s, &err) ==
		CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device answered a SOAP fault: Optional Action Not Implemented");
}

static void fault_soap11_read(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "fault_soap11.xml", &s, &err) == CS_OPEN_FAILED);
	CHECK(strncmp(err.msg, "the device answered a SOAP fault: Method 'GetServices' not", 58)
		== 0);
}

static void fault_without_reason_names_its_subcode(void)
{
	struct cs_error err;
	struct onvif_services s;
	CHECK(PARSE(onvif_parse_services, "fault_no_reason.xml", &s, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device answered a SOAP fault: ter:InvalidArgVal");
}

static void fault_reason_quoted_at_most_64_bytes(void)
{
	char x[2048], reason[600];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	memcpy(reason, "line\nbreak", 10);
	snprintf(x, sizeof(x), "<Envelope><Body><Fault><Code><Value>Receiver</Value></Code>"
		"<Reason><Text>%s</Text></Reason></Fault></Body></Envelope>", reason);
	struct cs_error err;
	struct onvif_services s;
	CHECK(onvif_parse_services(x, strlen(x), &s, &err) == CS_OPEN_FAILED);
	const char *q = strstr(err.msg, ": ");
	CHECK(q && strlen(q + 2) == 64);
	CHECK(q && strncmp(q + 2, "line break", 10) == 0);
}

/* ---- refusals ---- */

static void dtd_with_external_entity_refused(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(device_info_of("xxe.xml", &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer has a DTD: refused");
	CHECK_STR(di.manufacturer, "");
	CHECK_NOT_CONTAINS(err.msg, "root:");
	CHECK(memchr(&di, 'r', sizeof(di)) == NULL); /* nothing of /etc/passwd anywhere */
}

static void external_dtd_refused(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(device_info_of("xxe_external_dtd.xml", &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer has a DTD: refused");
	CHECK_STR(di.manufacturer, "");
}

static void billion_laughs_refused_quickly(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(device_info_of("billion_laughs.xml", &di, &err) == CS_OPEN_FAILED);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK_STR(err.msg, "the device's answer has a DTD: refused");
	CHECK((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 500);
}

static void not_well_formed_refused(void)
{
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(device_info_of("not_well_formed.xml", &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer is not well-formed XML");
	CHECK(onvif_parse_device_info("", 0, &di, &err) == CS_OPEN_FAILED);
	CHECK(onvif_parse_device_info("<a>&undefined;</a>", 18, &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer is not well-formed XML");
}

/* A GetDeviceInformationResponse padded with white space to @total bytes. */
static char *padded_answer(size_t total)
{
	static const char head[] = "<Envelope><Body><GetDeviceInformationResponse><Model>big"
		"</Model></GetDeviceInformationResponse></Body>";
	static const char tail[] = "</Envelope>";
	char *x = malloc(total + 1);
	memcpy(x, head, sizeof(head) - 1);
	memset(x + sizeof(head) - 1, ' ', total - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(x + total - (sizeof(tail) - 1), tail, sizeof(tail));
	return x;
}

static void answer_of_1_mib_read(void)
{
	char *x = padded_answer(ONVIF_XML_MAX);
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, ONVIF_XML_MAX, &di, &err) == CS_OK);
	CHECK_STR(di.model, "big");
	free(x);
}

static void answer_over_1_mib_refused(void)
{
	char *x = padded_answer(ONVIF_XML_MAX + 1);
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, ONVIF_XML_MAX + 1, &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer is larger than 1 MiB: refused");
	free(x);
}

static void deeply_nested_refused(void)
{
	const int depth = 100000;
	const size_t cap = (size_t)depth * 7 + 100;
	char *x = malloc(cap);
	size_t o = (size_t)snprintf(x, cap, "<Envelope><Body>");
	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(x + o, cap - o, "<a>");
	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(x + o, cap - o, "</a>");
	o += (size_t)snprintf(x + o, cap - o, "</Body></Envelope>");
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, o, &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer is not well-formed XML");
	free(x);
}

static void nested_within_limits_found(void)
{
	/* 200 levels: under libxml2's bound; the walk to the response is not recursive */
	char x[4096];
	size_t o = (size_t)snprintf(x, sizeof(x), "<Envelope><Body>");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(x + o, sizeof(x) - o, "<w>");
	o += (size_t)snprintf(x + o, sizeof(x) - o, "<GetDeviceInformationResponse><Model>deep"
		"</Model></GetDeviceInformationResponse>");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(x + o, sizeof(x) - o, "</w>");
	o += (size_t)snprintf(x + o, sizeof(x) - o, "</Body></Envelope>");
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, o, &di, &err) == CS_OK);
	CHECK_STR(di.model, "deep");
}

static void missing_response_element_refused(void)
{
	struct cs_error err;
	struct onvif_profile p[4];
	size_t n;
	CHECK(PARSE(onvif_parse_profiles, "hik_device_info.xml", p, N(p), &n, &err) ==
		CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer has no GetProfilesResponse");
}

static void not_a_soap_envelope_refused(void)
{
	const char *x = "<html><body>GetDeviceInformationResponse</body></html>";
	struct cs_error err;
	struct onvif_device_info di;
	CHECK(onvif_parse_device_info(x, strlen(x), &di, &err) == CS_OPEN_FAILED);
	CHECK_STR(err.msg, "the device's answer is not a SOAP envelope");
}

/* libxml2 would print parse errors on stderr by default; the server's log is not its place. */
static void errors_not_printed(void)
{
	static const char *const files[] = { "not_well_formed.xml", "xxe.xml",
		"billion_laughs.xml" };
	char path[] = "/tmp/test_onvif_xml_stderr_XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct cs_error err;
	struct onvif_device_info di;

	CHECK(fd >= 0 && saved >= 0);
	if (fd < 0 || saved < 0)
		return;
	fflush(stderr);
	dup2(fd, 2);
	for (size_t i = 0; i < N(files); i++)
		device_info_of(files[i], &di, &err);
	onvif_parse_device_info("<a><b></a>", 10, &di, &err);
	onvif_parse_device_info("\xff\xfe<\x00", 4, &di, &err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK(lseek(fd, 0, SEEK_END) == 0);
	close(fd);
	unlink(path);
}

/* ---- WS-Discovery ---- */

#define OUR_ID "urn:uuid:6c8e1f3a-2d4b-4e5f-9a0b-1c2d3e4f5a6b"

static struct onvif_match matches[ONVIF_MAX_MATCHES];

static void probe_match_read(void)
{
	struct cs_error err;
	size_t n = 0;
	CHECK(PARSE(onvif_parse_probe_matches, "probe_matches.xml", OUR_ID, matches,
		N(matches), &n, &err) == CS_OK);
	CHECK(n == 1);
	const struct onvif_match *m = &matches[0];
	CHECK_STR(m->endpoint, "urn:uuid:3b2f7c10-4f10-11b5-8e2a-bcbac2c2d4f0");
	CHECK_STR(m->types, "dn:NetworkVideoTransmitter tds:Device");
	CHECK(m->n_xaddrs == 2);
	CHECK_STR(m->xaddrs[0], "http://192.168.1.64/onvif/device_service");
	CHECK_STR(m->xaddrs[1], "http://[fe80::beba:c2ff:fec2:d4f0]/onvif/device_service");
	CHECK(m->n_scopes == 7);
	CHECK_STR(m->scopes[4], "onvif://www.onvif.org/hardware/DS-2CD2143G2-I");
}

static void probe_matches_several_and_xaddrs_bounded(void)
{
	struct cs_error err;
	size_t n = 0;
	CHECK(PARSE(onvif_parse_probe_matches, "probe_matches_two.xml", OUR_ID, matches,
		N(matches), &n, &err) == CS_OK);
	CHECK(n == 2);
	CHECK(matches[0].n_xaddrs == ONVIF_MAX_XADDRS); /* five listed */
	CHECK_STR(matches[0].xaddrs[3], "http://192.168.2.108/onvif/device_service");
	CHECK(matches[0].n_scopes == 6);
	CHECK_STR(matches[1].endpoint, "urn:uuid:00000000-0000-0000-0000-000000000002");
	CHECK(matches[1].n_xaddrs == 0); /* kept without an address */
}

static void probe_matches_cap_respected(void)
{
	struct cs_error err;
	size_t n = 0;
	CHECK(PARSE(onvif_parse_probe_matches, "probe_matches_two.xml", NULL, matches, 1, &n,
		&err) == CS_OK);
	CHECK(n == 1);
}

static void probe_matches_of_another_probe_refused(void)
{
	struct cs_error err;
	size_t n = 5;
	CHECK(PARSE(onvif_parse_probe_matches, "probe_matches.xml",
		"urn:uuid:00000000-0000-0000-0000-000000000000", matches, N(matches), &n, &err) ==
		CS_BAD_REQUEST);
	CHECK(n == 0);
	CHECK_STR(err.msg, "not an answer to our probe");
}

static void probe_matches_without_relates_to_refused_when_asked(void)
{
	const char *x = "<Envelope><Body><ProbeMatches><ProbeMatch><XAddrs>http://a/</XAddrs>"
		"</ProbeMatch></ProbeMatches></Body></Envelope>";
	struct cs_error err;
	size_t n = 0;
	CHECK(onvif_parse_probe_matches(x, strlen(x), OUR_ID, matches, N(matches), &n, &err) ==
		CS_BAD_REQUEST);
	CHECK(onvif_parse_probe_matches(x, strlen(x), NULL, matches, N(matches), &n, &err) ==
		CS_OK);
	CHECK(n == 1 && matches[0].n_xaddrs == 1);
}

static void scope_values_percent_decoded(void)
{
	struct cs_error err;
	size_t n = 0;
	char v[ONVIF_STR];
	CHECK(PARSE(onvif_parse_probe_matches, "probe_matches.xml", OUR_ID, matches,
		N(matches), &n, &err) == CS_OK);
	onvif_scope_value(&matches[0], "name", v, sizeof(v));
	CHECK_STR(v, "Front Door Cam\xc3\xa9ra");
	onvif_scope_value(&matches[0], "hardware", v, sizeof(v));
	CHECK_STR(v, "DS-2CD2143G2-I");
	onvif_scope_value(&matches[0], "location", v, sizeof(v));
	CHECK_STR(v, "city/hangzhou");
	onvif_scope_value(&matches[0], "nosuchkey", v, sizeof(v));
	CHECK_STR(v, "");
	onvif_scope_value(&matches[0], "nam", v, sizeof(v)); /* not a prefix match */
	CHECK_STR(v, "");
}

static void scope_value_cut_and_cleaned(void)
{
	struct onvif_match m;
	char v[8];
	memset(&m, 0, sizeof(m));
	m.n_scopes = 1;
	snprintf(m.scopes[0], sizeof(m.scopes[0]), "onvif://www.onvif.org/name/ab%%FFcd%%00e%%C3%%A9xyz%%");
	onvif_scope_value(&m, "name", v, sizeof(v));
	CHECK_STR(v, "ab?cde"); /* é would not fit with its NUL */
	CHECK(valid_utf8(v));
	char big[64];
	onvif_scope_value(&m, "name", big, sizeof(big));
	CHECK_STR(big, "ab?cde\xc3\xa9xyz%");
}

/* ---- threads ---- */

static void *parse_many(void *arg)
{
	int *bad = arg;
	size_t n = 0, nn = 0;
	char *x = load("hik_profiles_media1.xml", &n), *y = load("xxe.xml", &nn);
	for (int i = 0; i < 200 && x && y; i++) {
		struct onvif_profile p[4];
		struct onvif_device_info di;
		struct cs_error err;
		size_t k = 0;
		if (onvif_parse_profiles(x, n, p, N(p), &k, &err) != CS_OK || k != 3 ||
			strcmp(p[1].token, "Profile_2") != 0)
			(*bad)++;
		if (onvif_parse_device_info(y, nn, &di, &err) != CS_OPEN_FAILED)
			(*bad)++;
	}
	free(x);
	free(y);
	return NULL;
}

static void parsers_run_on_several_threads(void)
{
	pthread_t t[4];
	int bad[4] = { 0 };
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, parse_many, &bad[i]) == 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(bad[i] == 0);
	}
}

int main(void)
{
	onvif_xml_init();
	RUN(time_utc_read_as_unix_seconds);
	RUN(time_local_used_when_no_utc);
	RUN(time_invalid_date_refused);
	RUN(time_without_any_datetime_refused);
	RUN(device_info_fields_read);
	RUN(device_info_absent_fields_empty);
	RUN(long_string_cut_at_utf8_boundary);
	RUN(services_media_and_media2);
	RUN(services_media1_only_trimmed);
	RUN(services_too_long_xaddr_left_out);
	RUN(capabilities_media_xaddr_keeps_media2);
	RUN(profiles_media1_hikvision);
	RUN(profiles_media1_dahua_default_namespaces);
	RUN(profiles_media2_encodings_normalised);
	RUN(profiles_kept_up_to_cap);
	RUN(profiles_none_is_not_an_error);
	RUN(profiles_bad_numbers_are_unknown);
	RUN(stream_uri_media1);
	RUN(stream_uri_media2_trimmed);
	RUN(stream_uri_too_long_refused_not_cut);
	RUN(stream_uri_missing_refused);
	RUN(fault_not_authorized_is_unauthorized);
	RUN(fault_failed_authentication_is_unauthorized);
	RUN(fault_reason_not_authorized_is_unauthorized);
	RUN(fault_other_is_open_failed_with_reason);
	RUN(fault_soap11_read);
	RUN(fault_without_reason_names_its_subcode);
	RUN(fault_reason_quoted_at_most_64_bytes);
	RUN(dtd_with_external_entity_refused);
	RUN(external_dtd_refused);
	RUN(billion_laughs_refused_quickly);
	RUN(not_well_formed_refused);
	RUN(answer_of_1_mib_read);
	RUN(answer_over_1_mib_refused);
	RUN(deeply_nested_refused);
	RUN(nested_within_limits_found);
	RUN(missing_response_element_refused);
	RUN(not_a_soap_envelope_refused);
	RUN(errors_not_printed);
	RUN(probe_match_read);
	RUN(probe_matches_several_and_xaddrs_bounded);
	RUN(probe_matches_cap_respected);
	RUN(probe_matches_of_another_probe_refused);
	RUN(probe_matches_without_relates_to_refused_when_asked);
	RUN(scope_values_percent_decoded);
	RUN(scope_value_cut_and_cleaned);
	RUN(parsers_run_on_several_threads);
	onvif_xml_cleanup();
	return CHECK_DONE();
}
