/* streams_internal: the insides of the streams room, shared by streams.c (the registry, the
 * runtime, status and the API's changes), streams_def.c (one definition: from JSON, with its
 * credentials, back to JSON) and streams_file.c (the config file: load, atomic save).
 * Not for other rooms: include streams.h instead. Service thread only. */
#ifndef CAMSTREAM_STREAMS_INTERNAL_H
#define CAMSTREAM_STREAMS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "options.h"
#include "streams.h"
#include "url.h"

/* One named stream, owned by streams.v. */
struct stream {
	/* the definition, as the file holds it */
	char *name;
	char *rtsp_url;             /* as given, credentials included: written back as is */
	char *username, *password;  /* NULL when absent */
	bool enabled, always_on;
	enum transport transport;
	double idle_fps;
	bool has_channel, has_subtype;
	json_int_t channel, subtype;
	/* derived */
	struct cam_url url;         /* rtsp_url with the credentials put in: what FFmpeg opens */
	/* runtime */
	bool started;               /* POST .../start: runs with no viewer until stop */
	char start_error[160];      /* why the hub would not run it, "" if it did */
};

struct streams {
	struct hub *hub;                   /* not owned */
	const struct url_policy *policy;   /* not owned */
	struct stream **v;                 /* in definition order */
	size_t n, cap;
	char *path;                        /* the config file (symlinks resolved), NULL if none */
	bool write_back;
	json_t *doc;                       /* the file as loaded: other keys are written back */
};

static inline void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- streams.c ---- */

/* Fills @e and returns false. */
__attribute__((format(printf, 4, 5)))
bool streams_fail(struct streams_err *e, enum cs_err code, unsigned int status,
	const char *fmt, ...);
/* Appends @st (which s->v then owns); false if out of memory. */
bool streams_push(struct streams *s, struct stream *st);
/* Starts @st if it is always on (or was started); a refusal is kept for its status. */
void streams_run_always_on(struct streams *s, struct stream *st);

/* ---- streams_def.c ---- */

void streams_def_free(struct stream *st); /* NULL is fine */
/* A new stream from the object @j, or NULL with @e. @where prefixes messages
 * (e.g. "streams[2]: "). */
struct stream *streams_def_from_json(struct streams *s, const json_t *j, const char *where,
	struct streams_err *e);
/* Whether @a and @b define the same stream (runtime state aside). */
bool streams_def_same(const struct stream *a, const struct stream *b);
/* The streams of the array @arr, all valid and with distinct names, or NULL with @e.
 * *@n is their count (the array may be NULL when it is 0). */
struct stream **streams_def_parse_list(struct streams *s, const json_t *arr, const char *where,
	size_t *n, struct streams_err *e);
/* The definition of @st as the config file holds it (credentials as given), NULL if out of
 * memory. Caller decrefs. */
json_t *streams_def_to_json(const struct stream *st);

/* ---- streams_file.c ---- */

/* Saves every definition (and the file's other top-level keys) when write-back is on. */
bool streams_file_save(struct streams *s, struct streams_err *e);

#endif
