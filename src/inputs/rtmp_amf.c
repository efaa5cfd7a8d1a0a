#include "rtmp_amf.h"

#include <string.h>

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int amf_peek(const struct amf_reader *r)
{
	return r->n ? r->p[0] : -1;
}

static bool take(struct amf_reader *r, size_t k)
{
	if (k > r->n)
		return false;
	r->p += k;
	r->n -= k;
	return true;
}

/* A u16- or u32-length run of bytes after @head bytes. */
static bool take_sized(struct amf_reader *r, size_t head, int lenbytes)
{
	if (r->n < head + (size_t)lenbytes)
		return false;
	size_t len = be(r->p + head, lenbytes);
	return take(r, head + (size_t)lenbytes) && take(r, len);
}

static bool skip_value(struct amf_reader *r, int depth);

/* The properties of an object (after its marker and header) up to and with its end marker. */
static bool skip_props(struct amf_reader *r, int depth)
{
	for (;;) {
		if (r->n == 0)
			return true; /* a missing end marker at the end: tolerated */
		if (r->n >= 3 && be(r->p, 2) == 0 && r->p[2] == AMF_OBJECT_END)
			return take(r, 3);
		if (!take_sized(r, 0, 2) || !skip_value(r, depth))
			return false;
	}
}

static bool skip_value(struct amf_reader *r, int depth)
{
	if (r->n == 0 || depth > AMF_MAX_DEPTH)
		return false;
	switch (r->p[0]) {
	case AMF_NUMBER:
		return take(r, 9);
	case AMF_BOOL:
		return take(r, 2);
	case AMF_STRING:
		return take_sized(r, 1, 2);
	case AMF_LONG_STRING:
	case AMF_XML:
		return take_sized(r, 1, 4);
	case AMF_NULL:
	case AMF_UNDEFINED:
	case AMF_UNSUPPORTED:
		return take(r, 1);
	case AMF_REFERENCE:
		return take(r, 3);
	case AMF_DATE:
		return take(r, 11);
	case AMF_OBJECT:
		return take(r, 1) && skip_props(r, depth + 1);
	case AMF_ECMA_ARRAY:
		return take(r, 5) && skip_props(r, depth + 1);
	case AMF_TYPED_OBJECT:
		return take(r, 1) && take_sized(r, 0, 2) && skip_props(r, depth + 1);
	case AMF_STRICT_ARRAY: {
		if (r->n < 5)
			return false;
		uint32_t count = be(r->p + 1, 4);
		take(r, 5);
		/* every value is at least one byte: the count cannot outrun the bytes for long */
		for (uint32_t i = 0; i < count; i++)
			if (!skip_value(r, depth + 1))
				return false;
		return true;
	}
	default: /* movie clip, record set, AMF3 switch, unknown: not AMF0 we read */
		return false;
	}
}

bool amf_skip(struct amf_reader *r)
{
	return skip_value(r, 0);
}

bool amf_number(struct amf_reader *r, double *v)
{
	if (r->n < 9 || r->p[0] != AMF_NUMBER)
		return false;
	uint64_t bits = (uint64_t)be(r->p + 1, 4) << 32 | be(r->p + 5, 4);
	memcpy(v, &bits, sizeof(*v));
	return take(r, 9);
}

bool amf_string(struct amf_reader *r, const uint8_t **s, size_t *len)
{
	int lb;
	if (r->n && r->p[0] == AMF_STRING)
		lb = 2;
	else if (r->n && r->p[0] == AMF_LONG_STRING)
		lb = 4;
	else
		return false;
	if (r->n < 1 + (size_t)lb)
		return false;
	size_t l = be(r->p + 1, lb);
	if (l > r->n - 1 - (size_t)lb)
		return false;
	*s = r->p + 1 + lb;
	*len = l;
	return take(r, 1 + (size_t)lb + l);
}

bool amf_string_is(struct amf_reader *r, const char *s)
{
	struct amf_reader t = *r;
	const uint8_t *v;
	size_t len;
	if (!amf_string(&t, &v, &len) || len != strlen(s) || memcmp(v, s, len) != 0)
		return false;
	*r = t;
	return true;
}

bool amf_enter(struct amf_reader *r)
{
	if (r->n == 0)
		return false;
	if (r->p[0] == AMF_OBJECT)
		return take(r, 1);
	if (r->p[0] == AMF_ECMA_ARRAY)
		return take(r, 5);
	if (r->p[0] == AMF_TYPED_OBJECT) {
		struct amf_reader t = *r;
		if (take(&t, 1) && take_sized(&t, 0, 2)) {
			*r = t;
			return true;
		}
	}
	return false;
}

int amf_key(struct amf_reader *r, const uint8_t **key, size_t *len)
{
	if (r->n == 0)
		return 0;
	if (r->n >= 3 && be(r->p, 2) == 0 && r->p[2] == AMF_OBJECT_END) {
		take(r, 3);
		return 0;
	}
	if (r->n < 2)
		return -1;
	size_t l = be(r->p, 2);
	if (l > r->n - 2)
		return -1;
	*key = r->p + 2;
	*len = l;
	take(r, 2 + l);
	return 1;
}

/* ---- the writer ---- */

static void put(struct amf_writer *w, const void *b, size_t len)
{
	if (len && w->n <= w->cap && len <= w->cap - w->n)
		memcpy(w->p + w->n, b, len);
	w->n += len;
}

static void put_u8(struct amf_writer *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(w, &b, 1);
}

static void put_be(struct amf_writer *w, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put(w, b, (size_t)bytes);
}

void amfw_number(struct amf_writer *w, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	put_u8(w, AMF_NUMBER);
	put_be(w, bits, 8);
}

void amfw_bool(struct amf_writer *w, bool v)
{
	put_u8(w, AMF_BOOL);
	put_u8(w, v);
}

void amfw_key(struct amf_writer *w, const char *key)
{
	size_t n = strlen(key);
	if (n > 0xffff)
		n = 0xffff;
	put_be(w, n, 2);
	put(w, key, n);
}

void amfw_string(struct amf_writer *w, const char *s)
{
	put_u8(w, AMF_STRING);
	amfw_key(w, s);
}

void amfw_null(struct amf_writer *w)
{
	put_u8(w, AMF_NULL);
}

void amfw_undefined(struct amf_writer *w)
{
	put_u8(w, AMF_UNDEFINED);
}

void amfw_object(struct amf_writer *w)
{
	put_u8(w, AMF_OBJECT);
}

void amfw_end(struct amf_writer *w)
{
	put_be(w, 0, 2);
	put_u8(w, AMF_OBJECT_END);
}
