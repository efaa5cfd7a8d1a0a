/* demo: the built-in test picture. Everything is drawn in limited-range YUV 4:2:0 the way a
 * camera's H.264 decoder would deliver it, so the demo exercises the encoder's range
 * expansion: the bottom band holds true black (Y=16) and true white (Y=235).
 *
 * Layout, top to bottom: 75% colour bars scrolling sideways with a bouncing orange block
 * (0 .. 60%), a luma ramp 16..235 (60 .. 75%), then black and white halves carrying the
 * wall-clock time and the picture number in a 5x7 bitmap font scaled up (75 .. 100%).
 * Each call redraws the whole picture with row copies and small fills: well under 1 ms at
 * 1280x720. */
#include "demo.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define Y_BLACK 16
#define Y_WHITE 235
#define C_ZERO 128

struct demo {
	AVFrame *pic;  /* the picture handed out by demo_draw (av_frame_free) */
	int w, h;
	int cw, ch;    /* chroma plane size */
	/* One period of the bars, twice over, per plane: a scrolled row is one memcpy. */
	uint8_t *bars_y, *bars_u, *bars_v;  /* 2*w and 2*cw bytes; one malloc at bars_y */
	uint8_t *ramp;                      /* w bytes of the luma ramp, inside the same block */
};

struct yuv {
	uint8_t y, u, v;
};

/* BT.601 75% colour bars in limited range. */
static const struct yuv bar_colours[8] = {
	{ 180, 128, 128 }, /* white */
	{ 162, 44, 142 },  /* yellow */
	{ 131, 156, 44 },  /* cyan */
	{ 112, 72, 58 },   /* green */
	{ 84, 184, 198 },  /* magenta */
	{ 65, 100, 212 },  /* red */
	{ 35, 212, 114 },  /* blue */
	{ 16, 128, 128 },  /* black */
};

static const struct yuv block_colour = { 146, 53, 193 }; /* orange */

/* 5x7 glyphs, one byte per row, bit 4 is the leftmost column. */
static const uint8_t font_digits[10][7] = {
	{ 0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E },
	{ 0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E },
	{ 0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F },
	{ 0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E },
	{ 0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02 },
	{ 0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E },
	{ 0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E },
	{ 0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 },
	{ 0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E },
	{ 0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C },
};
static const uint8_t font_colon[7] = { 0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00 };
static const uint8_t font_dot[7] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C };

#define GLYPH_W 5
#define GLYPH_H 7
#define CELL_W 6 /* glyph plus one column of spacing */

struct demo *demo_create(int width, int height)
{
	if (width < 16 || height < 16 || width > 8192 || height > 8192)
		return NULL;

	struct demo *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->w = width;
	d->h = height;
	d->cw = (width + 1) / 2;
	d->ch = (height + 1) / 2;

	d->pic = av_frame_alloc();
	if (!d->pic)
		goto fail;
	d->pic->format = AV_PIX_FMT_YUV420P;
	d->pic->width = width;
	d->pic->height = height;
	d->pic->color_range = AVCOL_RANGE_MPEG;
	d->pic->colorspace = AVCOL_SPC_BT470BG;
	if (av_frame_get_buffer(d->pic, 0) < 0)
		goto fail;

	d->bars_y = malloc((size_t)2 * d->w + (size_t)4 * d->cw + d->w);
	if (!d->bars_y)
		goto fail;
	d->bars_u = d->bars_y + 2 * d->w;
	d->bars_v = d->bars_u + 2 * d->cw;
	d->ramp = d->bars_v + 2 * d->cw;
	for (int x = 0; x < 2 * d->w; x++) {
		const struct yuv *c = &bar_colours[(x % d->w) * 8 / d->w];
		d->bars_y[x] = c->y;
		if (x % 2 == 0 && x / 2 < 2 * d->cw) {
			d->bars_u[x / 2] = c->u;
			d->bars_v[x / 2] = c->v;
		}
	}
	/* An odd width leaves the last chroma sample of the second period unset above. */
	d->bars_u[2 * d->cw - 1] = d->bars_u[d->cw - 1];
	d->bars_v[2 * d->cw - 1] = d->bars_v[d->cw - 1];
	for (int x = 0; x < d->w; x++)
		d->ramp[x] = (uint8_t)(Y_BLACK + (Y_WHITE - Y_BLACK) * x / (d->w - 1));
	return d;

fail:
	demo_destroy(d);
	return NULL;
}

void demo_destroy(struct demo *d)
{
	if (!d)
		return;
	av_frame_free(&d->pic);
	free(d->bars_y);
	free(d);
}

/* Fills luma [x0,x1) x [y0,y1), clipped to the picture. */
static void fill_luma(struct demo *d, int x0, int y0, int x1, int y1, uint8_t v)
{
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > d->w ? d->w : x1;
	y1 = y1 > d->h ? d->h : y1;
	for (int y = y0; y < y1 && x0 < x1; y++)
		memset(d->pic->data[0] + (ptrdiff_t)y * d->pic->linesize[0] + x0, v,
			(size_t)(x1 - x0));
}

/* Fills chroma for the luma rectangle [x0,x1) x [y0,y1) (coordinates should be even). */
static void fill_chroma(struct demo *d, int x0, int y0, int x1, int y1, uint8_t u, uint8_t v)
{
	x0 = x0 < 0 ? 0 : x0 / 2;
	y0 = y0 < 0 ? 0 : y0 / 2;
	x1 = (x1 + 1) / 2 > d->cw ? d->cw : (x1 + 1) / 2;
	y1 = (y1 + 1) / 2 > d->ch ? d->ch : (y1 + 1) / 2;
	for (int y = y0; y < y1 && x0 < x1; y++) {
		memset(d->pic->data[1] + (ptrdiff_t)y * d->pic->linesize[1] + x0, u,
			(size_t)(x1 - x0));
		memset(d->pic->data[2] + (ptrdiff_t)y * d->pic->linesize[2] + x0, v,
			(size_t)(x1 - x0));
	}
}

static const uint8_t *glyph(char c)
{
	if (c >= '0' && c <= '9')
		return font_digits[c - '0'];
	if (c == ':')
		return font_colon;
	if (c == '.')
		return font_dot;
	return NULL;
}

/* Draws @text in luma @v with its top left at (@x, @y), each font pixel @s x @s. */
static void draw_text(struct demo *d, const char *text, int x, int y, int s, uint8_t v)
{
	for (; *text; text++, x += CELL_W * s) {
		const uint8_t *g = glyph(*text);
		if (!g)
			continue;
		for (int row = 0; row < GLYPH_H; row++)
			for (int col = 0; col < GLYPH_W; col++)
				if (g[row] & (0x10 >> col))
					fill_luma(d, x + col * s, y + row * s, x + (col + 1) * s,
						y + (row + 1) * s, v);
	}
}

/* Position along a back-and-forth path of length @span after @t steps. */
static int bounce(uint64_t t, int span)
{
	if (span <= 0)
		return 0;
	uint64_t p = t % (uint64_t)(2 * span);
	return (int)(p < (uint64_t)span ? p : 2 * (uint64_t)span - p);
}

const AVFrame *demo_draw(struct demo *d, uint64_t n, int64_t wall_us)
{
	AVFrame *pic = d->pic;
	int bars_h = d->h * 60 / 100 & ~1, ramp_h = d->h * 75 / 100 & ~1;
	int off = (int)((n * 4) % (uint64_t)d->w) & ~1;

	pic->pts = (int64_t)n;

	/* Scrolling bars, then the ramp, then the black and white halves. */
	for (int y = 0; y < bars_h; y++)
		memcpy(pic->data[0] + (ptrdiff_t)y * pic->linesize[0], d->bars_y + off, d->w);
	for (int y = 0; y < bars_h / 2; y++) {
		memcpy(pic->data[1] + (ptrdiff_t)y * pic->linesize[1], d->bars_u + off / 2, d->cw);
		memcpy(pic->data[2] + (ptrdiff_t)y * pic->linesize[2], d->bars_v + off / 2, d->cw);
	}
	for (int y = bars_h; y < ramp_h; y++)
		memcpy(pic->data[0] + (ptrdiff_t)y * pic->linesize[0], d->ramp, d->w);
	int half = d->w / 2 & ~1;
	fill_luma(d, 0, ramp_h, half, d->h, Y_BLACK);
	fill_luma(d, half, ramp_h, d->w, d->h, Y_WHITE);
	fill_chroma(d, 0, bars_h, d->w, d->h, C_ZERO, C_ZERO);

	/* The bouncing block, kept inside the bars. */
	int bs = d->h / 6 & ~1;
	int bx = bounce(n * 6, d->w - bs) & ~1, by = bounce(n * 4, bars_h - bs) & ~1;
	fill_luma(d, bx, by, bx + bs, by + bs, block_colour.y);
	fill_chroma(d, bx, by, bx + bs, by + bs, block_colour.u, block_colour.v);

	/* The clock (UTC) on black, the picture number on white. */
	char clock[16], count[24];
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		(int)((wall_us / 1000) % 1000));
	snprintf(count, sizeof(count), "%" PRIu64, n);

	int band = d->h - ramp_h;
	int s = (half - half / 16) / (CELL_W * 12);
	if (s > band / (GLYPH_H + 4))
		s = band / (GLYPH_H + 4);
	if (s < 1)
		s = 1;
	int ty = ramp_h + (band - GLYPH_H * s) / 2;
	draw_text(d, clock, half / 24, ty, s, Y_WHITE);
	draw_text(d, count, half + half / 24, ty, s, Y_BLACK);
	return pic;
}

/* ---- the input ----------------------------------------------------------------------- */

#define DEMO_W 1280
#define DEMO_H 720
#define DEMO_FPS 25

/* Sleeps until @deadline_us (monotonic), in steps of at most 50 ms so that stop is noticed. */
static void sleep_until(struct source *s, int64_t deadline_us)
{
	int64_t now;
	while (!source_stopping(s) && (now = clock_mono_us()) < deadline_us) {
		int64_t until = deadline_us - now > 50000 ? now + 50000 : deadline_us;
		struct timespec t = { .tv_sec = until / 1000000, .tv_nsec = until % 1000000 * 1000 };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
}

static int64_t run_session(struct source *s, struct cs_error *why)
{
	const char *url = source_params(s)->display_url;
	struct demo *d = demo_create(DEMO_W, DEMO_H);
	const int64_t period = 1000000 / DEMO_FPS;

	if (!d) {
		cs_fail(why, CS_OPEN_FAILED, "cannot start the demo source");
		return 0;
	}
	source_playing(s, "demo", DEMO_W, DEMO_H, DEMO_FPS);
	log_info("source %s: playing demo %dx%d at %d fps", url, DEMO_W, DEMO_H, DEMO_FPS);
	int64_t start = clock_mono_us(), next = start;
	for (uint64_t n = 0; !source_stopping(s); n++) {
		int64_t wall = clock_wall_us();
		/* Drawing costs well under a millisecond, but nothing is drawn for no output. */
		if (source_picture_wanted(s))
			source_push_picture(s, demo_draw(d, n, wall), wall);
		else
			source_push_picture(s, NULL, wall);

		/* Absolute deadlines keep the rate exact; after a stall, restart from now rather
		 * than bursting to catch up. */
		next += period;
		int64_t now = clock_mono_us();
		if (now - next > period)
			next = now;
		sleep_until(s, next);
	}
	demo_destroy(d);
	return clock_mono_us() - start;
}

const struct input_ops demo_input = {
	.name = "demo",
	.run_session = run_session,
};
