/* webrtc: the camera's own H.264 to browsers over WebRTC, with WHEP (the IETF WebRTC-HTTP
 * Egress Protocol) to set a session up: POST /whep?rtsp_url= (or ?name=) and
 * POST /api/streams/{name}/whep with an SDP offer answer 201 with the SDP answer and the
 * session's Location; DELETE on that Location hangs up. README "WebRTC (WHEP)";
 * docs/ARCHITECTURE.md "WebRTC".
 *
 * camstream is an ICE-lite agent on one UDP port (--webrtc-port) that every session shares,
 * demultiplexed by the first byte (RFC 7983) and the peer's address: STUN binding requests
 * (checked against the session's ICE password) answer and name the peer's address, DTLS
 * sets the SRTP keys up (src/webrtc/dtls_srtp.h), then the session sends its source's coded
 * pictures as SRTP (RFC 6184 packets, src/webrtc/rtp.h), reads SRTCP (NACKs answered from
 * the packets it sent lately, PLI and FIR by replaying from the cached key picture) and
 * sends sender reports.
 *
 * Each session is a viewer (the lifecycle of src/web/viewer.h: admission, the source and its
 * policies) with a coded reader of its own, from the cached key picture on. Its memory is
 * bounded (a history of packet descriptions, not copies) and it ends at its deadlines: no
 * ICE check 10 s after the answer, no DTLS 10 s after the first check, no consent check for
 * 30 s (RFC 7675). Service thread only. */
#ifndef CAMSTREAM_WEBRTC_OUT_H
#define CAMSTREAM_WEBRTC_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "error.h"
#include "strbuf.h"

struct app;
struct webrtc;

/* Binds the UDP port (cfg->webrtc_port on cfg->host) into @vh of @cx and makes the
 * certificate. *@port gets the port bound. NULL with @err when that fails. */
struct webrtc *webrtc_create(struct app *app, struct lws_context *cx, struct lws_vhost *vh,
	int *port, struct cs_error *err);
/* Shutdown begins, before the viewers' drain: the answered sessions end at once (their
 * goodbye is a datagram or two); an offer still waiting for its key picture is answered 503
 * during the drain. NULL ok. */
void webrtc_begin_shutdown(struct webrtc *w);
/* Shutdown, before the hub goes: every session ends. NULL ok. */
void webrtc_shutdown(struct webrtc *w);
/* After the lws context is gone: frees the rest. NULL ok. */
void webrtc_destroy(struct webrtc *w);

struct webrtc_metrics {
	unsigned sessions;
	uint64_t sessions_total, packets_sent, bytes_sent, nacks, retransmits,
		retransmits_refused, plis, key_resends, timeouts, dtls_failures, dropped,
		send_failures;
};
void webrtc_get_metrics(const struct webrtc *w, struct webrtc_metrics *m);

/* A WHEP request; the per-session data of the /whep mount, and a member of the streams
 * API's for /api/streams/{name}/whep. */
struct whep_req {
	struct lws *wsi;
	struct rtc_session *s;      /* the session the POST made, until it is answered */
	struct strbuf body;         /* the offer as it comes */
	int method;
	bool too_big, replied, waiting;
	char name[256];             /* the stream the path names, "" for /whep */
};

/* LWS_CALLBACK_HTTP of /api/streams/{name}/whep (@name: the path's stream). */
int whep_begin(struct lws *wsi, struct whep_req *r, const char *name);
/* Every later callback of such a request. */
int whep_callback(struct lws *wsi, enum lws_callback_reasons reason, struct whep_req *r,
	void *in, size_t len);

/* The protocol of the /whep mount (POST /whep, DELETE and PATCH /whep/session/{id}). */
extern const struct lws_protocols webrtc_http_protocol;
/* The protocol of the UDP socket (a raw descriptor lws polls). */
extern const struct lws_protocols webrtc_udp_protocol;

#endif
