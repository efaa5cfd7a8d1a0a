/* camstream: IP camera streams (RTSP, RTMP) to browsers, one JPEG per WebSocket message. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int main(int argc, char **argv)
{
	struct config cfg;
	switch (config_load(&cfg, argc, argv, stdout)) {
	case CONFIG_EXIT_OK:
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
