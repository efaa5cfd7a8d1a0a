/* camstream: IP camera streams (RTSP, RTMP) to browsers, one JPEG per WebSocket message. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "version.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* glibc gives every thread that allocates under contention an arena of its own, up to 8 per
 * core, and keeps each one's pages after the thread is gone: a soak with peaks of 7-9
 * threads (a worker and its decoder threads per camera) ended 6-10 MB above where it began.
 * One arena per core ended where it began, and started 2 MB lower. Before any thread. */
static void limit_malloc_arenas(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	mallopt(M_ARENA_MAX, cores > 2 ? (int)cores : 2);
}

int main(int argc, char **argv)
{
	struct config cfg;

	limit_malloc_arenas();
	switch (config_load(&cfg, argc, argv, stdout)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_EXIT_VERSION:
		version_print(stdout);
		return 0;
	case CONFIG_ERROR:
		return 2;
	case CONFIG_OK:
		break;
	}
	log_set_level(cfg.log_level);

	/* no SA_RESTART: the service thread's poll() must return EINTR to notice the flag */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	return server_run(&cfg, &stop_requested) == 0 ? 0 : 1;
}
