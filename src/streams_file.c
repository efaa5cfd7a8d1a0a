/* streams_file: the config file. Loaded once at start; with write-back on, every change is
 * saved to it atomically before it takes effect. The file keeps camera credentials as given,
 * so it is written with mode 0600.
 *
 * Service thread only. */
#include "streams_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* jansson's messages end in "near '<token>'", which may be a password: cut it off. */
static void json_error_text(const json_error_t *je, char *out, size_t cap)
{
	copy_str(out, cap, je->text);
	char *near = strstr(out, " near ");
	if (near)
		*near = '\0';
}

/* The folder of @path, where write_atomic puts its temporary file. */
static void dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		copy_str(dir, cap, ".");
	else if (slash == path)
		copy_str(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* --config-write fails at start, not at the first change, when the folder is read-only. */
static bool dir_writable(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	dir_of(path, dir, sizeof(dir));
	if (!access(dir, W_OK | X_OK))
		return true;
	snprintf(err, errlen, "--config-write: cannot write the config file %s: %s", path,
		strerror(errno));
	return false;
}

/* Writes @len bytes of @text to @path atomically: a temporary file in the same folder (mode
 * 0600: it holds camera passwords), fsync, rename over @path, fsync the folder. A crash
 * leaves either the old file or the new one, never a mix. */
static bool write_atomic(const char *path, const char *text, size_t len, char *err,
	size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[4096], tmp[4200];
	dir_of(path, dir, sizeof(dir));
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, slash ? slash + 1 : path);

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file in %.200s: %s", dir, strerror(errno));
		return false;
	}
	const char *what = "write";
	bool ok = fchmod(fd, 0600) == 0;
	for (size_t off = 0; ok && off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? (size_t)w : 0;
	}
	if (ok && fsync(fd)) {
		what = "fsync";
		ok = false;
	}
	int saved = errno;
	if (close(fd) && ok) {
		saved = errno;
		ok = false;
	}
	if (ok && rename(tmp, path)) {
		saved = errno;
		what = "rename";
		ok = false;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "cannot save %s (%s): %s", path, what, strerror(saved));
		return false;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename is durable once the folder is */
		close(dfd);
	}
	return true;
}

bool streams_file_save(struct streams *s, struct streams_err *e)
{
	if (!s->write_back)
		return true;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < s->n; i++)
		if (json_array_append_new(arr, streams_def_to_json(s->v[i]))) {
			json_decref(arr);
			arr = NULL;
		}
	char *text = NULL;
	if (arr && !json_object_set_new(s->doc, "streams", arr))
		text = json_dumps(s->doc, JSON_INDENT(2));
	if (!text)
		return streams_fail(e, CS_INTERNAL, 500, "out of memory while saving the config file");

	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (nl) {
		text = nl;
		text[len++] = '\n';
		text[len] = '\0';
	}
	char err[sizeof(e->msg)];
	bool ok = write_atomic(s->path, text, len, err, sizeof(err));
	free(text);
	if (!ok) {
		log_error("%s", err);
		return streams_fail(e, CS_INTERNAL, 500, "the change was not made: %s", err);
	}
	log_debug("saved %zu stream(s) to %s", s->n, s->path);
	return true;
}

static bool has_secrets(const struct streams *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->password || s->v[i]->url.has_credentials)
			return true;
	return false;
}

bool streams_load_file(struct streams *s, const char *path, bool write_back, char *err,
	size_t errlen)
{
	json_t *doc = NULL;
	struct stream **v = NULL;
	size_t n = 0;
	struct streams_err e;
	struct stat sb;
	bool group_readable = false;

	if (s->n || s->doc) {
		snprintf(err, errlen, "config file %s: streams are already loaded", path);
		return false;
	}
	FILE *f = fopen(path, "r");
	if (!f && errno == ENOENT && write_back) {
		/* --config-write with a file still to come: the first change creates it */
		log_info("config file %s does not exist yet: it will be created", path);
		doc = json_object();
	} else if (!f) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return false;
	} else {
		json_error_t je;
		group_readable = !fstat(fileno(f), &sb) && (sb.st_mode & 077);
		doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
		fclose(f);
		if (!doc) {
			char text[160];
			json_error_text(&je, text, sizeof(text));
			snprintf(err, errlen, "config file %s: line %d, column %d: %s", path, je.line,
				je.column, text);
			return false;
		}
	}
	if (!doc || !json_is_object(doc)) {
		snprintf(err, errlen, "config file %s: %s", path, doc ? "the top level must be a "
			"JSON object like {\"streams\": [...]}" : "out of memory");
		json_decref(doc);
		return false;
	}

	const json_t *arr = json_object_get(doc, "streams");
	if (arr && !json_is_array(arr) && !json_is_null(arr)) {
		snprintf(err, errlen, "config file %s: \"streams\" must be an array", path);
		json_decref(doc);
		return false;
	}
	if (json_is_array(arr)) {
		v = streams_def_parse_list(s, arr, "", &n, &e);
		if (!v) {
			snprintf(err, errlen, "config file %s: %s", path, e.msg);
			json_decref(doc);
			return false;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!streams_push(s, v[i])) {
			for (size_t k = i; k < n; k++)
				streams_def_free(v[k]);
			free(v);
			json_decref(doc);
			snprintf(err, errlen, "config file %s: out of memory", path);
			return false;
		}
	free(v);

	s->path = realpath(path, NULL); /* write through a symlink to its target */
	if (!s->path)
		s->path = strdup(path);
	s->doc = doc;
	s->write_back = write_back;
	if (!s->path) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (write_back && !dir_writable(s->path, err, errlen))
		return false;
	if (group_readable && has_secrets(s))
		log_warn("config file %s holds camera credentials and can be read by other users "
			"(chmod 600 it)", path);
	log_info("config file %s: %zu stream(s)%s", path, s->n,
		write_back ? ", changes are saved to it" : "");
	for (size_t i = 0; i < s->n; i++)
		streams_run_always_on(s, s->v[i]);
	return true;
}
