/* whep: WHEP over HTTP: an offer POSTed makes a session and is answered once the source has a
 * key picture; DELETE hangs up; PATCH is 405 (ICE-lite); CORS preflights answered. */
#include "webrtc_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "http_reply.h"
#include "log.h"
#include "random.h"
#include "strbuf.h"

/* ---- WHEP over HTTP ---- */

static const struct viewer_kind whep_kind = {
	.what = "webrtc session",
	.path = "/whep",
	.coded = true,
	.no_fps = true,
	.deferred = true,             /* the session subscribes its own reader */
};

static int req_fail(struct whep_req *r, const struct cs_error *err)
{
	struct rtc_session *s = r->s;
	log_msg(err->code == CS_BAD_REQUEST || err->code == CS_NOT_FOUND ? LOG_DEBUG : LOG_INFO,
		"whep: %s (%s)", err->msg, cs_err_code(err->code));
	r->replied = true;
	if (s) {
		r->s = NULL;
		s->req = NULL;
		rtc_session_free(s);
	}
	/* a codec WebRTC cannot carry is the media type's fault (415), not the camera's */
	return http_reply_error(r->wsi, err->code == CS_UNSUPPORTED_CODEC ?
		HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE : 0, err->code, err->msg);
}

static int req_failf(struct whep_req *r, enum cs_err code, const char *msg)
{
	struct cs_error err = { .code = code };
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	return req_fail(r, &err);
}

/* An error before the body was read: the connection cannot carry another request. */
static int refuse_early(struct whep_req *r, unsigned status, enum cs_err code, const char *msg)
{
	r->replied = true;
	http_reply_error(r->wsi, status, code, msg);
	return -1;
}

/* The profile-level-id of the stream: profile, compatibility and level, which the avcC
 * record the log keeps has at bytes 1 to 3 (ISO/IEC 14496-15 5.3.3.1), copied from its SPS. */
static bool profile_of(const struct coded_params *p, uint8_t iop[3])
{
	if (!p->config || p->config_len < 4)
		return false;
	memcpy(iop, p->config + 1, 3);
	return true;
}

/* Whether @m is an offered video section (a port, or bundle-only in the bundle) with an
 * H.264 type in packetization mode 1; usable when it also receives. */
static bool offers_h264_video(const struct sdp_media *m)
{
	return sdp_media_offered(m) && !strcmp(m->kind, "video") &&
		sdp_pick_h264(m, (const uint8_t[3]){ 0x42, 0xe0, 0x1f }) >= 0;
}

static bool video_usable(const struct sdp_media *m)
{
	return offers_h264_video(m) && sdp_media_receives(m);
}

/* The payload type of the camera's sound @sp in the offered audio section @m (*@send), or
 * one to leave the section inactive with; -1 when it offers nothing at all. */
static int audio_pt(const struct sdp_media *m, const struct coded_params *sp, bool *send)
{
	static const struct {
		enum coded_codec codec;
		const char *name;
		unsigned rate;     /* the camera's rate that fits; the RTP clock */
		unsigned clock;
	} codecs[] = {
		{ CODED_PCMU, "PCMU", 8000, 8000 },
		{ CODED_PCMA, "PCMA", 8000, 8000 },
		{ CODED_OPUS, "opus", 48000, 48000 },
	};
	*send = false;
	for (size_t i = 0; sp && i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (sp->codec != codecs[i].codec || sp->sample_rate != codecs[i].rate)
			continue;
		int pt = sdp_pick_codec(m, codecs[i].name, codecs[i].clock);
		if (pt >= 0) {
			*send = true;
			return pt;
		}
	}
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].name[0])
			return m->codecs[i].pt;   /* the first the offer named: the section is inactive */
	return -1;
}

/* Answers the offer once the source has a key picture; 0 while it waits. */
static int try_answer(struct whep_req *r)
{
	struct rtc_session *s = r->s;
	struct webrtc *w = s->w;
	struct cs_error err;
	if (w->closing)   /* shutdown has begun */
		return req_failf(r, CS_SERVER_BUSY, "the server is shutting down");
	if (hub_sub_error(&s->sub, &err) != CS_OK)
		return req_fail(r, &err);
	if (!w->udp)   /* the session would be answered on a socket that is gone */
		return req_failf(r, CS_SERVER_BUSY, "WebRTC's UDP socket is closed");
	struct coded_entry *key = hub_sub_newest_key(&s->sub);
	struct source_stats st;
	if (!key && hub_sub_stats(&s->sub, &st) && st.coded == SOURCE_CODED_NO) {
		cs_fail(&err, CS_UNSUPPORTED_CODEC, "%s sends %s: WebRTC carries H.264 only here "
			"(the JPEG endpoints show it)", s->label,
			st.codec[0] ? st.codec : "pictures WebRTC cannot carry");
		return req_fail(r, &err);
	}
	if (!key) {
		if (s->v.expired)
			return req_failf(r, CS_TIMEOUT, "the camera gave no key picture in time");
		return 0;
	}
	struct coded_params *params = coded_params_ref(key->params);
	coded_entry_unref(key);
	uint8_t iop[3];
	bool h264 = params && params->codec == CODED_H264 && profile_of(params, iop);
	enum coded_codec codec = params ? params->codec : CODED_NONE;
	coded_params_unref(params);
	if (!h264)
		return req_failf(r, CS_UNSUPPORTED_CODEC, codec == CODED_H265 ?
			"the camera sends H.265, which browsers do not receive over WebRTC: play it "
			"as HTTP-FLV with mpegts.js, or as HLS" :
			"the camera's pictures are not H.264: WebRTC carries H.264 only here");

	struct sdp_answer *a = calloc(1, sizeof(*a));
	if (!a)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	snprintf(a->ice_ufrag, sizeof(a->ice_ufrag), "%s", s->ufrag);
	snprintf(a->ice_pwd, sizeof(a->ice_pwd), "%s", s->pwd);
	snprintf(a->fingerprint, sizeof(a->fingerprint), "%s", dtls_cert_fingerprint(w->cert));
	snprintf(a->cname, sizeof(a->cname), "camstream");
	snprintf(a->stream_id, sizeof(a->stream_id), "camstream");
	a->hosts = w->host_ptrs;
	a->n_hosts = w->n_hosts;
	a->port = (unsigned)w->port;
	random_bytes(&a->session_id, sizeof(a->session_id));
	a->session_id >>= 2;
	bool video = false, sound = false;
	struct coded_params *sp = hub_sub_coded_params(&s->sub, CODED_SOUND);
	for (size_t i = 0; i < s->offer->n_media; i++) {
		const struct sdp_media *m = &s->offer->media[i];
		struct sdp_answer_media *am = &a->media[i];
		if (!sdp_media_offered(m))
			continue;
		if (!video && video_usable(m)) {
			am->pt = sdp_pick_h264(m, iop);
			if (am->pt < 0)
				continue;
			/* the profile the offer gave that type (a receiver refuses one it did not
			 * offer), the stream's level: browsers decode the stream whatever its
			 * profile (Chromium offers no High), the profile-level-id only names one */
			if (!sdp_h264_fmtp(m, am->pt, iop[2], am->fmtp, sizeof(am->fmtp)))
				continue;
			video = true;
			am->accept = am->sending = true;
			am->ssrc = s->ssrc;
			am->playout_delay_id = m->playout_delay_id;
			s->pt = am->pt;
			s->pd_id = m->playout_delay_id;
		} else if (!strcmp(m->kind, "audio") && s->offer->bundle) {
			/* the camera's G.711 or Opus goes as it came; AAC, which WebRTC does not carry,
			 * leaves the section in the bundle, inactive (as does an offer that sends
			 * only). Without a bundle only the video is taken: one ICE pair a session. */
			bool send = false;
			am->pt = audio_pt(m, sound || !sdp_media_receives(m) ? NULL : sp, &send);
			am->accept = am->pt >= 0;
			if (am->accept && send) {
				sound = true;
				am->sending = true;
				am->ssrc = s->assrc;
				s->apt = am->pt;
				s->acodec = sp->codec;
				s->aclock = sp->codec == CODED_OPUS ? 48000 : 8000;
			}
		}
	}
	coded_params_unref(sp);
	struct strbuf sb = STRBUF_INIT;
	int rc = video ? sdp_build_answer(s->offer, a, &sb) : -EINVAL;
	free(a);
	char *text = rc == 0 ? sb_take(&sb) : NULL;
	sb_free(&sb);
	if (!video)
		return req_failf(r, CS_BAD_REQUEST, "the offer has no H.264 video this stream's "
			"profile can use (packetization-mode=1)");
	if (!text)
		return req_failf(r, CS_SERVER_BUSY, "the answer could not be made");

	/* the session's URL names its source too, for a balancer that hashes on it */
	char *kq = viewer_key_query(&s->v);
	size_t loc_len = sizeof(SESSION_PREFIX) + ID_LEN + (kq ? strlen(kq) : 0);
	char *location = malloc(loc_len);
	if (!kq || !location) {
		free(kq);
		free(location);
		free(text);
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	}
	snprintf(location, loc_len, SESSION_PREFIX "%s%s", s->id, kq);
	free(kq);
	struct http_header extra[] = {
		{ "location:", location },
		{ "access-control-expose-headers:", "Location" },
	};
	r->replied = true;
	int wr = http_write_response(r->wsi, 201, "application/sdp", text,
		strlen(text), extra, 2);
	free(text);
	free(location);
	/* from here on the session lives without the request */
	free(s->offer);
	s->offer = NULL;
	s->req = NULL;
	r->s = NULL;
	viewer_wait(&s->v, 0);
	s->v.wsi = w->udp;
	s->state = S_ICE;
	s->answered_us = mono_now();
	w->m.sessions_total++;
	log_info("webrtc %s: answered (session %.8s…, %u sessions)", s->label, s->id,
		w->n_sessions);
	rtc_arm_sweep(w);
	if (wr)
		return -1;
	return lws_http_transaction_completed(r->wsi) ? -1 : 0;
}

static int start_session(struct whep_req *r)
{
	struct webrtc *w = app_of(r->wsi)->webrtc;
	struct cs_error err;
	char why[160] = "";
	struct sdp_offer *o = calloc(1, sizeof(*o));
	if (!o)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	if (sdp_parse_offer(r->body.p ? r->body.p : "", r->body.len, o, why, sizeof(why)) != 0) {
		free(o);
		snprintf(err.msg, sizeof(err.msg), "the SDP offer is malformed: %s", why);
		err.code = CS_BAD_REQUEST;
		return req_fail(r, &err);
	}
	const char *bad = NULL;
	bool video = false, h264 = false;
	size_t vi = 0;
	for (size_t i = 0; i < o->n_media && !video; i++) {
		const struct sdp_media *m = &o->media[i];
		if (!offers_h264_video(m))
			continue;
		if (sdp_media_receives(m)) {
			video = true;
			vi = i;
		} else {
			h264 = true;   /* H.264, but sendonly or inactive */
		}
	}
	if (!video)
		bad = h264 ? "the offer's video does not receive (a=sendonly or a=inactive): a WHEP "
			"offer receives video (a=recvonly or a=sendrecv)" :
			"the offer has no H.264 video with packetization-mode=1";
	else if (!o->media[vi].mid[0])
		bad = "the offer's video section has no a=mid";
	else if (o->ice_lite)
		bad = "the offer is ICE-lite too: one side must run full ICE";
	else if (!o->media[vi].ice_ufrag[0] || !o->media[vi].ice_pwd[0])
		bad = "the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)";
	else if (!o->media[vi].rtcp_mux)
		bad = "the offer must multiplex RTCP with RTP (a=rtcp-mux)";
	else if (!strcmp(o->media[vi].setup, "passive"))
		bad = "the offer wants to be DTLS passive: so are we (a=setup:actpass or active)";
	struct rtc_session *s = NULL;
	if (!bad && !(s = calloc(1, sizeof(*s))))
		bad = "out of memory";
	if (s && !sdp_parse_fingerprint(o->media[vi].fingerprint, s->peer_fp)) {
		free(s);
		s = NULL;
		bad = "the offer has no sha-256 fingerprint (a=fingerprint)";
	}
	if (!s) {
		free(o);
		return req_failf(r, bad && strcmp(bad, "out of memory") ? CS_BAD_REQUEST :
			CS_SERVER_BUSY, bad);
	}
	s->w = w;
	s->offer = o;
	s->req = r;
	r->s = s;
	s->sub.on_news = rtc_on_news;
	random_hex(s->id, ID_LEN);
	rtc_random_ice_chars(s->ufrag, 8);
	rtc_random_ice_chars(s->pwd, 32);
	random_bytes(&s->ssrc, sizeof(s->ssrc));
	random_bytes(&s->seq, sizeof(s->seq));
	random_bytes(&s->assrc, sizeof(s->assrc));
	random_bytes(&s->aseq, sizeof(s->aseq));
	random_bytes(&s->a_off, sizeof(s->a_off));
	if (s->assrc == s->ssrc)
		s->assrc ^= 1;
	s->apt = -1;
	s->next = w->sessions;
	w->sessions = s;
	w->n_sessions++;
	if (viewer_start(&s->v, r->wsi, &whep_kind, r->name[0] ? r->name : NULL, &err) != CS_OK)
		return req_fail(r, &err);
	snprintf(s->label, sizeof(s->label), "%s", viewer_label(&s->v));
	s->dtls = dtls_srtp_create(w->cert, true, s->peer_fp, MTU, rtc_dtls_out, s);
	if (!s->dtls)
		return req_failf(r, CS_SERVER_BUSY, "out of memory");
	if (viewer_subscribe(&s->v, &s->sub, &err) != CS_OK)
		return req_fail(r, &err);
	viewer_wait(&s->v, viewer_first_wait_us(r->wsi));
	rtc_arm_sweep(w);
	return try_answer(r);
}

static bool content_type_is_sdp(struct lws *wsi)
{
	char ct[128];
	if (lws_hdr_copy(wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0)
		return false;
	size_t n = strlen("application/sdp");
	return !strncasecmp(ct, "application/sdp", n) && (ct[n] == '\0' || ct[n] == ';' ||
		ct[n] == ' ');
}

/* DELETE and PATCH on /whep/session/{id}. */
static int on_session_path(struct whep_req *r, int method, const char *id)
{
	struct webrtc *w = app_of(r->wsi)->webrtc;
	struct rtc_session *s = w ? rtc_by_id(w, id) : NULL;
	r->replied = true;
	if (method == LWSHUMETH_PATCH) {
		struct http_header allow = { "allow:", "DELETE" };
		char *text = http_error_json(CS_BAD_REQUEST, "camstream is ICE-lite: its candidates "
			"are in the answer, and it takes no trickled ones");
		int rc = text ? http_write_response(r->wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
			"application/json", text, strlen(text), &allow, 1) : -1;
		free(text);
		return rc || lws_http_transaction_completed(r->wsi) ? -1 : 0;
	}
	if (method != LWSHUMETH_DELETE)
		return http_reply_error(r->wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"a WHEP session takes DELETE (hang up) only");
	if (!s)
		return http_reply_error(r->wsi, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND,
			"no such WebRTC session (it ended)");
	rtc_end_session_log(s, "the client hung up (DELETE)");
	rtc_session_free(s);
	return http_reply_json(r->wsi, HTTP_STATUS_OK, "{\"ok\":true}");
}

/* A page of another origin asks before it POSTs an offer or DELETEs a session (neither is a
 * "simple" request): every origin may, as every other answer says (access-control-allow-
 * origin: *); --token still guards the POST itself. */
static int preflight(struct whep_req *r, bool session)
{
	struct http_header h[] = {
		{ "access-control-allow-methods:", session ? "DELETE, PATCH, OPTIONS" :
			"POST, OPTIONS" },
		{ "access-control-allow-headers:", "content-type, authorization, if-match" },
		{ "access-control-expose-headers:", "Location" },
		{ "access-control-max-age:", "600" },
	};
	r->replied = true;
	if (http_write_response(r->wsi, HTTP_STATUS_NO_CONTENT, "text/plain", "", 0, h, 4))
		return -1;
	return lws_http_transaction_completed(r->wsi) ? -1 : 0;
}

static int on_http(struct lws *wsi, struct whep_req *r, const char *name)
{
	char *uri = NULL;
	int uri_len = 0, ret;
	memset(r, 0, sizeof(*r));
	r->wsi = wsi;
	if (name)
		snprintf(r->name, sizeof(r->name), "%s", name);
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	r->method = method;
	struct webrtc *w = app_of(wsi)->webrtc;
	char path[128] = "";
	if (uri && uri_len > 0 && (size_t)uri_len < sizeof(path)) {
		memcpy(path, uri, (size_t)uri_len);
		path[uri_len] = '\0';
	}
	size_t sp = strlen(SESSION_PREFIX);
	bool session = !name && !strncmp(path, SESSION_PREFIX, sp);
	if (!name && !session && strcmp(path, WHEP_PATH))
		return refuse_early(r, HTTP_STATUS_NOT_FOUND, CS_NOT_FOUND, "no such path");
	if (method == LWSHUMETH_OPTIONS)
		return preflight(r, session);
	if (session) {
		if (!access_http_check(wsi, false, NULL, &ret))
			return ret;
		/* a trickle PATCH has a body (a candidate fragment) that is not read: its 405
		 * closes the connection */
		if (http_content_length(wsi) > 0 || lws_hdr_total_length(wsi,
			WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			if (method == LWSHUMETH_PATCH) {
				on_session_path(r, method, path + sp);
				return -1;
			}
			return refuse_early(r, HTTP_STATUS_BAD_REQUEST, CS_BAD_REQUEST,
				"a WHEP session's DELETE has no body");
		}
		return on_session_path(r, method, path + sp);
	}
	if (method != LWSHUMETH_POST)
		return refuse_early(r, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"WHEP: POST an SDP offer (application/sdp) here");
	if (!access_http_check(wsi, true, NULL, &ret))
		return -1;
	if (!w)
		return refuse_early(r, HTTP_STATUS_SERVICE_UNAVAILABLE, CS_SERVER_BUSY,
			"WebRTC is off on this server (--webrtc-port)");
	if (!content_type_is_sdp(wsi))
		return refuse_early(r, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, CS_BAD_REQUEST,
			"WHEP: the offer's Content-Type must be application/sdp");
	long long cl = http_content_length(wsi);
	if (cl > BODY_MAX)
		return refuse_early(r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
			"the offer is larger than 64 KiB");
	if (cl <= 0)
		return refuse_early(r, cl < 0 ? HTTP_STATUS_LENGTH_REQUIRED : HTTP_STATUS_BAD_REQUEST,
			CS_BAD_REQUEST, "WHEP: send the SDP offer as the body, with a Content-Length");
	return 0;   /* the body follows */
}

static void take_body(struct whep_req *r, const void *in, size_t len)
{
	if (r->too_big || !len)
		return;
	if (r->body.len + len > BODY_MAX) {
		r->too_big = true;
		return;
	}
	sb_add(&r->body, in, len);
	if (r->body.failed)
		r->too_big = true;   /* out of memory: refused as too big */
}

static void req_end(struct whep_req *r)
{
	if (r->s) {
		struct rtc_session *s = r->s;
		r->s = NULL;
		s->req = NULL;
		rtc_session_free(s);   /* the client left before its answer */
	}
	sb_free(&r->body);
}

int whep_begin(struct lws *wsi, struct whep_req *r, const char *name)
{
	return on_http(wsi, r, name);
}

int whep_callback(struct lws *wsi, enum lws_callback_reasons reason, struct whep_req *r,
	void *in, size_t len)
{
	if (!r)
		return lws_callback_http_dummy(wsi, reason, NULL, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		if (!r->replied)
			take_body(r, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->replied)
			return 0;
		if (r->too_big)
			return refuse_early(r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, CS_BAD_REQUEST,
				"the offer is larger than 64 KiB");
		return start_session(r);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (r->s && !r->replied)
			return try_answer(r);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		req_end(r);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, NULL, in, len);
	}
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct whep_req *r = user;
	if (reason == LWS_CALLBACK_HTTP && r) {
		req_end(r);
		return on_http(wsi, r, NULL);
	}
	return whep_callback(wsi, reason, r, in, len);
}

const struct lws_protocols webrtc_http_protocol = {
	.name = "camstream-whep",
	.callback = http_callback,
	.per_session_data_size = sizeof(struct whep_req),
	.tx_packet_size = 16 * 1024,
};
