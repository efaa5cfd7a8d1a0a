/* clock: the two clocks camstream reads. Wall time (CLOCK_REALTIME) stamps pictures, so a page
 * can tell how old one is; monotonic time (CLOCK_MONOTONIC) measures every wait and deadline.
 * Any thread. */
#ifndef CAMSTREAM_CLOCK_H
#define CAMSTREAM_CLOCK_H

#include <stdint.h>

/* Microseconds since the epoch. */
int64_t clock_wall_us(void);
/* Microseconds on a clock that never jumps; only differences mean anything. */
int64_t clock_mono_us(void);

#endif
