/* config: the server's settings from the command line and CAMSTREAM_* environment variables
 * (the command line wins), validated once at start. */
#ifndef CAMSTREAM_CONFIG_H
#define CAMSTREAM_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "cluster.h"
#include "log.h"
#include "netpolicy.h"
#include "schemes.h"

struct config {
	char host[256];         /* listen address; default 0.0.0.0 */
	int port;               /* default 8000; 0 = any free port */
	char web_root[4096];    /* folder with index.html; default the built-in path */
	struct url_policy policy;
	int open_timeout_ms;    /* default 10000 */
	int read_timeout_ms;    /* default 5000 */
	bool isolate;           /* one worker per connection */
	int max_clients;        /* default 100; 0 = no limit */
	char config_file[4096]; /* named streams (seed 001's JSON); "" = none */
	bool config_write;      /* save API changes back to config_file */
	double keep_warm_s;     /* a source started by a snapshot idles this long; default 10 */
	char token[256];        /* "" = no access token required */
	char allow_origin[1024];/* comma-separated exact origins ("null" = file:// pages); ""
	                           = the default: same host, null, or no Origin header */
	struct net_policy hosts;/* --allow-hosts: cameras ad-hoc URLs may reach */
	bool named_only;        /* refuse ad-hoc camera URLs */
	int max_sessions_per_host; /* camera sessions per host:port; 0 = no limit */
	int max_sources;        /* running sources; 0 = no limit */
	char tls_cert[4096];    /* "" = plain http/ws */
	char tls_key[4096];
	enum log_level log_level;
	bool no_slice_release;  /* H.264 pictures end when the next begins (A/B comparisons) */
	int rtmp_port;          /* RTMP ingest; default 1935; 0 = any free port; -1 = off */
	bool rtmp_port_given;   /* asked for explicitly: failing to bind it is a start-up error */
	double rtmp_grace_s;    /* a publisher's viewers wait this long for it to come back */
	int webrtc_port;        /* WebRTC's UDP port; default 8189; 0 = any free port; -1 = off */
	bool webrtc_port_given; /* asked for explicitly: failing to bind it is a start-up error */
	char webrtc_host[1024]; /* addresses for ICE candidates, comma-separated; "" = default */
	bool onvif_discovery;   /* /api/onvif/discover searches (WS-Discovery); default true */
	struct cluster cluster; /* --cluster-peers and --cluster-self; n = 0: no cluster */
	struct net_policy trusted_proxy; /* proxies whose X-Forwarded-For logs believe */
};

enum config_result { CONFIG_OK = 0, CONFIG_EXIT_OK, CONFIG_ERROR };

/* Fills @c from defaults, the environment and then @argv. --help and --version print to
 * @out and give CONFIG_EXIT_OK; a bad value prints one line to stderr and gives CONFIG_ERROR. */
enum config_result config_load(struct config *c, int argc, char **argv, FILE *out);

#endif
