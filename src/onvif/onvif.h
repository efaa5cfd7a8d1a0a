/* onvif: the ONVIF client camstream runs for /api/onvif and seed 004's /openapi/onvif: a probe
 * of one device (its information, its media profiles and their RTSP URIs) and a WS-Discovery
 * search of the local networks. Both block (libcurl, poll) and so run on a worker thread of
 * their own (onvif_job), never on the service thread; every wait has a deadline and polls the
 * job's cancel flag (discovery every 100 ms, libcurl's progress callback about once a second
 * at worst). Every address used or returned passes the host policy (--allow-hosts): the
 * device's, each XAddr, each stream URI. Credentials reach only the device: never a log line,
 * an error message or the result. */
#ifndef CAMSTREAM_ONVIF_H
#define CAMSTREAM_ONVIF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "error.h"
#include "netpolicy.h"
#include "onvif_xml.h"

#define ONVIF_JOBS_MAX 4          /* ONVIF jobs running at once; more: CS_SERVER_BUSY */
#define ONVIF_CRED_MAX 128        /* username, password */
#define ONVIF_DISCOVER_MAX 64     /* devices kept from one discovery */
#define ONVIF_IFACES_MAX 16

/* Once, on the main thread, before any job (libcurl and libxml2 global init). */
void onvif_global_init(void);
void onvif_global_cleanup(void);

struct onvif_probe_req {
	char xaddr[ONVIF_URI_MAX];    /* the device service URL: http://host[:port]/path */
	char username[ONVIF_CRED_MAX], password[ONVIF_CRED_MAX]; /* "" = no authentication */
	int timeout_ms;               /* the whole probe's deadline */
	const struct net_policy *hosts; /* --allow-hosts (not owned), NULL or empty = any */
};

/* Builds @xaddr from what a client gave: a URL (http:// or https://) as is, else a host name
 * or address (IPv6 with or without brackets) and @port as "http://HOST:PORT/onvif/device_service".
 * CS_BAD_REQUEST for anything else (spaces, userinfo, another scheme, too long). */
enum cs_err onvif_xaddr_from(const char *host, int port, char *xaddr, size_t cap,
	struct cs_error *err);

/* The host (IPv6 without brackets) and port of @url, an http, https, rtsp or rtsps URL with
 * an authority: @port gets the scheme's default when the URL names none. @has_userinfo, if
 * not NULL, says whether the URL carries one. False for any other URL or a host over @cap. */
bool onvif_url_host(const char *url, char *host, size_t cap, int *port, bool *has_userinfo);

struct onvif_stream {
	struct onvif_profile p;
	char uri[ONVIF_URI_MAX];      /* as the device gave it ("" when refused or failed) */
	struct cs_error uri_err;      /* CS_OK, or why this profile has no URI */
};

struct onvif_probe_result {
	char xaddr[ONVIF_URI_MAX];
	struct onvif_device_info info;
	int64_t clock_offset_s;       /* device clock - ours */
	const char *auth;             /* "ws-security", "http-digest" or "none" (static) */
	bool media2;                  /* profiles and URIs came from Media2 */
	struct onvif_stream streams[ONVIF_MAX_PROFILES];
	size_t n;
};

/* Probes the device (blocking). @cancel is polled; set, the probe ends with CS_TIMEOUT
 * "cancelled". */
enum cs_err onvif_probe(const struct onvif_probe_req *req, const atomic_bool *cancel,
	struct onvif_probe_result *out, struct cs_error *err);

struct onvif_device {
	struct onvif_match m;         /* XAddrs outside the host policy already removed */
	char from[64];                /* the address the answer came from */
	char name[ONVIF_STR], hardware[ONVIF_STR], location[ONVIF_STR];
};

struct onvif_discovery {
	struct onvif_device devices[ONVIF_DISCOVER_MAX];
	size_t n;
	char ifaces[ONVIF_IFACES_MAX][64];  /* the interface addresses probed from */
	size_t n_ifaces;
	int refused;                  /* devices dropped: every XAddr outside the host policy */
	int malformed;                /* answers that did not parse */
};

/* A WS-Discovery search of @timeout_ms (blocking). @hosts filters XAddrs. */
enum cs_err onvif_discover(int timeout_ms, const struct net_policy *hosts,
	const atomic_bool *cancel, struct onvif_discovery *out, struct cs_error *err);

/* A job: a probe or a discovery on a thread of its own. The service thread creates it, keeps
 * it and, once onvif_job_done() says so, reads its result and frees it. @notify(@arg) is
 * called from the worker when it ends (lws_cancel_service through the server's waker). */
enum onvif_kind { ONVIF_JOB_PROBE, ONVIF_JOB_DISCOVER };
struct onvif_job {
	enum onvif_kind kind;
	struct onvif_probe_req req;       /* ONVIF_JOB_PROBE */
	int discover_ms;                  /* ONVIF_JOB_DISCOVER */
	const struct net_policy *hosts;   /* ONVIF_JOB_DISCOVER */
	/* results, read once done */
	enum cs_err rc;
	struct cs_error err;
	struct onvif_probe_result probe;
	struct onvif_discovery disc;
	/* private */
	atomic_bool cancel, done;
	bool started;
	pthread_t thread;
	void (*notify)(void *arg);
	void *notify_arg;
};

/* Starts @job's thread (@job zeroed, then its request fields filled, malloc'd). False (with
 * @err: CS_SERVER_BUSY) when ONVIF_JOBS_MAX run already or the thread cannot start; the
 * caller frees @job with onvif_job_free either way. */
bool onvif_job_start(struct onvif_job *job, void (*notify)(void *), void *arg,
	struct cs_error *err);
bool onvif_job_done(const struct onvif_job *job);
/* Asks the job to end soon (its waits poll the flag). */
void onvif_job_cancel(struct onvif_job *job);
/* Joins the thread, if it started (after done, or after cancel: within about a second), and frees
 * @job. NULL is fine. */
void onvif_job_free(struct onvif_job *job);

#endif
