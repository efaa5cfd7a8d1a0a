/* demo: the built-in test source "demo:". Draws moving colour bars, a bouncing block and the
 * wall-clock time into a YUV 4:2:0 picture, so the whole encode and fan-out path can be seen
 * without a camera. Worker thread only. */
#ifndef CAMSTREAM_DEMO_H
#define CAMSTREAM_DEMO_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "input.h"

struct demo;

/* A 1280x720 generator (limited-range yuv420p, like a camera's decoder output). */
struct demo *demo_create(int width, int height);
void demo_destroy(struct demo *d); /* NULL is fine */

/* Draws picture number @n showing @wall_us (CLOCK_REALTIME µs). The returned frame belongs
 * to the generator and is valid until the next call. */
const AVFrame *demo_draw(struct demo *d, uint64_t n, int64_t wall_us);

/* The input "demo:" runs: 1280x720 at 25 fps, drawn only when an output takes the picture.
 * It has no coded form. */
extern const struct input_ops demo_input;

#endif
