/* web_root: the folder the page is served from when --web-root is not given. */
#ifndef CAMSTREAM_WEB_ROOT_H
#define CAMSTREAM_WEB_ROOT_H

/* The installed page (DATADIR/camstream/web) for an installed binary; the source tree's web/
 * for the binary meson built, run from its build directory. A static string. */
const char *web_root_default(void);

#endif
