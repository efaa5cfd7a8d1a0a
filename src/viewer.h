/* viewer: what /ws/stream, /snapshot and /mjpeg share between parsing a request's options and
 * receiving frames: choosing the source (a named stream, or a camera URL under the policies
 * that apply to those: --named-only, the scheme allow-list, --allow-hosts) and subscribing.
 * Service thread only. */
#ifndef CAMSTREAM_VIEWER_H
#define CAMSTREAM_VIEWER_H

#include <stddef.h>

#include "error.h"
#include "hub.h"
#include "options.h"
#include "server.h"
#include "url.h"

/* Subscribes @sub to opts->name, or else to the camera URL opts->src (parsed into @url, which
 * the caller frees with url_free). The caller has checked that one of them is given.
 * CS_OK, or the refusal with a message for a person in @err. */
enum cs_err viewer_subscribe(struct server_state *st, struct hub_sub *sub,
	const struct stream_opts *opts, struct cam_url *url, char *err, size_t errlen);

#endif
