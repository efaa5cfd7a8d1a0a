/* discovery: WS-Discovery's Probe for ONVIF video transmitters (see onvif.h). One UDP socket
 * per up IPv4 interface (loopback included, for a device on this machine), each sending the
 * Probe to 239.255.255.250:3702 out of its interface with a TTL of 1; devices answer with
 * ProbeMatches to the socket's own address and port. The Probe goes out twice, 250 ms apart,
 * as UDP may lose one; answers are deduplicated by the device's endpoint. */
#include "onvif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "onvif_soap.h"
#include "random.h"
#include "text.h"

#define WSD_GROUP "239.255.255.250"
#define WSD_PORT 3702
#define DATAGRAM_MAX 65536
#define RESEND_AFTER_US 250000
#define BATCH_MAX 32        /* datagrams read from one socket before polling again */
#define REFUSED_MAX 64

/* Whether @host is one the policy lets us reach without resolving it: a listed name or an
 * address in a listed range. A discovered device's XAddr is an address in practice; a name
 * that would need resolving is dropped rather than looked up for every answer. */
static bool xaddr_allowed(const struct net_policy *hosts, const char *url)
{
	char host[256];
	int port;
	bool userinfo;
	if (!onvif_url_host(url, host, sizeof(host), &port, &userinfo) || userinfo ||
		!strncasecmp(url, "rtsp", 4))
		return false; /* an XAddr is an http(s) URL */
	if (!hosts || hosts->n == 0)
		return true;
	return net_policy_check_host(hosts, host) == NET_ALLOWED;
}

/* Devices left out for the host policy, by key, so that each counts once in "refused". */
struct refused {
	char keys[REFUSED_MAX][ONVIF_URI_MAX];
	int n;
};

/* Keeps @m (its XAddrs filtered) unless a device of the same endpoint is listed already. */
static void add_device(struct onvif_discovery *out, struct onvif_match *m, const char *from,
	const struct net_policy *hosts, struct refused *r)
{
	const char *first = m->n_xaddrs ? m->xaddrs[0] : "";
	char rkey[ONVIF_URI_MAX];
	str_copy(rkey, sizeof(rkey), m->endpoint[0] ? m->endpoint : first);
	int kept = 0;
	for (int i = 0; i < m->n_xaddrs; i++)
		if (xaddr_allowed(hosts, m->xaddrs[i])) {
			if (kept != i)
				memcpy(m->xaddrs[kept], m->xaddrs[i], sizeof(m->xaddrs[0]));
			kept++;
		}
	bool had = m->n_xaddrs > 0;
	m->n_xaddrs = kept;
	const char *key = m->endpoint[0] ? m->endpoint : kept ? m->xaddrs[0] : "";
	for (size_t i = 0; i < out->n; i++) {
		const struct onvif_match *o = &out->devices[i].m;
		const char *okey = o->endpoint[0] ? o->endpoint : o->n_xaddrs ? o->xaddrs[0] : "";
		if (*key && !strcmp(key, okey))
			return; /* the second Probe's answer, or one per interface */
	}
	if (!kept) {
		if (!had)
			return;
		for (int i = 0; i < r->n; i++)
			if (!strcmp(r->keys[i], rkey))
				return; /* counted already */
		if (r->n < REFUSED_MAX)
			str_copy(r->keys[r->n++], sizeof(r->keys[0]), rkey);
		out->refused++;
		return;
	}
	if (out->n >= ONVIF_DISCOVER_MAX)
		return;
	struct onvif_device *d = &out->devices[out->n++];
	d->m = *m;
	str_copy(d->from, sizeof(d->from), from);
	onvif_scope_value(m, "name", d->name, sizeof(d->name));
	onvif_scope_value(m, "hardware", d->hardware, sizeof(d->hardware));
	onvif_scope_value(m, "location", d->location, sizeof(d->location));
}

static void uuid4(char out[37])
{
	unsigned char b[16];
	random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		b[13], b[14], b[15]);
}

/* A socket bound to @ifaddr, sending multicast out of that interface; -1 on failure. */
static int open_sender(struct in_addr ifaddr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = ifaddr };
	unsigned char ttl = 1, loop = 1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr)) ||
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) ||
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop))) {
		close(fd);
		return -1;
	}
	return fd;
}

enum cs_err onvif_discover(int timeout_ms, const struct net_policy *hosts,
	const atomic_bool *cancel, struct onvif_discovery *out, struct cs_error *err)
{
	memset(out, 0, sizeof(*out));
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs))
		return cs_fail(err, CS_INTERNAL, "cannot list the network interfaces: %s",
			strerror(errno));
	struct pollfd fds[ONVIF_IFACES_MAX];
	size_t n = 0;
	for (struct ifaddrs *i = ifs; i && n < ONVIF_IFACES_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
			!(i->ifa_flags & (IFF_MULTICAST | IFF_LOOPBACK)))
			continue;
		struct in_addr ia = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		int fd = open_sender(ia);
		if (fd < 0)
			continue;
		fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		inet_ntop(AF_INET, &ia, out->ifaces[n], sizeof(out->ifaces[n]));
		n++;
	}
	freeifaddrs(ifs);
	out->n_ifaces = n;
	if (!n)
		return cs_fail(err, CS_OPEN_FAILED, "no network interface can send multicast");

	char uuid[37], msgid[48];
	uuid4(uuid);
	snprintf(msgid, sizeof(msgid), "urn:uuid:%s", uuid);
	char *probe = onvif_probe_message(uuid);
	char *buf = malloc(DATAGRAM_MAX + 1);
	struct onvif_match *m = malloc(sizeof(*m) * ONVIF_MAX_MATCHES);
	struct refused *refused = calloc(1, sizeof(*refused));
	enum cs_err rc = CS_OK;
	if (!probe || !buf || !m || !refused) {
		rc = cs_fail_oom(err);
		goto out;
	}
	struct sockaddr_in group = { .sin_family = AF_INET, .sin_port = htons(WSD_PORT) };
	inet_pton(AF_INET, WSD_GROUP, &group.sin_addr);
	size_t plen = strlen(probe);
	int64_t start = clock_mono_us(), end = start + (int64_t)timeout_ms * 1000;
	int sends = 0, sent_ok = 0;
	for (;;) {
		int64_t now = clock_mono_us();
		if (sends < 2 && now >= start + sends * RESEND_AFTER_US) {
			for (size_t i = 0; i < n; i++)
				if (sendto(fds[i].fd, probe, plen, 0, (struct sockaddr *)&group,
					sizeof(group)) == (ssize_t)plen)
					sent_ok++;
			sends++;
		}
		if (now >= end || atomic_load(cancel))
			break;
		int64_t wait_us = end - now;
		if (sends < 2 && start + sends * RESEND_AFTER_US - now < wait_us)
			wait_us = start + sends * RESEND_AFTER_US - now;
		int ms = (int)((wait_us + 999) / 1000);
		if (ms > 100)
			ms = 100;
		if (poll(fds, n, ms) <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t got;
			/* a bounded batch: a flood at this port cannot hold the job past its deadline */
			for (int batch = 0; batch < BATCH_MAX && !atomic_load(cancel) &&
				clock_mono_us() < end && (got = recvfrom(fds[i].fd, buf, DATAGRAM_MAX, 0,
				(struct sockaddr *)&from, &fl)) > 0; batch++) {
				size_t nm = 0;
				struct cs_error e;
				char fromtxt[64] = "";
				inet_ntop(AF_INET, &from.sin_addr, fromtxt, sizeof(fromtxt));
				if (onvif_parse_probe_matches(buf, (size_t)got, msgid, m,
					ONVIF_MAX_MATCHES, &nm, &e)) {
					out->malformed++;
					log_debug("onvif discovery: an answer from %s was refused: %s", fromtxt,
						e.msg);
				}
				for (size_t k = 0; k < nm; k++)
					add_device(out, &m[k], fromtxt, hosts, refused);
				fl = sizeof(from);
			}
		}
	}
	if (!sent_ok)
		rc = cs_fail(err, CS_OPEN_FAILED, "the probe could not be sent on any interface "
			"(no multicast route?)");
out:
	for (size_t i = 0; i < n; i++)
		close(fds[i].fd);
	free(probe);
	free(buf);
	free(m);
	free(refused);
	return rc;
}
