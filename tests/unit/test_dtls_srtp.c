/* DTLS-SRTP: two peers of our own (a server as camstream runs it, a client as the benchmark's
 * load client does) handshake through in-memory queues, then protect and unprotect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dtls_srtp.h"

#define MAX_DGRAMS 64

struct queue {
	uint8_t *d[MAX_DGRAMS];
	size_t n[MAX_DGRAMS];
	size_t count, largest;
	unsigned drop;          /* datagrams to drop before delivering */
};

static void on_send(void *ctx, const uint8_t *p, size_t n)
{
	struct queue *q = ctx;
	if (n > q->largest)
		q->largest = n;
	if (q->drop) {
		q->drop--;
		return;
	}
	if (q->count == MAX_DGRAMS)
		return;
	q->d[q->count] = malloc(n);
	memcpy(q->d[q->count], p, n);
	q->n[q->count++] = n;
}

/* Delivers what @q holds to @to; returns how many datagrams went. */
static size_t deliver(struct queue *q, struct dtls_srtp *to)
{
	size_t n = q->count;
	q->count = 0;
	for (size_t i = 0; i < n; i++) {
		dtls_srtp_input(to, q->d[i], q->n[i]);
		free(q->d[i]);
	}
	return n;
}

static void fingerprint_of(const struct dtls_cert *c, uint8_t out[32])
{
	const char *t = dtls_cert_fingerprint(c) + strlen("sha-256 ");
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		sscanf(t + 3 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

struct pair {
	struct dtls_cert *cs, *cc;
	struct queue to_client, to_server;
	struct dtls_srtp *server, *client;
};

static void pair_open(struct pair *p, bool wrong_fp)
{
	memset(p, 0, sizeof *p);
	p->cs = dtls_cert_create();
	p->cc = dtls_cert_create();
	uint8_t fs[32], fc[32];
	fingerprint_of(p->cs, fs);
	fingerprint_of(p->cc, fc);
	if (wrong_fp)
		fc[5] ^= 1;
	p->server = dtls_srtp_create(p->cs, true, fc, 1200, on_send, &p->to_client);
	p->client = dtls_srtp_create(p->cc, false, fs, 1200, on_send, &p->to_server);
}

/* Runs the handshake to its end (or 20 rounds). */
static void pair_run(struct pair *p)
{
	dtls_srtp_start(p->client);
	for (int i = 0; i < 20; i++) {
		size_t moved = deliver(&p->to_server, p->server) + deliver(&p->to_client, p->client);
		if (!moved)
			break;
	}
}

static void pair_close(struct pair *p)
{
	deliver(&p->to_server, p->server);
	deliver(&p->to_client, p->client);
	dtls_srtp_destroy(p->server);
	dtls_srtp_destroy(p->client);
	dtls_cert_destroy(p->cs);
	dtls_cert_destroy(p->cc);
}

static void test_fingerprint_is_sha256_of_the_certificate_text(void)
{
	struct dtls_cert *c = dtls_cert_create();
	CHECK(c != NULL);
	if (!c)
		return;
	const char *f = dtls_cert_fingerprint(c);
	CHECK(strncmp(f, "sha-256 ", 8) == 0);
	CHECK(strlen(f) == 8 + 32 * 3 - 1);
	for (int i = 0; i < 32; i++)
		CHECK(i == 31 || f[8 + 3 * i + 2] == ':');
	struct dtls_cert *d = dtls_cert_create();
	CHECK(d && strcmp(dtls_cert_fingerprint(d), f) != 0);
	dtls_cert_destroy(c);
	dtls_cert_destroy(d);
}

static void test_handshake_then_srtp_both_ways(void)
{
	struct pair p;
	pair_open(&p, false);
	pair_run(&p);
	CHECK(dtls_srtp_state(p.server) == DTLS_CONNECTED);
	CHECK(dtls_srtp_state(p.client) == DTLS_CONNECTED);
	CHECK_STR(dtls_srtp_profile(p.server), dtls_srtp_profile(p.client));
	CHECK(p.to_client.largest <= 1200 && p.to_server.largest <= 1200);

	uint8_t rtp[1200 + DTLS_SRTP_TRAILER], copy[1200];
	memset(rtp, 0, sizeof rtp);
	rtp[0] = 0x80;
	rtp[1] = 96;
	rtp[3] = 7;            /* seq 7 */
	rtp[11] = 0x42;        /* ssrc */
	for (int i = 12; i < 1200; i++)
		rtp[i] = (uint8_t)i;
	memcpy(copy, rtp, 1200);
	size_t len = 1200;
	CHECK(dtls_srtp_protect(p.server, rtp, &len, sizeof rtp) == 0);
	CHECK(len > 1200);
	CHECK(memcmp(rtp + 12, copy + 12, 100) != 0);
	uint8_t again[sizeof rtp];
	memcpy(again, rtp, len);
	size_t again_len = len;
	CHECK(dtls_srtp_unprotect(p.client, rtp, &len) == 0);
	CHECK(len == 1200 && memcmp(rtp, copy, 1200) == 0);
	/* a replay is refused, a tampered packet too */
	CHECK(dtls_srtp_unprotect(p.client, again, &again_len) != 0);

	/* the same packet protected twice (a NACK's retransmission) is allowed */
	memcpy(rtp, copy, 1200);
	len = 1200;
	CHECK(dtls_srtp_protect(p.server, rtp, &len, sizeof rtp) == 0);
	rtp[3] = 8;
	memcpy(rtp, copy, 1200);
	rtp[3] = 8;
	len = 1200;
	CHECK(dtls_srtp_protect(p.server, rtp, &len, sizeof rtp) == 0);
	rtp[40] ^= 1;
	CHECK(dtls_srtp_unprotect(p.client, rtp, &len) != 0);

	/* RTCP from the client: a PLI */
	uint8_t rtcp[12 + DTLS_SRTP_TRAILER] = { 0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x42 };
	uint8_t rcopy[12];
	memcpy(rcopy, rtcp, 12);
	size_t rlen = 12;
	CHECK(dtls_srtp_protect_rtcp(p.client, rtcp, &rlen, sizeof rtcp) == 0);
	CHECK(rlen > 12);
	CHECK(dtls_srtp_unprotect_rtcp(p.server, rtcp, &rlen) == 0);
	CHECK(rlen == 12 && memcmp(rtcp, rcopy, 12) == 0);
	/* no room for the trailer: refused, nothing written past the buffer */
	len = 1200;
	CHECK(dtls_srtp_protect(p.server, rtp, &len, 1200) != 0);
	pair_close(&p);
}

/* Our side hangs up: the peer reads the close_notify and is closed at once. */
static void test_close_sends_close_notify(void)
{
	struct pair p;
	pair_open(&p, false);
	pair_run(&p);
	CHECK(dtls_srtp_state(p.server) == DTLS_CONNECTED);
	CHECK(dtls_srtp_state(p.client) == DTLS_CONNECTED);
	dtls_srtp_close(p.server);
	CHECK(dtls_srtp_state(p.server) == DTLS_CLOSED);
	CHECK(p.to_client.count == 1);   /* one alert record */
	deliver(&p.to_client, p.client);
	CHECK(dtls_srtp_state(p.client) == DTLS_CLOSED);
	dtls_srtp_close(p.server);       /* again: nothing more */
	CHECK(p.to_client.count == 0);
	dtls_srtp_close(NULL);
	pair_close(&p);
}

static void test_a_certificate_not_matching_the_offer_fails(void)
{
	struct pair p;
	pair_open(&p, true);
	pair_run(&p);
	CHECK(dtls_srtp_state(p.server) == DTLS_FAILED);
	CHECK(strstr(dtls_srtp_error(p.server), "fingerprint") != NULL);
	size_t len = 100;
	uint8_t buf[100 + DTLS_SRTP_TRAILER] = { 0x80, 96 };
	CHECK(dtls_srtp_protect(p.server, buf, &len, sizeof buf) != 0);
	pair_close(&p);
}

static void test_a_lost_flight_is_sent_again_on_the_timer(void)
{
	struct pair p;
	pair_open(&p, false);
	p.to_client.drop = 5;          /* the server's first flight is lost (5 records) */
	dtls_srtp_start(p.client);
	deliver(&p.to_server, p.server);
	CHECK(p.to_client.count == 0);
	int64_t wait = dtls_srtp_timeout_us(p.server);
	CHECK(wait > 0 && wait <= 1000000);
	/* the protocol's own timer: nothing else makes a server send again */
	if (wait > 0)
		usleep((useconds_t)wait + 20000);
	dtls_srtp_timer(p.server);
	CHECK(p.to_client.count > 0);
	for (int i = 0; i < 20; i++)
		if (deliver(&p.to_server, p.server) + deliver(&p.to_client, p.client) == 0)
			break;
	CHECK(dtls_srtp_state(p.server) == DTLS_CONNECTED);
	CHECK(dtls_srtp_state(p.client) == DTLS_CONNECTED);
	CHECK(dtls_srtp_timeout_us(p.server) == -1);
	pair_close(&p);
}

static void test_garbage_leaves_the_handshake_waiting_or_failed(void)
{
	struct pair p;
	pair_open(&p, false);
	uint8_t junk[300];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 37 + 22);
	junk[0] = 22;
	enum dtls_state s = dtls_srtp_input(p.server, junk, sizeof junk);
	CHECK(s == DTLS_HANDSHAKING || s == DTLS_FAILED);
	CHECK(dtls_srtp_input(p.server, junk, 0) == s);
	size_t len = 10;
	CHECK(dtls_srtp_unprotect(p.server, junk, &len) != 0);
	pair_close(&p);
}

int main(void)
{
	if (dtls_srtp_library_init() != 0) {
		printf("Bail out! libsrtp2 did not initialise\n");
		return 1;
	}
	RUN(test_fingerprint_is_sha256_of_the_certificate_text);
	RUN(test_handshake_then_srtp_both_ways);
	RUN(test_close_sends_close_notify);
	RUN(test_a_certificate_not_matching_the_offer_fails);
	RUN(test_a_lost_flight_is_sent_again_on_the_timer);
	RUN(test_garbage_leaves_the_handshake_waiting_or_failed);
	dtls_srtp_library_end();
	return CHECK_DONE();
}
