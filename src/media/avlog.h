/* avlog: FFmpeg's log lines into ours. FFmpeg logs from worker and codec threads; log_msg is
 * thread-safe. Its messages are detail for debugging: the worker reports each failure itself
 * in plain words. */
#ifndef CAMSTREAM_AVLOG_H
#define CAMSTREAM_AVLOG_H

#include <stdbool.h>

/* Routes FFmpeg's log into ours (its errors, or with @debug its information too). */
void avlog_route(bool debug);
/* Gives FFmpeg its own log back (at exit, once no worker runs). */
void avlog_restore(void);

#endif
