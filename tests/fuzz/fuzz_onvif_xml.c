/* fuzz_onvif_xml: any bytes as a device's SOAP answer or a WS-Discovery ProbeMatches
 * (src/onvif/onvif_xml.c). A first byte below 9 picks one reader for the rest of the input
 * (8: the input as the profile token and user name of a request, src/onvif/onvif_soap.c);
 * any other input (every seed: they start with '<') goes through every reader.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - a result is one of the documented codes, and a refusal has a message of bounded length
 *   (the document is quoted 64 bytes at most);
 * - every string field is NUL-terminated inside its array and valid UTF-8 (cuts fall on
 *   character boundaries); counts stay within their caps; XAddrs and scopes hold no white space;
 * - numbers are in range: a time of years 1970..9999, sizes 0..65535, a frame rate 0..1000;
 *   "H.264"/"H.265"/"HEVC" never come out un-normalised;
 * - a stream URI is non-empty and shorter than its buffer, or an error with an empty buffer;
 * - a ProbeMatches that passes the RelatesTo check passes without it, with the same count;
 * - nothing of a file the document names shows up ("root:x:0:0" of /etc/passwd) unless the
 *   input itself holds it;
 * - a request built around any token or user name is well-formed XML. */
#include <libxml/parser.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_common.h"
#include "onvif_soap.h"
#include "onvif_xml.h"

#define RELATES "urn:uuid:6c8e1f3a-2d4b-4e5f-9a0b-1c2d3e4f5a6b"
#define PASSWD_LINE "root:x:0:0"

static struct onvif_match matches[ONVIF_MAX_MATCHES];
static bool passwd_in_input;

static bool utf8_ok(const char *s)
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

static void check_str_(const char *s, size_t cap, const char *what)
{
	FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "%s unterminated", what);
	FUZZ_CHECK(utf8_ok(s), "%s not UTF-8: %s", what, s);
	FUZZ_CHECK(passwd_in_input || !strstr(s, PASSWD_LINE), "%s leaks a file: %s", what, s);
}
#define CHECK_FIELD(s) check_str_((s), sizeof(s), #s)

static void check_err(enum cs_err e, const struct cs_error *err, bool probe)
{
	if (e == CS_OK)
		return;
	FUZZ_CHECK(e == CS_OPEN_FAILED || e == CS_UNAUTHORIZED || e == CS_SERVER_BUSY ||
		(probe && e == CS_BAD_REQUEST), "code %d", (int)e);
	FUZZ_CHECK(err->code == e && err->msg[0], "no message for %d", (int)e);
	CHECK_FIELD(err->msg);
	FUZZ_CHECK(strlen(err->msg) < 64 + 64, "message too long: %s", err->msg);
}

static void run_time(const char *x, size_t n)
{
	struct cs_error err;
	int64_t t = -1;
	enum cs_err e = onvif_parse_time(x, n, &t, &err);
	check_err(e, &err, false);
	FUZZ_CHECK(e || (t >= 0 && t < 253402300800 + 86400), "time %lld", (long long)t);
}

static void run_device_info(const char *x, size_t n)
{
	struct cs_error err;
	struct onvif_device_info di;
	enum cs_err e = onvif_parse_device_info(x, n, &di, &err);
	check_err(e, &err, false);
	CHECK_FIELD(di.manufacturer);
	CHECK_FIELD(di.model);
	CHECK_FIELD(di.firmware);
	CHECK_FIELD(di.serial);
	CHECK_FIELD(di.hardware);
}

static void run_services(const char *x, size_t n)
{
	struct cs_error err;
	struct onvif_services s;
	check_err(onvif_parse_services(x, n, &s, &err), &err, false);
	CHECK_FIELD(s.media);
	CHECK_FIELD(s.media2);
	snprintf(s.media2, sizeof(s.media2), "kept");
	check_err(onvif_parse_capabilities(x, n, &s, &err), &err, false);
	CHECK_FIELD(s.media);
	FUZZ_CHECK(strcmp(s.media2, "kept") == 0, "media2 changed: %s", s.media2);
}

static void run_profiles(const char *x, size_t n)
{
	struct cs_error err;
	struct onvif_profile p[ONVIF_MAX_PROFILES];
	size_t k = 99, cap = n % 2 ? ONVIF_MAX_PROFILES : 3;
	enum cs_err e = onvif_parse_profiles(x, n, p, cap, &k, &err);
	check_err(e, &err, false);
	FUZZ_CHECK(e ? k == 0 : k <= cap, "%zu profiles", k);
	for (size_t i = 0; i < k; i++) {
		CHECK_FIELD(p[i].token);
		CHECK_FIELD(p[i].name);
		CHECK_FIELD(p[i].encoding);
		FUZZ_CHECK(strcmp(p[i].encoding, "H.264") && strcmp(p[i].encoding, "H.265") &&
			strcmp(p[i].encoding, "HEVC"), "encoding %s", p[i].encoding);
		FUZZ_CHECK(p[i].width >= 0 && p[i].width <= 65535 && p[i].height >= 0 &&
			p[i].height <= 65535, "%dx%d", p[i].width, p[i].height);
		FUZZ_CHECK(isfinite(p[i].fps) && p[i].fps >= 0 && p[i].fps <= 1000, "fps %g",
			p[i].fps);
	}
}

static void run_stream_uri(const char *x, size_t n)
{
	static const size_t caps[] = { ONVIF_URI_MAX, 24, 1 };
	char uri[ONVIF_URI_MAX];
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct cs_error err;
		memset(uri, 'x', sizeof(uri));
		enum cs_err e = onvif_parse_stream_uri(x, n, uri, caps[i], &err);
		check_err(e, &err, false);
		FUZZ_CHECK(memchr(uri, '\0', caps[i]) != NULL, "uri unterminated");
		FUZZ_CHECK(e ? uri[0] == '\0' : uri[0] && strlen(uri) < caps[i], "uri %s", uri);
		check_str_(uri, caps[i], "uri");
	}
}

static void check_match(const struct onvif_match *m)
{
	static const char *const keys[] = { "name", "hardware", "location" };
	char v[ONVIF_URI_MAX];

	CHECK_FIELD(m->endpoint);
	CHECK_FIELD(m->types);
	FUZZ_CHECK(m->n_xaddrs >= 0 && m->n_xaddrs <= ONVIF_MAX_XADDRS, "%d", m->n_xaddrs);
	FUZZ_CHECK(m->n_scopes >= 0 && m->n_scopes <= ONVIF_MAX_SCOPES, "%d", m->n_scopes);
	for (int i = 0; i < m->n_xaddrs; i++) {
		CHECK_FIELD(m->xaddrs[i]);
		FUZZ_CHECK(m->xaddrs[i][0] && !strpbrk(m->xaddrs[i], " \t\r\n"), "%s", m->xaddrs[i]);
	}
	for (int i = 0; i < m->n_scopes; i++) {
		CHECK_FIELD(m->scopes[i]);
		FUZZ_CHECK(m->scopes[i][0] && !strpbrk(m->scopes[i], " \t\r\n"), "%s", m->scopes[i]);
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		onvif_scope_value(m, keys[k], v, sizeof(v));
		check_str_(v, sizeof(v), keys[k]);
		onvif_scope_value(m, keys[k], v, 5);
		check_str_(v, 5, keys[k]);
	}
}

static void run_probe_matches(const char *x, size_t n)
{
	struct cs_error err;
	size_t k = 99, k2 = 99;
	enum cs_err e = onvif_parse_probe_matches(x, n, RELATES, matches, ONVIF_MAX_MATCHES, &k,
		&err);
	check_err(e, &err, true);
	FUZZ_CHECK(e ? k == 0 : k <= ONVIF_MAX_MATCHES, "%zu matches", k);
	for (size_t i = 0; i < k; i++)
		check_match(&matches[i]);
	enum cs_err e2 = onvif_parse_probe_matches(x, n, NULL, matches, ONVIF_MAX_MATCHES, &k2,
		&err);
	check_err(e2, &err, false);
	FUZZ_CHECK(e != CS_OK || (e2 == CS_OK && k2 == k), "%d/%zu without RelatesTo: %d/%zu",
		(int)e, k, (int)e2, k2);
}

/* The input as a profile token and a user name: the envelope must stay well-formed. */
static void run_envelope(const char *x, size_t n)
{
	static const unsigned char nonce[ONVIF_NONCE_LEN] = "0123456789abcdef";
	char *s = fuzz_cstr((const uint8_t *)x, n > 4096 ? 4096 : n);
	if (!s)
		return;
	char *env = onvif_envelope(n % 2 ? ONVIF_GET_STREAM_URI : ONVIF_GET_STREAM_URI2, s, s,
		"pw", nonce, (int64_t)n * 86399);
	char *probe = onvif_probe_message(s);
	FUZZ_CHECK(env && probe, "out of memory?");
	xmlDocPtr d1 = xmlReadMemory(env, (int)strlen(env), NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlDocPtr d2 = xmlReadMemory(probe, (int)strlen(probe), NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	FUZZ_CHECK(d1 && d2, "not well-formed:\n%s\n%s", env, probe);
	xmlFreeDoc(d1);
	xmlFreeDoc(d2);
	free(env);
	free(probe);
	free(s);
}

typedef void (*runner)(const char *x, size_t n);
static const runner runners[] = { run_time, run_device_info, run_services, run_profiles,
	run_stream_uri, run_probe_matches, run_probe_matches, run_services, run_envelope };
#define N_RUNNERS (sizeof(runners) / sizeof(runners[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	onvif_xml_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *x = (const char *)data;

	if (size > ONVIF_XML_MAX + 1) /* bigger ones are refused unread: a unit test says so */
		return 0;
	passwd_in_input = memmem(data, size, PASSWD_LINE, strlen(PASSWD_LINE)) != NULL;
	if (size && data[0] < N_RUNNERS) {
		runners[data[0]](x + 1, size - 1);
		return 0;
	}
	for (size_t i = 0; i < N_RUNNERS; i++)
		if (i == 0 || runners[i] != runners[i - 1])
			runners[i](x, size);
	return 0;
}
