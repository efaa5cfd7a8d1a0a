/* fuzz_options: opts_parse on the fragments of an arbitrary query string (docs/FUZZING.md).
 *
 * The input is a query string as a client sends it ("rtsp_url=...&fps=10"): split at '&',
 * then percent-decoded and '+' made a space, as lws hands the fragments over (at most
 * HTTP_MAX_ARGS of them; lws refuses more before opts_parse is called). Invariants:
 * - success: the values are in range, no message, src or name (not both), each equal to the
 *   value given for it;
 * - failure: CS_BAD_REQUEST, a message, src and name freed;
 * - the message never shows the camera URL (the value of rtsp_url or cam_url), the access
 *   token (token=, the browser's way to send --token), nor a fragment with an unknown name
 *   that follows the camera URL (an unencoded '&' in the camera URL makes
 *   the next fragment a piece of its password). Decided by rotation (fuzz_common.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http_reply.h"
#include "options.h"

/* Whether opts_parse knows the name of @frag: some value makes it accept the name alone.
 * Asked of opts_parse rather than listed here, so that a new option needs no change. */
static bool is_known(const char *frag)
{
	static const char *const values[] = { "1", "tcp" };
	size_t n = strcspn(frag, "=");
	struct stream_opts o;
	char probe[128];
	bool known = false;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]) && !known; i++) {
		const char *arg = probe;

		if (n + strlen(values[i]) + 2 > sizeof(probe))
			return false; /* no option has so long a name */
		snprintf(probe, sizeof(probe), "%.*s=%s", (int)n, frag, values[i]);
		known = opts_parse(&o, &arg, 1, NULL) == CS_OK;
		opts_free(&o);
	}
	return known;
}

static bool is_src(const char *frag)
{
	return !strncmp(frag, "rtsp_url=", 9) || !strncmp(frag, "cam_url=", 8);
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes @s in place: "%41" -> 'A', '+' -> ' '. A "%00" ends the fragment, as a C string
 * from lws would. */
static void decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && hex(s[1]) >= 0 && hex(s[2]) >= 0) {
			*o++ = (char)(hex(s[1]) * 16 + hex(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

struct run {
	enum cs_err rc;
	struct stream_opts o;
	struct cs_error e;
	const char *err; /* e.msg */
};

static void run(const char *const *args, size_t n, struct run *r)
{
	memset(&r->e, 0x5a, sizeof(r->e));
	r->err = r->e.msg;
	r->rc = opts_parse(&r->o, args, n, &r->e);
}

static void check_result(const char *const *args, size_t n, const struct run *r)
{
	const struct stream_opts *o = &r->o;
	const char *src = NULL, *name = NULL;

	FUZZ_CHECK(memchr(r->err, '\0', sizeof(r->e.msg)), "message not NUL-terminated");
	if (r->rc != CS_OK) {
		FUZZ_CHECK(r->rc == CS_BAD_REQUEST || r->rc == CS_SERVER_BUSY, "rc %d", r->rc);
		FUZZ_CHECK(r->rc == r->e.code, "returned %d, its error says %d", r->rc, r->e.code);
		FUZZ_CHECK(r->err[0], "refused without a message");
		FUZZ_CHECK(!o->src && !o->name, "src or name not freed on failure");
		return;
	}
	FUZZ_CHECK(!r->err[0], "accepted with a message: %s", r->err);
	for (size_t i = 0; i < n; i++) {
		if (is_src(args[i]))
			src = strchr(args[i], '=') + 1;
		else if (!strncmp(args[i], "name=", 5))
			name = args[i] + 5;
	}
	FUZZ_CHECK(!(o->src && o->name), "both src and name");
	FUZZ_CHECK(src ? o->src && !strcmp(o->src, src) : !o->src, "src \"%s\"",
		o->src ? o->src : "(null)");
	FUZZ_CHECK(name ? o->name && !strcmp(o->name, name) : !o->name, "name \"%s\"",
		o->name ? o->name : "(null)");
	FUZZ_CHECK(o->fps == 0 || (o->fps > 0 && o->fps <= OUTPUT_MAX_FPS), "fps %g", o->fps);
	FUZZ_CHECK(o->width >= 0 && o->width <= OPTS_MAX_DIM, "width %d", o->width);
	FUZZ_CHECK(o->height >= 0 && o->height <= OPTS_MAX_DIM, "height %d", o->height);
	FUZZ_CHECK(o->quality >= 1 && o->quality <= 100, "quality %d", o->quality);
	FUZZ_CHECK(o->transport == TRANSPORT_TCP || o->transport == TRANSPORT_UDP ||
		o->transport == TRANSPORT_AUTO, "transport %d", (int)o->transport);
}

/* Fragment @k with @n bytes from @off rotated must not change whether they show. */
static void check_hidden(char **args, size_t n, const struct run *r, size_t k, size_t off,
	size_t len, const char *what)
{
	const char *secret = args[k] + off;
	struct run r2;
	char *saved, *rotated;

	if (len < FUZZ_MIN_SECRET || !fuzz_rotatable(secret, len) ||
			!fuzz_contains(r->err, secret, len))
		return;
	saved = args[k];
	rotated = strdup(saved);
	if (!rotated)
		return;
	fuzz_rotate(rotated + off, len);
	/* rotation may turn an unknown name into a known one: then the run is no comparison */
	if (is_known(rotated) == is_known(saved)) {
		args[k] = rotated;
		run((const char *const *)args, n, &r2);
		args[k] = saved;
		FUZZ_CHECK(!fuzz_leaked(r->err, r2.err, secret, len), "the message shows the %s "
			"\"%.*s\": %s", what, (int)len, secret, r->err);
		opts_free(&r2.o);
	}
	free(rotated);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *query = fuzz_cstr(data, size), *args[HTTP_MAX_ARGS], *rest;
	size_t n = 0;
	struct run r;
	bool after_src = false;

	if (!query)
		return -1;
	/* empty fragments ("a=1&&b=2") are kept: opts_parse skips them */
	for (rest = query; rest && n < HTTP_MAX_ARGS;) {
		args[n] = strsep(&rest, "&");
		decode(args[n++]);
	}
	run((const char *const *)args, n, &r);
	check_result((const char *const *)args, n, &r);
	for (size_t k = 0; k < n; k++) {
		if (is_src(args[k]) && !after_src) {
			size_t off = strcspn(args[k], "=") + 1;

			check_hidden(args, n, &r, k, off, strlen(args[k] + off), "camera URL");
			after_src = true;
		} else if (!strncmp(args[k], "token=", 6)) {
			check_hidden(args, n, &r, k, 6, strlen(args[k] + 6), "access token");
		} else if (after_src && !is_known(args[k])) {
			check_hidden(args, n, &r, k, 0, strlen(args[k]), "fragment after the camera URL");
		}
	}
	opts_free(&r.o);
	free(query);
	return 0;
}
