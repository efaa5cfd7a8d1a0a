#include "ws_end.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_reply.h"
#include "log.h"

bool ws_end_fail(struct ws_end *e, struct viewer *v, const struct cs_error *err)
{
	if (e->phase != WS_STREAMING)
		return false;
	e->phase = WS_ERROR_NEXT;
	e->err = *err;
	e->close_code = cs_err_ws_close(err->code, err->clean);
	log_info("%s %s: %s (%s)", v->kind ? v->kind->what : "viewer", viewer_label(v), err->msg,
		cs_err_code(err->code));
	lws_callback_on_writable(v->wsi);
	return true;
}

bool ws_end_start(struct ws_end *e, struct viewer *v, struct lws *wsi,
	const struct viewer_kind *kind)
{
	struct cs_error err;
	enum cs_err code = viewer_start(v, wsi, kind, NULL, &err);
	if (code == CS_OK) {
		viewer_wait(v, viewer_first_wait_us(wsi));
		return true;
	}
	if (code == CS_SOURCE_ENDED)
		err.clean = true; /* a stopped stream: the page may come back to it later */
	ws_end_fail(e, v, &err);
	if (code == CS_NOT_FOUND && v->opts.name)
		e->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
	return false;
}

int ws_close_with(struct lws *wsi, int code, const char *reason)
{
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)(uintptr_t)reason,
		strlen(reason));
	return -1;
}

int ws_end_write(struct ws_end *e, struct lws *wsi)
{
	if (e->phase == WS_CLOSE_NEXT)
		return ws_close_with(wsi, e->close_code, cs_err_code(e->err.code));
	unsigned char buf[LWS_PRE + CS_ERROR_MSG * 2 + 64];
	char *text = http_error_json(e->err.code, e->err.msg);
	if (!text) /* out of memory: at least the close code says what happened */
		return ws_close_with(wsi, e->close_code, cs_err_code(e->err.code));
	size_t len = strlen(text);
	if (len > sizeof(buf) - LWS_PRE)
		len = sizeof(buf) - LWS_PRE; /* the message is bounded: cannot happen */
	memcpy(buf + LWS_PRE, text, len);
	free(text);
	if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
		return -1;
	e->phase = WS_CLOSE_NEXT;
	lws_callback_on_writable(wsi);
	return 0;
}
