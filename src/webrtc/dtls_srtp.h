/* dtls_srtp: DTLS-SRTP (RFC 5763, RFC 5764) for one peer, on OpenSSL's DTLS and libsrtp2, with
 * no socket: datagrams go in through dtls_srtp_input and come out through a callback, so the
 * caller owns the one UDP socket every peer shares.
 *
 * A certificate (ECDSA P-256, self-signed, made once at start) serves every peer; its SHA-256
 * fingerprint goes into each SDP answer. The peer's certificate must match the fingerprint
 * its offer gave, else the handshake fails. After the handshake the SRTP keys come from the
 * DTLS exporter ("EXTRACTOR-dtls_srtp"), with the profile the two agreed:
 * AES128_CM_SHA1_80 or AEAD_AES_128_GCM.
 *
 * The server side (DTLS passive, what a WHEP answer says) is what camstream runs; the client
 * side is here for tests and the load client of the benchmark.
 *
 * One thread per object; objects are independent. */
#ifndef CAMSTREAM_WEBRTC_DTLS_SRTP_H
#define CAMSTREAM_WEBRTC_DTLS_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room an SRTP packet needs after its RTP bytes (libsrtp2's SRTP_MAX_TRAILER_LEN, rounded
 * up): a buffer given to dtls_srtp_protect must have it. */
#define DTLS_SRTP_TRAILER 160

struct dtls_cert;

/* A new key and certificate, or NULL (with OpenSSL's reason in the log). */
struct dtls_cert *dtls_cert_create(void);
/* "sha-256 AB:CD:..." for a=fingerprint. */
const char *dtls_cert_fingerprint(const struct dtls_cert *c);
void dtls_cert_destroy(struct dtls_cert *c);   /* NULL ok; after every dtls_srtp made of it */

/* libsrtp2's one-time initialisation: call once before any dtls_srtp exists (0, or -1);
 * dtls_srtp_library_end at exit. */
int dtls_srtp_library_init(void);
void dtls_srtp_library_end(void);

enum dtls_state {
	DTLS_HANDSHAKING = 0,
	DTLS_CONNECTED,     /* keys are set: protect and unprotect work */
	DTLS_FAILED,        /* the handshake failed or the peer's certificate did not match */
	DTLS_CLOSED,        /* the peer sent close_notify */
};

struct dtls_srtp;
typedef void (*dtls_send_fn)(void *ctx, const uint8_t *p, size_t n);

/* A peer: @server true for DTLS passive (we wait for the ClientHello). @peer_fp is the
 * SHA-256 digest the offer's a=fingerprint gave (32 bytes). @send is called with each
 * datagram to send (every call of the functions below may send), at most @mtu bytes each.
 * NULL when memory ran out. */
struct dtls_srtp *dtls_srtp_create(struct dtls_cert *c, bool server, const uint8_t peer_fp[32],
	size_t mtu, dtls_send_fn send, void *ctx);
void dtls_srtp_destroy(struct dtls_srtp *d);    /* NULL ok; sends nothing */
/* Once connected: sends a close_notify alert (the peer's transport closes at once rather
 * than at its consent timeout) and becomes DTLS_CLOSED; else nothing. NULL ok. */
void dtls_srtp_close(struct dtls_srtp *d);

/* A client starts the handshake (the first flight goes out); a server does nothing. */
void dtls_srtp_start(struct dtls_srtp *d);
/* A DTLS datagram from the peer (RFC 7983: first byte 20..63). The state after it. */
enum dtls_state dtls_srtp_input(struct dtls_srtp *d, const uint8_t *p, size_t n);
enum dtls_state dtls_srtp_state(const struct dtls_srtp *d);
/* While handshaking: µs until the retransmission timer wants dtls_srtp_timer, or -1. */
int64_t dtls_srtp_timeout_us(struct dtls_srtp *d);
void dtls_srtp_timer(struct dtls_srtp *d);
/* Why it failed, for the log ("certificate does not match the offer's fingerprint", ...). */
const char *dtls_srtp_error(const struct dtls_srtp *d);
/* The SRTP profile's name once connected ("SRTP_AES128_CM_SHA1_80"), else "". */
const char *dtls_srtp_profile(const struct dtls_srtp *d);

/* In place: the RTP (or RTCP) packet of *@len bytes in @p, with @cap bytes of room
 * (*@len + DTLS_SRTP_TRAILER at least), becomes SRTP (SRTCP); 0, or -1 (not connected, no
 * room, libsrtp2 refused). */
int dtls_srtp_protect(struct dtls_srtp *d, uint8_t *p, size_t *len, size_t cap);
int dtls_srtp_protect_rtcp(struct dtls_srtp *d, uint8_t *p, size_t *len, size_t cap);
/* In place: SRTP (SRTCP) from the peer becomes RTP (RTCP); 0, or -1 (not connected, a
 * packet that does not authenticate, a replay). */
int dtls_srtp_unprotect(struct dtls_srtp *d, uint8_t *p, size_t *len);
int dtls_srtp_unprotect_rtcp(struct dtls_srtp *d, uint8_t *p, size_t *len);

#endif
