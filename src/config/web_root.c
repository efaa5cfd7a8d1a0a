#include "web_root.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* meson defines all three (src/meson.build); a bare syntax check may not */
#ifndef CAMSTREAM_WEB_ROOT_INSTALLED
#define CAMSTREAM_WEB_ROOT_INSTALLED "/usr/local/share/camstream/web"
#endif
#ifndef CAMSTREAM_WEB_ROOT_SOURCE
#define CAMSTREAM_WEB_ROOT_SOURCE "web"
#endif
#ifndef CAMSTREAM_BUILD_BIN_DIR
#define CAMSTREAM_BUILD_BIN_DIR ""
#endif

/* Whether this process's executable lies in the folder where meson builds camstream.
 * The choice is made by where the binary is, not by which folder exists: an installed binary
 * never serves a source tree that happens to be still there, and a fresh build never serves
 * an older installed copy of the page (tools/dev.sh run, the tests, a developer's edit-reload
 * loop). The folders are compared by device and inode, so a build directory reached through a
 * symbolic link, or given to meson as a relative path, still matches. */
static bool running_from_build_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || !CAMSTREAM_BUILD_BIN_DIR[0])
		return false;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	struct stat here, build;
	return stat(exe[0] ? exe : "/", &here) == 0 && stat(CAMSTREAM_BUILD_BIN_DIR, &build) == 0 &&
		here.st_dev == build.st_dev && here.st_ino == build.st_ino;
}

const char *web_root_default(void)
{
	return running_from_build_dir() ? CAMSTREAM_WEB_ROOT_SOURCE : CAMSTREAM_WEB_ROOT_INSTALLED;
}
