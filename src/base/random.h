/* random: unguessable bytes for the ids that are capabilities (HLS and WebRTC session ids, ICE
 * credentials) and for what RFC 3550 wants random (SSRCs, first sequence numbers). From the
 * kernel's getrandom(2); should it ever fail, from the clock, which is guessable. Any thread. */
#ifndef CAMSTREAM_RANDOM_H
#define CAMSTREAM_RANDOM_H

#include <stddef.h>

void random_bytes(void *p, size_t n);
/* @n lowercase hex digits (n even, at most 64) and a NUL into @out: n * 4 random bits. */
void random_hex(char *out, size_t n);

#endif
