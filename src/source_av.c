/* source_av: the FFmpeg half of the pull worker. Opens the URL with every wait bounded by an
 * AVIOInterruptCB deadline (and stop), decodes its first video stream and hands pictures to
 * source_deliver(). In reconnect mode a failed or ended session is torn down completely and
 * opened again after a backoff. Worker thread only; every object here is the worker's. */
#include "source_worker.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libavutil/avstring.h>

#include "log.h"

/* Used when a caller leaves a timeout at 0: nothing may block forever. */
#define DEFAULT_TIMEOUT_US (10 * 1000000LL)
/* Bound on the RTSP TEARDOWN and friends when closing after a failure. */
#define CLOSE_TIMEOUT_US 1000000LL

/* Runs on the worker thread inside FFmpeg's blocking calls: must stay cheap. */
static int interrupt_cb(void *opaque)
{
	struct worker *w = opaque;

	if (atomic_load(&w->s->stop))
		return 1;
	if (w->deadline && clock_mono_us() > w->deadline) {
		w->deadline_hit = true;
		return 1;
	}
	return 0;
}

static void arm(struct worker *w, int64_t timeout_us)
{
	w->deadline_hit = false;
	w->deadline = clock_mono_us() + timeout_us;
}

static int64_t open_timeout(const struct source *s)
{
	return s->p.open_timeout_us > 0 ? s->p.open_timeout_us : DEFAULT_TIMEOUT_US;
}

static int64_t read_timeout(const struct source *s)
{
	return s->p.read_timeout_us > 0 ? s->p.read_timeout_us : DEFAULT_TIMEOUT_US;
}

/* Records why the current session failed or ended; source_av_run finishes or retries. */
__attribute__((format(printf, 4, 5)))
static void session_fail(struct worker *w, enum cs_err err, int clean, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->err = err;
	w->clean = clean;
}

/* The URL's scheme in lowercase; false if it has none, or one FFmpeg must never be handed
 * here whatever the policy upstream said: protocols that read local files or compose other
 * URLs. The scheme also goes into protocol_whitelist, so only [a-z0-9+.-] passes. */
static bool url_scheme(const char *url, char *out, size_t outlen)
{
	static const char *const local[] = { "file", "pipe", "fd", "data", "unix", "concat",
		"concatf", "subfile", "cache", "crypto", "async", "md5", "hls", "ipfs", "ipns",
		"android_content", "tee" };
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
	if (url[i] != ':' || i == 0)
		return false;
	for (size_t k = 0; k < sizeof(local) / sizeof(local[0]); k++)
		if (!strcmp(out, local[k]))
			return false;
	return true;
}

/* The demuxer options for @scheme; @ifmt gets the demuxer to force, or NULL to probe.
 * The protocol whitelist is what keeps a URL away from local files whatever the scheme
 * policy upstream said. */
static int build_options(const struct source *s, const char *scheme, AVDictionary **o,
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
		if (s->p.transport == TRANSPORT_TCP)
			rc |= av_dict_set(o, "rtsp_transport", "tcp", 0);
		else if (s->p.transport == TRANSPORT_UDP)
			rc |= av_dict_set(o, "rtsp_transport", "udp", 0);
		else
			rc |= av_dict_set(o, "rtsp_flags", "prefer_tcp", 0);
		/* Socket timeout in µs (5.1 has no stimeout). Only a backstop, set past both of
		 * our deadlines: when it fires first during the handshake, 5.1 reports a silent
		 * server as AVERROR_INVALIDDATA, not as a timeout (seen with a server that accepts
		 * and never answers). Our deadline fires first and is reported as CS_TIMEOUT. */
		int64_t t = open_timeout(s) > read_timeout(s) ? open_timeout(s) : read_timeout(s);
		rc |= av_dict_set_int(o, "timeout", t + 1000000, 0);
	} else if (!strcmp(scheme, "rtmp") || !strcmp(scheme, "rtmps")) {
		*ifmt = av_find_input_format("flv");
		snprintf(wl, sizeof(wl), "%s,%stcp", scheme, scheme[4] == 's' ? "tls," : "");
		/* Not "timeout": for rtmp that is the listen timeout and implies listen mode. */
		rc |= av_dict_set_int(o, "rw_timeout", read_timeout(s), 0);
	} else {
		if (!strcmp(scheme, "http"))
			snprintf(wl, sizeof(wl), "http,tcp");
		else if (!strcmp(scheme, "https"))
			snprintf(wl, sizeof(wl), "https,http,tls,tcp");
		else
			snprintf(wl, sizeof(wl), "%s,tcp,udp", scheme);
		rc |= av_dict_set_int(o, "rw_timeout", read_timeout(s), 0);
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
static void fail_open(struct worker *w, int ret, const char *what)
{
	struct source *s = w->s;
	char e[AV_ERROR_MAX_STRING_SIZE];

	if (w->deadline_hit || ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT)) {
		session_fail(w, CS_TIMEOUT, 0, "no answer from %s within %.0f s", s->display_url,
			(double)open_timeout(s) / 1e6);
	} else if (ret == AVERROR_HTTP_NOT_FOUND || ret == AVERROR_STREAM_NOT_FOUND) {
		session_fail(w, CS_NOT_FOUND, 0, "cannot open %s: not found", s->display_url);
	} else if (ret == AVERROR_HTTP_UNAUTHORIZED || ret == AVERROR_HTTP_FORBIDDEN) {
		session_fail(w, CS_UNAUTHORIZED, 0, "cannot open %s: access denied (%s)",
			s->display_url, ret == AVERROR_HTTP_FORBIDDEN ? "403 Forbidden" :
			"401 Unauthorized, check the user name and password");
	} else if (w->is_rtsp && ret == -1) {
		/* What the RTSP demuxer returns when PLAY gets no usable answer (seen when the
		 * server died mid-handshake); av_strerror would say "Operation not permitted". */
		session_fail(w, CS_OPEN_FAILED, 0, "cannot %s %s: the server did not start the "
			"stream", what, s->display_url);
	} else {
		av_strerror(ret, e, sizeof(e));
		session_fail(w, CS_OPEN_FAILED, 0, "cannot %s %s: %s", what, s->display_url, e);
	}
}

/* Resolves s->p.host with getaddrinfo_a, waiting in 50 ms steps so that stop and the open
 * deadline are honoured (a plain getaddrinfo can block for many seconds, beyond any FFmpeg
 * option or interrupt callback). The request lives on the heap: glibc's resolver thread may
 * still hold it after a cancel it could not honour, and then it is deliberately left to it.
 * Returns the addresses (freeaddrinfo), or NULL with the failure recorded (none on stop). */
static struct addrinfo *resolve(struct worker *w)
{
	struct source *s = w->s;
	struct lookup {
		struct gaicb cb;
		struct addrinfo hints;
	} *l = calloc(1, sizeof(*l));
	if (!l) {
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: out of memory", s->display_url);
		return NULL;
	}
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->cb.ar_name = s->p.host;  /* lives as long as the source, which outlives the worker */
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
	if (res || atomic_load(&s->stop))
		return res;
	if (w->deadline_hit)
		session_fail(w, CS_TIMEOUT, 0, "cannot open %s: the host name did not resolve within "
			"%.0f s", s->display_url, (double)open_timeout(s) / 1e6);
	else
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: the host name does not resolve",
			s->display_url);
	return NULL;
}

/* For a URL whose host is a name: resolves it here, bounded (see resolve), and applies
 * --allow-hosts to every address unless the policy lists the name itself. For plain rtsp and
 * http the URL is then rewritten to the address found, so FFmpeg neither waits on the
 * resolver again nor can a second lookup lead elsewhere (DNS rebinding). TLS schemes keep the
 * name for the certificate check, and rtmp for servers that pick a vhost by it: FFmpeg
 * resolves those again. Returns the URL to open (*@alloc, if set, to av_free), or NULL with
 * the failure recorded. */
static const char *resolved_url(struct worker *w, const char *scheme, char **alloc)
{
	struct source *s = w->s;
	unsigned char bin[16];
	*alloc = NULL;
	if (s->p.is_demo || !s->p.host[0] || inet_pton(AF_INET, s->p.host, bin) == 1 ||
		inet_pton(AF_INET6, s->p.host, bin) == 1)
		return s->url; /* an address: judged from the URL alone before the worker started */

	struct addrinfo *res = resolve(w);
	if (!res)
		return NULL;
	bool ok = true;
	if (s->p.hosts && net_policy_check_host(s->p.hosts, s->p.host) == NET_RESOLVE)
		for (struct addrinfo *a = res; a && ok; a = a->ai_next)
			ok = net_policy_allows_addr(s->p.hosts, a->ai_addr);
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
	int v6 = pick->ai_family == AF_INET6;
	freeaddrinfo(res);
	if (!ok) {
		session_fail(w, CS_HOST_NOT_ALLOWED, 0, "%s resolves to an address this server may "
			"not connect to (see --allow-hosts)", s->display_url);
		return NULL;
	}
	if (strcmp(scheme, "rtsp") && strcmp(scheme, "http"))
		return s->url;

	/* the host starts after "://" and any userinfo (up to the authority's last '@') */
	const char *auth = strstr(s->url, "://");
	if (!auth)
		return s->url;
	auth += 3;
	size_t alen = strcspn(auth, "/?#");
	const char *host = auth;
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			host = auth + i + 1;
	size_t hlen = strlen(s->p.host);
	if (strncasecmp(host, s->p.host, hlen))
		return s->url; /* cannot happen for a URL url_parse accepted */
	*alloc = av_asprintf("%.*s%s%s%s%s", (int)(host - s->url), s->url, v6 ? "[" : "", ip,
		v6 ? "]" : "", host + hlen);
	if (!*alloc)
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: out of memory", s->display_url);
	return *alloc;
}

/* Opens the URL, probes it and opens a decoder for its first video stream. On failure
 * records the error (unless stopping) and returns false; the caller frees. */
static bool open_input(struct worker *w)
{
	struct source *s = w->s;
	AVDictionary *opts = NULL;
	const AVInputFormat *ifmt;
	const AVCodec *codec = NULL;
	char scheme[16];
	int ret;

	if (!url_scheme(s->url, scheme, sizeof(scheme))) {
		session_fail(w, CS_SCHEME_NOT_ALLOWED, 0, "%s: this kind of URL is not allowed",
			s->display_url);
		return false;
	}
	w->is_rtsp = !strcmp(scheme, "rtsp") || !strcmp(scheme, "rtsps");
	w->fmt = avformat_alloc_context();
	if (!w->fmt || build_options(s, scheme, &opts, &ifmt) < 0) {
		av_dict_free(&opts);
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: out of memory", s->display_url);
		return false;
	}
	/* Before avformat_open_input: it is what bounds the connect and handshake. */
	w->fmt->interrupt_callback.callback = interrupt_cb;
	w->fmt->interrupt_callback.opaque = w;

	arm(w, open_timeout(s)); /* the lookup and the open share one deadline */
	char *checked;
	const char *target = resolved_url(w, scheme, &checked);
	if (!target) {
		av_dict_free(&opts);
		return false;
	}
	/* FFmpeg matches schemes case-sensitively ("Rtsp://" fails in the RTSP demuxer). */
	char *url = av_asprintf("%s%s", scheme, target + strlen(scheme));
	av_free(checked);
	ret = url ? avformat_open_input(&w->fmt, url, ifmt, &opts) : AVERROR(ENOMEM);
	av_free(url); /* avformat_open_input frees fmt on failure */
	/* On success opts holds what nobody recognised (say, an option renamed in this FFmpeg
	 * version); on failure it is untouched. */
	const AVDictionaryEntry *left = NULL;
	while (ret >= 0 && (left = av_dict_get(opts, "", left, AV_DICT_IGNORE_SUFFIX)))
		log_debug("source %s: FFmpeg did not use option %s=%s", s->display_url, left->key,
			left->value);
	av_dict_free(&opts);
	if (ret < 0) {
		log_debug("source %s: avformat_open_input: %d", s->display_url, ret);
		if (!atomic_load(&s->stop))
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
			!getenv("CAMSTREAM_NO_SLICE_RELEASE")) {
			w->by_slice = true;
			w->fmt->flags |= AVFMT_FLAG_NOPARSE;
		}
	}
	/* The open deadline covers the probe too. */
	ret = w->by_slice ? 0 : avformat_find_stream_info(w->fmt, NULL);
	if (atomic_load(&s->stop))
		return false;
	if (ret < 0 || w->deadline_hit) {
		log_debug("source %s: avformat_find_stream_info: %d", s->display_url, ret);
		fail_open(w, ret < 0 ? ret : AVERROR_EXIT, "read from");
		return false;
	}

	ret = av_find_best_stream(w->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (ret < 0 || !codec) {
		session_fail(w, CS_UNSUPPORTED_CODEC, 0, ret == AVERROR_STREAM_NOT_FOUND ?
			"%s has no video stream" : "%s: no decoder for its video codec",
			s->display_url);
		return false;
	}
	w->vidx = ret;
	AVStream *st = w->fmt->streams[w->vidx];
	w->dec = avcodec_alloc_context3(codec);
	if (!w->dec || avcodec_parameters_to_context(w->dec, st->codecpar) < 0) {
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: out of memory", s->display_url);
		return false;
	}
	/* Frame threads add a frame of delay each; slice threads add none. */
	w->dec->thread_type = FF_THREAD_SLICE;
	w->dec->thread_count = 2;
	w->dec->flags |= AV_CODEC_FLAG_LOW_DELAY;
	if ((ret = avcodec_open2(w->dec, codec, NULL)) < 0) {
		char e[AV_ERROR_MAX_STRING_SIZE];
		av_strerror(ret, e, sizeof(e));
		session_fail(w, CS_UNSUPPORTED_CODEC, 0, "%s: cannot decode %s: %s", s->display_url,
			avcodec_get_name(st->codecpar->codec_id), e);
		return false;
	}

	AVRational r = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ?
		st->avg_frame_rate : st->r_frame_rate;
	double fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
	/* Guessed rates of 1000 fps and more are timebase artefacts, not frame rates. */
	w->nominal_fps = fps > 0 && fps < 1000;
	source_set_playing(w, avcodec_get_name(st->codecpar->codec_id), st->codecpar->width,
		st->codecpar->height, w->nominal_fps ? fps : 0);
	if (st->codecpar->width > 0)
		log_info("source %s: playing %s %dx%d", s->display_url,
			avcodec_get_name(st->codecpar->codec_id), st->codecpar->width,
			st->codecpar->height);
	else
		log_info("source %s: playing %s", s->display_url,
			avcodec_get_name(st->codecpar->codec_id));
	return true;
}

/* Key pictures only, while every output asks for at most one picture a second and the key
 * pictures come at least that often: skipped pictures cost the decoder next to nothing, and
 * tiles at fps=1 need no more. Checked before each packet goes to the decoder. */
static bool keys_suffice(struct worker *w)
{
	if (w->gop_us <= 0)
		return false; /* not measured yet: no need to ask the outputs */
	int64_t need = source_min_interval_us(w);

	/* no output at all (INT64_MAX) takes nothing: key pictures suffice */
	return need >= 1000000 && w->gop_us - need <= need / 20;
}

/* The one switch between key pictures only and every picture; @why goes to the debug log. */
static void set_keys_only(struct worker *w, bool on, const char *why)
{
	w->keys_only = on;
	w->dec->skip_frame = on ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT;
	log_debug("source %s: %s", w->s->display_url, why);
}

static void choose_pictures(struct worker *w)
{
	if (!w->keys_only && keys_suffice(w))
		set_keys_only(w, true, "decoding key pictures only: no output needs more");
}

/* Measures the key picture interval, and goes back to every picture once it is needed:
 * right after a key picture, so the pictures that follow have what they refer to. */
static void saw_picture(struct worker *w, const AVFrame *pic)
{
	if (!pic->key_frame)
		return;
	int64_t pts = pic->best_effort_timestamp;
	if (pts != AV_NOPTS_VALUE && w->last_key_pts != AV_NOPTS_VALUE && pts > w->last_key_pts)
		w->gop_us = av_rescale_q(pts - w->last_key_pts,
			w->fmt->streams[w->vidx]->time_base, AV_TIME_BASE_Q);
	w->last_key_pts = pts;
	if (w->keys_only && !keys_suffice(w))
		set_keys_only(w, false, "decoding every picture again");
}

/* A worker that keeps up with its camera blocks in av_read_frame between pictures, waiting
 * for the next one; a worker that has fallen behind (a starved CPU, a burst after a stall)
 * finds the data already there. Then the pictures are still decoded, since the next ones
 * refer to them, but not encoded, except one every CATCH_UP_SHOW_US so viewers see movement,
 * until a read has to wait again; and after CATCH_UP_KEYS_US of that the decoder skips ahead
 * to the next key picture. True if @pic is to be skipped. */
#define WAITED_US 2000
#define CATCH_UP_AFTER 3
#define CATCH_UP_SHOW_US 500000
#define CATCH_UP_KEYS_US 1000000

static bool behind(struct worker *w, int64_t now)
{
	bool waited = w->waited_us >= WAITED_US;

	w->waited_us = 0;
	if (waited || !w->measured_frames) {
		w->unwaited = 0;
		w->behind_since = 0;
		return false;
	}
	if (++w->unwaited < CATCH_UP_AFTER)
		return false;
	if (!w->behind_since)
		w->behind_since = now;
	if (now - w->behind_since >= CATCH_UP_KEYS_US && !w->keys_only) {
		/* back to every picture after the next key picture: see saw_picture */
		set_keys_only(w, true, "behind the camera, skipping to the next key picture");
		w->behind_since = now;
	}
	return now - w->last_sent_us < CATCH_UP_SHOW_US;
}

static void got_picture(struct worker *w, const AVFrame *pic)
{
	struct source *s = w->s;
	int64_t wall = clock_wall_us(), now = clock_mono_us();

	saw_picture(w, pic);
	bool late = behind(w, now);

	if (!w->measured_frames++)
		w->first_frame_us = now;
	pthread_mutex_lock(&s->lock);
	s->stats.frames_decoded++;
	s->stats.width = pic->width;
	s->stats.height = pic->height;
	s->stats.last_frame_wall_us = wall;
	if (!w->nominal_fps && now - w->first_frame_us >= 1000000)
		s->stats.fps = (double)(w->measured_frames - 1) * 1e6 /
			(double)(now - w->first_frame_us);
	s->stats.frames_late += late;
	pthread_mutex_unlock(&s->lock);
	if (late)
		return;
	w->last_sent_us = now;
	if (source_pick(w))
		source_deliver(w, pic, wall);
}

/* Hands every picture the decoder has ready to got_picture. */
static void drain_decoder(struct worker *w)
{
	for (;;) {
		int ret = avcodec_receive_frame(w->dec, w->pic);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return;
		if (ret < 0) {
			w->decode_errors++;
			return;
		}
		got_picture(w, w->pic);
		av_frame_unref(w->pic);
	}
}

/* Decodes @pkt (NULL flushes). A damaged packet is counted, never fatal. */
static void decode_packet(struct worker *w, const AVPacket *pkt)
{
	if (pkt)
		choose_pictures(w);
	int ret = avcodec_send_packet(w->dec, pkt);

	if (ret == AVERROR(EAGAIN)) {
		/* The decoder is full: take its pictures, then it accepts the packet. */
		drain_decoder(w);
		ret = avcodec_send_packet(w->dec, pkt);
	}
	if (ret < 0 && ret != AVERROR_EOF) {
		if (!w->decode_errors)
			log_debug("source %s: decode error %d", w->s->display_url, ret);
		w->decode_errors++;
	}
	drain_decoder(w);
}

/* h264_release's hand-over: whole NAL units, as one packet for the decoder. */
static int decode_units(void *arg, const uint8_t *data, size_t len, int64_t pts)
{
	struct worker *w = arg;
	int ret = av_new_packet(w->chunk, (int)len);

	if (ret < 0)
		return ret;
	memcpy(w->chunk->data, data, len);
	w->chunk->pts = w->chunk->dts = pts;
	decode_packet(w, w->chunk);
	av_packet_unref(w->chunk);
	return 0;
}

/* Ends the stream for the decoder: what the slice releaser holds, then the flush. */
static void decode_end(struct worker *w)
{
	if (w->by_slice)
		h264_release_flush(&w->rel, decode_units, w);
	decode_packet(w, NULL);
}

/* FFmpeg 5.1 reports both the end of an RTSP stream (RTCP BYE from the server) and a control
 * connection the server dropped (killed, rebooted, unplugged) as AVERROR_EOF. Only a server
 * that is still there answers a PAUSE: 0 after a BYE, -1 on a dead connection (seen with
 * gst-rtsp-server). A server that is there but refuses the PAUSE counts as lost. */
static bool rtsp_still_there(struct worker *w)
{
	arm(w, CLOSE_TIMEOUT_US);
	return av_read_pause(w->fmt) == 0 && !w->deadline_hit;
}

/* Reads and decodes until stop, the end of the stream or an error. */
static void read_loop(struct worker *w)
{
	struct source *s = w->s;
	bool rearm = true;
	/* A stream that was not probed is still opening until its first picture data: the open
	 * deadline armed in open_input keeps running, as it did over the probe. */
	bool opening = w->by_slice;
	int ret;

	while (!atomic_load(&s->stop)) {
		/* After the deadline fired a packet can still come out: FFmpeg flushes its parsers
		 * when a read fails and reports the failure on the next call. The expired deadline
		 * is kept so that call fails at once. */
		if (rearm && !w->deadline_hit && !opening)
			arm(w, read_timeout(s));
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
			if (atomic_load(&s->stop))
				return;
			log_debug("source %s: av_read_frame: %d", s->display_url, ret);
			av_strerror(ret, e, sizeof(e));
			if (opening && (w->deadline_hit || ret == AVERROR_EXIT ||
				ret == AVERROR(ETIMEDOUT))) {
				fail_open(w, ret, "read from");
			} else if (ret == AVERROR_EOF && (!w->is_rtsp || rtsp_still_there(w))) {
				decode_end(w);
				session_fail(w, CS_SOURCE_ENDED, 1, "%s ended", s->display_url);
			} else if (w->deadline_hit || ret == AVERROR_EXIT ||
				ret == AVERROR(ETIMEDOUT)) {
				session_fail(w, CS_TIMEOUT, 0, "no data from %s for %.0f s",
					s->display_url, (double)read_timeout(s) / 1e6);
			} else {
				session_fail(w, CS_SOURCE_ENDED, 0, "lost the connection to %s (%s)",
					s->display_url, ret == AVERROR_EOF ? "closed by the server" : e);
			}
			return;
		}
		if (w->pkt->stream_index == w->vidx) {
			opening = false;
			pthread_mutex_lock(&s->lock);
			s->stats.packets_received++;
			s->stats.bytes_received += (uint64_t)w->pkt->size;
			pthread_mutex_unlock(&s->lock);
			if (!w->by_slice)
				decode_packet(w, w->pkt);
			else if (h264_release_push(&w->rel, w->pkt->data, (size_t)w->pkt->size,
				w->pkt->pts, decode_units, w) < 0)
				w->decode_errors++;
		}
		av_packet_unref(w->pkt);
	}
}

/* One attempt: open, read until stop, the end or an error, and tear every FFmpeg object
 * down. Returns how long it played (0 if it never did); w->err says why it stopped. */
static int64_t run_session(struct worker *w)
{
	int64_t played = 0;

	w->deadline = 0;
	w->deadline_hit = false;
	w->vidx = -1;
	w->decode_errors = 0;
	w->nominal_fps = false;
	w->measured_frames = 0;
	w->last_key_pts = AV_NOPTS_VALUE;
	w->gop_us = 0;
	w->keys_only = false;
	w->waited_us = 0;
	w->unwaited = 0;
	w->behind_since = 0;
	w->last_sent_us = 0;
	w->err = CS_OK;
	w->clean = 0;
	w->msg[0] = '\0';
	w->by_slice = false;
	h264_release_init(&w->rel);
	w->pkt = av_packet_alloc();
	w->chunk = av_packet_alloc();
	w->pic = av_frame_alloc();
	if (!w->pkt || !w->chunk || !w->pic) {
		session_fail(w, CS_OPEN_FAILED, 0, "cannot open %s: out of memory",
			w->s->display_url);
		goto out;
	}
	if (!open_input(w))
		goto out;
	int64_t t0 = clock_mono_us();
	read_loop(w);
	played = clock_mono_us() - t0;
	if (w->decode_errors)
		log_debug("source %s: %llu packets failed to decode", w->s->display_url,
			(unsigned long long)w->decode_errors);
	if (w->by_slice)
		log_debug("source %s: pictures released on their last slice %llu, %s; %llu bytes "
			"dropped", w->s->display_url, (unsigned long long)w->rel.early_pictures,
			h264_release_early(&w->rel) ? "on" : w->rel.broken ? "off (the stream "
			"broke the pattern)" : "off (pattern not seen)",
			(unsigned long long)w->rel.dropped_bytes);
out:
	avcodec_free_context(&w->dec);
	/* Closing an RTSP session sends TEARDOWN: bound it (stop cuts it short anyway). */
	arm(w, CLOSE_TIMEOUT_US);
	avformat_close_input(&w->fmt); /* also frees a context that was never opened */
	av_frame_free(&w->pic);
	av_packet_free(&w->chunk);
	av_packet_free(&w->pkt);
	h264_release_free(&w->rel);
	return played;
}

void source_av_run(struct worker *w)
{
	struct source *s = w->s;

	for (;;) {
		int64_t played = run_session(w);

		if (atomic_load(&s->stop))
			return;
		if (w->err == CS_OK) /* not reached: a session ends with stop or a reason */
			session_fail(w, CS_SOURCE_ENDED, 0, "%s stopped", s->display_url);
		if (!s->p.reconnect) {
			source_finish(s, w->err, w->clean, "%s", w->msg);
			return;
		}
		if (!source_retry_wait(w, played))
			return;
	}
}
