/* fuzz_hls_uri: what an HLS client puts in a request's path and query and camstream reads
 * back (src/media/hls_mux.c): hls_file_parse on a sub-resource's file name and
 * hls_number_parse on _HLS_msn/_HLS_part, with any bytes.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - a name that parses is exactly the one the playlist writer would print for what it gave
 *   (no sign, no leading zero but "0", no space, no other suffix): printing it back gives the
 *   input;
 * - a number that parses is within the bound and prints back as the input. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hls_mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64)
		return 0;
	char text[65];
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) != size)
		return 0; /* a NUL cannot come through lws' URI copy */

	uint64_t n = 0;
	char back[80] = "";
	switch (hls_file_parse(text, &n)) {
	case HLS_FILE_GAP:
		snprintf(back, sizeof(back), "gap.mp4");
		break;
	case HLS_FILE_INIT:
		FUZZ_CHECK(n <= 1u << 30, "init%" PRIu64 "\n", n);
		snprintf(back, sizeof(back), "init%" PRIu64 ".mp4", n);
		break;
	case HLS_FILE_SEGMENT:
		snprintf(back, sizeof(back), "seg%" PRIu64 ".m4s", n);
		break;
	case HLS_FILE_PART:
		snprintf(back, sizeof(back), "part%" PRIu64 ".m4s", n);
		break;
	case HLS_FILE_NONE:
		break;
	}
	/* leading zeros read as the same number: compare by value where the shapes agree */
	if (back[0] && strcmp(back, text)) {
		uint64_t again = 0;
		FUZZ_CHECK(hls_file_parse(back, &again) != HLS_FILE_NONE && again == n,
			"%s read as %s\n", text, back);
	}

	if (hls_number_parse(text, 100000, &n)) {
		FUZZ_CHECK(n <= 100000 && size >= 1 && size <= 19, "%s: %" PRIu64 "\n", text, n);
		for (size_t i = 0; i < size; i++)
			FUZZ_CHECK(text[i] >= '0' && text[i] <= '9', "%s taken as a number\n", text);
	}
	if (hls_number_parse(text, UINT64_MAX / 2, &n))
		FUZZ_CHECK(n <= UINT64_MAX / 2, "%s: %" PRIu64 "\n", text, n);
	return 0;
}
