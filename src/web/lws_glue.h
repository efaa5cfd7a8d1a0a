/* lws_glue: where libwebsockets' own voice is replaced by ours. Its log lines go through our
 * log (at warn for its errors, debug for the rest), and the status pages it writes by itself
 * (a request its parser refuses, such as a malformed percent-escape, a file that is not there)
 * are our JSON errors instead of its HTML: see lws_glue.c. Service thread only. */
#ifndef CAMSTREAM_LWS_GLUE_H
#define CAMSTREAM_LWS_GLUE_H

#include <stdbool.h>

/* Routes lws' log into ours; @debug: its notices too. @plain: the server speaks plain HTTP,
 * so an over-long request head can be answered 414 (never over TLS). */
void lws_glue_logging(bool debug, bool plain);

/* Any callback of lws but its log: no request head is overflowing now (see lws_glue.c). */
void lws_glue_no_overflow(void);

#endif
