/* forwarded: who the client is behind reverse proxies (--trusted-proxy), from an
 * X-Forwarded-For header: its addresses are read from the right, skipping those of trusted
 * proxies; the first one that is not is the client, as the nearest trusted proxy saw it.
 * Anything left of it was written by the client and is ignored. Pure: any thread. */
#ifndef CAMSTREAM_FORWARDED_H
#define CAMSTREAM_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#include "netpolicy.h"

/* Whether the numeric address @addr (IPv4, IPv6, or IPv4-mapped IPv6) is in @trusted's
 * ranges (an empty list trusts nobody). */
bool forwarded_trusted(const struct net_policy *trusted, const char *addr);

/* The client's address into @out, given the header's value @xff (changed in place) of a
 * request from a trusted proxy: the rightmost address that is not trusted; the leftmost one
 * when all are; when the walk meets an entry that is no address, the last address before it
 * (the nearest hop that was one). @out is left as it is when @xff holds no address at its
 * right end. */
void forwarded_client(const struct net_policy *trusted, char *xff, char *out, size_t size);

#endif
