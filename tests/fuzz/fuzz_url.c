/* fuzz_url: url_parse, url_redact and log_scrub on arbitrary bytes (docs/FUZZING.md).
 *
 * Besides "no crash, no sanitizer report", each input is held to these invariants:
 * - url_parse: on success every field is set, the scheme is lowercase and allowed by the
 *   policy, the port is 0..65535, the error text is empty, and the host and port are the ones
 *   FFmpeg would connect to (cut independently here, as av_url_split does: the authority ends
 *   at the first "/?#", the userinfo at its last '@'); on failure the struct is zeroed and
 *   there is a message. has_credentials agrees with that cut.
 * - url_redact: the output is NUL-terminated at every buffer size, a short buffer holds a
 *   prefix of the whole output, and for a URL url_parse accepted it equals cam_url.redacted.
 * - secrets: the password (after the first ':' of the userinfo) and the whole userinfo never
 *   show in url_redact's output or url_parse's message; for an accepted URL with credentials,
 *   not in cam_url.redacted nor in a log line through log_scrub either. "Show" is decided by
 *   rotation (fuzz_common.h), so a password that is also a word of a message is no alarm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "log.h"
#include "redact.h"
#include "url.h"

static struct url_policy policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const extra[] = { "http", "https", "udp", "srt" };

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (url_policy_allow(&policy, extra[i], NULL) != CS_OK)
			abort();
	return 0;
}

/* ---- an independent cut of the URL (FFmpeg's av_url_split) ---- */

struct cut {
	bool has_authority;   /* "scheme://" */
	size_t ui_off, ui_len; /* the userinfo, before its '@'; ui_len 0 and !has_ui if none */
	bool has_ui;
	size_t pw_off, pw_len; /* after the first ':' of the userinfo; pw_len 0 if none */
	size_t host_off, host_len; /* without the brackets of an IPv6 address */
	size_t port_off, port_len; /* the digits after the host's ':', if any */
	bool has_port;
};

static size_t scheme_len(const char *t)
{
	size_t i = 0;

	if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return 0;
	while ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
			(t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.')
		i++;
	return t[i] == ':' ? i : 0;
}

/* Without "//" ("admin:secret@host") the userinfo is counted from the start: a URL written
 * without the slashes must not echo what looks like a password either. */
static void cut_url(const char *t, struct cut *c)
{
	size_t sl = scheme_len(t), start = 0, end, i, hp, hend;
	const char *colon;

	memset(c, 0, sizeof(*c));
	if (sl && strncmp(t + sl, "://", 3) == 0) {
		c->has_authority = true;
		start = sl + 3;
	}
	end = start + strcspn(t + start, "/?#");
	for (i = start; i < end; i++)
		if (t[i] == '@') {
			c->has_ui = true;
			c->ui_off = start;
			c->ui_len = i - start;
		}
	if (c->has_ui) {
		colon = memchr(t + c->ui_off, ':', c->ui_len);
		if (colon) {
			c->pw_off = (size_t)(colon + 1 - t);
			c->pw_len = c->ui_off + c->ui_len - c->pw_off;
		}
	}
	hp = c->has_ui ? c->ui_off + c->ui_len + 1 : start;
	hend = end;
	if (t[hp] == '[' && memchr(t + hp, ']', hend - hp)) {
		const char *brk = memchr(t + hp, ']', hend - hp);

		c->host_off = hp + 1;
		c->host_len = (size_t)(brk - t) - c->host_off;
		colon = brk[1] == ':' ? brk + 1 : NULL;
	} else {
		colon = memchr(t + hp, ':', hend - hp);
		c->host_off = hp;
		c->host_len = (colon ? (size_t)(colon - t) : hend) - hp;
	}
	if (colon) {
		c->has_port = true;
		c->port_off = (size_t)(colon + 1 - t);
		c->port_len = hend - c->port_off;
	}
}

/* ---- what is checked ---- */

/* What one text gives: url_parse's result and message, url_redact's output, and a log line
 * with the text through log_scrub. */
struct outputs {
	enum cs_err rc;
	struct cam_url u;
	struct cs_error e;
	const char *err; /* e.msg */
	char *redact;   /* url_redact with a buffer large enough (owned) */
	char *scrubbed; /* "[rtsp @ 0x1] <text>: 401 Unauthorized" scrubbed (owned) */
};

static void outputs_free(struct outputs *o)
{
	url_free(&o->u);
	free(o->redact);
	free(o->scrubbed);
}

static bool run(const char *text, struct outputs *o)
{
	size_t len = strlen(text), cap = 4 * len + 64;
	static const char pre[] = "[rtsp @ 0x1] ", post[] = ": 401 Unauthorized";

	memset(o, 0, sizeof(*o));
	memset(&o->e, 0x5a, sizeof(o->e));
	o->err = o->e.msg;
	o->rc = url_parse(text, &policy, &o->u, &o->e);
	o->redact = malloc(cap);
	o->scrubbed = malloc(sizeof(pre) + len + sizeof(post));
	if (!o->redact || !o->scrubbed) {
		outputs_free(o);
		return false;
	}
	url_redact(text, o->redact, cap);
	FUZZ_CHECK(strlen(o->redact) < cap - 1, "url_redact output may have been cut: grows "
		"more than 4x (%zu bytes from %zu)", strlen(o->redact), len);
	memcpy(o->scrubbed, pre, sizeof(pre) - 1);
	memcpy(o->scrubbed + sizeof(pre) - 1, text, len);
	memcpy(o->scrubbed + sizeof(pre) - 1 + len, post, sizeof(post));
	log_scrub(o->scrubbed);
	return true;
}

static void check_parse(const char *text, const struct outputs *o)
{
	const struct cam_url *u = &o->u;
	struct cam_url zero;
	struct cut c;

	FUZZ_CHECK(memchr(o->err, '\0', sizeof(o->e.msg)), "url_parse message not NUL-terminated");
	FUZZ_CHECK(o->rc == o->e.code, "url_parse returned %d, its error says %d", o->rc, o->e.code);
	if (o->rc != CS_OK) {
		memset(&zero, 0, sizeof(zero));
		FUZZ_CHECK(o->rc == CS_BAD_REQUEST || o->rc == CS_SCHEME_NOT_ALLOWED ||
			o->rc == CS_SERVER_BUSY, "rc %d", o->rc);
		FUZZ_CHECK(o->err[0], "refused without a message");
		FUZZ_CHECK(!memcmp(u, &zero, sizeof(zero)), "cam_url not zeroed on failure");
		return;
	}
	FUZZ_CHECK(!o->err[0], "accepted with a message: %s", o->err);
	FUZZ_CHECK(u->text && u->redacted && u->scheme && u->host, "a field is NULL");
	FUZZ_CHECK(!strcmp(u->text, text), "text differs");
	FUZZ_CHECK(u->port >= 0 && u->port <= 65535, "port %d", u->port);
	for (const char *p = u->scheme; *p; p++)
		FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "scheme not lowercase: %s", u->scheme);
	FUZZ_CHECK(!strcmp(o->redact, u->redacted), "url_redact \"%s\" != redacted \"%s\"",
		o->redact, u->redacted);
	if (u->is_demo) {
		FUZZ_CHECK(!u->host[0] && !u->has_credentials, "demo with a host or credentials");
		return;
	}
	FUZZ_CHECK(url_policy_allows(&policy, u->scheme), "scheme %s not allowed", u->scheme);
	cut_url(text, &c);
	FUZZ_CHECK(c.has_authority, "accepted without \"//\"");
	FUZZ_CHECK(u->has_credentials == (c.has_ui && c.ui_len > 0),
		"has_credentials %d, but the userinfo is %zu bytes", u->has_credentials, c.ui_len);
	FUZZ_CHECK(strlen(u->host) == c.host_len && !memcmp(u->host, text + c.host_off, c.host_len),
		"host \"%s\", but FFmpeg connects to \"%.*s\"", u->host, (int)c.host_len,
		text + c.host_off);
	if (c.has_port && c.port_len) {
		long port = strtol(text + c.port_off, NULL, 10);

		FUZZ_CHECK(port == u->port, "port %d, but FFmpeg uses %ld", u->port, port);
	}
}

/* Short buffers: always NUL-terminated, never written past, a prefix of the whole. */
static void check_redact_sizes(const char *text, const char *whole)
{
	static const size_t sizes[] = { 1, 2, 4, 9, 17, 33 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *out = malloc(sizes[i]); /* exact size: ASan sees a write past it */

		if (!out)
			return;
		memset(out, 0x5a, sizes[i]);
		url_redact(text, out, sizes[i]);
		FUZZ_CHECK(memchr(out, '\0', sizes[i]), "not NUL-terminated in %zu bytes", sizes[i]);
		FUZZ_CHECK(!strncmp(out, whole, strlen(out)) && strlen(out) ==
			(strlen(whole) < sizes[i] ? strlen(whole) : sizes[i] - 1),
			"%zu-byte output \"%s\" is not a prefix of \"%s\"", sizes[i], out, whole);
		free(out);
	}
}

/* The secret at @off (@n bytes) of @text: rotate it, run again, compare. */
static void check_secret(const char *text, const struct outputs *o, size_t off, size_t n,
	const char *what)
{
	const char *secret = text + off;
	struct outputs o2;
	char *text2;

	if (n < FUZZ_MIN_SECRET || !fuzz_rotatable(secret, n))
		return;
	text2 = strdup(text);
	if (!text2)
		return;
	fuzz_rotate(text2 + off, n);
	if (run(text2, &o2)) {
		FUZZ_CHECK(!fuzz_leaked(o->redact, o2.redact, secret, n),
			"url_redact shows the %s \"%.*s\": %s", what, (int)n, secret, o->redact);
		FUZZ_CHECK(!fuzz_leaked(o->err, o2.err, secret, n),
			"url_parse's message shows the %s \"%.*s\": %s", what, (int)n, secret, o->err);
		if (o->rc == CS_OK && o->u.has_credentials) {
			FUZZ_CHECK(!fuzz_leaked(o->u.redacted, o2.u.redacted, secret, n),
				"cam_url.redacted shows the %s \"%.*s\": %s", what, (int)n, secret,
				o->u.redacted);
			FUZZ_CHECK(!fuzz_leaked(o->scrubbed, o2.scrubbed, secret, n),
				"log_scrub leaves the %s \"%.*s\": %s", what, (int)n, secret, o->scrubbed);
		}
		outputs_free(&o2);
	}
	free(text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct outputs o;
	struct cut c;

	if (!text)
		return -1;
	if (run(text, &o)) {
		check_parse(text, &o);
		check_redact_sizes(text, o.redact);
		FUZZ_CHECK(strlen(o.scrubbed) <= strlen("[rtsp @ 0x1] : 401 Unauthorized") + size,
			"log_scrub made the line longer");
		cut_url(text, &c);
		if (c.has_ui) {
			check_secret(text, &o, c.pw_off, c.pw_len, "password");
			if (c.has_authority)
				check_secret(text, &o, c.ui_off, c.ui_len, "userinfo");
		}
		outputs_free(&o);
	}
	free(text);
	return 0;
}
