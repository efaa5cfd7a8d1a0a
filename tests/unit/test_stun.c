/* stun: the STUN messages of an ICE-lite agent (src/webrtc/stun.c). First RFC 5769's sample
 * messages, typed in from the RFC's text: they are read, their MESSAGE-INTEGRITY and
 * FINGERPRINT check, and our writer puts the same XOR-MAPPED-ADDRESS bytes for the same
 * address and transaction. Then what we write reads back, and what stun_parse refuses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "stun.h"

/* RFC 5769 §2.1: a binding request, short-term credentials (username "evtj:h6vY",
 * password "VOkJxbRl1RmTxUk/WvJxBt"), SOFTWARE "STUN test client" */
static const uint8_t rfc_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, /* type, length, cookie */
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, /* txid */
	0x80, 0x22, 0x00, 0x10, /* SOFTWARE */
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65,
	0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, /* PRIORITY */
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, /* ICE-CONTROLLED */
	0x00, 0x06, 0x00, 0x09, /* USERNAME, 9 bytes and 3 of padding (spaces) */
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3,
	0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf, /* FINGERPRINT */
};

/* RFC 5769 §2.2: the success response, mapped address 192.0.2.1 port 32853 */
static const uint8_t rfc_response4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, /* SOFTWARE "test vector", one byte of padding */
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, /* XOR-MAPPED */
	0x00, 0x08, 0x00, 0x14,
	0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9,
	0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: the same with 2001:db8:1234:5678:11:2233:4455:6677 port 32853 */
static const uint8_t rfc_response6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, /* XOR-MAPPED, IPv6 */
	0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2,
	0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14,
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92,
	0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const char rfc_password[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t rfc_txid[12] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa,
	0x87, 0xdf, 0xae };

/* ---- messages made by hand: a builder and a CRC-32 of its own (bit by bit) ---- */

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void msg_start(struct msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->b[0] = (uint8_t)(type >> 8);
	m->b[1] = (uint8_t)type;
	m->b[4] = 0x21;
	m->b[5] = 0x12;
	m->b[6] = 0xa4;
	m->b[7] = 0x42;
	memcpy(m->b + 8, rfc_txid, 12);
	m->n = 20;
}

static void msg_len(struct msg *m)
{
	m->b[2] = (uint8_t)((m->n - 20) >> 8);
	m->b[3] = (uint8_t)(m->n - 20);
}

/* An attribute with @len bytes of @v, zero padded. */
static void msg_attr(struct msg *m, uint16_t type, const void *v, size_t len)
{
	uint8_t *a = m->b + m->n;
	a[0] = (uint8_t)(type >> 8);
	a[1] = (uint8_t)type;
	a[2] = (uint8_t)(len >> 8);
	a[3] = (uint8_t)len;
	if (len)
		memcpy(a + 4, v, len);
	m->n += 4 + ((len + 3) & ~(size_t)3);
	msg_len(m);
}

static void msg_fingerprint(struct msg *m)
{
	uint8_t v[4] = { 0 };
	size_t at = m->n;
	msg_attr(m, 0x8028, v, 4);
	uint32_t f = crc32_bitwise(m->b, at) ^ 0x5354554eu;
	m->b[at + 4] = (uint8_t)(f >> 24);
	m->b[at + 5] = (uint8_t)(f >> 16);
	m->b[at + 6] = (uint8_t)(f >> 8);
	m->b[at + 7] = (uint8_t)f;
}

/* ---- RFC 5769 ---- */

static void rfc5769_request_reads_as_the_rfc_says(void)
{
	struct stun_msg m;
	CHECK(stun_is(rfc_request, sizeof(rfc_request)));
	CHECK(stun_parse(rfc_request, sizeof(rfc_request), &m) == 0);
	CHECK(m.type == STUN_BINDING_REQUEST);
	CHECK(memcmp(m.txid, rfc_txid, 12) == 0);
	CHECK(m.username_len == 9 && m.username == rfc_request + 64);
	CHECK(m.username && memcmp(m.username, "evtj:h6vY", 9) == 0);
	CHECK(m.priority == 0x6e0001ffu);
	CHECK(m.ice_controlled && !m.ice_controlling);
	CHECK(m.tiebreaker == 0x932ff9b151263b36ull);
	CHECK(!m.use_candidate);
	CHECK(m.has_integrity && m.integrity_off == 76);
	CHECK(m.has_fingerprint);
	CHECK(!m.has_xor_mapped && m.error_code == 0);
}

static void rfc5769_request_integrity_checks_with_the_password(void)
{
	struct stun_msg m;
	CHECK(stun_parse(rfc_request, sizeof(rfc_request), &m) == 0);
	CHECK(stun_check_integrity(rfc_request, sizeof(rfc_request), &m, rfc_password,
		strlen(rfc_password)));
	CHECK(!stun_check_integrity(rfc_request, sizeof(rfc_request), &m, "VOkJxbRl1RmTxUk/WvJxBu",
		strlen(rfc_password)));
	CHECK(!stun_check_integrity(rfc_request, sizeof(rfc_request), &m, rfc_password,
		strlen(rfc_password) - 1));
	CHECK(!stun_check_integrity(rfc_request, sizeof(rfc_request), &m, "", 0));
}

static void rfc5769_ipv4_response_reads_and_checks(void)
{
	struct stun_msg m;
	CHECK(stun_is(rfc_response4, sizeof(rfc_response4)));
	CHECK(stun_parse(rfc_response4, sizeof(rfc_response4), &m) == 0);
	CHECK(m.type == STUN_BINDING_SUCCESS);
	CHECK(m.has_fingerprint && m.has_integrity);
	CHECK(stun_check_integrity(rfc_response4, sizeof(rfc_response4), &m, rfc_password,
		strlen(rfc_password)));
	CHECK(m.has_xor_mapped);
	const struct sockaddr_in *in = (const struct sockaddr_in *)&m.xor_mapped;
	CHECK(in->sin_family == AF_INET);
	CHECK(ntohs(in->sin_port) == 32853);
	CHECK(ntohl(in->sin_addr.s_addr) == 0xc0000201u); /* 192.0.2.1 */
}

static void rfc5769_ipv6_response_reads_and_checks(void)
{
	struct stun_msg m;
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
	CHECK(stun_is(rfc_response6, sizeof(rfc_response6)));
	CHECK(stun_parse(rfc_response6, sizeof(rfc_response6), &m) == 0);
	CHECK(m.type == STUN_BINDING_SUCCESS);
	CHECK(m.has_fingerprint && m.has_integrity);
	CHECK(stun_check_integrity(rfc_response6, sizeof(rfc_response6), &m, rfc_password,
		strlen(rfc_password)));
	CHECK(m.has_xor_mapped);
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&m.xor_mapped;
	CHECK(in6->sin6_family == AF_INET6);
	CHECK(ntohs(in6->sin6_port) == 32853);
	CHECK(memcmp(&in6->sin6_addr, want, 16) == 0);
}

/* Our success response for the RFC's address and transaction carries the RFC's
 * XOR-MAPPED-ADDRESS attribute byte for byte (we send no SOFTWARE, so the rest differs). */
static void success_writes_the_rfc5769_xor_mapped_address(void)
{
	uint8_t out[80];
	struct sockaddr_in in = { 0 };
	in.sin_family = AF_INET;
	in.sin_port = htons(32853);
	in.sin_addr.s_addr = htonl(0xc0000201u);
	size_t n = stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&in,
		rfc_password, strlen(rfc_password));
	CHECK(n == 20 + 12 + 24 + 8);
	CHECK(memcmp(out + 20, rfc_response4 + 36, 12) == 0);

	struct sockaddr_in6 in6 = { 0 };
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(32853);
	CHECK(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &in6.sin6_addr) == 1);
	n = stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&in6,
		rfc_password, strlen(rfc_password));
	CHECK(n == 20 + 24 + 24 + 8);
	CHECK(memcmp(out + 20, rfc_response6 + 36, 24) == 0);
}

/* ---- what we write reads back ---- */

static void success_reads_back_with_integrity_and_fingerprint(void)
{
	uint8_t out[80];
	struct stun_msg m;
	static const uint8_t txid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct sockaddr_in in = { 0 };
	in.sin_family = AF_INET;
	in.sin_port = htons(50000);
	in.sin_addr.s_addr = htonl(0x0a000001u);
	size_t n = stun_binding_success(out, sizeof(out), txid, (struct sockaddr *)&in, "pw", 2);
	CHECK(n == 64);
	CHECK(stun_is(out, n));
	CHECK(stun_parse(out, n, &m) == 0);
	CHECK(m.type == STUN_BINDING_SUCCESS && memcmp(m.txid, txid, 12) == 0);
	CHECK(m.has_integrity && m.has_fingerprint);
	CHECK(stun_check_integrity(out, n, &m, "pw", 2));
	CHECK(!stun_check_integrity(out, n, &m, "pv", 2));
	CHECK(m.has_xor_mapped && memcmp(&m.xor_mapped, &in, sizeof(in)) == 0);

	struct sockaddr_in6 in6 = { 0 };
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(1);
	CHECK(inet_pton(AF_INET6, "fe80::1:2:3:4", &in6.sin6_addr) == 1);
	n = stun_binding_success(out, sizeof(out), txid, (struct sockaddr *)&in6, "pw", 2);
	CHECK(n == 76);
	CHECK(stun_parse(out, n, &m) == 0);
	CHECK(stun_check_integrity(out, n, &m, "pw", 2));
	const struct sockaddr_in6 *got = (const struct sockaddr_in6 *)&m.xor_mapped;
	CHECK(m.has_xor_mapped && got->sin6_family == AF_INET6 && got->sin6_port == in6.sin6_port);
	CHECK(memcmp(&got->sin6_addr, &in6.sin6_addr, 16) == 0);
}

/* a dual-stack socket's ::ffff:192.0.2.1 is the RFC's IPv4 attribute */
static void success_writes_an_ipv4_mapped_source_as_ipv4(void)
{
	uint8_t out[80];
	struct stun_msg m;
	struct sockaddr_in6 in6 = { 0 };
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(32853);
	CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.1", &in6.sin6_addr) == 1);
	size_t n = stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&in6,
		"k", 1);
	CHECK(n == 64);
	CHECK(memcmp(out + 20, rfc_response4 + 36, 12) == 0);
	CHECK(stun_parse(out, n, &m) == 0 && m.xor_mapped.ss_family == AF_INET);
}

static void success_without_key_has_no_integrity(void)
{
	uint8_t out[80];
	struct stun_msg m;
	struct sockaddr_in in = { 0 };
	in.sin_family = AF_INET;
	size_t n = stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&in, NULL, 0);
	CHECK(n == 40);
	CHECK(stun_parse(out, n, &m) == 0 && !m.has_integrity && m.has_fingerprint);
	CHECK(!stun_check_integrity(out, n, &m, "", 0));
	/* an empty key is a key */
	n = stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&in, "", 0);
	CHECK(n == 64);
	CHECK(stun_parse(out, n, &m) == 0 && stun_check_integrity(out, n, &m, "", 0));
}

static void success_refuses_a_short_buffer_and_other_families(void)
{
	uint8_t out[80];
	struct sockaddr_in6 in6 = { 0 };
	in6.sin6_family = AF_INET6;
	for (size_t cap = 0; cap < 76; cap++)
		CHECK(stun_binding_success(out, cap, rfc_txid, (struct sockaddr *)&in6, "k", 1) == 0);
	CHECK(stun_binding_success(out, 76, rfc_txid, (struct sockaddr *)&in6, "k", 1) == 76);
	struct sockaddr_storage ss = { 0 };
	ss.ss_family = AF_UNIX;
	CHECK(stun_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&ss, "k", 1) == 0);
}

static void error_401_has_no_integrity_487_has(void)
{
	uint8_t out[128];
	struct stun_msg m;
	size_t n = stun_binding_error(out, sizeof(out), rfc_txid, 401, NULL, 0);
	CHECK(n > 20);
	CHECK(stun_parse(out, n, &m) == 0);
	CHECK(m.type == STUN_BINDING_ERROR && m.error_code == 401);
	CHECK(!m.has_integrity && m.has_fingerprint);

	n = stun_binding_error(out, sizeof(out), rfc_txid, 487, "key", 3);
	CHECK(stun_parse(out, n, &m) == 0);
	CHECK(m.error_code == 487 && m.has_integrity && m.has_fingerprint);
	CHECK(stun_check_integrity(out, n, &m, "key", 3));

	n = stun_binding_error(out, sizeof(out), rfc_txid, 400, "key", 3);
	CHECK(stun_parse(out, n, &m) == 0 && m.error_code == 400);
	for (size_t cap = 0; cap < n; cap++)
		CHECK(stun_binding_error(out, cap, rfc_txid, 400, "key", 3) == 0);
	CHECK(stun_binding_error(out, sizeof(out), rfc_txid, 200, NULL, 0) == 0);
	CHECK(stun_binding_error(out, sizeof(out), rfc_txid, 700, NULL, 0) == 0);
}

static void request_reads_back(void)
{
	uint8_t out[200];
	struct stun_msg m;
	size_t n = stun_binding_request(out, sizeof(out), rfc_txid, "abcd:efgh", 0x7effffffu,
		0x0102030405060708ull, true, "secret", 6);
	CHECK(n > 0 && stun_is(out, n));
	CHECK(stun_parse(out, n, &m) == 0);
	CHECK(m.type == STUN_BINDING_REQUEST);
	CHECK(m.username_len == 9 && memcmp(m.username, "abcd:efgh", 9) == 0);
	CHECK(m.priority == 0x7effffffu);
	CHECK(m.ice_controlling && !m.ice_controlled);
	CHECK(m.tiebreaker == 0x0102030405060708ull);
	CHECK(m.use_candidate);
	CHECK(m.has_integrity && m.has_fingerprint);
	CHECK(stun_check_integrity(out, n, &m, "secret", 6));

	n = stun_binding_request(out, sizeof(out), rfc_txid, "a:b", 1, 2, false, "secret", 6);
	CHECK(stun_parse(out, n, &m) == 0 && !m.use_candidate);
	for (size_t cap = 0; cap < n; cap++)
		CHECK(stun_binding_request(out, cap, rfc_txid, "a:b", 1, 2, false, "s", 1) == 0);

	char long_name[515];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	uint8_t big[1024];
	CHECK(stun_binding_request(big, sizeof(big), rfc_txid, long_name, 1, 2, false, "s", 1) == 0);
	long_name[513] = '\0';
	n = stun_binding_request(big, sizeof(big), rfc_txid, long_name, 1, 2, false, "s", 1);
	CHECK(n > 0 && stun_parse(big, n, &m) == 0 && m.username_len == 513);
}

/* ---- what stun_parse takes and refuses ---- */

static void integrity_catches_a_changed_byte_under_a_good_fingerprint(void)
{
	struct msg m;
	struct stun_msg s;
	/* the RFC request with its PRIORITY changed and a FINGERPRINT made again */
	memcpy(m.b, rfc_request, sizeof(rfc_request));
	m.n = sizeof(rfc_request) - 8;
	m.b[47] ^= 1;
	msg_fingerprint(&m);
	CHECK(m.n == sizeof(rfc_request));
	CHECK(stun_parse(m.b, m.n, &s) == 0);
	CHECK(!stun_check_integrity(m.b, m.n, &s, rfc_password, strlen(rfc_password)));
	/* unchanged, the bit-by-bit CRC agrees with the RFC's FINGERPRINT */
	memcpy(m.b, rfc_request, sizeof(rfc_request));
	m.n = sizeof(rfc_request) - 8;
	msg_fingerprint(&m);
	CHECK(memcmp(m.b, rfc_request, sizeof(rfc_request)) == 0);
}

static void a_changed_byte_fails_the_fingerprint(void)
{
	uint8_t b[sizeof(rfc_request)];
	struct stun_msg m;
	for (size_t i = 20; i < sizeof(b); i++) {
		memcpy(b, rfc_request, sizeof(b));
		b[i] ^= 0x40;
		CHECK(stun_parse(b, sizeof(b), &m) != 0);
	}
}

static void parse_refuses_bad_shapes(void)
{
	struct stun_msg m;
	uint8_t b[sizeof(rfc_request)];

	for (size_t n = 0; n < sizeof(rfc_request); n++)
		CHECK(stun_parse(rfc_request, n, &m) == -EINVAL); /* cut anywhere */

	memcpy(b, rfc_request, sizeof(b));
	b[4] ^= 1; /* cookie */
	CHECK(stun_parse(b, sizeof(b), &m) == -EINVAL);
	CHECK(!stun_is(b, sizeof(b)));

	memcpy(b, rfc_request, sizeof(b));
	b[0] |= 0x80; /* first two bits not zero */
	CHECK(stun_parse(b, sizeof(b), &m) == -EINVAL);
	CHECK(!stun_is(b, sizeof(b)));

	struct msg x;
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0024, "\0\0\0\1", 4);
	x.b[3] = 6; /* length not a multiple of 4 */
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);

	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0024, "\0\0\0\1", 4);
	x.b[23] = 8; /* the attribute runs past the end */
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);

	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0024, "\0\0\0\1", 3); /* PRIORITY of 3 bytes */
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);
}

static void parse_refuses_fingerprint_not_last_or_wrong(void)
{
	struct stun_msg m;
	struct msg x;
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_fingerprint(&x);
	CHECK(stun_parse(x.b, x.n, &m) == 0 && m.has_fingerprint);
	msg_attr(&x, 0x0024, "\0\0\0\1", 4);
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL); /* a fingerprint (now stale) then more */

	msg_start(&x, STUN_BINDING_REQUEST);
	msg_fingerprint(&x);
	x.b[x.n - 1] ^= 1;
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);
}

static void parse_refuses_attributes_after_integrity(void)
{
	struct stun_msg m;
	struct msg x;
	uint8_t mac[20] = { 0 };
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0008, mac, 20);
	CHECK(stun_parse(x.b, x.n, &m) == 0 && m.has_integrity && m.integrity_off == 20);
	msg_fingerprint(&x);
	CHECK(stun_parse(x.b, x.n, &m) == 0 && m.has_integrity && m.has_fingerprint);

	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0008, mac, 20);
	msg_attr(&x, 0x0025, NULL, 0);
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);

	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0008, mac, 19); /* not 20 bytes */
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);
}

static void parse_takes_usernames_up_to_513_bytes(void)
{
	struct stun_msg m;
	static struct msg x;
	uint8_t name[514];
	memset(name, 'u', sizeof(name));
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0006, name, 513);
	CHECK(stun_parse(x.b, x.n, &m) == 0 && m.username_len == 513);
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x0006, name, 514);
	CHECK(stun_parse(x.b, x.n, &m) == -EINVAL);
}

static void parse_skips_unknown_attributes_and_keeps_first_of_repeats(void)
{
	struct stun_msg m;
	struct msg x;
	msg_start(&x, STUN_BINDING_REQUEST);
	msg_attr(&x, 0x7fff, "abc", 3);          /* comprehension-required, unknown */
	msg_attr(&x, 0xc057, "\0\1\0\2", 4);     /* Chromium's GOOG-NETWORK-INFO */
	msg_attr(&x, 0x0006, "one", 3);
	msg_attr(&x, 0x0006, "second", 6);
	msg_attr(&x, 0x0024, "\0\0\0\7", 4);
	msg_attr(&x, 0x0024, "\0\0\0\11", 4);
	msg_fingerprint(&x);
	CHECK(stun_parse(x.b, x.n, &m) == 0);
	CHECK(m.username_len == 3 && memcmp(m.username, "one", 3) == 0);
	CHECK(m.priority == 7);
	CHECK(!m.has_integrity && m.has_fingerprint);
	CHECK(!stun_check_integrity(x.b, x.n, &m, "k", 1));
}

static void xor_mapped_with_an_unknown_family_is_ignored(void)
{
	struct stun_msg m;
	struct msg x;
	msg_start(&x, STUN_BINDING_SUCCESS);
	msg_attr(&x, 0x0020, "\0\3\0\0\0\0\0\0", 8);
	CHECK(stun_parse(x.b, x.n, &m) == 0 && !m.has_xor_mapped);
	msg_start(&x, STUN_BINDING_SUCCESS);
	msg_attr(&x, 0x0020, "\0\1\0\0\0\0\0\0\0\0\0\0", 12); /* IPv4 of the wrong size */
	CHECK(stun_parse(x.b, x.n, &m) == 0 && !m.has_xor_mapped);
}

static void stun_is_tells_stun_from_dtls_and_rtp(void)
{
	static const uint8_t dtls[25] = { 0x16, 0xfe, 0xfd };
	static const uint8_t rtp[24] = { 0x80, 0x60 };
	CHECK(!stun_is(dtls, sizeof(dtls)));
	CHECK(!stun_is(rtp, sizeof(rtp)));
	CHECK(!stun_is(rfc_request, 19));
	CHECK(!stun_is(rfc_request, sizeof(rfc_request) - 4)); /* the length says more */
	CHECK(!stun_is(NULL, 0));
}

int main(void)
{
	RUN(rfc5769_request_reads_as_the_rfc_says);
	RUN(rfc5769_request_integrity_checks_with_the_password);
	RUN(rfc5769_ipv4_response_reads_and_checks);
	RUN(rfc5769_ipv6_response_reads_and_checks);
	RUN(success_writes_the_rfc5769_xor_mapped_address);
	RUN(success_reads_back_with_integrity_and_fingerprint);
	RUN(success_writes_an_ipv4_mapped_source_as_ipv4);
	RUN(success_without_key_has_no_integrity);
	RUN(success_refuses_a_short_buffer_and_other_families);
	RUN(error_401_has_no_integrity_487_has);
	RUN(request_reads_back);
	RUN(integrity_catches_a_changed_byte_under_a_good_fingerprint);
	RUN(a_changed_byte_fails_the_fingerprint);
	RUN(parse_refuses_bad_shapes);
	RUN(parse_refuses_fingerprint_not_last_or_wrong);
	RUN(parse_refuses_attributes_after_integrity);
	RUN(parse_takes_usernames_up_to_513_bytes);
	RUN(parse_skips_unknown_attributes_and_keeps_first_of_repeats);
	RUN(xor_mapped_with_an_unknown_family_is_ignored);
	RUN(stun_is_tells_stun_from_dtls_and_rtp);
	return CHECK_DONE();
}
