/* dtls_srtp: see dtls_srtp.h.
 *
 * OpenSSL runs the handshake over two memory BIOs: what the peer sent is written into the
 * read BIO, and what OpenSSL wants to send collects in the write BIO, from where it is cut
 * into datagrams. A memory BIO keeps no datagram boundaries, but every DTLS record OpenSSL
 * writes fits the MTU it was given (it fragments handshake messages to fit), and each record
 * has its length in its header, so the bytes are cut back into records, one per datagram. */
#include "dtls_srtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>

#include "log.h"

/* The exporter's label for DTLS-SRTP keys (RFC 5764 §4.2). */
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"
/* Offered in this order: GCM first (one pass, cheaper with AES-NI), then the profile every
 * WebRTC stack must have (RFC 8827 §6.5). */
#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
#define MAX_DATAGRAM 1500

struct dtls_cert {
	SSL_CTX *ctx;
	char fingerprint[8 + 32 * 3];
};

struct dtls_srtp {
	SSL *ssl;
	BIO *rbio, *wbio;
	bool server;
	uint8_t peer_fp[32];
	size_t mtu;
	dtls_send_fn send;
	void *ctx;
	enum dtls_state state;
	const char *error;
	const char *profile;
	srtp_t tx, rx;
};

/* The peer's certificate is self-signed: it is checked against the offer's fingerprint once
 * the handshake is done, not against any authority. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

static void log_ssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof buf);
		log_msg(LOG_WARN, "webrtc: %s: %s", what, buf);
	}
}

static X509 *make_certificate(EVP_PKEY *key)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	uint64_t serial = 0;
	RAND_bytes((unsigned char *)&serial, sizeof serial);
	X509_NAME *name = X509_get_subject_name(x);
	/* a week back (clocks differ) to a year ahead: the certificate lives as long as the
	 * process, and browsers check only the fingerprint */
	bool ok = X509_set_version(x, 2) &&
		ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) &&
		X509_gmtime_adj(X509_getm_notBefore(x), -7L * 86400) &&
		X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400) &&
		X509_set_pubkey(x, key) &&
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
			(const unsigned char *)"camstream", -1, -1, 0) &&
		X509_set_issuer_name(x, name) &&
		X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

struct dtls_cert *dtls_cert_create(void)
{
	struct dtls_cert *c = calloc(1, sizeof *c);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? make_certificate(key) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	if (!c || !x || !X509_digest(x, EVP_sha256(), md, &md_len) || md_len != 32)
		goto fail;
	c->ctx = SSL_CTX_new(DTLS_method());
	if (!c->ctx || SSL_CTX_use_certificate(c->ctx, x) != 1 ||
		SSL_CTX_use_PrivateKey(c->ctx, key) != 1 ||
		SSL_CTX_set_tlsext_use_srtp(c->ctx, SRTP_PROFILES) != 0 ||
		SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
	SSL_CTX_set_read_ahead(c->ctx, 1);
	char *p = c->fingerprint;
	p += sprintf(p, "sha-256 ");
	for (unsigned i = 0; i < md_len; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", md[i]);
	X509_free(x);
	EVP_PKEY_free(key);
	return c;
fail:
	log_ssl_errors("making the DTLS certificate");
	X509_free(x);
	EVP_PKEY_free(key);
	if (c)
		SSL_CTX_free(c->ctx);
	free(c);
	return NULL;
}

const char *dtls_cert_fingerprint(const struct dtls_cert *c)
{
	return c->fingerprint;
}

void dtls_cert_destroy(struct dtls_cert *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

int dtls_srtp_library_init(void)
{
	return srtp_init() == srtp_err_status_ok ? 0 : -1;
}

void dtls_srtp_library_end(void)
{
	srtp_shutdown();
}

/* Sends what OpenSSL wrote, a record per datagram, as OpenSSL does over a datagram socket.
 * Packing records together would be smaller, but a receiver that finds a record it has seen
 * (a retransmitted flight) drops the rest of that datagram with it: OpenSSL does. */
static void flush(struct dtls_srtp *d)
{
	uint8_t buf[16384];
	for (;;) {
		int n = BIO_read(d->wbio, buf, sizeof buf);
		if (n <= 0)
			return;
		size_t off = 0, len = (size_t)n;
		while (off < len) {
			size_t rec = len - off;
			if (rec >= 13 && 13 + ((size_t)buf[off + 11] << 8 | buf[off + 12]) < rec)
				rec = 13 + ((size_t)buf[off + 11] << 8 | buf[off + 12]);
			d->send(d->ctx, buf + off, rec);
			off += rec;
		}
	}
}

struct dtls_srtp *dtls_srtp_create(struct dtls_cert *c, bool server, const uint8_t peer_fp[32],
	size_t mtu, dtls_send_fn send, void *ctx)
{
	struct dtls_srtp *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->ssl = SSL_new(c->ctx);
	d->rbio = BIO_new(BIO_s_mem());
	d->wbio = BIO_new(BIO_s_mem());
	if (!d->ssl || !d->rbio || !d->wbio) {
		SSL_free(d->ssl);
		BIO_free(d->rbio);
		BIO_free(d->wbio);
		free(d);
		return NULL;
	}
	/* an empty read BIO means "wait for more", not end of file */
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_mem_eof_return(d->wbio, -1);
	SSL_set_bio(d->ssl, d->rbio, d->wbio);
	d->server = server;
	memcpy(d->peer_fp, peer_fp, 32);
	d->mtu = mtu < 256 ? 256 : mtu > MAX_DATAGRAM ? MAX_DATAGRAM : mtu;
	d->send = send;
	d->ctx = ctx;
	d->error = "";
	d->profile = "";
	SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
	SSL_set_mtu(d->ssl, (long)d->mtu - 28);   /* less the IP and UDP headers */
	DTLS_set_link_mtu(d->ssl, (long)d->mtu);
	if (server)
		SSL_set_accept_state(d->ssl);
	else
		SSL_set_connect_state(d->ssl);
	return d;
}

void dtls_srtp_close(struct dtls_srtp *d)
{
	if (!d || d->state != DTLS_CONNECTED)
		return;
	/* one close_notify alert; the peer's answering alert is not waited for (RFC 8446 §6.1
	 * lets the closing side go at once) */
	SSL_set_quiet_shutdown(d->ssl, 0);
	if (SSL_shutdown(d->ssl) < 0)
		ERR_clear_error();
	flush(d);
	d->state = DTLS_CLOSED;
}

void dtls_srtp_destroy(struct dtls_srtp *d)
{
	if (!d)
		return;
	if (d->tx)
		srtp_dealloc(d->tx);
	if (d->rx)
		srtp_dealloc(d->rx);
	SSL_free(d->ssl);   /* frees the BIOs */
	free(d);
}

static enum dtls_state fail(struct dtls_srtp *d, const char *why)
{
	d->state = DTLS_FAILED;
	d->error = why;
	ERR_clear_error();
	return d->state;
}

static int make_srtp(srtp_t *s, bool gcm, const uint8_t *key, size_t key_len,
	const uint8_t *salt, size_t salt_len, bool outbound)
{
	uint8_t master[32 + 14];
	memcpy(master, key, key_len);
	memcpy(master + key_len, salt, salt_len);
	srtp_policy_t pol;
	memset(&pol, 0, sizeof pol);
	if (gcm) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	pol.key = master;
	pol.window_size = 1024;
	/* a packet NACKed is sent again as it was: the same sequence number, protected again */
	pol.allow_repeat_tx = 1;
	int r = srtp_create(s, &pol) == srtp_err_status_ok ? 0 : -1;
	OPENSSL_cleanse(master, sizeof master);
	return r;
}

/* The handshake is done: the peer's certificate must be the one its offer named, then the
 * SRTP keys are exported. */
static enum dtls_state connected(struct dtls_srtp *d)
{
	X509 *peer = SSL_get1_peer_certificate(d->ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	bool match = peer && X509_digest(peer, EVP_sha256(), md, &md_len) && md_len == 32 &&
		CRYPTO_memcmp(md, d->peer_fp, 32) == 0;
	X509_free(peer);
	if (!match)
		return fail(d, "the peer's certificate does not match its offer's fingerprint");
	const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
	if (!prof)
		return fail(d, "no SRTP profile was agreed");
	bool gcm = prof->id == SRTP_AEAD_AES_128_GCM;
	if (!gcm && prof->id != SRTP_AES128_CM_SHA1_80)
		return fail(d, "an SRTP profile we did not offer");
	size_t key_len = 16, salt_len = gcm ? 12 : 14;
	uint8_t km[2 * (16 + 14)];
	size_t km_len = 2 * (key_len + salt_len);
	if (SSL_export_keying_material(d->ssl, km, km_len, EXPORTER_LABEL,
		strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
		return fail(d, "the SRTP keys could not be exported");
	/* client key, server key, client salt, server salt */
	const uint8_t *ckey = km, *skey = km + key_len;
	const uint8_t *csalt = km + 2 * key_len, *ssalt = csalt + salt_len;
	int r = make_srtp(&d->tx, gcm, d->server ? skey : ckey, key_len,
		d->server ? ssalt : csalt, salt_len, true);
	if (r == 0)
		r = make_srtp(&d->rx, gcm, d->server ? ckey : skey, key_len,
			d->server ? csalt : ssalt, salt_len, false);
	OPENSSL_cleanse(km, sizeof km);
	if (r != 0)
		return fail(d, "libsrtp2 refused the keys");
	d->profile = prof->name;
	d->state = DTLS_CONNECTED;
	return d->state;
}

static enum dtls_state step(struct dtls_srtp *d)
{
	if (d->state == DTLS_HANDSHAKING) {
		int r = SSL_do_handshake(d->ssl);
		flush(d);
		if (r == 1)
			return connected(d);
		int e = SSL_get_error(d->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return fail(d, "the DTLS handshake failed");
		return d->state;
	}
	if (d->state == DTLS_CONNECTED) {
		/* nothing but alerts is expected after the handshake (data channels are not
		 * offered); reading processes them and answers a retransmitted last flight */
		uint8_t buf[2048];
		int r = SSL_read(d->ssl, buf, sizeof buf);
		flush(d);
		if (r <= 0) {
			int e = SSL_get_error(d->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				d->state = DTLS_CLOSED;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				d->state = DTLS_CLOSED;
			ERR_clear_error();
		}
	}
	return d->state;
}

void dtls_srtp_start(struct dtls_srtp *d)
{
	if (!d->server)
		step(d);
}

enum dtls_state dtls_srtp_input(struct dtls_srtp *d, const uint8_t *p, size_t n)
{
	if (d->state == DTLS_FAILED || d->state == DTLS_CLOSED)
		return d->state;
	if (n == 0 || n > MAX_DATAGRAM * 8 || BIO_write(d->rbio, p, (int)n) != (int)n)
		return d->state;
	return step(d);
}

enum dtls_state dtls_srtp_state(const struct dtls_srtp *d)
{
	return d->state;
}

int64_t dtls_srtp_timeout_us(struct dtls_srtp *d)
{
	struct timeval tv;
	if (d->state != DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
		return -1;
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void dtls_srtp_timer(struct dtls_srtp *d)
{
	if (d->state != DTLS_HANDSHAKING)
		return;
	if (DTLSv1_handle_timeout(d->ssl) < 0)
		fail(d, "the DTLS handshake failed");
	flush(d);
}

const char *dtls_srtp_error(const struct dtls_srtp *d)
{
	return d->error;
}

const char *dtls_srtp_profile(const struct dtls_srtp *d)
{
	return d->profile;
}

static int run(srtp_t s, srtp_err_status_t (*fn)(srtp_t, void *, int *), uint8_t *p,
	size_t *len, size_t cap)
{
	if (!s || *len > (size_t)MAX_DATAGRAM * 8 || *len + DTLS_SRTP_TRAILER > cap)
		return -1;
	int n = (int)*len;
	if (fn(s, p, &n) != srtp_err_status_ok)
		return -1;
	*len = (size_t)n;
	return 0;
}

int dtls_srtp_protect(struct dtls_srtp *d, uint8_t *p, size_t *len, size_t cap)
{
	return run(d->tx, srtp_protect, p, len, cap);
}

int dtls_srtp_protect_rtcp(struct dtls_srtp *d, uint8_t *p, size_t *len, size_t cap)
{
	return run(d->tx, srtp_protect_rtcp, p, len, cap);
}

int dtls_srtp_unprotect(struct dtls_srtp *d, uint8_t *p, size_t *len)
{
	return run(d->rx, srtp_unprotect, p, len, *len + DTLS_SRTP_TRAILER);
}

int dtls_srtp_unprotect_rtcp(struct dtls_srtp *d, uint8_t *p, size_t *len)
{
	return run(d->rx, srtp_unprotect_rtcp, p, len, *len + DTLS_SRTP_TRAILER);
}
