/* fuzz_streams: stream definitions as the REST API receives them (docs/FUZZING.md).
 *
 * The input is a request body: parsed as http_streams does (jansson, duplicate keys refused);
 * an object with "streams" goes through stream_def_parse_list (POST /api/config/streams,
 * and the config file), any other object through stream_def_from_json (POST /api/streams).
 * Invariants:
 * - a refusal has a message, a code and an HTTP status that go together;
 * - an accepted definition writes back (stream_def_to_json, as the config file is saved)
 *   to JSON text that loads again into the same definition (stream_def_same);
 * - a password given as "password" never shows, plain or percent-encoded, in a refusal's
 *   message or in the redacted URL; nor in jansson's message for a body that does not parse,
 *   once cut before " near " as http_streams and streams_file cut it. Decided by rotation
 *   (fuzz_common.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "url.h"
#include "stream_def.h"

static struct url_policy policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (url_policy_allow(&policy, "http", NULL) != CS_OK ||
			url_policy_allow(&policy, "https", NULL) != CS_OK)
		abort();
	return 0;
}

struct result {
	bool ok;
	struct cs_error e;
	struct stream_def **v; /* accepted definitions (owned) */
	size_t n;
};

static void result_free(struct result *r)
{
	for (size_t i = 0; i < r->n; i++)
		stream_def_free(r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* false when the body is not one the API passes on (not an object, "streams" not an
 * array). */
static bool evaluate(const json_t *doc, struct result *r)
{
	const json_t *arr = json_object_get(doc, "streams");

	memset(r, 0, sizeof(*r));
	memset(r->e.msg, 0x5a, sizeof(r->e.msg));
	if (!json_is_object(doc) || (arr && !json_is_array(arr)))
		return false;
	if (arr) {
		r->v = stream_def_parse_list(arr, &policy, "", &r->n, &r->e);
	} else {
		r->v = calloc(1, sizeof(*r->v));
		if (!r->v)
			return false;
		r->v[0] = stream_def_from_json(doc, &policy, "", &r->e);
		if (r->v[0]) {
			r->n = 1;
		} else {
			free(r->v);
			r->v = NULL;
		}
	}
	r->ok = r->v != NULL;
	return true;
}

/* The stream objects of @doc: @doc itself or the elements of its "streams". */
static size_t n_objects(const json_t *doc)
{
	const json_t *arr = json_object_get(doc, "streams");

	return arr ? json_array_size(arr) : 1;
}

static json_t *object_at(json_t *doc, size_t i)
{
	json_t *arr = json_object_get(doc, "streams");

	return arr ? json_array_get(arr, i) : doc;
}

static void check_result(const struct result *r)
{
	FUZZ_CHECK(memchr(r->e.msg, '\0', sizeof(r->e.msg)) || r->ok, "message not NUL-terminated");
	if (!r->ok) {
		FUZZ_CHECK(r->e.msg[0], "refused without a message");
		FUZZ_CHECK((r->e.code == CS_BAD_REQUEST && (unsigned)cs_err_http_status(r->e.code) == 400) ||
			(r->e.code == CS_SCHEME_NOT_ALLOWED && (unsigned)cs_err_http_status(r->e.code) == 403) ||
			(r->e.code == CS_SERVER_BUSY && (unsigned)cs_err_http_status(r->e.code) == 503),
			"code %d with HTTP %u: %s", r->e.code, (unsigned)cs_err_http_status(r->e.code), r->e.msg);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct stream_def *st = r->v[i];
		json_t *back = stream_def_to_json(st), *again = NULL;
		char *text = back ? json_dumps(back, JSON_COMPACT) : NULL;
		struct cs_error e;
		struct stream_def *st2 = NULL;

		FUZZ_CHECK(stream_def_same(st, st), "a definition differs from itself");
		FUZZ_CHECK(st->url.text && st->url.redacted, "no URL");
		if (text)
			again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		if (again)
			st2 = stream_def_from_json(again, &policy, "", &e);
		FUZZ_CHECK(!text || !again || st2, "written back as %s, it loads no more: %s", text,
			e.msg);
		FUZZ_CHECK(!st2 || stream_def_same(st, st2), "written back as %s, it loads as "
			"another definition", text);
		stream_def_free(st2);
		json_decref(again);
		free(text);
		json_decref(back);
	}
}

/* What of a run may show the password: the message, or the redacted URLs, one a line
 * (caller frees). */
static char *shown(const struct result *r)
{
	size_t len = r->ok ? 1 : strlen(r->e.msg) + 1, off = 0;
	char *s;

	for (size_t i = 0; r->ok && i < r->n; i++)
		len += strlen(r->v[i]->url.redacted) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	if (!r->ok)
		off += (size_t)snprintf(s, len, "%s", r->e.msg);
	for (size_t i = 0; r->ok && i < r->n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s\n", r->v[i]->url.redacted);
	s[off] = '\0';
	return s;
}

/* The password of object @i in @doc, rotated in a copy, must not change what shows. */
static void check_password(json_t *doc, const struct result *r, size_t i)
{
	const json_t *jp = json_object_get(object_at(doc, i), "password");
	const char *pw = json_string_value(jp);
	char *pct, *rotated, *out, *out2 = NULL;
	json_t *doc2;
	struct result r2;

	if (!pw || strlen(pw) < FUZZ_MIN_SECRET || !fuzz_rotatable(pw, strlen(pw)))
		return;
	out = shown(r);
	pct = url_percent_encode(pw);
	rotated = strdup(pw);
	doc2 = json_deep_copy(doc);
	if (!out || !pct || !rotated || !doc2 ||
			(!fuzz_contains(out, pw, strlen(pw)) && !fuzz_contains(out, pct, strlen(pct))))
		goto out;
	fuzz_rotate(rotated, strlen(rotated));
	if (json_object_set_new(object_at(doc2, i), "password", json_string(rotated)) ||
			!evaluate(doc2, &r2))
		goto out;
	out2 = shown(&r2);
	FUZZ_CHECK(!fuzz_leaked(out, out2, pw, strlen(pw)), "the password \"%s\" shows: %s", pw,
		out);
	FUZZ_CHECK(!fuzz_leaked(out, out2, pct, strlen(pct)), "the password \"%s\" shows "
		"percent-encoded: %s", pw, out);
	result_free(&r2);
out:
	free(out2);
	json_decref(doc2);
	free(rotated);
	free(pct);
	free(out);
}

/* jansson's message for @text, cut before " near " as the API and the loader cut it. */
static void parse_message(const char *text, size_t len, char *msg, size_t cap)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	char *near;

	json_decref(j);
	snprintf(msg, cap, "%s", j ? "" : je.text);
	near = strstr(msg, " near ");
	if (near)
		*near = '\0';
}

static void check_parse_message(const uint8_t *data, size_t size, const char *msg)
{
	char *text = fuzz_cstr(data, size), *text2, msg2[JSON_ERROR_TEXT_LENGTH];
	size_t pos = 0, off, n;

	if (!text)
		return; /* a NUL makes the raw search pointless; jansson's message has no token */
	while (fuzz_raw_password(text, &pos, &off, &n)) {
		if (n < FUZZ_MIN_SECRET || !fuzz_rotatable(text + off, n) ||
				!fuzz_contains(msg, text + off, n) || !(text2 = strdup(text)))
			continue;
		fuzz_rotate(text2 + off, n);
		parse_message(text2, size, msg2, sizeof(msg2));
		FUZZ_CHECK(!fuzz_leaked(msg, msg2, text + off, n), "the JSON error shows the "
			"password \"%.*s\": %s", (int)n, text + off, msg);
		free(text2);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	struct result r;
	char msg[JSON_ERROR_TEXT_LENGTH];

	if (!doc) {
		FUZZ_CHECK(memchr(je.text, '\0', sizeof(je.text)), "jansson message not terminated");
		parse_message((const char *)data, size, msg, sizeof(msg));
		check_parse_message(data, size, msg);
		return 0;
	}
	if (evaluate(doc, &r)) {
		check_result(&r);
		for (size_t i = 0; i < n_objects(doc); i++)
			check_password(doc, &r, i);
		result_free(&r);
	}
	json_decref(doc);
	return 0;
}
