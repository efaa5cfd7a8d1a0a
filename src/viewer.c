#include "viewer.h"

#include <stdio.h>

#include "config.h"
#include "netpolicy.h"
#include "streams.h"

enum cs_err viewer_subscribe(struct server_state *st, struct hub_sub *sub,
	const struct stream_opts *opts, struct cam_url *url, char *err, size_t errlen)
{
	const struct config *cfg = st->cfg;

	if (opts->name) {
		struct hub_stream_def def;
		enum cs_err e = streams_resolve(st->streams, opts->name, &def, err, errlen);
		return e != CS_OK ? e : hub_subscribe_stream(st->hub, sub, &def, opts, err, errlen);
	}
	if (cfg->named_only) {
		snprintf(err, errlen, "this server shows named streams only: use name=<stream>");
		return CS_NAMED_ONLY;
	}
	enum cs_err e = url_parse(opts->src, &cfg->policy, url, err, errlen);
	if (e != CS_OK)
		return e;
	/* addresses and listed names are judged here; other names by the worker, which
	 * resolves them before it connects */
	if (!url->is_demo && net_policy_check_host(&cfg->hosts, url->host) == NET_DENIED) {
		snprintf(err, errlen, "this server may not connect to the camera's host (see "
			"--allow-hosts)");
		return CS_HOST_NOT_ALLOWED;
	}
	return hub_subscribe_url(st->hub, sub, url, opts, err, errlen);
}
