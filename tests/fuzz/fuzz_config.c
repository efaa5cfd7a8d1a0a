/* fuzz_config: the config file loader, streams_file_load, on arbitrary file contents
 * (docs/FUZZING.md). Each input is written to one temporary file (mode 0600; in $TMPDIR, else
 * /dev/shm, else /tmp; unlinked at once and opened as /proc/self/fd/N) and loaded without
 * write-back, as the server loads it at start (nothing is started: that is the registry's
 * part). The whole loader runs: jansson on a FILE, the top-level checks, every definition, and
 * the messages. Invariants:
 * - a refusal has a message; an accepted file defines as many streams as its array holds;
 * - a "password" never shows, plain or percent-encoded, in the message: neither for a
 *   definition that is refused nor for a file that does not parse (jansson's "near '<token>'"
 *   is cut). Decided by rotation (fuzz_common.h). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "url.h"
#include "log.h"
#include "stream_def.h"
#include "streams_file.h"

static struct url_policy policy;
static char path[64]; /* /proc/self/fd/N: the file itself is unlinked at once */
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char name[4096];

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR); /* a loaded file is logged at info */
	if (url_policy_allow(&policy, "http", NULL) != CS_OK)
		abort();
	/* memory-backed by default: on a disk, truncating and writing the file for every input
	 * makes the target ten times slower */
	snprintf(name, sizeof(name), "%s/camstream-fuzz-config-XXXXXX", tmp && *tmp ? tmp :
		"/dev/shm");
	fd = mkstemp(name);
	if (fd < 0 && !(tmp && *tmp)) {
		snprintf(name, sizeof(name), "/tmp/camstream-fuzz-config-XXXXXX");
		fd = mkstemp(name);
	}
	if (fd < 0 || fchmod(fd, 0600)) {
		perror(name);
		abort();
	}
	unlink(name); /* nothing is left behind, not even after a crash */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static bool write_file(const void *data, size_t size)
{
	return !ftruncate(fd, 0) && pwrite(fd, data, size, 0) == (ssize_t)size;
}

/* Loads the file; false with @err if it was refused, n_streams otherwise. */
static bool load(char *err, size_t errlen, size_t *n_streams)
{
	struct streams_file f;
	struct stream_def **defs;
	struct cs_error e;

	memset(&e, 0x5a, sizeof(e));
	bool ok = streams_file_load(&f, path, false, &policy, &defs, n_streams, &e);
	snprintf(err, errlen, "%s", ok ? "" : e.msg);
	if (!ok)
		*n_streams = 0;
	for (size_t i = 0; i < *n_streams; i++)
		stream_def_free(defs[i]);
	if (ok)
		free(defs);
	streams_file_free(&f);
	return ok;
}

/* A definition's password (@i of "streams"), rotated in a copy of @doc. */
static void check_password(json_t *doc, size_t i, const char *err)
{
	const char *pw = json_string_value(json_object_get(
		json_array_get(json_object_get(doc, "streams"), i), "password"));
	char *pct, *rotated = NULL, *text = NULL, err2[512];
	json_t *doc2 = NULL;
	size_t n;

	if (!pw || strlen(pw) < FUZZ_MIN_SECRET || !fuzz_rotatable(pw, strlen(pw)))
		return;
	pct = url_percent_encode(pw);
	if (!pct || (!fuzz_contains(err, pw, strlen(pw)) && !fuzz_contains(err, pct, strlen(pct))))
		goto out;
	rotated = strdup(pw);
	doc2 = json_deep_copy(doc);
	if (!rotated || !doc2)
		goto out;
	fuzz_rotate(rotated, strlen(rotated));
	if (json_object_set_new(json_array_get(json_object_get(doc2, "streams"), i), "password",
			json_string(rotated)))
		goto out;
	text = json_dumps(doc2, 0);
	if (!text || !write_file(text, strlen(text)))
		goto out;
	if (load(err2, sizeof(err2), &n))
		err2[0] = '\0';
	FUZZ_CHECK(!fuzz_leaked(err, err2, pw, strlen(pw)), "the password \"%s\" shows: %s", pw,
		err);
	FUZZ_CHECK(!fuzz_leaked(err, err2, pct, strlen(pct)), "the password \"%s\" shows "
		"percent-encoded: %s", pw, err);
out:
	free(text);
	json_decref(doc2);
	free(rotated);
	free(pct);
}

/* A file that does not parse: the password is found in the raw text and rotated there. */
static void check_raw_passwords(const uint8_t *data, size_t size, const char *err)
{
	char *text = fuzz_cstr(data, size), *text2, err2[512];
	size_t pos = 0, off, n, ns;

	if (!text)
		return;
	while (fuzz_raw_password(text, &pos, &off, &n)) {
		if (n < FUZZ_MIN_SECRET || !fuzz_rotatable(text + off, n) ||
				!fuzz_contains(err, text + off, n) || !(text2 = strdup(text)))
			continue;
		fuzz_rotate(text2 + off, n);
		if (write_file(text2, size)) {
			if (load(err2, sizeof(err2), &ns))
				err2[0] = '\0';
			FUZZ_CHECK(!fuzz_leaked(err, err2, text + off, n), "the password \"%.*s\" "
				"shows: %s", (int)n, text + off, err);
		}
		free(text2);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	char err[512];
	size_t n = 0;
	bool ok;

	if (!write_file(data, size))
		abort();
	ok = load(err, sizeof(err), &n);
	if (ok) {
		const json_t *arr = json_object_get(doc, "streams");

		FUZZ_CHECK(doc, "a file that jansson refuses was loaded");
		FUZZ_CHECK(n == json_array_size(arr), "%zu streams loaded of %zu", n,
			json_array_size(arr));
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)), "message not NUL-terminated");
		FUZZ_CHECK(err[0], "refused without a message");
		if (doc) {
			for (size_t i = 0; i < json_array_size(json_object_get(doc, "streams")); i++)
				check_password(doc, i, err);
		} else {
			check_raw_passwords(data, size, err);
		}
	}
	json_decref(doc);
	return 0;
}
