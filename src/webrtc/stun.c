/* stun: see stun.h */
#include "stun.h"

#include <errno.h>
#include <string.h>

#include <netinet/in.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bytes.h"

/* attribute types (RFC 8489 §18.3, RFC 8445 §16.1) */
enum {
	ATTR_USERNAME = 0x0006,
	ATTR_MESSAGE_INTEGRITY = 0x0008,
	ATTR_ERROR_CODE = 0x0009,
	ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	ATTR_PRIORITY = 0x0024,
	ATTR_USE_CANDIDATE = 0x0025,
	ATTR_FINGERPRINT = 0x8028,
	ATTR_ICE_CONTROLLED = 0x8029,
	ATTR_ICE_CONTROLLING = 0x802A,
};

#define HMAC_LEN 20              /* SHA-1 */
#define FINGERPRINT_XOR 0x5354554eu
#define USERNAME_MAX 513         /* RFC 5389 §15.3's bound (8489 lowered it to 508) */

/* ---- CRC-32 (the reflected polynomial 0xEDB88320 of zlib and Ethernet), four bits a step ---- */

/* the remainder of each 4-bit value, shifted through the polynomial four times */
static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
	0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
	0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ crc_nibble[c & 15];
		c = (c >> 4) ^ crc_nibble[c & 15];
	}
	return c ^ 0xffffffffu;
}

/* ---- HMAC-SHA1 over a message whose header length says @len_field ---- */

/* The HMAC of the first @upto bytes of @p with the header's length field read as
 * @len_field (RFC 8489 §14.5: the length as if MESSAGE-INTEGRITY ended the message). */
static bool hmac_sha1(const uint8_t *p, size_t upto, uint16_t len_field, const void *key,
	size_t key_len, uint8_t out[HMAC_LEN])
{
	static const uint8_t empty_key;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	bool ok = false;
	size_t out_len = 0;
	uint8_t len_be[2];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};

	put16(len_be, len_field);
	/* a NULL key would mean "the key set before" to EVP_MAC_init */
	if (!ctx || !EVP_MAC_init(ctx, key_len ? key : &empty_key, key_len, params))
		goto out;
	if (!EVP_MAC_update(ctx, p, 2) || !EVP_MAC_update(ctx, len_be, 2) ||
		!EVP_MAC_update(ctx, p + 4, upto - 4))
		goto out;
	ok = EVP_MAC_final(ctx, out, &out_len, HMAC_LEN) && out_len == HMAC_LEN;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok;
}

/* ---- reading ---- */

bool stun_is(const uint8_t *p, size_t n)
{
	if (!p || n < STUN_HEADER || p[0] > 3)
		return false; /* RFC 7983 §7: 0..3 is STUN */
	size_t len = get16(p + 2);
	return get32(p + 4) == STUN_MAGIC && len % 4 == 0 && STUN_HEADER + len == n;
}

/* XOR-MAPPED-ADDRESS's value (@v, @len bytes) into @ss; false for a wrong length or an
 * unknown family (the attribute is then ignored, RFC 8489 §14.1). */
static bool read_xor_address(const uint8_t *msg, const uint8_t *v, size_t len,
	struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (len < 4)
		return false;
	uint16_t port = get16(v + 2) ^ (uint16_t)(STUN_MAGIC >> 16);
	if (v[1] == 0x01 && len == 8) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		uint8_t a[4];
		for (int i = 0; i < 4; i++)
			a[i] = v[4 + i] ^ msg[4 + i];
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a, 4);
		return true;
	}
	if (v[1] == 0x02 && len == 20) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		uint8_t a[16];
		for (int i = 0; i < 16; i++)
			a[i] = v[4 + i] ^ msg[4 + i]; /* the cookie, then the transaction id */
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a, 16);
		return true;
	}
	return false;
}

int stun_parse(const uint8_t *p, size_t n, struct stun_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (!p || n < STUN_HEADER || p[0] > 3 || get32(p + 4) != STUN_MAGIC)
		return -EINVAL;
	size_t len = get16(p + 2);
	if (len % 4 || STUN_HEADER + len != n)
		return -EINVAL;
	m->type = get16(p);
	memcpy(m->txid, p + 8, 12);

	bool seen_username = false, seen_priority = false, seen_control = false;
	bool seen_error = false;
	size_t off = STUN_HEADER;
	while (off < n) {
		if (n - off < 4)
			return -EINVAL;
		uint16_t type = get16(p + off);
		size_t alen = get16(p + off + 2);
		size_t padded = (alen + 3) & ~(size_t)3;
		if (padded > n - off - 4)
			return -EINVAL;
		const uint8_t *v = p + off + 4;

		if (m->has_integrity && type != ATTR_FINGERPRINT)
			return -EINVAL; /* something after MESSAGE-INTEGRITY but FINGERPRINT */

		/* of a repeated attribute only the first counts (RFC 8489 §14) */
		switch (type) {
		case ATTR_USERNAME:
			if (alen > USERNAME_MAX)
				return -EINVAL;
			if (!seen_username) {
				m->username = v;
				m->username_len = alen;
				seen_username = true;
			}
			break;
		case ATTR_MESSAGE_INTEGRITY:
			if (alen != HMAC_LEN)
				return -EINVAL;
			m->has_integrity = true;
			m->integrity_off = off;
			break;
		case ATTR_FINGERPRINT:
			if (alen != 4 || off + 8 != n)
				return -EINVAL;
			if (get32(v) != (crc32_of(p, off) ^ FINGERPRINT_XOR))
				return -EINVAL;
			m->has_fingerprint = true;
			break;
		case ATTR_PRIORITY:
			if (alen != 4)
				return -EINVAL;
			if (!seen_priority) {
				m->priority = get32(v);
				seen_priority = true;
			}
			break;
		case ATTR_USE_CANDIDATE:
			if (alen != 0)
				return -EINVAL;
			m->use_candidate = true;
			break;
		case ATTR_ICE_CONTROLLED:
		case ATTR_ICE_CONTROLLING:
			if (alen != 8)
				return -EINVAL;
			if (type == ATTR_ICE_CONTROLLED)
				m->ice_controlled = true;
			else
				m->ice_controlling = true;
			if (!seen_control) {
				m->tiebreaker = (uint64_t)get32(v) << 32 | get32(v + 4);
				seen_control = true;
			}
			break;
		case ATTR_ERROR_CODE:
			if (alen < 4)
				return -EINVAL;
			if (!seen_error) {
				/* the hundreds in 3 bits, the rest 0..99 (RFC 8489 §14.8) */
				m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3] % 100);
				seen_error = true;
			}
			break;
		case ATTR_XOR_MAPPED_ADDRESS:
			if (!m->has_xor_mapped)
				m->has_xor_mapped = read_xor_address(p, v, alen, &m->xor_mapped);
			break;
		default:
			break;
		}
		off += 4 + padded;
	}
	return 0;
}

bool stun_check_integrity(const uint8_t *p, size_t n, const struct stun_msg *m,
	const void *key, size_t key_len)
{
	uint8_t mac[HMAC_LEN];

	if (!p || !m || !m->has_integrity || (!key && key_len))
		return false;
	size_t off = m->integrity_off;
	if (off < STUN_HEADER || off > n || n - off < 4 + HMAC_LEN)
		return false;
	if (!hmac_sha1(p, off, (uint16_t)(off + 4 + HMAC_LEN - STUN_HEADER), key, key_len, mac))
		return false;
	return CRYPTO_memcmp(mac, p + off + 4, HMAC_LEN) == 0;
}

/* ---- writing ---- */

/* A message being written into a caller's buffer; @failed once something did not fit. */
struct out {
	uint8_t *p;
	size_t cap, len;
	bool failed;
};

static void out_header(struct out *o, uint16_t type, const uint8_t txid[12])
{
	if (o->cap < STUN_HEADER) {
		o->failed = true;
		return;
	}
	put16(o->p, type);
	put16(o->p + 2, 0);
	put32(o->p + 4, STUN_MAGIC);
	memcpy(o->p + 8, txid, 12);
	o->len = STUN_HEADER;
}

/* Opens an attribute of @len bytes (padding with zeros to 4 included) and returns where its
 * value goes, or NULL if it does not fit. The header's length follows. */
static uint8_t *out_attr(struct out *o, uint16_t type, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	if (o->failed || o->cap - o->len < 4 + padded || o->len + 4 + padded > 0xffff) {
		o->failed = true;
		return NULL;
	}
	uint8_t *a = o->p + o->len;
	put16(a, type);
	put16(a + 2, (uint16_t)len);
	memset(a + 4 + len, 0, padded - len);
	o->len += 4 + padded;
	put16(o->p + 2, (uint16_t)(o->len - STUN_HEADER));
	return a + 4;
}

static void out_integrity(struct out *o, const void *key, size_t key_len)
{
	size_t at = o->len;
	uint8_t *v = out_attr(o, ATTR_MESSAGE_INTEGRITY, HMAC_LEN);
	if (!v)
		return;
	/* the header already says the message ends after this attribute */
	if (!hmac_sha1(o->p, at, get16(o->p + 2), key, key_len, v))
		o->failed = true;
}

static size_t out_finish(struct out *o)
{
	size_t at = o->len;
	uint8_t *v = out_attr(o, ATTR_FINGERPRINT, 4);
	if (!v)
		return 0;
	put32(v, crc32_of(o->p, at) ^ FINGERPRINT_XOR);
	return o->failed ? 0 : o->len;
}

size_t stun_binding_success(uint8_t *out, size_t cap, const uint8_t txid[12],
	const struct sockaddr *from, const void *key, size_t key_len)
{
	struct out o = { out, out ? cap : 0, 0, false };
	if (!from || !txid || (from->sa_family != AF_INET && from->sa_family != AF_INET6))
		return 0;
	out_header(&o, STUN_BINDING_SUCCESS, txid);
	if (o.failed)
		return 0;
	uint8_t mask[16];
	put32(mask, STUN_MAGIC);
	memcpy(mask + 4, txid, 12);

	uint8_t *v;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
	/* a dual-stack socket sees an IPv4 peer as ::ffff:a.b.c.d: that peer sent from IPv4 */
	bool mapped = from->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
	if (from->sa_family == AF_INET || mapped) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)from;
		const uint8_t *a = mapped ? (const uint8_t *)&in6->sin6_addr + 12 :
			(const uint8_t *)&in->sin_addr;
		uint16_t port = mapped ? in6->sin6_port : in->sin_port;
		if (!(v = out_attr(&o, ATTR_XOR_MAPPED_ADDRESS, 8)))
			return 0;
		v[0] = 0;
		v[1] = 0x01;
		put16(v + 2, ntohs(port) ^ (uint16_t)(STUN_MAGIC >> 16));
		for (int i = 0; i < 4; i++)
			v[4 + i] = a[i] ^ mask[i];
	} else {
		const uint8_t *a = (const uint8_t *)&in6->sin6_addr;
		if (!(v = out_attr(&o, ATTR_XOR_MAPPED_ADDRESS, 20)))
			return 0;
		v[0] = 0;
		v[1] = 0x02;
		put16(v + 2, ntohs(in6->sin6_port) ^ (uint16_t)(STUN_MAGIC >> 16));
		for (int i = 0; i < 16; i++)
			v[4 + i] = a[i] ^ mask[i];
	}
	if (key)
		out_integrity(&o, key, key_len);
	return out_finish(&o);
}

static const char *reason_of(uint16_t code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthenticated";
	case 420:
		return "Unknown Attribute";
	case 487:
		return "Role Conflict";
	case 500:
		return "Server Error";
	default:
		return "Error";
	}
}

size_t stun_binding_error(uint8_t *out, size_t cap, const uint8_t txid[12], uint16_t code,
	const void *key, size_t key_len)
{
	struct out o = { out, out ? cap : 0, 0, false };
	if (!txid || code < 300 || code > 699)
		return 0;
	out_header(&o, STUN_BINDING_ERROR, txid);
	const char *reason = reason_of(code);
	size_t rlen = strlen(reason);
	uint8_t *v = out_attr(&o, ATTR_ERROR_CODE, 4 + rlen);
	if (!v)
		return 0;
	v[0] = 0;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
	if (key)
		out_integrity(&o, key, key_len);
	return out_finish(&o);
}

size_t stun_binding_request(uint8_t *out, size_t cap, const uint8_t txid[12],
	const char *username, uint32_t priority, uint64_t tiebreaker, bool use_candidate,
	const void *key, size_t key_len)
{
	struct out o = { out, out ? cap : 0, 0, false };
	if (!txid || !username)
		return 0;
	size_t ulen = strlen(username);
	if (ulen > USERNAME_MAX)
		return 0;
	out_header(&o, STUN_BINDING_REQUEST, txid);
	uint8_t *v = out_attr(&o, ATTR_USERNAME, ulen);
	if (!v)
		return 0;
	memcpy(v, username, ulen);
	if (!(v = out_attr(&o, ATTR_PRIORITY, 4)))
		return 0;
	put32(v, priority);
	if (!(v = out_attr(&o, ATTR_ICE_CONTROLLING, 8)))
		return 0;
	put32(v, (uint32_t)(tiebreaker >> 32));
	put32(v + 4, (uint32_t)tiebreaker);
	if (use_candidate && !out_attr(&o, ATTR_USE_CANDIDATE, 0))
		return 0;
	if (key)
		out_integrity(&o, key, key_len);
	return out_finish(&o);
}
