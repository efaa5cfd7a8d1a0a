#include "http_reply.h"

#include <stdlib.h>
#include <string.h>

int http_write_response(struct lws *wsi, unsigned int status, const char *type,
	const void *body, size_t len, const struct http_header *extra, size_t n_extra)
{
	size_t cap = LWS_PRE + 1024 + 256 * n_extra + len;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap - len;
	int bad = lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
			(const unsigned char *)"no-store", 8, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
			(const unsigned char *)"*", 1, &p, end);
	for (size_t i = 0; !bad && i < n_extra; i++)
		bad = lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i].name,
			(const unsigned char *)extra[i].value, (int)strlen(extra[i].value), &p, end);
	if (bad || lws_finalize_http_header(wsi, &p, end)) {
		free(buf);
		return -1;
	}
	if (len)
		memcpy(p, body, len);
	p += len;
	int n = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
	free(buf);
	return n < 0 ? -1 : 0;
}

int http_reply(struct lws *wsi, unsigned int status, const char *type, const void *body,
	size_t len)
{
	if (http_write_response(wsi, status, type, body, len, NULL, 0))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_reply_json(struct lws *wsi, unsigned int status, const char *json)
{
	return http_reply(wsi, status, "application/json", json, strlen(json));
}

int http_reply_error(struct lws *wsi, unsigned int status, enum cs_err e, const char *msg)
{
	char *text = cs_err_json(e, msg);
	if (!text)
		return -1;
	int r = http_reply_json(wsi, status ? status : (unsigned int)cs_err_http_status(e), text);
	free(text);
	return r;
}

int http_query_args(struct lws *wsi, char **store, const char **args)
{
	*store = NULL;
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (total <= 0)
		return 0;
	/* every fragment plus its NUL fits: lws' total counts the fragments without separators */
	size_t cap = (size_t)total + HTTP_MAX_ARGS + 1;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	size_t off = 0;
	int n = 0;
	for (int i = 0; off < cap; i++) {
		int len = lws_hdr_copy_fragment(wsi, buf + off, (int)(cap - off),
			WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0)
			break;
		if (n == HTTP_MAX_ARGS) {
			free(buf);
			return -2;
		}
		args[n++] = buf + off;
		off += (size_t)len + 1;
	}
	*store = buf;
	return n;
}
