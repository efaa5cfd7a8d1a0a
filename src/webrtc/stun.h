/* stun: the STUN messages (RFC 8489, formerly 5389) an ICE-lite agent (RFC 8445 §2.5) handles:
 * binding requests in, success or error responses out. The long-term parts of STUN (realms,
 * nonces, TURN) are not needed and not here.
 *
 * A request is checked in this order by its caller: stun_parse (shape, FINGERPRINT), the
 * USERNAME's first half against our ufrag, stun_check_integrity with our ice-pwd as the key
 * (short-term credentials, RFC 8489 §9.1: the key is the password itself).
 *
 * Pure: bytes in, bytes out, bounded by the lengths given, nothing kept between calls;
 * OpenSSL's libcrypto for HMAC-SHA1, our own CRC-32 (zlib's polynomial). Fuzzed by
 * tests/fuzz/fuzz_stun.c. */
#ifndef CAMSTREAM_WEBRTC_STUN_H
#define CAMSTREAM_WEBRTC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define STUN_HEADER 20
#define STUN_MAGIC 0x2112A442u

enum {
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_INDICATION = 0x0011,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_BINDING_ERROR = 0x0111,
};

/* What a parsed message says. Pointers point into the message given to stun_parse. */
struct stun_msg {
	uint16_t type;
	uint8_t txid[12];
	const uint8_t *username;       /* USERNAME, not NUL-terminated; NULL if absent */
	size_t username_len;
	bool has_integrity;            /* MESSAGE-INTEGRITY present */
	size_t integrity_off;          /* its attribute header's offset in the message */
	bool has_fingerprint;          /* FINGERPRINT present (and correct: stun_parse checks it) */
	bool use_candidate;            /* USE-CANDIDATE */
	bool ice_controlling, ice_controlled;
	uint32_t priority;             /* PRIORITY, 0 if absent */
	uint64_t tiebreaker;           /* ICE-CONTROLLING/-CONTROLLED's value */
	uint16_t error_code;           /* an error response's code (e.g. 401), else 0 */
	bool has_xor_mapped;           /* XOR-MAPPED-ADDRESS present (responses) */
	struct sockaddr_storage xor_mapped;
};

/* Whether @p looks like STUN by RFC 7983's first-byte rule plus the magic cookie and a
 * length that fits: a cheap test for demultiplexing, no parsing. */
bool stun_is(const uint8_t *p, size_t n);

/* Parses @n bytes at @p. 0, or -EINVAL: shorter than its header, a first byte over 3 (not
 * STUN by RFC 7983's rule: what parses passes stun_is), length field not a multiple of 4 or
 * not matching @n, wrong cookie, an attribute running past the end, a FINGERPRINT that is
 * wrong or not last, attributes after MESSAGE-INTEGRITY other than FINGERPRINT (RFC 8489
 * §14.5: they are ignored; we refuse, nobody sends them), a USERNAME over 513 bytes. Unknown attributes are skipped (comprehension-required ones too: an
 * ICE-lite agent answers anyway, as browsers expect). */
int stun_parse(const uint8_t *p, size_t n, struct stun_msg *m);

/* Whether the MESSAGE-INTEGRITY of the message (@p, @n, parsed into @m) is the HMAC-SHA1 of
 * it under @key (@key_len bytes). False when it has none. Constant time in the HMAC. */
bool stun_check_integrity(const uint8_t *p, size_t n, const struct stun_msg *m,
	const void *key, size_t key_len);

/* Writes a binding success response to the request with @txid into @out (@cap bytes; 80 are
 * enough for IPv4 and IPv6): XOR-MAPPED-ADDRESS of @from (the request's source, IPv4 or
 * IPv6; an IPv4-mapped IPv6 address, as a dual-stack socket gives, is written as IPv4),
 * MESSAGE-INTEGRITY under @key (none if @key is NULL; an empty key is a non-NULL
 * @key with @key_len 0), FINGERPRINT. Its length, or 0 if @cap is too small or @from is
 * neither family. */
size_t stun_binding_success(uint8_t *out, size_t cap, const uint8_t txid[12],
	const struct sockaddr *from, const void *key, size_t key_len);

/* A binding error response with @code (400 bad request, 401 unauthenticated, 487 role
 * conflict) and a short reason, with FINGERPRINT (and MESSAGE-INTEGRITY under @key unless
 * @key is NULL: a 401 has none). Its length, or 0 if @cap is too small or @code is outside
 * 300..699 (RFC 8489 §14.8). */
size_t stun_binding_error(uint8_t *out, size_t cap, const uint8_t txid[12], uint16_t code,
	const void *key, size_t key_len);

/* A binding request as a browser sends it (for tests, fuzz seeds and consent checks of our
 * own): USERNAME @username, PRIORITY, ICE-CONTROLLING with @tiebreaker, USE-CANDIDATE if
 * @use_candidate, MESSAGE-INTEGRITY under @key, FINGERPRINT. Its length, or 0. */
size_t stun_binding_request(uint8_t *out, size_t cap, const uint8_t txid[12],
	const char *username, uint32_t priority, uint64_t tiebreaker, bool use_candidate,
	const void *key, size_t key_len);

#endif
