#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "web_root.h"

enum opt_id {
	OPT_HOST = 'H',
	OPT_PORT = 'p',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_WEB_ROOT = 256,
	OPT_ALLOW_SCHEMES,
	OPT_OPEN_TIMEOUT,
	OPT_READ_TIMEOUT,
	OPT_ISOLATE,
	OPT_MAX_CLIENTS,
	OPT_LOG_LEVEL,
	OPT_CONFIG,
	OPT_CONFIG_WRITE,
	OPT_KEEP_WARM,
	OPT_TOKEN,
	OPT_TOKEN_FILE,
	OPT_ALLOW_ORIGIN,
	OPT_ALLOW_HOSTS,
	OPT_NAMED_ONLY,
	OPT_MAX_SESSIONS_PER_HOST,
	OPT_MAX_SOURCES,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_NO_SLICE_RELEASE,
	OPT_RTMP_PORT,
	OPT_RTMP_GRACE,
	OPT_WEBRTC_PORT,
	OPT_WEBRTC_HOST,
	OPT_ONVIF_DISCOVERY,
	OPT_CLUSTER_PEERS,
	OPT_CLUSTER_SELF,
	OPT_TRUSTED_PROXY,
};

struct opt_desc {
	const char *name;   /* long option, also CAMSTREAM_<NAME> with '-' -> '_' */
	int has_arg;
	int id;
	const char *arg;
	const char *help;
};

static const struct opt_desc opts[] = {
	{ "host", 1, OPT_HOST, "ADDR", "address to listen on (default 0.0.0.0)" },
	{ "port", 1, OPT_PORT, "N", "port to listen on (default 8000; 0 picks a free one)" },
	{ "web-root", 1, OPT_WEB_ROOT, "DIR",
		"folder holding the page, index.html (default: the installed page)" },
	{ "allow-schemes", 1, OPT_ALLOW_SCHEMES, "LIST",
		"extra source URL schemes, comma-separated (e.g. http,https)" },
	{ "open-timeout", 1, OPT_OPEN_TIMEOUT, "SECONDS", "limit on opening a source (default 10)" },
	{ "read-timeout", 1, OPT_READ_TIMEOUT, "SECONDS",
		"a source silent this long fails its viewers (default 5)" },
	{ "isolate", 0, OPT_ISOLATE, NULL, "one pull worker per connection, no sharing" },
	{ "max-clients", 1, OPT_MAX_CLIENTS, "N", "most viewers at once (default 100; 0 = no limit)" },
	{ "log-level", 1, OPT_LOG_LEVEL, "LEVEL", "error, warn, info (default) or debug" },
	{ "config", 1, OPT_CONFIG, "FILE", "named streams and settings (JSON)" },
	{ "config-write", 0, OPT_CONFIG_WRITE, NULL,
		"save stream changes made through the API to the config file" },
	{ "keep-warm", 1, OPT_KEEP_WARM, "SECONDS",
		"keep a source a snapshot started running this long (default 10)" },
	{ "token", 1, OPT_TOKEN, "TOKEN", "require this access token (Bearer or ?token=)" },
	{ "token-file", 1, OPT_TOKEN_FILE, "PATH", "read the access token from a file" },
	{ "allow-origin", 1, OPT_ALLOW_ORIGIN, "LIST",
		"origins whose pages may open WebSockets (exact; null = file://)" },
	{ "allow-hosts", 1, OPT_ALLOW_HOSTS, "LIST",
		"camera hosts ad-hoc URLs may reach: names, *.suffix, CIDRs" },
	{ "named-only", 0, OPT_NAMED_ONLY, NULL, "refuse ad-hoc camera URLs; named streams only" },
	{ "max-sessions-per-host", 1, OPT_MAX_SESSIONS_PER_HOST, "N",
		"most camera sessions per camera host:port (0 = no limit)" },
	{ "max-sources", 1, OPT_MAX_SOURCES, "N", "most sources running at once (0 = no limit)" },
	{ "tls-cert", 1, OPT_TLS_CERT, "PEM", "serve https and wss with this certificate" },
	{ "tls-key", 1, OPT_TLS_KEY, "PEM", "the certificate's private key" },
	{ "rtmp-port", 1, OPT_RTMP_PORT, "N|off",
		"RTMP ingest port for rtmp://HOST:N/live/KEY (default 1935; 0 any free one)" },
	{ "rtmp-grace", 1, OPT_RTMP_GRACE, "SECONDS",
		"viewers of a publisher that left wait this long for it (default 5)" },
	{ "webrtc-port", 1, OPT_WEBRTC_PORT, "N|off",
		"UDP port of WebRTC (WHEP) sessions (default 8189; 0 any free one)" },
	{ "webrtc-host", 1, OPT_WEBRTC_HOST, "LIST",
		"addresses WebRTC answers give browsers (default: this machine's)" },
	{ "onvif-discovery", 1, OPT_ONVIF_DISCOVERY, "on|off",
		"answer /api/onvif/discover with a WS-Discovery search (default on)" },
	{ "cluster-peers", 1, OPT_CLUSTER_PEERS, "LIST",
		"every instance of a cluster, same order on each: http://HOST:PORT,..." },
	{ "cluster-self", 1, OPT_CLUSTER_SELF, "N",
		"this instance's place in --cluster-peers, from 1" },
	{ "trusted-proxy", 1, OPT_TRUSTED_PROXY, "LIST",
		"proxy addresses/CIDRs whose X-Forwarded-For the log believes" },
	{ "no-slice-release", 0, OPT_NO_SLICE_RELEASE, NULL,
		"hand H.264 pictures to the decoder when the next one starts (to compare)" },
	{ "version", 0, OPT_VERSION, NULL,
		"print the versions of camstream and its libraries and exit" },
	{ "help", 0, OPT_HELP, NULL, "print this help and exit" },
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static bool parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_seconds_ms(const char *s, int *out_ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 3600)
		return false;
	*out_ms = (int)lround(v * 1000.0);
	return *out_ms > 0;
}

/* 0 allowed: "do not keep warm" */
static bool parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600)
		return false;
	*out = v;
	return true;
}

/* A comma-separated list of numeric IPv4 or IPv6 addresses (what an ICE candidate carries). */
static bool parse_host_list(const char *s)
{
	char buf[1024];
	if (!*s || strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *save = NULL;
	int n = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
		unsigned char addr[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET, t, addr) != 1 && inet_pton(AF_INET6, t, addr) != 1)
			return false;
	}
	return n > 0 && n <= 8 && s[strlen(s) - 1] != ',' && s[0] != ',' && !strstr(s, ",,");
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*out = false;
		return true;
	}
	return false;
}

static bool allow_schemes(struct config *c, const char *list, const char *origin)
{
	char buf[512];
	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "camstream: %s: list too long\n", origin);
		return false;
	}
	memcpy(buf, list, strlen(list) + 1);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct cs_error err;
		if (url_policy_allow(&c->policy, tok, &err) != CS_OK) {
			fprintf(stderr, "camstream: %s: %s\n", origin, err.msg);
			return false;
		}
	}
	return true;
}

/* The first line of @path, so the token never shows in `ps`. */
static bool read_token_file(struct config *c, const char *path, const char *origin)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "camstream: %s: cannot read %s\n", origin, path);
		return false;
	}
	char line[sizeof(c->token) + 2];
	bool ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (ok) {
		line[strcspn(line, "\r\n")] = '\0';
		ok = str_fits(c->token, sizeof(c->token), line);
	}
	if (!ok)
		fprintf(stderr, "camstream: %s: %s holds no usable token on its first line\n",
			origin, path);
	return ok;
}

/* Addresses and CIDRs only: a proxy is known by the address it connects from. */
static bool trusted_proxies(struct config *c, const char *list, const char *origin)
{
	struct cs_error err;
	int before = c->trusted_proxy.n;
	if (net_policy_add_list(&c->trusted_proxy, list, &err) != CS_OK) {
		fprintf(stderr, "camstream: %s: %s\n", origin, err.msg);
		return false;
	}
	for (int i = before; i < c->trusted_proxy.n; i++)
		if (!c->trusted_proxy.rules[i].is_range) {
			fprintf(stderr, "camstream: %s: \"%.64s\" is not an address or CIDR range\n",
				origin, c->trusted_proxy.rules[i].name);
			return false;
		}
	return true;
}

/* Applies one option's value; @origin names where it came from for the error message. */
static bool apply(struct config *c, int id, const char *val, const char *origin)
{
	bool ok = true;
	switch (id) {
	case OPT_HOST:
		ok = str_fits(c->host, sizeof(c->host), val);
		break;
	case OPT_PORT:
		ok = parse_int(val, 0, 65535, &c->port);
		break;
	case OPT_WEB_ROOT:
		ok = str_fits(c->web_root, sizeof(c->web_root), val);
		break;
	case OPT_ALLOW_SCHEMES:
		return allow_schemes(c, val, origin);
	case OPT_OPEN_TIMEOUT:
		ok = parse_seconds_ms(val, &c->open_timeout_ms);
		break;
	case OPT_READ_TIMEOUT:
		ok = parse_seconds_ms(val, &c->read_timeout_ms);
		break;
	case OPT_ISOLATE:
		ok = val ? parse_bool(val, &c->isolate) : (c->isolate = true);
		break;
	case OPT_MAX_CLIENTS:
		ok = parse_int(val, 0, 1000000, &c->max_clients);
		break;
	case OPT_LOG_LEVEL:
		ok = log_parse_level(val, &c->log_level);
		break;
	case OPT_CONFIG:
		ok = str_fits(c->config_file, sizeof(c->config_file), val);
		break;
	case OPT_CONFIG_WRITE:
		ok = val ? parse_bool(val, &c->config_write) : (c->config_write = true);
		break;
	case OPT_KEEP_WARM:
		ok = parse_seconds(val, &c->keep_warm_s);
		break;
	case OPT_TOKEN:
		ok = str_fits(c->token, sizeof(c->token), val);
		break;
	case OPT_TOKEN_FILE:
		return read_token_file(c, val, origin);
	case OPT_ALLOW_ORIGIN:
		ok = str_fits(c->allow_origin, sizeof(c->allow_origin), val);
		break;
	case OPT_ALLOW_HOSTS: {
		struct cs_error err;
		if (net_policy_add_list(&c->hosts, val, &err) != CS_OK) {
			fprintf(stderr, "camstream: %s: %s\n", origin, err.msg);
			return false;
		}
		break;
	}
	case OPT_NAMED_ONLY:
		ok = val ? parse_bool(val, &c->named_only) : (c->named_only = true);
		break;
	case OPT_MAX_SESSIONS_PER_HOST:
		ok = parse_int(val, 0, 1000000, &c->max_sessions_per_host);
		break;
	case OPT_MAX_SOURCES:
		ok = parse_int(val, 0, 1000000, &c->max_sources);
		break;
	case OPT_TLS_CERT:
		ok = str_fits(c->tls_cert, sizeof(c->tls_cert), val);
		break;
	case OPT_TLS_KEY:
		ok = str_fits(c->tls_key, sizeof(c->tls_key), val);
		break;
	case OPT_NO_SLICE_RELEASE:
		ok = val ? parse_bool(val, &c->no_slice_release) : (c->no_slice_release = true);
		break;
	case OPT_RTMP_PORT:
		if (!strcmp(val, "off"))
			c->rtmp_port = -1;
		else
			ok = parse_int(val, 0, 65535, &c->rtmp_port);
		c->rtmp_port_given = true;
		break;
	case OPT_RTMP_GRACE:
		ok = parse_seconds(val, &c->rtmp_grace_s);
		break;
	case OPT_WEBRTC_PORT:
		if (!strcmp(val, "off"))
			c->webrtc_port = -1;
		else
			ok = parse_int(val, 0, 65535, &c->webrtc_port);
		c->webrtc_port_given = true;
		break;
	case OPT_WEBRTC_HOST:
		ok = parse_host_list(val) && str_fits(c->webrtc_host, sizeof(c->webrtc_host), val);
		break;
	case OPT_ONVIF_DISCOVERY:
		ok = parse_bool(val, &c->onvif_discovery);
		break;
	case OPT_CLUSTER_PEERS: {
		char why[160];
		if (!cluster_parse_peers(&c->cluster, val, why, sizeof(why))) {
			fprintf(stderr, "camstream: %s: %s\n", origin, why);
			return false;
		}
		break;
	}
	case OPT_CLUSTER_SELF:
		ok = parse_int(val, 1, CLUSTER_MAX, &c->cluster.self);
		break;
	case OPT_TRUSTED_PROXY:
		return trusted_proxies(c, val, origin);
	default:
		ok = false;
	}
	if (!ok)
		fprintf(stderr, "camstream: %s: invalid value \"%.64s\"\n", origin, val ? val : "");
	return ok;
}

static void print_help(FILE *out)
{
	fprintf(out, "Usage: camstream [OPTION]...\n"
		"Serves IP camera streams (RTSP, RTMP pull and push) to browsers: JPEG over WebSocket,\n"
		"MJPEG, snapshots, HTTP-FLV and WS-FLV.\n\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		char left[48];
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, opts[i].help);
	}
	fprintf(out, "\nDefault web root: %s\n", web_root_default());
	fprintf(out, "Each option can also be set by an environment variable, e.g.\n"
		"CAMSTREAM_READ_TIMEOUT=3 or CAMSTREAM_ISOLATE=1; the command line wins.\n"
		"Try the built-in test source: ws://HOST:PORT/ws/stream?rtsp_url=demo:\n");
}

static bool load_env(struct config *c)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		if (opts[i].id == OPT_HELP || opts[i].id == OPT_VERSION)
			continue;
		char var[64] = "CAMSTREAM_";
		size_t n = strlen(var);
		for (const char *s = opts[i].name; *s && n + 1 < sizeof(var); s++)
			var[n++] = *s == '-' ? '_' : (char)(*s - ('a' <= *s && *s <= 'z' ? 32 : 0));
		var[n] = '\0';
		const char *val = getenv(var);
		if (val && *val && !apply(c, opts[i].id, val, var))
			return false;
	}
	return true;
}

enum config_result config_load(struct config *c, int argc, char **argv, FILE *out)
{
	memset(c, 0, sizeof(*c));
	str_fits(c->host, sizeof(c->host), "0.0.0.0");
	c->port = 8000;
	str_fits(c->web_root, sizeof(c->web_root), web_root_default());
	c->open_timeout_ms = 10000;
	c->read_timeout_ms = 5000;
	c->max_clients = 100;
	c->log_level = LOG_INFO;
	c->keep_warm_s = 10;
	c->rtmp_port = 1935;
	c->rtmp_grace_s = 5;
	c->webrtc_port = 8189;
	c->onvif_discovery = true;

	if (!load_env(c))
		return CONFIG_ERROR;

	struct option longopts[N_OPTS + 1];
	for (size_t i = 0; i < N_OPTS; i++)
		longopts[i] = (struct option){ opts[i].name, opts[i].has_arg, NULL, opts[i].id };
	longopts[N_OPTS] = (struct option){ 0 };

	optind = 0; /* full reset, so config_load can run more than once (tests) */
	opterr = 0;
	int id;
	while ((id = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		char origin[64] = "";
		if (id == OPT_HELP) {
			print_help(out);
			return CONFIG_EXIT_OK;
		}
		if (id == OPT_VERSION)
			return CONFIG_EXIT_VERSION; /* the caller prints it, libraries included */
		if (id == '?' || id == ':') {
			fprintf(stderr, "camstream: %s %s (try --help)\n",
				id == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return CONFIG_ERROR;
		}
		for (size_t i = 0; i < N_OPTS; i++)
			if (opts[i].id == id)
				snprintf(origin, sizeof(origin), "--%s", opts[i].name);
		if (!apply(c, id, optarg, origin))
			return CONFIG_ERROR;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		fprintf(stderr, "camstream: --tls-cert and --tls-key go together\n");
		return CONFIG_ERROR;
	}
	if (c->cluster.n && !c->cluster.self) {
		fprintf(stderr, "camstream: --cluster-peers needs --cluster-self N (this instance's "
			"place in the list)\n");
		return CONFIG_ERROR;
	}
	if (c->cluster.n && c->tls_cert[0]) {
		fprintf(stderr, "camstream: --cluster-peers and --tls-cert do not go together: in a "
			"cluster the balancer ends TLS, and the instances speak plain http to it and to "
			"each other\n");
		return CONFIG_ERROR;
	}
	if (c->cluster.self > c->cluster.n) {
		if (c->cluster.n)
			fprintf(stderr, "camstream: --cluster-self %d is past the %d peers of "
				"--cluster-peers\n", c->cluster.self, c->cluster.n);
		else
			fprintf(stderr, "camstream: --cluster-self needs --cluster-peers\n");
		return CONFIG_ERROR;
	}
	if (optind < argc) {
		fprintf(stderr, "camstream: unexpected argument \"%.64s\" (try --help)\n", argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}
