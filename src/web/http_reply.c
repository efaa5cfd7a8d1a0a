#include "http_reply.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "text.h"

/* The status line and headers at *@p (up to @end): the common ones for @len body bytes,
 * no-store, CORS, then @extra. 0, or -1 if they do not fit. */
static int add_headers(struct lws *wsi, unsigned int status, const char *type, size_t len,
	const struct http_header *extra, size_t n_extra, unsigned char **p, unsigned char *end)
{
	int bad = lws_add_http_common_headers(wsi, status, type, len, p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
			(const unsigned char *)"no-store", 8, p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
			(const unsigned char *)"*", 1, p, end);
	for (size_t i = 0; !bad && i < n_extra; i++)
		bad = lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i].name,
			(const unsigned char *)extra[i].value, (int)strlen(extra[i].value), p, end);
	return bad || lws_finalize_http_header(wsi, p, end) ? -1 : 0;
}

/* Room for the headers: the common ones and 256 bytes per extra header. */
/* Room for the status line, the usual headers and @extra, whatever their lengths (a WHEP
 * Location carries the camera URL). */
static size_t head_room(const struct http_header *extra, size_t n_extra)
{
	size_t n = 1024;
	for (size_t i = 0; i < n_extra; i++)
		n += strlen(extra[i].name) + strlen(extra[i].value) + 8;
	return n;
}

int http_write_response(struct lws *wsi, unsigned int status, const char *type,
	const void *body, size_t len, const struct http_header *extra, size_t n_extra)
{
	size_t cap = LWS_PRE + head_room(extra, n_extra) + len;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start;
	if (add_headers(wsi, status, type, len, extra, n_extra, &p, buf + cap - len)) {
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

int http_write_head(struct lws *wsi, unsigned int status, const char *type, size_t len,
	const struct http_header *extra, size_t n_extra)
{
	size_t cap = LWS_PRE + head_room(extra, n_extra);
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start;
	int rc = add_headers(wsi, status, type, len, extra, n_extra, &p, buf + cap);
	if (!rc && lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) <
		(int)(p - start))
		rc = -1;
	free(buf);
	return rc;
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

char *http_error_json(enum cs_err e, const char *msg)
{
	char clean[CS_ERROR_MSG * 2];
	str_utf8_clean(msg ? msg : "", clean, sizeof(clean));
	json_t *j = json_pack("{s:s,s:s}", "error", clean, "code", cs_err_code(e));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

int http_reply_cs(struct lws *wsi, const struct cs_error *e)
{
	return http_reply_error(wsi, 0, e->code, e->msg);
}

int http_reply_error(struct lws *wsi, unsigned int status, enum cs_err e, const char *msg)
{
	char *text = http_error_json(e, msg);
	if (!text)
		return -1;
	int r = http_reply_json(wsi, status ? status : (unsigned int)cs_err_http_status(e), text);
	free(text);
	return r;
}

enum cs_err http_query(struct lws *wsi, struct query *q, struct cs_error *err)
{
	memset(q, 0, sizeof(*q));
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (total <= 0)
		return CS_OK;
	/* every fragment plus its NUL fits: lws' total counts the fragments without separators */
	size_t cap = (size_t)total + HTTP_MAX_ARGS + 1;
	q->store = malloc(cap);
	if (!q->store)
		return cs_fail_oom(err);
	size_t off = 0;
	for (int i = 0; off < cap; i++) {
		int len = lws_hdr_copy_fragment(wsi, q->store + off, (int)(cap - off),
			WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0)
			break;
		if (q->n == HTTP_MAX_ARGS) {
			query_free(q);
			return cs_fail(err, CS_BAD_REQUEST, "too many query parameters (at most %d)",
				HTTP_MAX_ARGS);
		}
		q->args[q->n++] = q->store + off;
		off += (size_t)len + 1;
	}
	return CS_OK;
}

const char *query_get(const struct query *q, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < q->n; i++)
		if (!strncmp(q->args[i], name, n) && q->args[i][n] == '=')
			return q->args[i] + n + 1;
	return NULL;
}

enum cs_err query_take_bool(struct query *q, const char *name, bool *out,
	struct cs_error *err)
{
	size_t n = strlen(name);
	int kept = 0;
	bool seen = false;
	for (int i = 0; i < q->n; i++) {
		const char *a = q->args[i];
		if (strncmp(a, name, n) || a[n] != '=') {
			q->args[kept++] = a;
			continue;
		}
		if (seen)
			return cs_fail(err, CS_BAD_REQUEST, "%s is given twice", name);
		if (strcmp(a + n + 1, "0") && strcmp(a + n + 1, "1"))
			return cs_fail(err, CS_BAD_REQUEST, "%s must be 0 or 1", name);
		seen = true;
		*out = a[n + 1] == '1';
	}
	q->n = kept;
	return CS_OK;
}

void query_free(struct query *q)
{
	free(q->store);
	memset(q, 0, sizeof(*q));
}

long long http_content_length(struct lws *wsi)
{
	char buf[32];
	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	char *end;
	long long v = strtoll(buf, &end, 10);
	return (end == buf || *end || v < 0) ? -1 : v;
}
