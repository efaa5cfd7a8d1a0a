/* av_pull: the input that pulls a camera with libavformat (RTSP, RTMP, and the schemes
 * --allow-schemes adds). Every wait is bounded by an AVIOInterruptCB deadline (and stop). It
 * hands the video stream's access units to the source whole, and its audio frames; H.264
 * over RTSP is read without FFmpeg's parser and regrouped by h264_release, so a picture goes
 * out on its last slice. Worker thread only; every object here is the session's. */
#include "av_pull.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>

#include "clock.h"
#include "h264_release.h"
#include "input.h"
#include "log.h"
#include "schemes.h"
#include "url.h"

/* Used when a caller leaves a timeout at 0: nothing may block forever. */
#define DEFAULT_TIMEOUT_US (10 * 1000000LL)
/* Bound on the RTSP TEARDOWN and friends when closing after a failure. */
#define CLOSE_TIMEOUT_US 1000000LL

/* One session's state, on the worker's stack. */
struct pull {
	struct source *s;
	const struct source_params *p;
	struct cs_error *why;      /* why the session ended (the caller's) */
	int64_t deadline;          /* monotonic µs at which the current wait gives up; 0 none */
	bool deadline_hit;         /* the interrupt callback fired for the deadline, not stop */
	AVFormatContext *fmt;
	AVPacket *pkt;
	int vidx, aidx;            /* the video and audio streams read, -1 if none */
	bool is_rtsp;              /* the URL is rtsp:// or rtsps:// */
	bool by_slice;             /* H.264 over RTSP without the parser: rel regroups it */
	struct h264_release rel;   /* (by_slice) its pending bytes */
	int64_t waited_us;         /* blocked in av_read_frame since the last picture */
};

/* Runs on the worker thread inside FFmpeg's blocking calls: must stay cheap. */
static int interrupt_cb(void *opaque)
{
	struct pull *w = opaque;

	if (source_stopping(w->s))
		return 1;
	if (w->deadline && clock_mono_us() > w->deadline) {
		w->deadline_hit = true;
		return 1;
	}
	return 0;
}

static void arm(struct pull *w, int64_t timeout_us)
{
	w->deadline_hit = false;
	w->deadline = clock_mono_us() + timeout_us;
}

static int64_t open_timeout(const struct pull *w)
{
	return w->p->open_timeout_us > 0 ? w->p->open_timeout_us : DEFAULT_TIMEOUT_US;
}

static int64_t read_timeout(const struct pull *w)
{
	return w->p->read_timeout_us > 0 ? w->p->read_timeout_us : DEFAULT_TIMEOUT_US;
}

/* The URL's scheme in lowercase; false if it has none, or one FFmpeg must never be handed
 * whatever the policy upstream said (the never list of schemes.c: protocols that read local
 * files or compose other URLs). The scheme also goes into protocol_whitelist, so only
 * [a-z0-9+.-] passes. */
static bool url_scheme(const char *url, char *out, size_t outlen)
{
	size_t i = 0;

	for (; url[i] && url[i] != ':'; i++) {
		char c = url[i];
		c = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		if (i + 1 >= outlen || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			(i > 0 && (c == '+' || c == '-' || c == '.'))))
			return false;
		out[i] = c;
	}
	out[i] = '\0';
	return url[i] == ':' && i > 0 && !url_scheme_never(out, i);
}

/* The demuxer options for @scheme; @ifmt gets the demuxer to force, or NULL to probe.
 * The protocol whitelist is what keeps a URL away from local files whatever the scheme
 * policy upstream said. */
static int build_options(const struct pull *w, const char *scheme, AVDictionary **o,
	const AVInputFormat **ifmt)
{
	char wl[64];
	int rc = 0;

	*ifmt = NULL;
	if (!strcmp(scheme, "rtsp") || !strcmp(scheme, "rtsps")) {
		*ifmt = av_find_input_format("rtsp");
		/* The RTSP demuxer is not a protocol: it opens tcp (control, interleaved RTP),
		 * udp and rtp (RTP over UDP) and tls for rtsps. */
		snprintf(wl, sizeof(wl), "tcp,udp,rtp%s", scheme[4] == 's' ? ",tls" : "");
		/* Auto: every transport stays allowed but TCP is tried first at SETUP, and UDP is
		 * used only by a camera that refuses interleaved TCP. TCP crosses NAT and firewalls
		 * and loses nothing; FFmpeg's own order would try UDP first. */
		if (w->p->transport == TRANSPORT_TCP)
			rc |= av_dict_set(o, "rtsp_transport", "tcp", 0);
		else if (w->p->transport == TRANSPORT_UDP)
			rc |= av_dict_set(o, "rtsp_transport", "udp", 0);
		else
			rc |= av_dict_set(o, "rtsp_flags", "prefer_tcp", 0);
		/* Socket timeout in µs (5.1 has no stimeout). Only a backstop, set past both of
		 * our deadlines: when it fires first during the handshake, 5.1 reports a silent
		 * server as AVERROR_INVALIDDATA, not as a timeout (seen with a server that accepts
		 * and never answers). Our deadline fires first and is reported as CS_TIMEOUT. */
		int64_t t = open_timeout(w) > read_timeout(w) ? open_timeout(w) : read_timeout(w);
		rc |= av_dict_set_int(o, "timeout", t + 1000000, 0);
	} else if (!strcmp(scheme, "rtmp") || !strcmp(scheme, "rtmps")) {
		*ifmt = av_find_input_format("flv");
		snprintf(wl, sizeof(wl), "%s,%stcp", scheme, scheme[4] == 's' ? "tls," : "");
		/* Not "timeout": for rtmp that is the listen timeout and implies listen mode. */
		rc |= av_dict_set_int(o, "rw_timeout", read_timeout(w), 0);
	} else {
		if (!strcmp(scheme, "http"))
			snprintf(wl, sizeof(wl), "http,tcp");
		else if (!strcmp(scheme, "https"))
			snprintf(wl, sizeof(wl), "https,http,tls,tcp");
		else
			snprintf(wl, sizeof(wl), "%s,tcp,udp", scheme);
		rc |= av_dict_set_int(o, "rw_timeout", read_timeout(w), 0);
	}
	rc |= av_dict_set(o, "protocol_whitelist", wl, 0);
	/* A small probe: live cameras send parameter sets up front, and every byte probed is
	 * start-up latency. */
	rc |= av_dict_set_int(o, "probesize", 512 * 1024, 0);
	rc |= av_dict_set_int(o, "analyzeduration", 1000000, 0);
	rc |= av_dict_set_int(o, "fpsprobesize", 4, 0);
	return rc < 0 ? -1 : 0;
}

/* Records why opening failed. @ret is FFmpeg's error. */
static void fail_open(struct pull *w, int ret, const char *what)
{
	const char *url = w->p->display_url;
	char e[AV_ERROR_MAX_STRING_SIZE];

	if (w->deadline_hit || ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT)) {
		cs_fail(w->why, CS_TIMEOUT, "no answer from %s within %.0f s", url,
			(double)open_timeout(w) / 1e6);
	} else if (ret == AVERROR_HTTP_NOT_FOUND || ret == AVERROR_STREAM_NOT_FOUND) {
		cs_fail(w->why, CS_NOT_FOUND, "cannot open %s: not found", url);
	} else if (ret == AVERROR_HTTP_UNAUTHORIZED || ret == AVERROR_HTTP_FORBIDDEN) {
		cs_fail(w->why, CS_UNAUTHORIZED, "cannot open %s: access denied (%s)", url,
			ret == AVERROR_HTTP_FORBIDDEN ? "403 Forbidden" :
			"401 Unauthorized, check the user name and password");
	} else if (w->is_rtsp && ret == -1) {
		/* What the RTSP demuxer returns when PLAY gets no usable answer (seen when the
		 * server died mid-handshake); av_strerror would say "Operation not permitted". */
		cs_fail(w->why, CS_OPEN_FAILED, "cannot %s %s: the server did not start the stream",
			what, url);
	} else {
		av_strerror(ret, e, sizeof(e));
		cs_fail(w->why, CS_OPEN_FAILED, "cannot %s %s: %s", what, url, e);
	}
}

/* Resolves the host with getaddrinfo_a, waiting in 50 ms steps so that stop and the open
 * deadline are honoured (a plain getaddrinfo can block for many seconds, beyond any FFmpeg
 * option or interrupt callback). The request lives on the heap: glibc's resolver thread may
 * still hold it after a cancel it could not honour, and then it is deliberately left to it,
 * the host name with it.
 * Returns the addresses (freeaddrinfo), or NULL with the failure recorded (none on stop). */
static struct addrinfo *resolve(struct pull *w)
{
	struct lookup {
		struct gaicb cb;
		struct addrinfo hints;
		char name[];  /* the host: a lookup left to the resolver may outlive the source */
	};
	size_t n = strlen(w->p->host) + 1;
	struct lookup *l = calloc(1, sizeof(*l) + n);
	if (!l) {
		cs_fail_oom(w->why);
		return NULL;
	}
	memcpy(l->name, w->p->host, n);
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->cb.ar_name = l->name;
	l->cb.ar_request = &l->hints;
	struct gaicb *list[1] = { &l->cb };
	int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc == 0)
		rc = gai_error(&l->cb);
	for (; rc == EAI_INPROGRESS; rc = gai_error(&l->cb)) {
		if (interrupt_cb(w)) {
			int c = gai_cancel(&l->cb);
			if (c == EAI_NOTCANCELED)
				l = NULL; /* still the resolver's: not ours to free */
			else if (c == EAI_ALLDONE && gai_error(&l->cb) == 0)
				freeaddrinfo(l->cb.ar_result); /* finished just now: not wanted */
			break;
		}
		struct timespec step = { 0, 50 * 1000 * 1000 };
		gai_suspend((const struct gaicb *const *)list, 1, &step);
	}
	struct addrinfo *res = rc == 0 && l ? l->cb.ar_result : NULL;
	free(l);
	if (res || source_stopping(w->s))
		return res;
	if (w->deadline_hit)
		cs_fail(w->why, CS_TIMEOUT, "cannot open %s: the host name did not resolve within "
			"%.0f s", w->p->display_url, (double)open_timeout(w) / 1e6);
	else
		cs_fail(w->why, CS_OPEN_FAILED, "cannot open %s: the host name does not resolve",
			w->p->display_url);
	return NULL;
}

/* For a URL whose host is a name: resolves it here, bounded (see resolve), and applies
 * --allow-hosts to every address unless the policy lists the name itself. For plain rtsp and
 * http the URL is then rewritten to the address found, so FFmpeg neither waits on the
 * resolver again nor can a second lookup lead elsewhere (DNS rebinding). TLS schemes keep the
 * name for the certificate check, and rtmp for servers that pick a vhost by it: FFmpeg
 * resolves those again. Returns the URL to open (*@alloc, if set, to free), or NULL with
 * the failure recorded. */
static const char *resolved_url(struct pull *w, const char *scheme, char **alloc)
{
	const struct source_params *p = w->p;
	unsigned char bin[16];
	*alloc = NULL;
	if (!p->host[0] || inet_pton(AF_INET, p->host, bin) == 1 ||
		inet_pton(AF_INET6, p->host, bin) == 1)
		return p->url; /* an address: judged from the URL alone before the worker started */

	struct addrinfo *res = resolve(w);
	if (!res)
		return NULL;
	bool ok = true;
	if (p->hosts && net_policy_check_host(p->hosts, p->host) == NET_RESOLVE)
		for (struct addrinfo *a = res; a && ok; a = a->ai_next)
			ok = net_policy_allows_addr(p->hosts, a->ai_addr);
	/* one address to connect to: the first IPv4 one if any (cameras are IPv4 first; a name
	 * like localhost lists ::1 first, where a camera may not listen) */
	const struct addrinfo *pick = res;
	for (const struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	}
	char ip[INET6_ADDRSTRLEN] = "";
	const void *addr = pick->ai_family == AF_INET
		? (const void *)&((struct sockaddr_in *)(void *)pick->ai_addr)->sin_addr
		: (const void *)&((struct sockaddr_in6 *)(void *)pick->ai_addr)->sin6_addr;
	inet_ntop(pick->ai_family, addr, ip, sizeof(ip));
	freeaddrinfo(res);
	if (!ok) {
		cs_fail(w->why, CS_HOST_NOT_ALLOWED, "%s resolves to an address this server may not "
			"connect to (see --allow-hosts)", p->display_url);
		return NULL;
	}
	if (strcmp(scheme, "rtsp") && strcmp(scheme, "http"))
		return p->url;
	*alloc = url_with_host(p->url, ip);
	if (!*alloc)
		cs_fail_oom(w->why);
	return *alloc;
}

/* Opens the URL, probes it when needed and tells the source what it is. On failure records
 * the error (unless stopping) and returns false; the caller frees. */
static bool open_input(struct pull *w)
{
	const struct source_params *p = w->p;
	AVDictionary *opts = NULL;
	const AVInputFormat *ifmt;
	const AVCodec *codec = NULL;
	char scheme[16];
	int ret;

	if (!url_scheme(p->url, scheme, sizeof(scheme))) {
		cs_fail(w->why, CS_SCHEME_NOT_ALLOWED, "%s: this kind of URL is not allowed",
			p->display_url);
		return false;
	}
	w->is_rtsp = !strcmp(scheme, "rtsp") || !strcmp(scheme, "rtsps");
	w->fmt = avformat_alloc_context();
	if (!w->fmt || build_options(w, scheme, &opts, &ifmt) < 0) {
		av_dict_free(&opts);
		cs_fail_oom(w->why);
		return false;
	}
	/* Before avformat_open_input: it is what bounds the connect and handshake. */
	w->fmt->interrupt_callback.callback = interrupt_cb;
	w->fmt->interrupt_callback.opaque = w;

	arm(w, open_timeout(w)); /* the lookup and the open share one deadline */
	char *checked;
	const char *target = resolved_url(w, scheme, &checked);
	if (!target) {
		av_dict_free(&opts);
		return false;
	}
	/* FFmpeg matches schemes case-sensitively ("Rtsp://" fails in the RTSP demuxer). */
	char *url = av_asprintf("%s%s", scheme, target + strlen(scheme));
	free(checked);
	ret = url ? avformat_open_input(&w->fmt, url, ifmt, &opts) : AVERROR(ENOMEM);
	av_free(url); /* avformat_open_input frees fmt on failure */
	/* On success opts holds what nobody recognised (say, an option renamed in this FFmpeg
	 * version); on failure it is untouched. */
	const AVDictionaryEntry *left = NULL;
	while (ret >= 0 && (left = av_dict_get(opts, "", left, AV_DICT_IGNORE_SUFFIX)))
		log_debug("source %s: FFmpeg did not use option %s=%s", p->display_url, left->key,
			left->value);
	av_dict_free(&opts);
	if (ret < 0) {
		log_debug("source %s: avformat_open_input: %d", p->display_url, ret);
		if (!source_stopping(w->s))
			fail_open(w, ret, "open");
		return false;
	}

	/* H.264 over RTSP: the SDP already names the codec and usually carries the parameter
	 * sets, so there is nothing to probe (probing waits for a key frame and then some), and
	 * the stream is read without the parser: h264_release ends each picture on its last
	 * slice, not when the next one begins. The flag is read per packet: set before the
	 * first read, no parser is ever made. Without the probe the open deadline runs on until
	 * the first packet (read_loop). */
	w->by_slice = false;
	if (w->is_rtsp) {
		ret = av_find_best_stream(w->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
		if (ret >= 0 && w->fmt->streams[ret]->codecpar->codec_id == AV_CODEC_ID_H264 &&
			!p->no_slice_release) {
			w->by_slice = true;
			w->fmt->flags |= AVFMT_FLAG_NOPARSE;
		}
	}
	/* The open deadline covers the probe too. */
	ret = w->by_slice ? 0 : avformat_find_stream_info(w->fmt, NULL);
	if (source_stopping(w->s))
		return false;
	if (ret < 0 || w->deadline_hit) {
		log_debug("source %s: avformat_find_stream_info: %d", p->display_url, ret);
		fail_open(w, ret < 0 ? ret : AVERROR_EXIT, "read from");
		return false;
	}

	ret = av_find_best_stream(w->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (ret < 0 || !codec) {
		cs_fail(w->why, CS_UNSUPPORTED_CODEC, ret == AVERROR_STREAM_NOT_FOUND ?
			"%s has no video stream" : "%s: no decoder for its video codec", p->display_url);
		return false;
	}
	w->vidx = ret;
	AVStream *st = w->fmt->streams[w->vidx];
	w->aidx = av_find_best_stream(w->fmt, AVMEDIA_TYPE_AUDIO, -1, w->vidx, NULL, 0);
	if (!source_video_format(w->s, st->codecpar) ||
		(w->aidx >= 0 && !source_audio_format(w->s, w->fmt->streams[w->aidx]->codecpar))) {
		cs_fail_oom(w->why);
		return false;
	}
	if (w->aidx < 0)
		w->aidx = -1;

	AVRational r = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ?
		st->avg_frame_rate : st->r_frame_rate;
	double fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
	/* Guessed rates of 1000 fps and more are timebase artefacts, not frame rates. */
	source_playing(w->s, avcodec_get_name(st->codecpar->codec_id), st->codecpar->width,
		st->codecpar->height, fps > 0 && fps < 1000 ? fps : 0);
	const char *audio = w->aidx >= 0 ?
		avcodec_get_name(w->fmt->streams[w->aidx]->codecpar->codec_id) : NULL;
	if (st->codecpar->width > 0)
		log_info("source %s: playing %s %dx%d%s%s", p->display_url,
			avcodec_get_name(st->codecpar->codec_id), st->codecpar->width,
			st->codecpar->height, audio ? " with " : "", audio ? audio : "");
	else
		log_info("source %s: playing %s%s%s", p->display_url,
			avcodec_get_name(st->codecpar->codec_id), audio ? " with " : "",
			audio ? audio : "");
	return true;
}

static int64_t to_us(const struct pull *w, int idx, int64_t t)
{
	return t == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
		: av_rescale_q(t, w->fmt->streams[idx]->time_base, AV_TIME_BASE_Q);
}

/* h264_release's hand-over: one whole picture. */
static int push_units(void *arg, const uint8_t *data, size_t len, int64_t pts)
{
	struct pull *w = arg;
	int64_t t = to_us(w, w->vidx, pts);
	source_push_video(w->s, data, len, t, t, false, w->waited_us);
	w->waited_us = 0;
	return 0;
}

static void push_packet(struct pull *w, const AVPacket *pkt)
{
	if (pkt->stream_index == w->aidx) {
		source_count_bytes(w->s, (size_t)pkt->size);
		source_push_audio(w->s, pkt->data, (size_t)pkt->size,
			to_us(w, w->aidx, pkt->pts));
		return;
	}
	if (pkt->stream_index != w->vidx)
		return;
	source_count_bytes(w->s, (size_t)pkt->size);
	if (w->by_slice) {
		h264_release_push(&w->rel, pkt->data, (size_t)pkt->size, pkt->pts, push_units, w);
		return;
	}
	source_push_video(w->s, pkt->data, (size_t)pkt->size, to_us(w, w->vidx, pkt->pts),
		to_us(w, w->vidx, pkt->dts), pkt->flags & AV_PKT_FLAG_KEY, w->waited_us);
	w->waited_us = 0;
}

/* Ends the stream for the decoder: what the slice releaser holds, then the flush. */
static void push_end(struct pull *w)
{
	if (w->by_slice)
		h264_release_flush(&w->rel, push_units, w);
	source_flush_video(w->s);
}

/* FFmpeg 5.1 reports both the end of an RTSP stream (RTCP BYE from the server) and a control
 * connection the server dropped (killed, rebooted, unplugged) as AVERROR_EOF. Only a server
 * that is still there answers a PAUSE: 0 after a BYE, -1 on a dead connection (seen with
 * gst-rtsp-server). A server that is there but refuses the PAUSE counts as lost. */
static bool rtsp_still_there(struct pull *w)
{
	arm(w, CLOSE_TIMEOUT_US);
	return av_read_pause(w->fmt) == 0 && !w->deadline_hit;
}

/* Reads until stop, the end of the stream or an error. */
static void read_loop(struct pull *w)
{
	const char *url = w->p->display_url;
	bool rearm = true;
	/* A stream that was not probed is still opening until its first picture data: the open
	 * deadline armed in open_input keeps running, as it did over the probe. */
	bool opening = w->by_slice;
	int ret;

	while (!source_stopping(w->s)) {
		/* After the deadline fired a packet can still come out: FFmpeg flushes its parsers
		 * when a read fails and reports the failure on the next call. The expired deadline
		 * is kept so that call fails at once. */
		if (rearm && !w->deadline_hit && !opening)
			arm(w, read_timeout(w));
		rearm = true;
		int64_t t0 = clock_mono_us();
		ret = av_read_frame(w->fmt, w->pkt);
		w->waited_us += clock_mono_us() - t0;
		if (ret == AVERROR(EAGAIN)) {
			/* Nothing yet from a non-blocking demuxer: poll, the deadline keeps running. */
			if (clock_mono_us() <= w->deadline) {
				struct timespec ts = { 0, 5 * 1000000L };
				nanosleep(&ts, NULL);
				rearm = false;
				continue;
			}
			w->deadline_hit = true;
		}
		if (ret < 0) {
			char e[AV_ERROR_MAX_STRING_SIZE];
			if (source_stopping(w->s))
				return;
			log_debug("source %s: av_read_frame: %d", url, ret);
			av_strerror(ret, e, sizeof(e));
			if (opening && (w->deadline_hit || ret == AVERROR_EXIT ||
				ret == AVERROR(ETIMEDOUT))) {
				fail_open(w, ret, "read from");
			} else if (ret == AVERROR_EOF && (!w->is_rtsp || rtsp_still_there(w))) {
				push_end(w);
				cs_fail(w->why, CS_SOURCE_ENDED, "%s ended", url);
				w->why->clean = true;
			} else if (w->deadline_hit || ret == AVERROR_EXIT ||
				ret == AVERROR(ETIMEDOUT)) {
				cs_fail(w->why, CS_TIMEOUT, "no data from %s for %.0f s", url,
					(double)read_timeout(w) / 1e6);
			} else {
				cs_fail(w->why, CS_SOURCE_ENDED, "lost the connection to %s (%s)", url,
					ret == AVERROR_EOF ? "closed by the server" : e);
			}
			return;
		}
		if (w->pkt->stream_index == w->vidx)
			opening = false;
		push_packet(w, w->pkt);
		av_packet_unref(w->pkt);
	}
}

/* One attempt: open, read until stop, the end or an error, and tear every FFmpeg object
 * down. Returns how long it played (0 if it never did). */
static int64_t run_session(struct source *s, struct cs_error *why)
{
	struct pull w = { .s = s, .p = source_params(s), .why = why, .vidx = -1, .aidx = -1 };
	int64_t played = 0;

	h264_release_init(&w.rel);
	w.pkt = av_packet_alloc();
	if (!w.pkt) {
		cs_fail_oom(why);
		goto out;
	}
	if (!open_input(&w))
		goto out;
	int64_t t0 = clock_mono_us();
	read_loop(&w);
	played = clock_mono_us() - t0;
	if (w.by_slice)
		log_debug("source %s: pictures released on their last slice %llu, %s; %llu bytes "
			"dropped", w.p->display_url, (unsigned long long)w.rel.early_pictures,
			h264_release_early(&w.rel) ? "on" : w.rel.broken ? "off (the stream "
			"broke the pattern)" : "off (pattern not seen)",
			(unsigned long long)w.rel.dropped_bytes);
out:
	/* Closing an RTSP session sends TEARDOWN: bound it (stop cuts it short anyway). */
	arm(&w, CLOSE_TIMEOUT_US);
	avformat_close_input(&w.fmt); /* also frees a context that was never opened */
	av_packet_free(&w.pkt);
	h264_release_free(&w.rel);
	return played;
}

const struct input_ops av_pull_input = {
	.name = "pull",
	.run_session = run_session,
};
