#include "metrics.h"

#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "app.h"
#include "clock.h"
#include "http_reply.h"
#include "hls.h"
#include "webrtc.h"
#include "hub.h"
#include "log.h"
#include "rtmp_server.h"
#include "strbuf.h"
#include "version.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A label value: backslash, double quote and line feed escaped, as the format requires. */
static void buf_label_value(struct strbuf *b, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\': sb_add(b, "\\\\", 2); break;
		case '"': sb_add(b, "\\\"", 2); break;
		case '\n': sb_add(b, "\\n", 2); break;
		default: sb_add(b, v, 1); break;
		}
	}
}

/* A sample value. camstream never calls setlocale(), so the decimal point is '.'. */
static void buf_double(struct strbuf *b, double v)
{
	if (isnan(v))
		sb_puts(b, "NaN");
	else if (isinf(v))
		sb_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (fabs(v) < 1e15 && v == (double)(int64_t)v)
		sb_printf(b, "%" PRId64, (int64_t)v);
	else
		sb_printf(b, "%.6f", v);
}

static void family(struct strbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- per source ------------------------------------------------------------------------ */

/* One label set: every running worker of the same (redacted URL, stream name) is summed into
 * one series, so two workers of one camera (--isolate, other output settings, a failed
 * worker still draining its viewers) never give duplicate series. */
struct src_row {
	char *source;             /* redacted URL, scrubbed once more (owned) */
	char *name;               /* named stream or "" (owned) */
	uint64_t frames_decoded, frames_encoded, encode_us, bytes_in, bytes_out, packets;
	uint64_t dropped, reconnects, late, pictures, coded_skipped;
	int64_t viewers, coded_readers;
	int64_t last_frame_wall_us; /* newest over the workers, 0 = no frame yet */
	bool up;                  /* any worker playing */
	int width, height;        /* of the newest picture */
	int rtsp_sessions;        /* rtsp/rtsps workers in SOURCE_PLAYING */
};

struct collect {
	struct src_row *rows;
	size_t n, cap;
	bool failed;
};

static bool is_rtsp(const char *url)
{
	return !strncasecmp(url, "rtsp://", 7) || !strncasecmp(url, "rtsps://", 8);
}

static struct src_row *row_for(struct collect *c, const char *source, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->rows[i].source, source) && !strcmp(c->rows[i].name, name))
			return &c->rows[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct src_row *rows = realloc(c->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		c->rows = rows;
		c->cap = cap;
	}
	struct src_row *r = &c->rows[c->n];
	memset(r, 0, sizeof(*r));
	r->source = strdup(source);
	r->name = strdup(name);
	if (!r->source || !r->name) {
		free(r->source);
		free(r->name);
		return NULL;
	}
	c->n++;
	return r;
}

/* hub_foreach callback: the info's strings live only during the call, so they are copied. */
static void collect_one(const struct hub_source_info *info, void *arg)
{
	struct collect *c = arg;
	if (c->failed)
		return;
	/* display_url is redacted by the url room; scrubbing again costs nothing and keeps a
	 * credential out of the labels even if a caller ever passed a raw URL. */
	char *source = strdup(info->display_url ? info->display_url : "");
	if (!source) {
		c->failed = true;
		return;
	}
	log_scrub(source);
	struct src_row *r = row_for(c, source, info->name ? info->name : "");
	free(source);
	if (!r) {
		c->failed = true;
		return;
	}
	const struct source_stats *s = &info->stats;
	r->frames_decoded += s->frames_decoded;
	r->frames_encoded += s->frames_encoded;
	r->encode_us += s->encode_us_total;
	r->bytes_in += s->bytes_received;
	r->bytes_out += info->bytes_sent;
	r->packets += s->packets_received;
	r->dropped += info->frames_dropped;
	r->reconnects += s->reconnects;
	r->late += s->frames_late;
	r->viewers += info->viewers;
	r->coded_readers += info->coded_readers;
	r->pictures += s->pictures_received;
	r->coded_skipped += info->coded_skipped;
	if (s->state == SOURCE_PLAYING) {
		r->up = true;
		if (info->display_url && is_rtsp(info->display_url))
			r->rtsp_sessions++;
	}
	if (s->last_frame_wall_us > r->last_frame_wall_us) {
		r->last_frame_wall_us = s->last_frame_wall_us;
		if (s->width > 0 && s->height > 0) {
			r->width = s->width;
			r->height = s->height;
		}
	} else if (r->width == 0 && s->width > 0 && s->height > 0) {
		r->width = s->width;
		r->height = s->height;
	}
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->rows[i].source);
		free(c->rows[i].name);
	}
	free(c->rows);
}

enum kind { K_U64, K_DOUBLE };

/* One per-source family. get() returns false when the row has no sample for it. */
struct src_family {
	const char *name, *type, *help;
	bool (*get)(const struct src_row *r, int64_t now_us, double *d, uint64_t *u);
	enum kind kind;
};

#define GET_U64(fn, expr) \
	static bool fn(const struct src_row *r, int64_t now_us, double *d, uint64_t *u) \
	{ (void)now_us; (void)d; *u = (expr); return true; }

GET_U64(get_decoded, r->frames_decoded)
GET_U64(get_encoded, r->frames_encoded)
GET_U64(get_bytes_in, r->bytes_in)
GET_U64(get_bytes_out, r->bytes_out)
GET_U64(get_packets, r->packets)
GET_U64(get_dropped, r->dropped)
GET_U64(get_reconnects, r->reconnects)
GET_U64(get_late, r->late)
GET_U64(get_viewers, (uint64_t)(r->viewers > 0 ? r->viewers : 0))
GET_U64(get_up, r->up ? 1u : 0u)
GET_U64(get_pictures, r->pictures)
GET_U64(get_coded_skipped, r->coded_skipped)
GET_U64(get_coded_readers, (uint64_t)(r->coded_readers > 0 ? r->coded_readers : 0))

static bool get_encode_s(const struct src_row *r, int64_t now_us, double *d, uint64_t *u)
{
	(void)now_us;
	(void)u;
	*d = (double)r->encode_us / 1e6;
	return true;
}

/* Absent until the first frame: there is no age to report, and an absent series cannot be
 * mistaken for a fresh one. */
static bool get_age(const struct src_row *r, int64_t now_us, double *d, uint64_t *u)
{
	(void)u;
	if (r->last_frame_wall_us <= 0)
		return false;
	int64_t age = now_us - r->last_frame_wall_us;
	*d = age > 0 ? (double)age / 1e6 : 0.0;
	return true;
}

static bool get_width(const struct src_row *r, int64_t now_us, double *d, uint64_t *u)
{
	(void)now_us;
	(void)d;
	*u = (uint64_t)r->width;
	return r->width > 0;
}

static bool get_height(const struct src_row *r, int64_t now_us, double *d, uint64_t *u)
{
	(void)now_us;
	(void)d;
	*u = (uint64_t)r->height;
	return r->height > 0;
}

static const struct src_family src_families[] = {
	{ "camstream_source_up", "gauge",
	  "1 while a worker of the source is playing, 0 while it opens, reconnects or failed",
	  get_up, K_U64 },
	{ "camstream_viewers", "gauge",
	  "Subscribers of the source (WebSocket, MJPEG, snapshot, coded readers)",
	  get_viewers, K_U64 },
	{ "camstream_coded_readers", "gauge",
	  "Subscribers reading the source's coded pictures (raw frames; FLV, HLS, WebRTC)",
	  get_coded_readers, K_U64 },
	{ "camstream_packets_received_total", "counter", "Packets read from the source",
	  get_packets, K_U64 },
	{ "camstream_bytes_received_total", "counter", "Bytes read from the source",
	  get_bytes_in, K_U64 },
	{ "camstream_pictures_received_total", "counter",
	  "Coded pictures read from the source, decoded or not", get_pictures, K_U64 },
	{ "camstream_frames_decoded_total", "counter",
	  "Pictures decoded from the source (only while a JPEG output exists)",
	  get_decoded, K_U64 },
	{ "camstream_frames_encoded_total", "counter", "JPEG frames encoded, over all outputs",
	  get_encoded, K_U64 },
	{ "camstream_encode_seconds_total", "counter", "Time spent encoding JPEG frames",
	  get_encode_s, K_DOUBLE },
	{ "camstream_bytes_sent_total", "counter",
	  "Bytes sent to the source's viewers (JPEG and FLV)", get_bytes_out, K_U64 },
	{ "camstream_frames_dropped_total", "counter",
	  "Frames a viewer skipped because a newer one replaced them (latest frame wins)",
	  get_dropped, K_U64 },
	{ "camstream_frames_late_total", "counter",
	  "Pictures decoded but not encoded because the worker had fallen behind the camera",
	  get_late, K_U64 },
	{ "camstream_coded_skipped_total", "counter",
	  "Coded entries readers skipped by jumping to a newer key picture",
	  get_coded_skipped, K_U64 },
	{ "camstream_reconnects_total", "counter",
	  "Successful re-opens of the source after a failure (named streams)",
	  get_reconnects, K_U64 },
	{ "camstream_seconds_since_last_frame", "gauge",
	  "Age of the newest picture received; absent before the first one",
	  get_age, K_DOUBLE },
	{ "camstream_frame_width", "gauge", "Width of the decoded picture; absent before the first",
	  get_width, K_U64 },
	{ "camstream_frame_height", "gauge",
	  "Height of the decoded picture; absent before the first", get_height, K_U64 },
};

static void source_labels(struct strbuf *b, const struct src_row *r)
{
	sb_puts(b, "{source=\"");
	buf_label_value(b, r->source);
	sb_puts(b, "\",name=\"");
	buf_label_value(b, r->name);
	sb_puts(b, "\"}");
}

static void write_sources(struct strbuf *b, const struct collect *c, int64_t now_us)
{
	for (size_t f = 0; f < sizeof(src_families) / sizeof(src_families[0]); f++) {
		const struct src_family *fam = &src_families[f];
		family(b, fam->name, fam->type, fam->help);
		for (size_t i = 0; i < c->n; i++) {
			double d = 0;
			uint64_t u = 0;
			if (!fam->get(&c->rows[i], now_us, &d, &u))
				continue;
			sb_puts(b, fam->name);
			source_labels(b, &c->rows[i]);
			sb_puts(b, " ");
			if (fam->kind == K_U64)
				sb_printf(b, "%" PRIu64, u);
			else
				buf_double(b, d);
			sb_puts(b, "\n");
		}
	}
}

/* ---- the process ----------------------------------------------------------------------- */

static void write_process(struct strbuf *b, const struct app *st,
	const struct collect *c, int64_t now_us)
{
	int rtsp = 0;
	for (size_t i = 0; i < c->n; i++)
		rtsp += c->rows[i].rtsp_sessions;

	/* the same versions as --version prints (version.c) */
	struct version_info v;
	version_get(&v);
	family(b, "camstream_build_info", "gauge",
		"Always 1; the versions of camstream and of the libraries it runs with are the labels");
	sb_puts(b, "camstream_build_info{version=\"");
	buf_label_value(b, v.camstream);
	sb_puts(b, "\",lws=\"");
	buf_label_value(b, v.lws);
	sb_puts(b, "\",ffmpeg=\"");
	buf_label_value(b, v.ffmpeg);
	sb_puts(b, "\",libjpeg_turbo=\"");
	buf_label_value(b, v.libjpeg_turbo);
	sb_puts(b, "\"} 1\n");

	family(b, "camstream_start_time_seconds", "gauge", "When the server started (Unix time)");
	sb_puts(b, "camstream_start_time_seconds ");
	buf_double(b, (double)st->started_wall_us / 1e6);
	sb_puts(b, "\n");

	family(b, "camstream_uptime_seconds", "gauge", "Seconds since the server started");
	sb_puts(b, "camstream_uptime_seconds ");
	buf_double(b, st->started_wall_us > 0 && now_us > st->started_wall_us
		? (double)(now_us - st->started_wall_us) / 1e6 : 0.0);
	sb_puts(b, "\n");

	family(b, "camstream_clients", "gauge",
		"Open viewer connections of every kind (WebSocket and MJPEG)");
	sb_printf(b, "camstream_clients %d\n", st->clients > 0 ? st->clients : 0);

	family(b, "camstream_subscribers", "gauge",
		"Subscriptions to sources (viewers plus snapshot requests in flight)");
	sb_printf(b, "camstream_subscribers %d\n", st->hub ? hub_sub_count(st->hub) : 0);

	family(b, "camstream_sources", "gauge", "Running source workers");
	sb_printf(b, "camstream_sources %d\n", st->hub ? hub_source_count(st->hub) : 0);

	/* glibc's own count, over every arena: what a leak grows, unlike the resident size, which
	 * also holds pages the allocator keeps for reuse. A sanitizer's allocator bypasses glibc's,
	 * so there this stays near 0. */
	struct mallinfo2 mi = mallinfo2();
	family(b, "camstream_heap_bytes", "gauge",
		"Bytes allocated with malloc and not freed (glibc mallinfo2: uordblks + hblkhd)");
	sb_printf(b, "camstream_heap_bytes %zu\n", mi.uordblks + mi.hblkhd);

	family(b, "camstream_rtsp_sessions", "gauge",
		"Sources with a playing RTSP session to a camera (rtsp:// and rtsps:// workers)");
	sb_printf(b, "camstream_rtsp_sessions %d\n", rtsp);

	struct hls_metrics hm;
	static const char *const kinds[] = { "playlist", "init", "segment", "part" };
	hls_get_metrics(st->hls, &hm);
	family(b, "camstream_hls_sessions", "gauge",
		"Sources with an HLS session: a client fetched within 3 target durations");
	sb_printf(b, "camstream_hls_sessions %u\n", hm.sessions);
	family(b, "camstream_hls_requests_total", "counter", "HLS requests, by what they asked");
	for (size_t i = 0; i < 4; i++)
		sb_printf(b, "camstream_hls_requests_total{kind=\"%s\"} %" PRIu64 "\n", kinds[i],
			hm.requests[i]);
	family(b, "camstream_hls_held", "gauge",
		"HLS requests held now (blocking playlist reloads, parts not complete yet)");
	sb_printf(b, "camstream_hls_held %u\n", hm.held);
	family(b, "camstream_hls_held_timeouts_total", "counter",
		"Held HLS requests answered at their deadline");
	sb_printf(b, "camstream_hls_held_timeouts_total %" PRIu64 "\n", hm.held_timeouts);
	family(b, "camstream_hls_refused_total", "counter",
		"HLS requests refused because the server held its maximum");
	sb_printf(b, "camstream_hls_refused_total %" PRIu64 "\n", hm.refused);
	family(b, "camstream_hls_bytes_sent_total", "counter",
		"Bytes of HLS playlists, init segments, segments and parts sent");
	sb_printf(b, "camstream_hls_bytes_sent_total %" PRIu64 "\n", hm.bytes_sent);

	struct webrtc_metrics wm;
	webrtc_get_metrics(st->webrtc, &wm);
	family(b, "camstream_webrtc_sessions", "gauge",
		"WebRTC (WHEP) sessions: answered or waiting for their answer");
	sb_printf(b, "camstream_webrtc_sessions %u\n", wm.sessions);
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "sessions", "WebRTC sessions started (a good offer, the viewer admitted)",
			offsetof(struct webrtc_metrics, sessions_total) },
		{ "packets_sent", "SRTP packets sent, retransmissions included",
			offsetof(struct webrtc_metrics, packets_sent) },
		{ "bytes_sent", "SRTP bytes sent (UDP payloads)",
			offsetof(struct webrtc_metrics, bytes_sent) },
		{ "nacks_received", "RTP sequence numbers browsers asked for again (generic NACK)",
			offsetof(struct webrtc_metrics, nacks) },
		{ "retransmits", "Packets sent again for a NACK",
			offsetof(struct webrtc_metrics, retransmits) },
		{ "retransmits_refused", "NACKed packets not sent again: asked for again within "
			"30 ms, or over the session's budget (as many as it was sent)",
			offsetof(struct webrtc_metrics, retransmits_refused) },
		{ "plis_received", "Key picture requests received (PLI and FIR)",
			offsetof(struct webrtc_metrics, plis) },
		{ "key_resends", "Replays from the cached key picture for a key picture request (PLI, FIR)",
			offsetof(struct webrtc_metrics, key_resends) },
		{ "timeouts", "Sessions ended by a deadline (ICE, DTLS, consent)",
			offsetof(struct webrtc_metrics, timeouts) },
		{ "dtls_failures", "DTLS handshakes that failed",
			offsetof(struct webrtc_metrics, dtls_failures) },
		{ "dropped", "Datagrams received and dropped: unknown senders, garbage, failed checks",
			offsetof(struct webrtc_metrics, dropped) },
		{ "send_failures", "Packets not sent: a full send buffer, or one that could not be made",
			offsetof(struct webrtc_metrics, send_failures) },
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		char name[80];
		snprintf(name, sizeof(name), "camstream_webrtc_%s_total", counters[i].name);
		family(b, name, "counter", counters[i].help);
		sb_printf(b, "%s %" PRIu64 "\n", name,
			*(const uint64_t *)(const void *)((const char *)&wm + counters[i].off));
	}

	if (!st->rtmp)
		return;
	struct rtmp_server_stats rs;
	rtmp_server_get_stats(st->rtmp, &rs);
	family(b, "camstream_rtmp_connections", "gauge", "Open RTMP ingest connections");
	sb_printf(b, "camstream_rtmp_connections %d\n", rs.connections);
	family(b, "camstream_rtmp_publishers", "gauge", "RTMP connections publishing now");
	sb_printf(b, "camstream_rtmp_publishers %d\n", rs.publishers);
	family(b, "camstream_rtmp_accepted_total", "counter", "RTMP connections accepted");
	sb_printf(b, "camstream_rtmp_accepted_total %" PRIu64 "\n", rs.accepted);
	family(b, "camstream_rtmp_publishes_total", "counter", "RTMP publishes allowed");
	sb_printf(b, "camstream_rtmp_publishes_total %" PRIu64 "\n", rs.publishes);
	family(b, "camstream_rtmp_refused_total", "counter",
		"RTMP connects and publishes refused, protocol errors and missed deadlines");
	sb_printf(b, "camstream_rtmp_refused_total %" PRIu64 "\n", rs.refused);
	family(b, "camstream_rtmp_bytes_received_total", "counter",
		"Bytes read from RTMP connections, handshakes included");
	sb_printf(b, "camstream_rtmp_bytes_received_total %" PRIu64 "\n", rs.bytes_received);
}

static int metrics_reply(struct lws *wsi)
{
	struct app *st = app_of(wsi);
	struct collect c = { 0 };
	struct strbuf b = STRBUF_INIT;
	int64_t now_us = clock_wall_us();

	if (st->hub)
		hub_foreach(st->hub, collect_one, &c);
	if (!c.failed) {
		write_sources(&b, &c, now_us);
		write_process(&b, st, &c, now_us);
	}
	collect_free(&c);
	if (c.failed || b.failed) {
		free(b.p);
		log_warn("metrics: out of memory");
		return http_reply_error(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, CS_SERVER_BUSY,
			"out of memory");
	}
	int r = http_reply(wsi, HTTP_STATUS_OK, CONTENT_TYPE, b.p ? b.p : "", b.len);
	free(b.p);
	return r;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	size_t len)
{
	int ret;
	if (reason != LWS_CALLBACK_HTTP)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	if (!access_http_check(wsi, true, "/metrics", &ret))
		return ret;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return http_reply_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, CS_BAD_REQUEST,
			"only GET is supported here");
	return metrics_reply(wsi);
}

const struct lws_protocols metrics_protocol = {
	.name = "camstream-metrics",
	.callback = callback,
};
