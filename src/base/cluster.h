/* cluster: which instance of a cluster owns a stream name. The instances are listed, in the
 * same order, on every one of them (--cluster-peers); the owner of a name is found by
 * rendezvous (highest random weight) hashing, a pure function of the name and the list, so
 * every instance agrees without talking to the others. An instance is scored by its URL, not
 * its place in the list, so removing one (wherever it is listed) or adding one moves only the
 * names it owned or takes. Pure: safe on any thread. */
#ifndef CAMSTREAM_CLUSTER_H
#define CAMSTREAM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MAX 32
#define CLUSTER_URL_MAX 256

struct cluster {
	int n;                                /* instances; 0 = no cluster */
	int self;                             /* this instance, 1-based; 0 = no cluster */
	char url[CLUSTER_MAX][CLUSTER_URL_MAX]; /* base URLs: http://host[:port], no slash at end */
	char host[CLUSTER_MAX][CLUSTER_URL_MAX]; /* each URL's host, IPv6 without brackets */
	int port[CLUSTER_MAX];                  /* each URL's port (80 when it names none) */
};

/* Parses the comma-separated @list of base URLs (http://, host and optional port,
 * no path, query or credentials; 2 to CLUSTER_MAX, no repeats) into @c->url, host, port and
 * @c->n. false with a one-line reason in @why (at least 128 bytes) otherwise. */
bool cluster_parse_peers(struct cluster *c, const char *list, char *why, size_t why_size);

/* The score of the instance at base URL @url for @name: the instance with the highest score
 * owns it. 64-bit FNV-1a over the name's bytes, a zero byte and the URL's bytes, finished with
 * the splitmix64 mixer (docs/DEPLOY.md gives it for tools). */
uint64_t cluster_score(const char *name, const char *url);

/* The owner of @name, 1-based (1 when @c is no cluster). */
int cluster_owner(const struct cluster *c, const char *name);

/* Whether this instance owns @name (always true without a cluster). */
bool cluster_owns(const struct cluster *c, const char *name);

#endif
