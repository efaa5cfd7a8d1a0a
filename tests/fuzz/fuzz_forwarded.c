/* fuzz_forwarded: forwarded_client on arbitrary X-Forwarded-For values (docs/FUZZING.md).
 *
 * The first byte picks the trusted proxies (none, loopback, 10/8 and fd00::/8, or every
 * address); the rest is the header's value. Besides "no crash, no sanitizer report":
 * - the answer is NUL-terminated within the buffer at every size tried, a short buffer holding
 *   a prefix of what a long one holds;
 * - it is the peer's address (left as it was) or a numeric address that appears in the header;
 * - it equals what a second walk, written apart (split at every ',', trimmed, read from the
 *   right until an untrusted address or a non-address), gives for the same value. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forwarded.h"
#include "fuzz_common.h"

static struct net_policy policies[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *lists[] = { NULL, "127.0.0.0/8,::1", "10.0.0.0/8,fd00::/8",
		"0.0.0.0/0,::/0" };
	for (int i = 1; i < 4; i++)
		if (net_policy_add_list(&policies[i], lists[i], NULL) != CS_OK)
			abort();
	return 0;
}

/* The same walk, written apart: hops split at ',' and trimmed of spaces and tabs. */
static void reference(const struct net_policy *p, const char *xff, char *out, size_t size)
{
	char *copy = strdup(xff);
	if (!copy)
		abort();
	size_t n = 1;
	for (const char *c = copy; *c; c++)
		n += *c == ',';
	char **hops = malloc(n * sizeof(*hops));
	if (!hops)
		abort();
	size_t k = 0;
	char *save = copy;
	for (char *h = copy;; h = save) {
		char *comma = strchr(h, ',');
		if (comma)
			*comma = '\0';
		hops[k++] = h;
		if (!comma)
			break;
		save = comma + 1;
	}
	for (size_t i = k; i-- > 0;) {
		char *h = hops[i] + strspn(hops[i], " \t");
		h[strcspn(h, " \t")] = '\0';
		unsigned char bin[16];
		if (!*h || (inet_pton(AF_INET, h, bin) != 1 && inet_pton(AF_INET6, h, bin) != 1))
			break;
		snprintf(out, size, "%s", h);
		if (!forwarded_trusted(p, h))
			break;
	}
	free(hops);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	const struct net_policy *p = &policies[data[0] & 3];
	char *xff = malloc(size);
	if (!xff)
		abort();
	memcpy(xff, data + 1, size - 1);
	xff[size - 1] = '\0';
	char *work = strdup(xff);
	if (!work)
		abort();

	char got[64] = "peer", want[64] = "peer";
	forwarded_client(p, work, got, sizeof(got));
	reference(p, xff, want, sizeof(want));
	FUZZ_CHECK(!strcmp(got, want), "got \"%s\", the reference walk \"%s\"\n", got, want);
	FUZZ_CHECK(!strcmp(got, "peer") || strstr(xff, got), "\"%s\" is not in the header\n", got);

	for (size_t n = 1; n < sizeof(got); n += 7) {
		char small[64];
		memset(small, 'x', sizeof(small));
		char *w = strdup(xff);
		if (!w)
			abort();
		snprintf(small, n, "peer");
		forwarded_client(p, w, small, n);
		free(w);
		FUZZ_CHECK(memchr(small, '\0', n) != NULL, "not terminated within %zu bytes\n", n);
		FUZZ_CHECK(!strncmp(small, got, strlen(small)), "size %zu: \"%s\" is no prefix of "
			"\"%s\"\n", n, small, got);
	}
	free(work);
	free(xff);
	return 0;
}
