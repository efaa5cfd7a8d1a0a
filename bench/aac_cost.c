/* aac_cost: what src/media/aac_transcode.c costs a source's worker: CPU time to turn 10 s of
 * each camera codec into AAC, the best of five runs, and the share of one core it means
 * while the camera plays. The input is made first (tests/unit/audio_gen.h) and is not timed:
 * a 1 kHz sine (the encoder's easy case), and the same under white noise at a third of full
 * scale (a hissing microphone: its hard case).
 *
 *   build/tests/aac_cost [SECONDS [ENCODER]]
 *       SECONDS of audio (10); only the input made by ENCODER (pcm_alaw, g722, libopus, ...)
 *       when named, e.g. under valgrind --tool=callgrind. docs/PERFORMANCE.md "Audio to AAC".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include "aac_transcode.h"
#include "audio_gen.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count(void *arg, const uint8_t *frame, size_t len, int64_t pts_us)
{
	size_t *bytes = arg;
	(void)frame;
	(void)pts_us;
	*bytes += len;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *encoder;
		int rate, channels;
		int64_t bit_rate;
		double noise;
	} cases[] = {
		{ "pcm_alaw", 8000, 1, 0, 0 },
		{ "pcm_alaw", 8000, 1, 0, 0.3 },
		{ "pcm_mulaw", 8000, 1, 0, 0 },
		{ "g722", 16000, 1, 0, 0 },
		{ "g722", 16000, 1, 0, 0.3 },
		{ "g726", 8000, 1, 32000, 0 },
		{ "libopus", 48000, 1, 32000, 0 },
		{ "libopus", 48000, 2, 64000, 0 },
		{ "libopus", 48000, 2, 64000, 0.3 },
		{ "libmp3lame", 22050, 1, 48000, 0 },
	};
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 10;
	if (!(seconds > 0 && seconds <= 3600)) {
		fprintf(stderr, "usage: %s [SECONDS [ENCODER]]\n", argv[0]);
		return 2;
	}
	av_log_set_level(AV_LOG_FATAL);
	printf("%-12s %6s %3s %-5s  %10s  %8s  %s\n", "codec", "Hz", "ch", "input", "AAC",
		"CPU ms", "of one core");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (argc > 2 && strcmp(argv[2], cases[i].encoder) != 0)
			continue;
		struct gen_audio g;
		struct gen_signal sig = { .freq = 1000, .noise = cases[i].noise };
		if (!gen_audio_signal(&g, cases[i].encoder, cases[i].rate, cases[i].channels,
			cases[i].bit_rate, seconds, &sig, 0)) {
			printf("%-12s (no encoder here)\n", cases[i].encoder);
			continue;
		}
		double best = 1e9;
		size_t bytes = 0;
		unsigned out_rate = 0;
		for (int run = 0; run < 5; run++) {
			char why[128];
			double t0 = cpu_now();
			struct aac_transcode *t = aac_transcode_create(g.par, why, sizeof(why));
			if (!t) {
				printf("%-12s not transcoded: %s\n", cases[i].encoder, why);
				break;
			}
			bytes = 0;
			for (size_t k = 0; k < g.n; k++)
				aac_transcode_push(t, g.pkts[k].data, g.pkts[k].len, g.pkts[k].pts_us,
					count, &bytes);
			out_rate = aac_transcode_rate(t);
			aac_transcode_destroy(t);
			double dt = cpu_now() - t0;
			if (dt < best)
				best = dt;
		}
		if (best < 1e9)
			printf("%-12s %6d %3d %-5s  %5u Hz %2.0fk  %8.1f  %5.2f %%\n",
				cases[i].encoder, cases[i].rate, cases[i].channels,
				cases[i].noise > 0 ? "noisy" : "sine", out_rate,
				bytes * 8 / seconds / 1000, best * 1000, best / seconds * 100);
		gen_free(&g);
	}
	return 0;
}
