/* options: the per-connection query options of every viewer endpoint,
 * parsed from "name=value" fragments that lws has already percent-decoded. Pure. */
#ifndef CAMSTREAM_OPTIONS_H
#define CAMSTREAM_OPTIONS_H

#include <stddef.h>

#include "error.h"
#include "source.h"

struct stream_opts {
	char *src;       /* rtsp_url (or its alias cam_url) as given; NULL if absent (owned) */
	char *name;      /* a named stream instead of a URL; NULL if absent (owned) */
	double fps;      /* maximum output rate; 0 = the source's rate */
	int width;       /* output size; 0 = from the source (one alone keeps the aspect) */
	int height;
	int quality;     /* JPEG quality 1..100, default 80 */
	enum transport transport; /* default TCP */
	int relay;       /* relay=N: instance N of a cluster feeds itself from this one; 0 none */
};

#define OPTS_MAX_DIM 8192

/* Fills @o from @n fragments such as "fps=10". Unknown names, repeated names, empty or
 * out-of-range values give CS_BAD_REQUEST with a message in @err. A missing rtsp_url is
 * not an error here (callers decide). @o is always safe to opts_free(). */
enum cs_err opts_parse(struct stream_opts *o, const char *const *args, size_t n,
	struct cs_error *err);
void opts_free(struct stream_opts *o);

/* The picture output @o asks for. */
struct output_params opts_output(const struct stream_opts *o);

#endif
