/* streams_file: the config file of named streams ({"streams":[...]}, seed 001's shape).
 * Loaded once at start; with write-back on, every change is saved to it atomically before it
 * takes effect. The file keeps camera credentials as given, so it is written with mode 0600.
 * Service thread only. */
#ifndef CAMSTREAM_STREAMS_FILE_H
#define CAMSTREAM_STREAMS_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "stream_def.h"

struct streams_file {
	char *path;       /* the file (symlinks resolved), NULL if none (owned) */
	json_t *doc;      /* the file as loaded: its other keys are written back (a reference) */
	bool write_back;  /* save changes to path */
};

/* Loads @path and its stream definitions (*@defs, *@n: the caller owns them). A missing file
 * is fine with @write_back (the first change creates it). false with @err (a start-up
 * error) for a file that cannot be read or holds an invalid stream. */
bool streams_file_load(struct streams_file *f, const char *path, bool write_back,
	const struct url_policy *policy, struct stream_def ***defs, size_t *n,
	struct cs_error *err);
/* Saves @defs (and the file's other top-level keys) when write-back is on; CS_INTERNAL in
 * @err if the file could not be written (nothing changed then). */
bool streams_file_save(struct streams_file *f, struct stream_def *const *defs, size_t n,
	struct cs_error *err);
void streams_file_free(struct streams_file *f);

#endif
