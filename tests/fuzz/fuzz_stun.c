/* fuzz_stun: any bytes as a datagram that reached the WebRTC port and looked like STUN
 * (src/webrtc/stun.c): stun_is, stun_parse, stun_check_integrity. The input is read twice:
 * as it is, and "repaired" (cookie set, header length made to match, a FINGERPRINT at the end
 * given its right CRC) so that the fuzzer gets past the fingerprint to the attributes.
 * Invariants, beyond "no crash, no ASan/UBSan report":
 * - what parses also passes stun_is; every pointer and offset it gives is inside the
 *   message, MESSAGE-INTEGRITY is 24 bytes followed by nothing but a FINGERPRINT, a
 *   FINGERPRINT ends the message; the transaction id is the header's;
 * - stun_check_integrity agrees with an HMAC-SHA1 computed here independently (OpenSSL's
 *   one-shot HMAC over a copy whose length field is set as RFC 8489 §14.5 says);
 * - what was read, written back by our writers (a request with the same username, priority,
 *   tie-breaker and USE-CANDIDATE; a success response to the address read; an error response
 *   with the code read), parses to the same values and passes its integrity check. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/hmac.h>

#include "fuzz_common.h"
#include "stun.h"

#define KEY "fuzz-ice-password-22ch"

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

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* What stun_check_integrity should say, computed another way. */
static bool integrity_expected(const uint8_t *p, size_t n, size_t off)
{
	static uint8_t copy[65536 + 20];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	if (off + 24 > n)
		return false;
	memcpy(copy, p, off);
	size_t len = off + 24 - 20;
	copy[2] = (uint8_t)(len >> 8);
	copy[3] = (uint8_t)len;
	if (!HMAC(EVP_sha1(), KEY, (int)strlen(KEY), copy, off, mac, &mac_len) || mac_len != 20)
		return false;
	return memcmp(mac, p + off + 4, 20) == 0;
}

static void check_parsed(const uint8_t *p, size_t n, const struct stun_msg *m)
{
	FUZZ_CHECK(stun_is(p, n), "parsed but not stun_is, %zu bytes\n", n);
	FUZZ_CHECK(m->type == get16(p) && memcmp(m->txid, p + 8, 12) == 0, "header\n");
	if (m->username) {
		FUZZ_CHECK(m->username >= p + STUN_HEADER + 4 &&
			m->username + m->username_len <= p + n && m->username_len <= 513,
			"username outside: %zu\n", m->username_len);
	} else {
		FUZZ_CHECK(m->username_len == 0, "username length without username\n");
	}
	if (m->has_integrity) {
		size_t off = m->integrity_off;
		FUZZ_CHECK(off >= STUN_HEADER && off % 4 == 0 && off + 24 <= n, "MI at %zu\n", off);
		FUZZ_CHECK(get16(p + off) == 0x0008 && get16(p + off + 2) == 20, "MI header\n");
		FUZZ_CHECK(off + 24 == n || (m->has_fingerprint && off + 32 == n),
			"MI at %zu of %zu followed by more than a fingerprint\n", off, n);
	}
	if (m->has_fingerprint) {
		FUZZ_CHECK(n >= 28 && get16(p + n - 8) == 0x8028 && get16(p + n - 6) == 4,
			"fingerprint not last\n");
		uint32_t want = crc32_bitwise(p, n - 8) ^ 0x5354554eu;
		uint32_t got = (uint32_t)p[n - 4] << 24 | (uint32_t)p[n - 3] << 16 |
			(uint32_t)p[n - 2] << 8 | p[n - 1];
		FUZZ_CHECK(want == got, "fingerprint %08x accepted, %08x expected\n", got, want);
	}
	if (m->has_xor_mapped)
		FUZZ_CHECK(m->xor_mapped.ss_family == AF_INET || m->xor_mapped.ss_family == AF_INET6,
			"family %d\n", m->xor_mapped.ss_family);

	bool ok = stun_check_integrity(p, n, m, KEY, strlen(KEY));
	bool want = m->has_integrity && integrity_expected(p, n, m->integrity_off);
	FUZZ_CHECK(ok == want, "integrity %d, expected %d\n", ok, want);
}

/* Our writers, given what was read, write what reads back the same. */
static void write_back(const struct stun_msg *m)
{
	uint8_t out[1024];
	struct stun_msg r;
	size_t n;

	if (m->username && !memchr(m->username, '\0', m->username_len)) {
		char name[514];
		memcpy(name, m->username, m->username_len);
		name[m->username_len] = '\0';
		n = stun_binding_request(out, sizeof(out), m->txid, name, m->priority, m->tiebreaker,
			m->use_candidate, KEY, strlen(KEY));
		FUZZ_CHECK(n > 0 && n <= sizeof(out), "request not written\n");
		FUZZ_CHECK(stun_parse(out, n, &r) == 0, "our request does not parse\n");
		FUZZ_CHECK(r.type == STUN_BINDING_REQUEST && memcmp(r.txid, m->txid, 12) == 0 &&
			r.username_len == m->username_len &&
			memcmp(r.username, m->username, m->username_len) == 0 &&
			r.priority == m->priority && r.tiebreaker == m->tiebreaker &&
			r.use_candidate == m->use_candidate && r.ice_controlling && !r.ice_controlled,
			"request read back differs\n");
		FUZZ_CHECK(r.has_integrity && r.has_fingerprint &&
			stun_check_integrity(out, n, &r, KEY, strlen(KEY)), "request integrity\n");
		for (size_t cap = n > 8 ? n - 8 : 0; cap < n; cap++)
			FUZZ_CHECK(stun_binding_request(out, cap, m->txid, name, m->priority,
				m->tiebreaker, m->use_candidate, KEY, strlen(KEY)) == 0,
				"request written into %zu of %zu\n", cap, n);
	}
	if (m->has_xor_mapped) {
		n = stun_binding_success(out, 80, m->txid, (const struct sockaddr *)&m->xor_mapped,
			KEY, strlen(KEY));
		FUZZ_CHECK(n > 0, "success not written\n");
		FUZZ_CHECK(stun_parse(out, n, &r) == 0 && r.has_xor_mapped &&
			r.type == STUN_BINDING_SUCCESS, "our success does not parse\n");
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&m->xor_mapped;
		const struct sockaddr_in *got4 = (const struct sockaddr_in *)&r.xor_mapped;
		if (m->xor_mapped.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			/* an IPv4-mapped address is written as the IPv4 one */
			FUZZ_CHECK(got4->sin_family == AF_INET && got4->sin_port == in6->sin6_port &&
				memcmp(&got4->sin_addr, (const uint8_t *)&in6->sin6_addr + 12, 4) == 0,
				"mapped address read back\n");
		} else {
			size_t cmp = m->xor_mapped.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
				sizeof(struct sockaddr_in6);
			FUZZ_CHECK(memcmp(&r.xor_mapped, &m->xor_mapped, cmp) == 0,
				"address read back\n");
		}
		FUZZ_CHECK(stun_check_integrity(out, n, &r, KEY, strlen(KEY)), "success integrity\n");
		FUZZ_CHECK(stun_binding_success(out, n - 1, m->txid,
			(const struct sockaddr *)&m->xor_mapped, KEY, strlen(KEY)) == 0, "short\n");
	}
	if (m->error_code >= 300 && m->error_code <= 699) {
		n = stun_binding_error(out, sizeof(out), m->txid, m->error_code, NULL, 0);
		FUZZ_CHECK(n > 0 && stun_parse(out, n, &r) == 0 && r.error_code == m->error_code &&
			!r.has_integrity && r.has_fingerprint, "error %u read back\n", m->error_code);
	}
}

static void one(const uint8_t *p, size_t n)
{
	struct stun_msg m;
	int rc = stun_parse(p, n, &m);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "rc %d\n", rc);
	if (rc == 0) {
		check_parsed(p, n, &m);
		write_back(&m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed[65536 + 20];

	if (size > sizeof(fixed))
		return 0;
	(void)stun_is(data, size);
	one(data, size);

	/* repaired: the header made right, the fingerprint (if last) recomputed */
	if (size < STUN_HEADER || (size - STUN_HEADER) % 4 || size - STUN_HEADER > 0xffff)
		return 0;
	memcpy(fixed, data, size);
	fixed[0] &= 0x03;
	fixed[2] = (uint8_t)((size - STUN_HEADER) >> 8);
	fixed[3] = (uint8_t)(size - STUN_HEADER);
	fixed[4] = 0x21;
	fixed[5] = 0x12;
	fixed[6] = 0xa4;
	fixed[7] = 0x42;
	if (size >= 28 && get16(fixed + size - 8) == 0x8028 && get16(fixed + size - 6) == 4) {
		uint32_t f = crc32_bitwise(fixed, size - 8) ^ 0x5354554eu;
		fixed[size - 4] = (uint8_t)(f >> 24);
		fixed[size - 3] = (uint8_t)(f >> 16);
		fixed[size - 2] = (uint8_t)(f >> 8);
		fixed[size - 1] = (uint8_t)f;
	}
	if (memcmp(fixed, data, size))
		one(fixed, size);
	return 0;
}
