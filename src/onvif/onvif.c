/* onvif: the probe of one device over SOAP (libcurl), and the jobs that run probes and
 * discoveries on threads of their own (see onvif.h).
 *
 * A probe: GetSystemDateAndTime without credentials (the device's clock, for the digest's
 * Created), GetDeviceInformation, GetServices (GetCapabilities for devices without it),
 * GetProfiles of Media2 if the device has it, else of Media, and GetStreamUri for each
 * profile. A Media2 failure before any URI falls back to Media for the whole probe. Requests
 * carry WS-Security's UsernameToken; a device that answers 401 with a Digest challenge gets
 * HTTP Digest from then on (libcurl's), with the UsernameToken still in the envelope. */
#include "onvif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clock.h"
#include "log.h"
#include "onvif_soap.h"
#include "random.h"
#include "redact.h"
#include "split.h"
#include "strbuf.h"
#include "text.h"

#define REQUEST_MAX_MS 5000  /* one request's deadline, within the probe's */

void onvif_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	onvif_xml_init();
}

void onvif_global_cleanup(void)
{
	onvif_xml_cleanup();
	curl_global_cleanup();
}

/* ---- addresses ---- */

bool onvif_url_host(const char *url, char *host, size_t cap, int *port, bool *has_userinfo)
{
	struct url_parts p;
	/* an '@' past the authority ("http://a/x@b/") makes the host depend on who reads the URL:
	 * FFmpeg's cut (url_split) says b, libcurl's says a. Such a URL is refused. */
	if (!url_split(url, &p) || !p.has_authority || !p.hostport_len || p.at_past_authority)
		return false;
	int dflt;
	if (p.scheme_len == 4 && str_eq_nocase(p.scheme, 4, "http"))
		dflt = 80;
	else if (p.scheme_len == 5 && str_eq_nocase(p.scheme, 5, "https"))
		dflt = 443;
	else if (p.scheme_len == 4 && str_eq_nocase(p.scheme, 4, "rtsp"))
		dflt = 554;
	else if (p.scheme_len == 5 && str_eq_nocase(p.scheme, 5, "rtsps"))
		dflt = 322;
	else
		return false;
	const char *h = p.hostport, *end = p.hostport + p.hostport_len, *colon;
	if (*h == '[') {
		const char *close = memchr(h, ']', p.hostport_len);
		if (!close)
			return false;
		h++;
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		end = close;
	} else {
		colon = memchr(h, ':', p.hostport_len);
		if (colon)
			end = colon;
	}
	size_t n = (size_t)(end - h);
	if (!n || n >= cap)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = dflt;
	if (colon) {
		char *e;
		long v = strtol(colon + 1, &e, 10);
		if (e == colon + 1 || v < 1 || v > 65535)
			return false;
		*port = (int)v;
	}
	if (has_userinfo)
		*has_userinfo = p.userinfo != NULL;
	return true;
}

static bool url_host(const char *url, char *host, size_t cap, int *port)
{
	return onvif_url_host(url, host, cap, port, NULL);
}

/* Whether @hosts refuses @host outright. A name the policy does not list is not looked up
 * here (a resolver has no deadline a job could keep): where camstream connects, the address
 * it connects to is checked (on_open here, the pull worker for a stream). */
static bool host_denied(const struct net_policy *hosts, const char *host)
{
	return hosts && hosts->n && net_policy_check_host(hosts, host) == NET_DENIED;
}

enum cs_err onvif_xaddr_from(const char *host, int port, char *xaddr, size_t cap,
	struct cs_error *err)
{
	if (!host || !*host)
		return cs_fail(err, CS_BAD_REQUEST, "give the device's \"host\" (an address or name, "
			"or its device service URL)");
	if (strlen(host) >= ONVIF_URI_MAX - 64 || str_has_control(host) || strchr(host, ' '))
		return cs_fail(err, CS_BAD_REQUEST, "the device's host is not an address, a name or a "
			"URL");
	if (strstr(host, "://")) {
		char h[256];
		int p;
		struct url_parts parts;
		if (!url_host(host, h, sizeof(h), &p) || !url_split(host, &parts) ||
			strncasecmp(host, "http", 4) || !(parts.scheme_len == 4 || (parts.scheme_len == 5
			&& (host[4] == 's' || host[4] == 'S'))))
			return cs_fail(err, CS_BAD_REQUEST, "the device's URL must be http://HOST[:PORT]"
				"/PATH or https://...");
		if (parts.userinfo)
			return cs_fail(err, CS_BAD_REQUEST, "give the credentials as \"username\" and "
				"\"password\", not in the device's URL");
		if (!str_fits(xaddr, cap, host))
			return cs_fail(err, CS_BAD_REQUEST, "the device's URL is too long");
		/* a bare http://host[:port] gets the usual path */
		if (!*parts.rest || !strcmp(parts.rest, "/")) {
			size_t n = strlen(xaddr);
			if (n && xaddr[n - 1] == '/')
				xaddr[--n] = '\0';
			if (n + sizeof("/onvif/device_service") > cap)
				return cs_fail(err, CS_BAD_REQUEST, "the device's URL is too long");
			strcat(xaddr, "/onvif/device_service");
		}
		return CS_OK;
	}
	if (port < 1 || port > 65535)
		return cs_fail(err, CS_BAD_REQUEST, "\"port\" must be 1 to 65535");
	const char *h = host;
	size_t n = strlen(h);
	char inner[256];
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		if (n - 2 >= sizeof(inner))
			return cs_fail(err, CS_BAD_REQUEST, "the device's host is too long");
		memcpy(inner, h + 1, n - 2);
		inner[n - 2] = '\0';
		h = inner;
	}
	for (const char *c = h; *c; c++)
		if (!ascii_is_alnum(*c) && !strchr(".-_:%", *c))
			return cs_fail(err, CS_BAD_REQUEST, "the device's host is not an address or a "
				"name: give a URL for anything more");
	bool v6 = strchr(h, ':') != NULL;
	int w = snprintf(xaddr, cap, "http://%s%s%s:%d/onvif/device_service", v6 ? "[" : "", h,
		v6 ? "]" : "", port);
	if (w < 0 || (size_t)w >= cap)
		return cs_fail(err, CS_BAD_REQUEST, "the device's host is too long");
	return CS_OK;
}

/* ---- one SOAP exchange ---- */

struct http {
	CURL *c;
	struct curl_slist *headers;
	struct strbuf body;
	bool too_big, refused_addr;
	const atomic_bool *cancel;
	const struct net_policy *hosts;
	bool check_addrs;            /* the current URL's host needs its addresses checked */
	int64_t deadline_us;         /* the probe's (monotonic) */
	bool digest;                 /* the device asked for HTTP Digest */
	const char *username, *password;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;
	size_t len = size * n;
	if (h->body.len + len > ONVIF_XML_MAX) {
		h->too_big = true;
		return 0; /* CURLE_WRITE_ERROR: the transfer ends here */
	}
	sb_add(&h->body, p, len);
	return h->body.failed ? 0 : len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt; (void)dn; (void)ut; (void)un;
	struct http *h = arg;
	return atomic_load(h->cancel) ? 1 : 0;
}

/* Every connection libcurl opens: its address must be in the host policy when the URL's host
 * is a name that resolves (what it resolved to now is what is reached: no second lookup). */
static curl_socket_t on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http *h = arg;
	(void)purpose;
	if (h->check_addrs && !net_policy_allows_addr(h->hosts, &a->addr)) {
		h->refused_addr = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static bool http_init(struct http *h, const struct onvif_probe_req *req,
	const atomic_bool *cancel)
{
	memset(h, 0, sizeof(*h));
	h->cancel = cancel;
	h->hosts = req->hosts;
	h->deadline_us = clock_mono_us() + (int64_t)req->timeout_ms * 1000;
	h->username = req->username;
	h->password = req->password;
	h->c = curl_easy_init();
	if (!h->c)
		return false;
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->c, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->c, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(h->c, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(h->c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ONVIF_XML_MAX);
	curl_easy_setopt(h->c, CURLOPT_USERAGENT, "camstream");
	/* a connection per request, as ONVIF clients commonly do: a device whose server writes
	 * an answer's head and body apart stalls a reused connection on delayed ACKs (40 ms a
	 * request with the test device), and embedded servers close early anyway */
	curl_easy_setopt(h->c, CURLOPT_FORBID_REUSE, 1L);
	/* never through a proxy the environment names: the policy judges the device's address */
	curl_easy_setopt(h->c, CURLOPT_PROXY, "");
	/* cameras' certificates are self-signed: https to a camera is for privacy on the wire,
	 * not identity (the host policy is what limits where requests go) */
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYHOST, 0L);
	return true;
}

static void http_free(struct http *h)
{
	if (h->c)
		curl_easy_cleanup(h->c);
	curl_slist_free_all(h->headers);
	sb_free(&h->body);
}

/* The device's clock, for Created: ours plus the offset learned. */
struct clockref {
	int64_t offset_s;
};

/* Sends @call to @url and leaves the answer in h->body. CS_OK for an HTTP 200, or for a
 * 400/500 whose body the parser will read as a SOAP fault; errors otherwise. */
static enum cs_err soap(struct http *h, const char *url, enum onvif_call call,
	const char *token, bool secure, const struct clockref *clk, struct cs_error *err)
{
	char where[160];
	url_redact(url, where, sizeof(where));
	char host[256];
	int port;
	bool userinfo;
	if (!onvif_url_host(url, host, sizeof(host), &port, &userinfo) || userinfo ||
		strncasecmp(url, "http", 4))
		return cs_fail(err, CS_OPEN_FAILED, "the device gave a service address that is not "
			"http(s)://HOST[:PORT]/...: %s", where);
	if (h->hosts && h->hosts->n) {
		enum net_verdict v = net_policy_check_host(h->hosts, host);
		if (v == NET_DENIED)
			return cs_fail(err, CS_HOST_NOT_ALLOWED, "%s is not in --allow-hosts", where);
		h->check_addrs = v == NET_RESOLVE;
	}
	int64_t left_ms = (h->deadline_us - clock_mono_us()) / 1000;
	if (left_ms <= 0)
		return cs_fail(err, CS_TIMEOUT, "the device did not answer in time");
	if (left_ms > REQUEST_MAX_MS)
		left_ms = REQUEST_MAX_MS;

	unsigned char nonce[ONVIF_NONCE_LEN];
	random_bytes(nonce, sizeof(nonce));
	bool with_user = secure && h->username && *h->username;
	int64_t created = clock_wall_us() / 1000000 + clk->offset_s;
	char *env = onvif_envelope(call, token, with_user ? h->username : NULL,
		with_user ? h->password : NULL, nonce, created);
	if (!env)
		return cs_fail_oom(err);
	char ctype[200];
	snprintf(ctype, sizeof(ctype), "Content-Type: application/soap+xml; charset=utf-8; "
		"action=\"%s\"", onvif_action(call));
	curl_slist_free_all(h->headers);
	h->headers = curl_slist_append(NULL, ctype);
	if (h->headers)
		h->headers = curl_slist_append(h->headers, "Expect:");
	if (!h->headers) {
		free(env);
		return cs_fail_oom(err);
	}
	sb_free(&h->body);
	h->too_big = h->refused_addr = false;
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, env);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE, (long)strlen(env));
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT_MS, (long)left_ms);
	if (h->digest && with_user) {
		curl_easy_setopt(h->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
		curl_easy_setopt(h->c, CURLOPT_USERNAME, h->username);
		curl_easy_setopt(h->c, CURLOPT_PASSWORD, h->password);
	} else {
		curl_easy_setopt(h->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NONE);
		curl_easy_setopt(h->c, CURLOPT_USERNAME, NULL);
		curl_easy_setopt(h->c, CURLOPT_PASSWORD, NULL);
	}
	CURLcode rc = curl_easy_perform(h->c);
	explicit_bzero(env, strlen(env)); /* it holds a digest of the password */
	free(env);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, NULL);

	long status = 0;
	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
	if (h->refused_addr)
		return cs_fail(err, CS_HOST_NOT_ALLOWED, "%s resolves to an address outside "
			"--allow-hosts", where);
	if (h->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return cs_fail(err, CS_OPEN_FAILED, "%s answered more than %d KiB: refused", where,
			ONVIF_XML_MAX / 1024);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return cs_fail(err, CS_TIMEOUT, "cancelled");
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return cs_fail(err, CS_TIMEOUT, "%s did not answer within %ld ms", where, left_ms);
	if (rc == CURLE_OUT_OF_MEMORY || h->body.failed)
		return cs_fail_oom(err);
	if (rc != CURLE_OK)
		return cs_fail(err, CS_OPEN_FAILED, "%s: %s", where, curl_easy_strerror(rc));
	if (status == 401 && with_user && !h->digest) {
		struct curl_header *ch = NULL;
		size_t n = 1;
		for (size_t i = 0; i < n; i++) {
			if (curl_easy_header(h->c, "WWW-Authenticate", i, CURLH_HEADER, -1, &ch) !=
				CURLHE_OK || !ch)
				break;
			n = ch->amount;
			if (!strncasecmp(ch->value, "Digest", 6)) {
				h->digest = true;
				return soap(h, url, call, token, secure, clk, err);
			}
		}
	}
	if (status == 401 || status == 403)
		return cs_fail(err, CS_UNAUTHORIZED, "the device refused the credentials (HTTP %ld)",
			status);
	if (status == 200 || status == 400 || status == 500)
		return CS_OK; /* a fault, if any, is the parser's to read */
	return cs_fail(err, CS_OPEN_FAILED, "%s answered HTTP %ld", where, status);
}

/* ---- the probe ---- */

/* @uri (a stream URI the device returned) against the host policy; fills @e if refused. */
static bool stream_uri_ok(const struct net_policy *hosts, const char *uri, struct cs_error *e)
{
	char host[256], where[160];
	int port;
	url_redact(uri, where, sizeof(where));
	if (!url_host(uri, host, sizeof(host), &port))
		return cs_refuse(e, CS_OPEN_FAILED, "the device gave a stream URI that is not rtsp://"
			"HOST...: %s", where);
	if (host_denied(hosts, host))
		return cs_refuse(e, CS_HOST_NOT_ALLOWED, "the stream URI's host is not in "
			"--allow-hosts: %s", where);
	return true;
}

/* Media2 (@m2) or Media profiles and their URIs into @out. */
static enum cs_err read_profiles(struct http *h, const char *url, bool m2,
	const struct clockref *clk, const struct net_policy *hosts,
	struct onvif_probe_result *out, struct cs_error *err)
{
	enum cs_err rc = soap(h, url, m2 ? ONVIF_GET_PROFILES2 : ONVIF_GET_PROFILES, NULL, true,
		clk, err);
	if (rc)
		return rc;
	struct onvif_profile prof[ONVIF_MAX_PROFILES];
	size_t n = 0;
	rc = onvif_parse_profiles(h->body.p, h->body.len, prof, ONVIF_MAX_PROFILES, &n, err);
	if (rc)
		return rc;
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct onvif_stream *s = &out->streams[out->n++];
		memset(s, 0, sizeof(*s));
		s->p = prof[i];
		if (!prof[i].encoding[0]) {
			cs_fail(&s->uri_err, CS_UNSUPPORTED_CODEC, "the profile has no video encoder");
			continue;
		}
		struct cs_error e;
		cs_error_clear(&e);
		rc = soap(h, url, m2 ? ONVIF_GET_STREAM_URI2 : ONVIF_GET_STREAM_URI, prof[i].token,
			true, clk, &e);
		if (!rc)
			rc = onvif_parse_stream_uri(h->body.p, h->body.len, s->uri, sizeof(s->uri), &e);
		if (rc == CS_UNAUTHORIZED || rc == CS_TIMEOUT) {
			*err = e;
			return rc; /* the whole probe fails: the next would too */
		}
		if (rc) {
			s->uri[0] = '\0';
			s->uri_err = e;
			continue;
		}
		if (!stream_uri_ok(hosts, s->uri, &s->uri_err))
			s->uri[0] = '\0';
	}
	return CS_OK;
}

enum cs_err onvif_probe(const struct onvif_probe_req *req, const atomic_bool *cancel,
	struct onvif_probe_result *out, struct cs_error *err)
{
	memset(out, 0, sizeof(*out));
	str_copy(out->xaddr, sizeof(out->xaddr), req->xaddr);
	out->auth = "none";
	struct http h;
	if (!http_init(&h, req, cancel)) {
		http_free(&h);
		return cs_fail_oom(err);
	}
	struct clockref clk = { 0 };
	enum cs_err rc;

	/* the device's clock: the digest's Created must be in it. A device that will not tell
	 * (or refuses without credentials) is taken to share ours. */
	rc = soap(&h, req->xaddr, ONVIF_GET_SYSTEM_DATE_AND_TIME, NULL, false, &clk, err);
	if (rc == CS_TIMEOUT || rc == CS_HOST_NOT_ALLOWED ||
		(rc == CS_OPEN_FAILED && h.body.len == 0 && !h.too_big))
		goto out;
	if (h.too_big) {
		rc = CS_OPEN_FAILED;
		goto out;
	}
	int64_t dev_s;
	struct cs_error terr;
	if (!rc && !onvif_parse_time(h.body.p, h.body.len, &dev_s, &terr)) {
		clk.offset_s = dev_s - clock_wall_us() / 1000000;
	} else if (!rc) {
		/* a malformed or hostile answer is the probe's end; a fault is not */
		if (terr.code != CS_UNAUTHORIZED && !strstr(terr.msg, "SOAP fault")) {
			*err = terr;
			rc = terr.code;
			goto out;
		}
	}
	cs_error_clear(err);
	out->clock_offset_s = clk.offset_s;

	rc = soap(&h, req->xaddr, ONVIF_GET_DEVICE_INFORMATION, NULL, true, &clk, err);
	if (!rc)
		rc = onvif_parse_device_info(h.body.p, h.body.len, &out->info, err);
	if (rc)
		goto out;
	if (req->username[0])
		out->auth = h.digest ? "http-digest" : "ws-security";

	struct onvif_services sv;
	memset(&sv, 0, sizeof(sv));
	rc = soap(&h, req->xaddr, ONVIF_GET_SERVICES, NULL, true, &clk, err);
	if (!rc)
		rc = onvif_parse_services(h.body.p, h.body.len, &sv, err);
	if (rc == CS_TIMEOUT || rc == CS_HOST_NOT_ALLOWED || rc == CS_UNAUTHORIZED)
		goto out;
	if (rc || (!sv.media[0] && !sv.media2[0])) {
		cs_error_clear(err);
		rc = soap(&h, req->xaddr, ONVIF_GET_CAPABILITIES, NULL, true, &clk, err);
		if (!rc)
			rc = onvif_parse_capabilities(h.body.p, h.body.len, &sv, err);
		if (rc)
			goto out;
	}
	if (!sv.media[0] && !sv.media2[0]) {
		rc = cs_fail(err, CS_OPEN_FAILED, "the device lists no media service");
		goto out;
	}
	/* the services' addresses are the device's word: they pass the policy too (a name by the
	 * address connected to, in soap()) */
	char host[256];
	int port;
	for (int i = 0; i < 2; i++) {
		char *x = i ? sv.media2 : sv.media;
		if (!x[0])
			continue;
		if (url_host(x, host, sizeof(host), &port) && host_denied(req->hosts, host)) {
			char where[160];
			url_redact(x, where, sizeof(where));
			rc = cs_fail(err, CS_HOST_NOT_ALLOWED, "the device's media service %s is outside "
				"--allow-hosts", where);
			goto out;
		}
	}
	rc = CS_OPEN_FAILED;
	if (sv.media2[0]) {
		rc = read_profiles(&h, sv.media2, true, &clk, req->hosts, out, err);
		out->media2 = !rc;
		if (rc == CS_TIMEOUT || rc == CS_UNAUTHORIZED || rc == CS_HOST_NOT_ALLOWED)
			goto out;
	}
	if (rc && sv.media[0]) {
		cs_error_clear(err);
		rc = read_profiles(&h, sv.media, false, &clk, req->hosts, out, err);
	}
out:
	if (rc)
		out->n = 0;
	http_free(&h);
	return rc;
}

/* ---- jobs ---- */

static atomic_int jobs_running;

static void *job_main(void *arg)
{
	struct onvif_job *job = arg;
	cs_error_clear(&job->err);
	if (job->kind == ONVIF_JOB_PROBE)
		job->rc = onvif_probe(&job->req, &job->cancel, &job->probe, &job->err);
	else
		job->rc = onvif_discover(job->discover_ms, job->hosts, &job->cancel, &job->disc,
			&job->err);
	explicit_bzero(job->req.password, sizeof(job->req.password));
	atomic_store(&job->done, true);
	atomic_fetch_sub(&jobs_running, 1);
	if (job->notify)
		job->notify(job->notify_arg);
	return NULL;
}

bool onvif_job_start(struct onvif_job *job, void (*notify)(void *), void *arg,
	struct cs_error *err)
{
	if (atomic_fetch_add(&jobs_running, 1) >= ONVIF_JOBS_MAX) {
		atomic_fetch_sub(&jobs_running, 1);
		return cs_refuse(err, CS_SERVER_BUSY, "%d ONVIF requests are running: try again "
			"when one has ended", ONVIF_JOBS_MAX);
	}
	atomic_store(&job->cancel, false);
	atomic_store(&job->done, false);
	job->notify = notify;
	job->notify_arg = arg;
	if (pthread_create(&job->thread, NULL, job_main, job)) {
		atomic_fetch_sub(&jobs_running, 1);
		return cs_refuse(err, CS_SERVER_BUSY, "cannot start a thread for the ONVIF request");
	}
	job->started = true;
	return true;
}

bool onvif_job_done(const struct onvif_job *job)
{
	return atomic_load(&job->done);
}

void onvif_job_cancel(struct onvif_job *job)
{
	atomic_store(&job->cancel, true);
}

void onvif_job_free(struct onvif_job *job)
{
	if (!job)
		return;
	if (job->started)
		pthread_join(job->thread, NULL);
	explicit_bzero(job->req.password, sizeof(job->req.password));
	free(job);
}
