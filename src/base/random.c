#include "random.h"

#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

#include "clock.h"

void random_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = getrandom(b, n, 0);
		if (r <= 0) { /* never seen: the clock, guessable, but the ids still work */
			uint64_t t = (uint64_t)clock_mono_us() ^ (uint64_t)clock_wall_us() << 17;
			for (; n; n--, b++) {
				t = t * 6364136223846793005ull + 1442695040888963407ull;
				*b = (uint8_t)(t >> 56);
			}
			return;
		}
		b += r;
		n -= (size_t)r;
	}
}

void random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[32];
	n = n > 2 * sizeof(raw) ? 2 * sizeof(raw) : n & ~(size_t)1;
	random_bytes(raw, n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[n] = '\0';
}
