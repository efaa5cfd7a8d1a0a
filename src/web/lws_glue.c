/* lws_glue: see lws_glue.h.
 *
 * libwebsockets 4.1.6 answers some requests before any callback of ours runs: its header
 * parser refuses a malformed percent-escape ("%zz"), a path that is not absolute or an unknown
 * method, and its file mounts a file that is not there. It writes those answers with
 * lws_return_http_status(), an HTML page ("<h1>403</h1>"). This file defines that function
 * itself: the library calls its exported functions through the PLT (checked with objdump on
 * Debian's libwebsockets.so.17), so the executable's definition is the one that runs, and every
 * such answer becomes our JSON error with the same status, except the parser's 403, which is
 * a client's malformed request: 400 bad_request. The definition lives in the same object as
 * lws_glue_logging(), which the server calls, so the linker always takes it. It writes what
 * the library's version writes on HTTP/1 (headers and body in one write, no transaction end:
 * the callers do that); camstream never speaks HTTP/2 (its TLS offers http/1.1 only).
 *
 * A request whose head outgrows lws' header buffer (info.max_http_header_data) is closed by
 * 4.1.6 without a word, and no callback of ours runs before the socket is shut for writing:
 * the last thing lws does for it before is to log "Ran out of header data space", on this
 * same service thread, and the first thing after is shutdown(2) on its socket, in the same
 * call. So the log hook raises a flag, and the shutdown() defined here, seeing it, first
 * writes our 414 answer on that socket (a few hundred bytes into an empty send buffer) and
 * then shuts it; lws then drains the rest of the request before it closes, so the client
 * reads the answer. The flag is thread-local (FFmpeg's sockets close on worker threads) and
 * any callback or the end of a service pass clears it. Over TLS the flag is never raised: a
 * TLS connection is shut with SSL_shutdown, and plain text on it would be garbage. */
#include "lws_glue.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "error.h"
#include "http_reply.h"
#include "log.h"

/* The service thread's: a request head just ran out of room (see the top of the file). */
static __thread bool head_overflow;
static bool answer_overflows; /* plain HTTP: set once before serving */

static void lws_log_to_ours(int level, const char *line)
{
	if ((level & LLL_ERR) && strstr(line, "Ran out of header data space")) {
		head_overflow = answer_overflows;
		return; /* answer_overflow says it */
	}
	char buf[1024];
	snprintf(buf, sizeof(buf), "lws: %s", line);
	log_msg(level & LLL_ERR ? LOG_WARN : LOG_DEBUG, "%s", buf);
}

void lws_glue_no_overflow(void)
{
	head_overflow = false;
}

/* The answer to an over-long request, written straight to its socket. */
static void answer_overflow(int fd)
{
	char *text = http_error_json(CS_URI_TOO_LONG, "the request is too long: its URL (camera "
		"URLs up to 8 KB) or its headers do not fit");
	char head[256];
	if (!text)
		return;
	int n = snprintf(head, sizeof(head), "HTTP/1.1 414 URI Too Long\r\n"
		"content-type: application/json\r\ncontent-length: %zu\r\ncache-control: no-store\r\n"
		"access-control-allow-origin: *\r\nconnection: close\r\n\r\n", strlen(text));
	if (n > 0 && (size_t)n < sizeof(head) &&
		send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE) == n)
		send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(text);
	log_info("answered 414 to a request too long for the header buffer");
}

int shutdown(int fd, int how)
{
	if (head_overflow) {
		head_overflow = false;
		answer_overflow(fd);
	}
	return (int)syscall(SYS_shutdown, fd, how);
}

void lws_glue_logging(bool debug, bool plain)
{
	answer_overflows = plain;
	lws_set_log_level(debug ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, lws_log_to_ours);
}

int lws_return_http_status(struct lws *wsi, unsigned int code, const char *html_body)
{
	(void)html_body;
	enum cs_err e = code == HTTP_STATUS_NOT_FOUND ? CS_NOT_FOUND
		: code == HTTP_STATUS_SERVICE_UNAVAILABLE ? CS_SERVER_BUSY
		: code >= 500 ? CS_INTERNAL : CS_BAD_REQUEST;
	char refused[64];
	const char *msg;
	if (e == CS_NOT_FOUND)
		msg = "no such path";
	else if (e == CS_SERVER_BUSY)
		msg = "the server is busy";
	else if (e == CS_INTERNAL)
		msg = "the server failed to answer";
	else if (code == HTTP_STATUS_FORBIDDEN || code == HTTP_STATUS_BAD_REQUEST)
		msg = "malformed request: in its URL a '%' must start an escape of two hex digits "
		      "(%25 for a '%' itself), the path must start with '/', and an Upgrade "
		      "header may only ask for websocket";
	else {
		snprintf(refused, sizeof(refused), "the request was refused (HTTP %u)", code);
		msg = refused;
	}
	/* the parser's 403 is a malformed request, not a refusal by rights */
	if (code == HTTP_STATUS_FORBIDDEN)
		code = HTTP_STATUS_BAD_REQUEST;
	log_debug("answering %u for libwebsockets: %s", code, msg);
	char *text = http_error_json(e, msg);
	if (!text)
		return 1;
	int rc = http_write_response(wsi, code, "application/json", text, strlen(text), NULL, 0);
	free(text);
	return rc ? 1 : 0;
}
