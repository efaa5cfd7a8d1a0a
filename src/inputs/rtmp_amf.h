/* rtmp_amf: AMF0 values, read and written, for rtmp_proto and rtmp_media (internal to them).
 * Pure, no allocation. The reader never reads past its bytes and bounds nesting to
 * AMF_MAX_DEPTH; the writer counts every byte and stores those that fit (like flv.c's). */
#ifndef CAMSTREAM_RTMP_AMF_H
#define CAMSTREAM_RTMP_AMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum amf_marker {
	AMF_NUMBER = 0, AMF_BOOL = 1, AMF_STRING = 2, AMF_OBJECT = 3, AMF_MOVIECLIP = 4,
	AMF_NULL = 5, AMF_UNDEFINED = 6, AMF_REFERENCE = 7, AMF_ECMA_ARRAY = 8,
	AMF_OBJECT_END = 9, AMF_STRICT_ARRAY = 10, AMF_DATE = 11, AMF_LONG_STRING = 12,
	AMF_UNSUPPORTED = 13, AMF_RECORDSET = 14, AMF_XML = 15, AMF_TYPED_OBJECT = 16,
	AMF_AVMPLUS = 17,
};
/* Objects in objects deeper than this are malformed (a stack bound, not a format rule). */
#define AMF_MAX_DEPTH 16

struct amf_reader {
	const uint8_t *p;
	size_t n;   /* bytes left */
};

/* The next value's marker, or -1 at the end. */
int amf_peek(const struct amf_reader *r);
/* Skips one value (objects and arrays whole). false when malformed. */
bool amf_skip(struct amf_reader *r);
/* A number; false (nothing consumed) for another type. */
bool amf_number(struct amf_reader *r, double *v);
/* A string or long string (its bytes, not NUL-terminated); false for another type. */
bool amf_string(struct amf_reader *r, const uint8_t **s, size_t *len);
/* Whether the next value is the string @s (consumed when it is). */
bool amf_string_is(struct amf_reader *r, const char *s);
/* Enters an object, ECMA array or typed object; false for another type. Then amf_key gives
 * each key (1; the value follows: read or skip it), 0 at the end (end marker consumed), -1
 * when malformed. A missing end marker at the end of the bytes counts as the end. */
bool amf_enter(struct amf_reader *r);
int amf_key(struct amf_reader *r, const uint8_t **key, size_t *len);

struct amf_writer {
	uint8_t *p;
	size_t cap, n;   /* n counts every byte; only those within cap are stored */
};
void amfw_number(struct amf_writer *w, double v);
void amfw_bool(struct amf_writer *w, bool v);
void amfw_string(struct amf_writer *w, const char *s); /* cut to 65535 bytes */
void amfw_null(struct amf_writer *w);
void amfw_undefined(struct amf_writer *w);
void amfw_object(struct amf_writer *w);
void amfw_key(struct amf_writer *w, const char *key);
void amfw_end(struct amf_writer *w);

#endif
