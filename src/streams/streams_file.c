/* streams_file: the config file. Loaded once at start; with write-back on, every change is
 * saved to it atomically before it takes effect. The file keeps camera credentials as given,
 * so it is written with mode 0600.
 *
 * Service thread only. */
#include "streams_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

/* jansson's messages end in "near '<token>'", which may be a password: cut it off. */
static void json_error_text(const json_error_t *je, char *out, size_t cap)
{
	str_copy(out, cap, je->text);
	char *near = strstr(out, " near ");
	if (near)
		*near = '\0';
}

/* The folder of @path, where write_atomic puts its temporary file. */
static void dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		str_copy(dir, cap, ".");
	else if (slash == path)
		str_copy(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* --config-write fails at start, not at the first change, when the folder is read-only. */
static bool dir_writable(const char *path, struct cs_error *err)
{
	char dir[4096];
	dir_of(path, dir, sizeof(dir));
	if (!access(dir, W_OK | X_OK))
		return true;
	return cs_refuse(err, CS_BAD_REQUEST, "--config-write: cannot write the config file %s: %s",
		path, strerror(errno));
}

/* Writes @len bytes of @text to @path atomically: a temporary file in the same folder (mode
 * 0600: it holds camera passwords), fsync, rename over @path, fsync the folder. A crash
 * leaves either the old file or the new one, never a mix. */
static bool write_atomic(const char *path, const char *text, size_t len, struct cs_error *err)
{
	const char *slash = strrchr(path, '/');
	char dir[4096], tmp[4200];
	dir_of(path, dir, sizeof(dir));
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, slash ? slash + 1 : path);

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		return cs_refuse(err, CS_INTERNAL, "the change was not made: cannot create a file in "
			"%.200s: %s", dir, strerror(errno));
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
		return cs_refuse(err, CS_INTERNAL, "the change was not made: cannot save %s (%s): %s",
			path, what, strerror(saved));
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename is durable once the folder is */
		close(dfd);
	}
	return true;
}

bool streams_file_save(struct streams_file *f, struct stream_def *const *defs, size_t n,
	struct cs_error *err)
{
	if (!f->write_back)
		return true;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, stream_def_to_json(defs[i]))) {
			json_decref(arr);
			arr = NULL;
		}
	char *text = NULL;
	if (arr && !json_object_set_new(f->doc, "streams", arr))
		text = json_dumps(f->doc, JSON_INDENT(2));
	if (!text)
		return cs_refuse(err, CS_INTERNAL, "out of memory while saving the config file");

	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (nl) {
		text = nl;
		text[len++] = '\n';
		text[len] = '\0';
	}
	bool ok = write_atomic(f->path, text, len, err);
	free(text);
	if (!ok) {
		log_error("config file: %s", err->msg);
		return false;
	}
	log_debug("saved %zu stream(s) to %s", n, f->path);
	return true;
}

static bool has_secrets(struct stream_def *const *defs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (defs[i]->password || defs[i]->publish_secret || defs[i]->url.has_credentials)
			return true;
	return false;
}

bool streams_file_load(struct streams_file *f, const char *path, bool write_back,
	const struct url_policy *policy, struct stream_def ***defs, size_t *n,
	struct cs_error *err)
{
	json_t *doc = NULL;
	struct stat sb;
	bool group_readable = false;

	*defs = NULL;
	*n = 0;
	memset(f, 0, sizeof(*f));
	FILE *fp = fopen(path, "r");
	if (!fp && errno == ENOENT && write_back) {
		/* --config-write with a file still to come: the first change creates it */
		log_info("config file %s does not exist yet: it will be created", path);
		doc = json_object();
	} else if (!fp) {
		return cs_refuse(err, CS_BAD_REQUEST, "cannot read config file %s: %s", path,
			strerror(errno));
	} else {
		json_error_t je;
		group_readable = !fstat(fileno(fp), &sb) && (sb.st_mode & 077);
		doc = json_loadf(fp, JSON_REJECT_DUPLICATES, &je);
		fclose(fp);
		if (!doc) {
			char text[160];
			json_error_text(&je, text, sizeof(text));
			return cs_refuse(err, CS_BAD_REQUEST, "config file %s: line %d, column %d: %s",
				path, je.line, je.column, text);
		}
	}
	if (!doc || !json_is_object(doc)) {
		cs_fail(err, CS_BAD_REQUEST, "config file %s: %s", path, doc ? "the top level must "
			"be a JSON object like {\"streams\": [...]}" : "out of memory");
		json_decref(doc);
		return false;
	}

	const json_t *arr = json_object_get(doc, "streams");
	if (arr && !json_is_array(arr) && !json_is_null(arr)) {
		json_decref(doc);
		return cs_refuse(err, CS_BAD_REQUEST, "config file %s: \"streams\" must be an array",
			path);
	}
	if (json_is_array(arr)) {
		struct cs_error e;
		*defs = stream_def_parse_list(arr, policy, "", n, &e);
		if (!*defs) {
			json_decref(doc);
			return cs_refuse(err, e.code, "config file %s: %s", path, e.msg);
		}
	}

	f->path = realpath(path, NULL); /* write through a symlink to its target */
	if (!f->path)
		f->path = strdup(path);
	f->doc = doc;
	f->write_back = write_back;
	if (!f->path || (write_back && !dir_writable(f->path, err))) {
		if (!f->path)
			cs_fail_oom(err);
		for (size_t i = 0; i < *n; i++)
			stream_def_free((*defs)[i]);
		free(*defs);
		*defs = NULL;
		*n = 0;
		streams_file_free(f);
		return false;
	}
	if (group_readable && has_secrets(*defs, *n))
		log_warn("config file %s holds camera credentials and can be read by other users "
			"(chmod 600 it)", path);
	log_info("config file %s: %zu stream(s)%s", path, *n,
		write_back ? ", changes are saved to it" : "");
	return true;
}

void streams_file_free(struct streams_file *f)
{
	free(f->path);
	json_decref(f->doc);
	memset(f, 0, sizeof(*f));
}
