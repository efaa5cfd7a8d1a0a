/* sdp: see sdp.h */
#include "sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define SDP_MAX_LINE 4096

/* ---- small text helpers over (pointer, length) slices ---- */

struct slice {
	const char *p;
	size_t n;
};

static void why_set(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static bool slice_eq(struct slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static struct slice slice_trim(struct slice s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* The next space-separated word of @s (advanced past it); empty at the end. */
static struct slice slice_word(struct slice *s)
{
	struct slice w;

	while (s->n && s->p[0] == ' ') {
		s->p++;
		s->n--;
	}
	w.p = s->p;
	w.n = 0;
	while (w.n < s->n && s->p[w.n] != ' ')
		w.n++;
	if (w.n) {   /* an empty slice may have no text at all (NULL): not even + 0 */
		s->p += w.n;
		s->n -= w.n;
	}
	return w;
}

/* Copies @s into @dst (@cap bytes) if it fits with its NUL. */
static bool slice_copy(char *dst, size_t cap, struct slice s)
{
	if (s.n >= cap)
		return false;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return true;
}

/* A decimal number of 1..9 digits, at most @max. */
static bool slice_uint(struct slice s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (s.n == 0 || s.n > 9)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (!ascii_is_digit(s.p[i]))
			return false;
		v = v * 10 + (unsigned)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* RFC 8866's token characters: what a mid, a media kind and a proto part may hold. */
static bool is_token_char(char c)
{
	return ascii_is_alnum(c) || (c && strchr("!#$%&'*+-.^_`{|}~", c) != NULL);
}

static bool slice_is_token(struct slice s, bool slash)
{
	if (!s.n)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_token_char(s.p[i]) && !(slash && s.p[i] == '/'))
			return false;
	return true;
}

/* ---- the offer ---- */

struct parse {
	struct sdp_offer *o;
	struct sdp_media *m;      /* the current section, NULL at session level */
	struct sdp_media session; /* session-level ICE/DTLS values, copied down at the end */
	bool session_dir_set, dir_set[SDP_MAX_MEDIA];
	enum sdp_dir session_dir;
	struct slice bundle;      /* the a=group:BUNDLE line's mids, in the offer's text */
	char *why;
	size_t why_len;
};

static struct sdp_codec *codec_of(struct sdp_media *m, unsigned pt)
{
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].pt == (int)pt)
			return &m->codecs[i];
	return NULL;
}

/* The static payload types (RFC 3551) a browser may list without an rtpmap. */
static void codec_defaults(struct sdp_codec *c)
{
	static const struct {
		int pt;
		const char *name;
		unsigned clock;
	} known[] = {
		{ 0, "PCMU", 8000 }, { 8, "PCMA", 8000 }, { 9, "G722", 8000 }, { 13, "CN", 8000 },
	};

	c->channels = 1;
	c->apt = -1;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].pt == c->pt) {
			snprintf(c->name, sizeof(c->name), "%s", known[i].name);
			c->clock = known[i].clock;
		}
}

/* "m=<kind> <port>[/<n>] <proto> <fmt> ..." */
static int parse_m(struct parse *ps, struct slice v)
{
	struct sdp_offer *o = ps->o;
	struct slice kind = slice_word(&v), port = slice_word(&v), proto = slice_word(&v);
	struct sdp_media *m;
	const char *slash;
	unsigned n;

	if (o->n_media == SDP_MAX_MEDIA) {
		why_set(ps->why, ps->why_len, "more than %d media sections", SDP_MAX_MEDIA);
		return -EINVAL;
	}
	m = &o->media[o->n_media];
	memset(m, 0, sizeof(*m));
	if (!slice_is_token(kind, false) || !slice_copy(m->kind, sizeof(m->kind), kind))
		goto bad;
	slash = memchr(port.p, '/', port.n);
	if (slash) {
		struct slice count = { slash + 1, port.n - (size_t)(slash + 1 - port.p) };
		port.n = (size_t)(slash - port.p);
		if (!slice_uint(count, 65535, &n))
			goto bad;
	}
	if (!slice_uint(port, 65535, &m->port))
		goto bad;
	if (!slice_is_token(proto, true) || !slice_copy(m->proto, sizeof(m->proto), proto))
		goto bad;
	for (struct slice f = slice_word(&v); f.n; f = slice_word(&v)) {
		if (!m->first_fmt[0] && !slice_copy(m->first_fmt, sizeof(m->first_fmt), f))
			goto bad;
		if (!slice_is_token(f, false))
			goto bad;
		if (!slice_uint(f, 127, &n)) {
			if (strstr(m->proto, "RTP"))
				goto bad; /* an RTP profile's formats are payload types */
			continue;
		}
		if (codec_of(m, n) || m->n_codecs == SDP_MAX_CODECS)
			continue;
		struct sdp_codec *c = &m->codecs[m->n_codecs++];
		c->pt = (int)n;
		codec_defaults(c);
	}
	if (!m->first_fmt[0])
		goto bad;
	o->n_media++;
	ps->m = m;
	return 0;
bad:
	why_set(ps->why, ps->why_len, "an m= line that does not parse");
	return -EINVAL;
}

/* "<pt> <rest>" of rtpmap, fmtp and rtcp-fb: the codec, NULL when the m= line does not list
 * it (such lines are ignored). @all is set for rtcp-fb's "*". */
static struct sdp_codec *attr_codec(struct parse *ps, struct slice *v, bool *all)
{
	struct slice pt = slice_word(v);
	unsigned n;

	*v = slice_trim(*v);
	if (all)
		*all = slice_eq(pt, "*");
	if (!ps->m || !slice_uint(pt, 127, &n))
		return NULL;
	return codec_of(ps->m, n);
}

/* "<name>/<clock>[/<channels>]" */
static int parse_rtpmap(struct parse *ps, struct slice v)
{
	struct sdp_codec *c = attr_codec(ps, &v, NULL);
	const char *s1, *s2;
	struct slice name, clock, ch = { NULL, 0 };

	if (!c)
		return 0;
	s1 = memchr(v.p, '/', v.n);
	if (!s1)
		goto bad;
	name = (struct slice){ v.p, (size_t)(s1 - v.p) };
	clock = (struct slice){ s1 + 1, v.n - name.n - 1 };
	s2 = memchr(clock.p, '/', clock.n);
	if (s2) {
		ch = (struct slice){ s2 + 1, clock.n - (size_t)(s2 + 1 - clock.p) };
		clock.n = (size_t)(s2 - clock.p);
	}
	if (!slice_is_token(name, false) || !slice_copy(c->name, sizeof(c->name), name) ||
		!slice_uint(clock, 1000000000u, &c->clock) ||
		(s2 && !slice_uint(ch, 255, &c->channels)))
		goto bad;
	return 0;
bad:
	why_set(ps->why, ps->why_len, "an a=rtpmap that does not parse");
	return -EINVAL;
}

/* The value of parameter @key in an fmtp text ("a=1;b=2"), key case-insensitive. */
static bool fmtp_param(const char *fmtp, const char *key, struct slice *val)
{
	struct slice rest = { fmtp, strlen(fmtp) };

	while (rest.n) {
		const char *semi = memchr(rest.p, ';', rest.n);
		struct slice item = { rest.p, semi ? (size_t)(semi - rest.p) : rest.n };
		rest.p += item.n + (semi ? 1 : 0);
		rest.n -= item.n + (semi ? 1 : 0);
		item = slice_trim(item);
		const char *eq = memchr(item.p, '=', item.n);
		if (!eq)
			continue;
		struct slice k = slice_trim((struct slice){ item.p, (size_t)(eq - item.p) });
		if (str_eq_nocase(k.p, k.n, key)) {
			*val = slice_trim((struct slice){ eq + 1, item.n - (size_t)(eq + 1 - item.p) });
			return true;
		}
	}
	return false;
}

static int parse_fmtp(struct parse *ps, struct slice v)
{
	struct sdp_codec *c = attr_codec(ps, &v, NULL);
	struct slice apt;
	unsigned n;

	if (!c)
		return 0;
	if (!slice_copy(c->fmtp, sizeof(c->fmtp), v)) {
		why_set(ps->why, ps->why_len, "an a=fmtp longer than %zu bytes",
			sizeof(c->fmtp) - 1);
		return -EINVAL;
	}
	c->apt = -1;
	if (fmtp_param(c->fmtp, "apt", &apt) && slice_uint(apt, 127, &n))
		c->apt = (int)n;
	return 0;
}

static void parse_rtcp_fb(struct parse *ps, struct slice v)
{
	bool all = false;
	struct sdp_codec *c = attr_codec(ps, &v, &all);
	struct slice type = slice_word(&v), param = slice_word(&v);
	bool nack = slice_eq(type, "nack") && !param.n;
	bool pli = slice_eq(type, "nack") && slice_eq(param, "pli");
	bool fir = slice_eq(type, "ccm") && slice_eq(param, "fir");

	if (!ps->m || (!c && !all))
		return;
	for (size_t i = 0; i < ps->m->n_codecs; i++) {
		struct sdp_codec *k = &ps->m->codecs[i];
		if (!all && k != c)
			continue;
		k->nack |= nack;
		k->pli |= pli;
		k->fir |= fir;
	}
}

/* Copies a value into a field of the current section, or of the session part. */
static int put_field(struct parse *ps, char *dst, size_t cap, struct slice v, const char *what,
	bool first_only)
{
	if (first_only && dst[0])
		return 0;
	if (!slice_copy(dst, cap, v)) {
		why_set(ps->why, ps->why_len, "a=%s longer than %zu bytes", what, cap - 1);
		return -EINVAL;
	}
	return 0;
}

#define FIELD(ps, f) ((ps)->m ? (ps)->m->f : (ps)->session.f)

static void set_dir(struct parse *ps, enum sdp_dir d)
{
	if (ps->m) {
		ps->m->dir = d;
		ps->dir_set[ps->m - ps->o->media] = true;
	} else {
		ps->session_dir = d;
		ps->session_dir_set = true;
	}
}

/* "a=extmap:N[/direction] URI [attributes]": only the playout-delay extension is kept. */
static void parse_extmap(struct sdp_media *m, struct slice v)
{
	size_t i = 0;
	int id = 0;
	while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9' && id < 1000)
		id = id * 10 + (v.p[i++] - '0');
	if (i == 0 || id < 1 || id > 14)   /* one-byte header ids only */
		return;
	while (i < v.n && v.p[i] != ' ')
		i++;                       /* a direction */
	while (i < v.n && v.p[i] == ' ')
		i++;
	size_t start = i;
	while (i < v.n && v.p[i] != ' ')
		i++;
	struct slice uri = { v.p + start, i - start };
	if (slice_eq(uri, SDP_PLAYOUT_DELAY_URI))
		m->playout_delay_id = id;
}

static int parse_attr(struct parse *ps, struct slice a)
{
	const char *colon = memchr(a.p, ':', a.n);
	struct slice name = { a.p, colon ? (size_t)(colon - a.p) : a.n };
	struct slice v = { colon ? colon + 1 : a.p + a.n, colon ? a.n - name.n - 1 : 0 };

	v = slice_trim(v);
	if (slice_eq(name, "rtpmap"))
		return parse_rtpmap(ps, v);
	if (slice_eq(name, "fmtp"))
		return parse_fmtp(ps, v);
	if (slice_eq(name, "rtcp-fb")) {
		parse_rtcp_fb(ps, v);
		return 0;
	}
	if (slice_eq(name, "ice-ufrag"))
		return put_field(ps, FIELD(ps, ice_ufrag), sizeof(ps->session.ice_ufrag), v,
			"ice-ufrag", false);
	if (slice_eq(name, "ice-pwd"))
		return put_field(ps, FIELD(ps, ice_pwd), sizeof(ps->session.ice_pwd), v, "ice-pwd",
			false);
	if (slice_eq(name, "fingerprint"))
		return put_field(ps, FIELD(ps, fingerprint), sizeof(ps->session.fingerprint), v,
			"fingerprint", true);
	if (slice_eq(name, "setup"))
		return put_field(ps, FIELD(ps, setup), sizeof(ps->session.setup), v, "setup",
			false);
	if (slice_eq(name, "sendrecv"))
		set_dir(ps, SDP_SENDRECV);
	else if (slice_eq(name, "sendonly"))
		set_dir(ps, SDP_SENDONLY);
	else if (slice_eq(name, "recvonly"))
		set_dir(ps, SDP_RECVONLY);
	else if (slice_eq(name, "inactive"))
		set_dir(ps, SDP_INACTIVE);
	else if (slice_eq(name, "ice-lite") && !ps->m)
		ps->o->ice_lite = true;
	else if (slice_eq(name, "rtcp-mux") && ps->m)
		ps->m->rtcp_mux = true;
	else if (slice_eq(name, "bundle-only") && ps->m)
		ps->m->bundle_only = true;
	else if (slice_eq(name, "group") && !ps->m) {
		struct slice sem = slice_word(&v);
		if (slice_eq(sem, "BUNDLE") && !ps->o->bundle) {   /* the first one */
			ps->o->bundle = true;
			ps->bundle = slice_trim(v);
		}
	}
	else if (slice_eq(name, "extmap") && ps->m)
		parse_extmap(ps->m, v);
	else if (slice_eq(name, "mid") && ps->m) {
		if (!slice_is_token(v, false) || !slice_copy(ps->m->mid, sizeof(ps->m->mid), v)) {
			why_set(ps->why, ps->why_len, "an a=mid that is not a token of at most %zu bytes",
				sizeof(ps->m->mid) - 1);
			return -EINVAL;
		}
	}
	return 0;
}

/* The session part's values where a section has none of its own. */
static void copy_down(struct parse *ps)
{
	for (size_t i = 0; i < ps->o->n_media; i++) {
		struct sdp_media *m = &ps->o->media[i];
		if (!m->ice_ufrag[0])
			memcpy(m->ice_ufrag, ps->session.ice_ufrag, sizeof(m->ice_ufrag));
		if (!m->ice_pwd[0])
			memcpy(m->ice_pwd, ps->session.ice_pwd, sizeof(m->ice_pwd));
		if (!m->fingerprint[0])
			memcpy(m->fingerprint, ps->session.fingerprint, sizeof(m->fingerprint));
		if (!m->setup[0])
			memcpy(m->setup, ps->session.setup, sizeof(m->setup));
		if (!ps->dir_set[i] && ps->session_dir_set)
			m->dir = ps->session_dir;
		struct slice mids = ps->bundle;
		for (struct slice w = slice_word(&mids); w.n && m->mid[0]; w = slice_word(&mids))
			if (slice_eq(w, m->mid))
				m->bundled = true;
	}
	/* a bundle-only section leaves its transport to the bundle (RFC 8829 §5.2.1): it takes
	 * the ICE, DTLS and rtcp-mux values of the first bundled section that has a port */
	const struct sdp_media *tag = NULL;
	for (size_t i = 0; i < ps->o->n_media && !tag; i++)
		if (ps->o->media[i].bundled && ps->o->media[i].port)
			tag = &ps->o->media[i];
	for (size_t i = 0; tag && i < ps->o->n_media; i++) {
		struct sdp_media *m = &ps->o->media[i];
		if (!m->bundle_only || !m->bundled)
			continue;
		if (!m->ice_ufrag[0])
			memcpy(m->ice_ufrag, tag->ice_ufrag, sizeof(m->ice_ufrag));
		if (!m->ice_pwd[0])
			memcpy(m->ice_pwd, tag->ice_pwd, sizeof(m->ice_pwd));
		if (!m->fingerprint[0])
			memcpy(m->fingerprint, tag->fingerprint, sizeof(m->fingerprint));
		if (!m->setup[0])
			memcpy(m->setup, tag->setup, sizeof(m->setup));
		m->rtcp_mux |= tag->rtcp_mux;
	}
}

bool sdp_media_offered(const struct sdp_media *m)
{
	return m->port || (m->bundle_only && m->bundled);
}

bool sdp_media_receives(const struct sdp_media *m)
{
	return m->dir == SDP_SENDRECV || m->dir == SDP_RECVONLY;
}

int sdp_parse_offer(const char *text, size_t len, struct sdp_offer *o, char *why,
	size_t why_len)
{
	struct parse ps = { .o = o, .why = why, .why_len = why_len };
	size_t at = 0, lineno = 0;

	memset(o, 0, sizeof(*o));
	why_set(why, why_len, "%s", "");
	if (len > SDP_MAX_OFFER) {
		why_set(why, why_len, "longer than %d bytes", SDP_MAX_OFFER);
		return -EINVAL;
	}
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		struct slice line = { text + at, nl ? (size_t)(nl - (text + at)) : len - at };
		at += line.n + (nl ? 1 : 0);
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		if (line.n > SDP_MAX_LINE) {
			why_set(why, why_len, "a line longer than %d bytes", SDP_MAX_LINE);
			return -EINVAL;
		}
		if (!line.n)
			continue; /* a blank line (a trailing one, mostly) says nothing */
		if (memchr(line.p, '\0', line.n) || memchr(line.p, '\r', line.n)) {
			why_set(why, why_len, "a control byte inside a line");
			return -EINVAL;
		}
		if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z') {
			why_set(why, why_len, "a line that is not x=...");
			return -EINVAL;
		}
		if (lineno++ == 0 && !slice_eq(line, "v=0")) {
			why_set(why, why_len, "no v=0 first");
			return -EINVAL;
		}
		struct slice v = { line.p + 2, line.n - 2 };
		int r = 0;
		if (line.p[0] == 'm')
			r = parse_m(&ps, v);
		else if (line.p[0] == 'a')
			r = parse_attr(&ps, v);
		if (r)
			return r;
	}
	if (!lineno) {
		why_set(why, why_len, "no v=0 first");
		return -EINVAL;
	}
	copy_down(&ps);
	return 0;
}

/* ---- H.264 choice ---- */

/* The profile-level-id of an H.264 codec in packetization mode 1, false if it is neither.
 * Without the parameter, RFC 6184 §8.1 says 420010 (baseline, level 1). */
static bool h264_mode1(const struct sdp_codec *c, uint8_t pli[3])
{
	struct slice v;

	/* H.264 over RTP runs at 90 kHz (RFC 6184): another clock is not a codec we can send */
	if (!str_eq_nocase(c->name, strlen(c->name), "H264") || c->clock != 90000)
		return false;
	if (!fmtp_param(c->fmtp, "packetization-mode", &v) || !slice_eq(v, "1"))
		return false;
	pli[0] = 0x42;
	pli[1] = 0x00;
	pli[2] = 0x10;
	if (fmtp_param(c->fmtp, "profile-level-id", &v)) {
		if (v.n != 6)
			return false;
		for (int i = 0; i < 3; i++) {
			int hi = ascii_hex_val(v.p[2 * i]), lo = ascii_hex_val(v.p[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return false;
			pli[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	return true;
}

int sdp_pick_h264(const struct sdp_media *m, const uint8_t profile_iop[3])
{
	uint8_t pli[3];
	bool stream_cb = (profile_iop[0] == 0x42 || profile_iop[0] == 0x4d) &&
		(profile_iop[1] & 0x40);
	int cb = -1, first = -1;

	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct sdp_codec *c = &m->codecs[i];
		if (!h264_mode1(c, pli))
			continue;
		if (pli[0] == profile_iop[0] && pli[1] == profile_iop[1])
			return c->pt;
		if (cb < 0 && stream_cb && pli[0] == 0x42 && (pli[1] & 0x40))
			cb = c->pt;
		if (first < 0)
			first = c->pt;
	}
	return cb >= 0 ? cb : first;
}

bool sdp_h264_fmtp(const struct sdp_media *m, int pt, uint8_t level_idc, char *out,
	size_t cap)
{
	static const uint8_t levels[] = { 9, 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42,
		50, 51, 52 };
	uint8_t pli[3];
	int n;

	for (size_t i = 0; i < m->n_codecs; i++) {
		if (m->codecs[i].pt != pt || !h264_mode1(&m->codecs[i], pli))
			continue;
		if (memchr(levels, level_idc, sizeof(levels)))
			pli[2] = level_idc;
		n = snprintf(out, cap, "level-asymmetry-allowed=1;packetization-mode=1;"
			"profile-level-id=%02x%02x%02x", pli[0], pli[1], pli[2]);
		return n > 0 && (size_t)n < cap;
	}
	return false;
}

int sdp_pick_codec(const struct sdp_media *m, const char *name, unsigned clock)
{
	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct sdp_codec *c = &m->codecs[i];
		if (c->clock == clock && str_eq_nocase(c->name, strlen(c->name), name) &&
			strlen(c->name) == strlen(name))
			return c->pt;
	}
	return -1;
}

/* ---- the answer ---- */

/* A value written into the answer as is: printable, without spaces unless @spaces. */
static bool plain(const char *s, bool spaces)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			if (!(spaces && *s == ' '))
				return false;
	return true;
}

static const char *addr_family(const char *host)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, host, bin) == 1)
		return "IP4";
	if (inet_pton(AF_INET6, host, bin) == 1)
		return "IP6";
	return NULL;
}

/* The offered codec @pt, if the offer named it (an rtpmap, or a static type we know). */
static const struct sdp_codec *answer_codec(const struct sdp_media *m, int pt)
{
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].pt == pt && m->codecs[i].name[0] && m->codecs[i].clock)
			return &m->codecs[i];
	return NULL;
}

static void put_rtpmap(struct strbuf *out, const struct sdp_codec *c)
{
	if (c->channels > 1)
		sb_printf(out, "a=rtpmap:%d %s/%u/%u\r\n", c->pt, c->name, c->clock, c->channels);
	else
		sb_printf(out, "a=rtpmap:%d %s/%u\r\n", c->pt, c->name, c->clock);
}

static void put_accepted(struct strbuf *out, const struct sdp_media *m,
	const struct sdp_answer_media *am, const struct sdp_codec *c, const struct sdp_answer *a)
{
	bool video = strcmp(m->kind, "video") == 0;

	sb_printf(out, "m=%s %u %s %d\r\n", m->kind, a->port, m->proto, am->pt);
	sb_printf(out, "c=IN %s %s\r\n", addr_family(a->hosts[0]), a->hosts[0]);
	sb_printf(out, "a=mid:%s\r\n", m->mid);
	sb_printf(out, "a=%s\r\n", am->sending ? "sendonly" : "inactive");
	sb_printf(out, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", a->ice_ufrag, a->ice_pwd);
	sb_printf(out, "a=fingerprint:%s\r\na=setup:passive\r\na=rtcp-mux\r\n", a->fingerprint);
	put_rtpmap(out, c);
	if (am->fmtp[0])
		sb_printf(out, "a=fmtp:%d %s\r\n", c->pt, am->fmtp);
	if (video && c->nack)
		sb_printf(out, "a=rtcp-fb:%d nack\r\n", c->pt);
	if (video && c->pli)
		sb_printf(out, "a=rtcp-fb:%d nack pli\r\n", c->pt);
	if (video && c->fir)
		sb_printf(out, "a=rtcp-fb:%d ccm fir\r\n", c->pt);
	if (am->playout_delay_id > 0 && am->playout_delay_id <= 14)
		sb_printf(out, "a=extmap:%d %s\r\n", am->playout_delay_id, SDP_PLAYOUT_DELAY_URI);
	if (am->sending) {
		sb_printf(out, "a=msid:%s %s-%s\r\n", a->stream_id, m->kind, m->mid);
		sb_printf(out, "a=ssrc:%" PRIu32 " cname:%s\r\n", am->ssrc, a->cname);
	}
	for (size_t h = 0; h < a->n_hosts; h++)
		sb_printf(out, "a=candidate:%zu 1 udp %zu %s %u typ host\r\n", h + 1,
			(size_t)2130706431u - h, a->hosts[h], a->port);
	sb_puts(out, "a=end-of-candidates\r\n");
}

static void put_rejected(struct strbuf *out, const struct sdp_media *m,
	const struct sdp_answer *a)
{
	sb_printf(out, "m=%s 0 %s %s\r\n", m->kind, m->proto, m->first_fmt);
	sb_printf(out, "c=IN %s %s\r\n", addr_family(a->hosts[0]), a->hosts[0]);
	if (m->mid[0])
		sb_printf(out, "a=mid:%s\r\n", m->mid);
	sb_puts(out, "a=inactive\r\n");
	sb_printf(out, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", a->ice_ufrag, a->ice_pwd);
	sb_printf(out, "a=fingerprint:%s\r\na=setup:passive\r\n", a->fingerprint);
	if (!strstr(m->proto, "RTP"))
		return;
	sb_puts(out, "a=rtcp-mux\r\n");
	if (m->n_codecs && m->codecs[0].name[0])
		put_rtpmap(out, &m->codecs[0]);
}

int sdp_build_answer(const struct sdp_offer *o, const struct sdp_answer *a,
	struct strbuf *out)
{
	size_t accepted = 0;
	bool sending = false;

	if (!a->n_hosts || !a->hosts || a->port == 0 || a->port > 65535 || !a->ice_ufrag[0] ||
		!a->ice_pwd[0] || !a->fingerprint[0] || !plain(a->ice_ufrag, false) ||
		!plain(a->ice_pwd, false) || !plain(a->fingerprint, true) ||
		!plain(a->cname, false) || !plain(a->stream_id, false))
		return -EINVAL;
	for (size_t h = 0; h < a->n_hosts; h++)
		if (!a->hosts[h] || !addr_family(a->hosts[h]))
			return -EINVAL;
	for (size_t i = 0; i < o->n_media; i++) {
		const struct sdp_answer_media *am = &a->media[i];
		if (!am->accept)
			continue;
		if (!o->media[i].mid[0] || !answer_codec(&o->media[i], am->pt) ||
			!plain(am->fmtp, false))
			return -EINVAL;
		if (am->sending && (!a->cname[0] || !a->stream_id[0]))
			return -EINVAL;
		accepted++;
		sending |= am->sending;
	}
	if (!accepted)
		return -EINVAL;

	sb_printf(out, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
		a->session_id);
	sb_puts(out, "a=ice-lite\r\n");
	if (o->bundle) {
		sb_puts(out, "a=group:BUNDLE");
		for (size_t i = 0; i < o->n_media; i++)
			if (a->media[i].accept)
				sb_printf(out, " %s", o->media[i].mid);
		sb_puts(out, "\r\n");
	}
	if (sending)
		sb_printf(out, "a=msid-semantic:WMS %s\r\n", a->stream_id);
	for (size_t i = 0; i < o->n_media; i++) {
		const struct sdp_media *m = &o->media[i];
		const struct sdp_answer_media *am = &a->media[i];
		if (am->accept) {
			put_accepted(out, m, am, answer_codec(m, am->pt), a);
			continue;
		}
		put_rejected(out, m, a);
	}
	return out->failed ? -ENOMEM : 0;
}

bool sdp_parse_fingerprint(const char *text, uint8_t digest[32])
{
	const char *sp = strchr(text, ' ');

	if (!sp || !str_eq_nocase(text, (size_t)(sp - text), "sha-256"))
		return false;
	while (*sp == ' ')
		sp++;
	if (strlen(sp) != 95)
		return false;
	for (int i = 0; i < 32; i++) {
		int hi = ascii_hex_val(sp[3 * i]), lo = ascii_hex_val(sp[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 31 && sp[3 * i + 2] != ':'))
			return false;
		digest[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
