/* onvif_xml: see onvif_xml.h.
 *
 * How a document is read: a parser context of its own per call (libxml2's contexts are not
 * shared between threads), errors and warnings silenced on that context (nothing reaches
 * stderr), no network, no entity substitution, no DTD loading. The SAX callback that sees a
 * DOCTYPE stops the parser on the spot, so not even an internal subset is read: entity
 * declarations never exist, and a billion-laughs document costs no more than its bytes. The
 * tree that remains is walked by local names only. */
#include "onvif_xml.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "text.h"

#define QUOTE_MAX 64 /* bytes of the document a message may quote */
#define NS_MEDIA "http://www.onvif.org/ver10/media/wsdl"
#define NS_MEDIA2 "http://www.onvif.org/ver20/media/wsdl"

void onvif_xml_init(void)
{
	xmlInitParser();
}

void onvif_xml_cleanup(void)
{
	xmlCleanupParser();
}

/* ---- reading a document ---- */

struct parse_state {
	bool dtd; /* a DOCTYPE was seen: the parser was stopped there */
};

static void quiet_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static void stop_at_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
	const xmlChar *sys_id)
{
	xmlParserCtxtPtr c = ctx;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	((struct parse_state *)c->_private)->dtd = true;
	xmlStopParser(c);
}

/* @xml as a tree (the caller frees it with xmlFreeDoc), or an error saying why not. */
static enum cs_err doc_read(const char *xml, size_t len, xmlDocPtr *out, struct cs_error *err)
{
	struct parse_state st = { false };
	xmlParserCtxtPtr c;
	xmlDocPtr doc;
	bool well_formed;

	*out = NULL;
	if (len > ONVIF_XML_MAX)
		return cs_fail(err, CS_OPEN_FAILED, "the device's answer is larger than 1 MiB: refused");
	if (!xml || len == 0)
		return cs_fail(err, CS_OPEN_FAILED, "the device's answer is empty");
	c = xmlCreateMemoryParserCtxt(xml, (int)len);
	if (!c)
		return cs_fail_oom(err);
	/* NOERROR/NOWARNING drop the unstructured channels; serror catches the structured one
	 * before libxml2 would fall back to its global handler. */
	xmlCtxtUseOptions(c, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	c->sax->serror = quiet_error;
	c->sax->internalSubset = stop_at_dtd;
	c->sax->externalSubset = NULL;
	c->vctxt.error = NULL;
	c->vctxt.warning = NULL;
	c->_private = &st;
	xmlParseDocument(c);
	doc = c->myDoc;
	c->myDoc = NULL;
	well_formed = c->wellFormed;
	xmlFreeParserCtxt(c);

	if (st.dtd || (doc && (doc->intSubset || doc->extSubset))) {
		xmlFreeDoc(doc);
		return cs_fail(err, CS_OPEN_FAILED, "the device's answer has a DTD: refused");
	}
	if (!well_formed || !doc || !xmlDocGetRootElement(doc)) {
		xmlFreeDoc(doc);
		return cs_fail(err, CS_OPEN_FAILED, "the device's answer is not well-formed XML");
	}
	*out = doc;
	return CS_OK;
}

/* ---- walking the tree by local names ---- */

static bool is_elem(const xmlNode *n, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0;
}

/* The first child element of @n named @local (NULL-tolerant). */
static xmlNode *child(const xmlNode *n, const char *local)
{
	if (!n)
		return NULL;
	for (xmlNode *k = n->children; k; k = k->next)
		if (is_elem(k, local))
			return k;
	return NULL;
}

/* The next element after @from (itself excluded), in document order, that is named @local
 * and lies under @top; NULL when there is none. No recursion: depth costs nothing. */
static xmlNode *find_next(const xmlNode *top, const xmlNode *from, const char *local)
{
	const xmlNode *n = from;

	for (;;) {
		if (n->children && n->type == XML_ELEMENT_NODE) {
			n = n->children;
		} else {
			while (n != top && !n->next)
				n = n->parent;
			if (n == top)
				return NULL;
			n = n->next;
		}
		if (is_elem(n, local))
			return (xmlNode *)n;
	}
}

static xmlNode *find(const xmlNode *top, const char *local)
{
	return top ? find_next(top, top, local) : NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The text of @n (its descendants' text, CDATA included), trimmed, into @out (@cap bytes,
 * cut at a UTF-8 boundary). Returns the length the whole trimmed text had (0 if @n is NULL),
 * so a caller can tell a cut value; "" in @out then too if memory ran out. */
static size_t text_of(const xmlNode *n, char *out, size_t cap)
{
	xmlChar *t;
	const char *s;
	size_t len;

	out[0] = '\0';
	if (!n)
		return 0;
	t = xmlNodeGetContent(n);
	if (!t)
		return 0;
	s = (const char *)t;
	while (is_space(*s))
		s++;
	len = strlen(s);
	while (len && is_space(s[len - 1]))
		len--;
	if (len < cap) {
		memcpy(out, s, len);
		out[len] = '\0';
	} else {
		/* str_copy cuts at a character boundary; the trimmed tail is past the cut anyway */
		str_copy(out, cap, s);
	}
	xmlFree(t);
	return len;
}

/* A child element's text, or else the attribute of that name (devices use both). */
static void field_of(const xmlNode *n, const char *local, char *out, size_t cap)
{
	xmlChar *a;

	out[0] = '\0';
	if (!n)
		return;
	if (child(n, local)) {
		text_of(child(n, local), out, cap);
		return;
	}
	a = xmlGetNoNsProp(n, (const xmlChar *)local);
	if (!a)
		return;
	const char *s = (const char *)a;
	while (is_space(*s))
		s++;
	size_t len = str_copy(out, cap, s);
	while (len && is_space(out[len - 1]))
		out[--len] = '\0';
	xmlFree(a);
}

/* A whole number 0..@max written in decimal, else -1. */
static long number_of(const char *s, long max)
{
	char *end;
	long v;

	if (!ascii_is_digit(s[0]) && !(s[0] == '+' && ascii_is_digit(s[1])))
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > max)
		return -1;
	return v;
}

/* ---- the envelope, faults and the response element ---- */

/* The value's local part ("ter:NotAuthorized" -> "NotAuthorized"). */
static const char *local_part(const char *qname)
{
	const char *c = strrchr(qname, ':');
	return c ? c + 1 : qname;
}

static bool auth_code(const char *qname)
{
	const char *l = local_part(qname);
	return str_eq_nocase(l, strlen(l), "NotAuthorized") ||
		str_eq_nocase(l, strlen(l), "FailedAuthentication");
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strlen(hay) >= n && str_eq_nocase(hay, n, needle))
			return true;
	return false;
}

/* @in as at most QUOTE_MAX bytes of one line for a message (control bytes as spaces). */
static void quote(const char *in, char *out, size_t cap)
{
	char tmp[QUOTE_MAX + 1];

	str_copy(tmp, sizeof(tmp), in);
	for (char *p = tmp; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	str_copy(out, cap, tmp);
}

/* The fault in @body, if there is one, as an error; CS_OK if none. SOAP 1.2 (Code/Value,
 * Subcode/Value at any depth, Reason/Text) and SOAP 1.1 (faultcode, faultstring). */
static enum cs_err fault_check(const xmlNode *body, struct cs_error *err)
{
	const xmlNode *f = child(body, "Fault");
	char v[ONVIF_STR], reason[256] = "", code[ONVIF_STR] = "", q[QUOTE_MAX + 1];
	bool auth = false;

	if (!f)
		return CS_OK;
	/* every Value under Code: the code and its nested subcodes */
	for (const xmlNode *c = child(f, "Code"), *val = c; val; ) {
		val = find_next(c, val, "Value");
		if (!val)
			break;
		text_of(val, v, sizeof(v));
		auth = auth || auth_code(v);
		if (v[0]) /* subcodes come after their code: the last is the most specific */
			str_copy(code, sizeof(code), v);
	}
	if (child(f, "faultcode")) {
		text_of(child(f, "faultcode"), v, sizeof(v));
		auth = auth || auth_code(v);
		str_copy(code, sizeof(code), v);
	}
	text_of(child(child(f, "Reason"), "Text"), reason, sizeof(reason));
	if (!reason[0])
		text_of(child(f, "faultstring"), reason, sizeof(reason));
	auth = auth || contains_nocase(reason, "not authorized") ||
		contains_nocase(reason, "unauthorized");
	quote(reason[0] ? reason : code[0] ? code : "(no reason given)", q, sizeof(q));
	if (auth)
		return cs_fail(err, CS_UNAUTHORIZED,
			"the device refused the credentials (SOAP fault: %s)", q);
	return cs_fail(err, CS_OPEN_FAILED, "the device answered a SOAP fault: %s", q);
}

/* Reads @xml, checks it is a SOAP envelope without a fault and finds @response in its Body.
 * On CS_OK the caller owns *@doc (xmlFreeDoc); on an error *@doc is NULL. */
static enum cs_err answer_read(const char *xml, size_t len, const char *response, xmlDocPtr *doc,
	xmlNode **resp, struct cs_error *err)
{
	xmlNode *root, *body;
	enum cs_err e;

	*resp = NULL;
	e = doc_read(xml, len, doc, err);
	if (e)
		return e;
	root = xmlDocGetRootElement(*doc);
	body = is_elem(root, "Envelope") ? child(root, "Body") : NULL;
	if (!body) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's answer is not a SOAP envelope");
		goto fail;
	}
	e = fault_check(body, err);
	if (e)
		goto fail;
	*resp = find(body, response);
	if (!*resp) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's answer has no %s", response);
		goto fail;
	}
	return CS_OK;
fail:
	xmlFreeDoc(*doc);
	*doc = NULL;
	return e;
}

/* ---- GetSystemDateAndTime ---- */

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;                                     /* 0..399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365, from March 1 */
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int month_days(long y, long m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

enum cs_err onvif_parse_time(const char *xml, size_t len, int64_t *utc_s, struct cs_error *err)
{
	static const char *const names[6] = { "Year", "Month", "Day", "Hour", "Minute", "Second" };
	static const long max[6] = { 9999, 12, 31, 23, 59, 60 };
	xmlDocPtr doc;
	xmlNode *resp, *sdt, *dt;
	long v[6];
	char t[32];
	enum cs_err e;

	*utc_s = 0;
	e = answer_read(xml, len, "GetSystemDateAndTimeResponse", &doc, &resp, err);
	if (e)
		return e;
	sdt = child(resp, "SystemDateAndTime");
	dt = child(sdt, "UTCDateTime");
	if (!dt)
		dt = child(sdt, "LocalDateTime");
	if (!dt) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's answer has no UTCDateTime");
		goto out;
	}
	for (int i = 0; i < 6; i++) {
		field_of(child(dt, i < 3 ? "Date" : "Time"), names[i], t, sizeof(t));
		v[i] = number_of(t, max[i]);
		if (v[i] < 0 || (i < 3 && v[i] == 0) || (i == 0 && v[i] < 1970)) {
			e = cs_fail(err, CS_OPEN_FAILED, "the device's date and time have no valid %s",
				names[i]);
			goto out;
		}
	}
	if (v[2] > month_days(v[0], v[1])) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's date and time have no valid Day");
		goto out;
	}
	*utc_s = days_from_civil(v[0], (int)v[1], (int)v[2]) * 86400 + v[3] * 3600 + v[4] * 60 +
		v[5];
out:
	xmlFreeDoc(doc);
	return e;
}

/* ---- GetDeviceInformation ---- */

enum cs_err onvif_parse_device_info(const char *xml, size_t len, struct onvif_device_info *out,
	struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp;
	enum cs_err e;

	memset(out, 0, sizeof(*out));
	e = answer_read(xml, len, "GetDeviceInformationResponse", &doc, &resp, err);
	if (e)
		return e;
	text_of(child(resp, "Manufacturer"), out->manufacturer, sizeof(out->manufacturer));
	text_of(child(resp, "Model"), out->model, sizeof(out->model));
	text_of(child(resp, "FirmwareVersion"), out->firmware, sizeof(out->firmware));
	text_of(child(resp, "SerialNumber"), out->serial, sizeof(out->serial));
	text_of(child(resp, "HardwareId"), out->hardware, sizeof(out->hardware));
	xmlFreeDoc(doc);
	return CS_OK;
}

/* ---- GetServices, GetCapabilities ---- */

/* An address into @out (ONVIF_URI_MAX) if it fits whole: a cut address would be a wrong one,
 * so one that does not fit is left out ("") like an absent one. */
static void uri_of(const xmlNode *n, char *out)
{
	if (text_of(n, out, ONVIF_URI_MAX) >= ONVIF_URI_MAX)
		out[0] = '\0';
}

enum cs_err onvif_parse_services(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp;
	char ns[ONVIF_URI_MAX];
	enum cs_err e;

	memset(out, 0, sizeof(*out));
	e = answer_read(xml, len, "GetServicesResponse", &doc, &resp, err);
	if (e)
		return e;
	for (xmlNode *s = resp->children; s; s = s->next) {
		if (!is_elem(s, "Service"))
			continue;
		text_of(child(s, "Namespace"), ns, sizeof(ns));
		if (strcmp(ns, NS_MEDIA) == 0 && !out->media[0])
			uri_of(child(s, "XAddr"), out->media);
		else if (strcmp(ns, NS_MEDIA2) == 0 && !out->media2[0])
			uri_of(child(s, "XAddr"), out->media2);
	}
	xmlFreeDoc(doc);
	return CS_OK;
}

enum cs_err onvif_parse_capabilities(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp;
	enum cs_err e;

	out->media[0] = '\0';
	e = answer_read(xml, len, "GetCapabilitiesResponse", &doc, &resp, err);
	if (e)
		return e;
	uri_of(child(child(child(resp, "Capabilities"), "Media"), "XAddr"), out->media);
	xmlFreeDoc(doc);
	return CS_OK;
}

/* ---- GetProfiles (Media and Media2) ---- */

static void encoding_set(char *out, size_t cap, const char *enc)
{
	size_t n = strlen(enc);

	if (str_eq_nocase(enc, n, "H.264") || str_eq_nocase(enc, n, "H264"))
		enc = "H264";
	else if (str_eq_nocase(enc, n, "H.265") || str_eq_nocase(enc, n, "H265") ||
		str_eq_nocase(enc, n, "HEVC"))
		enc = "H265";
	str_copy(out, cap, enc);
}

static void profile_read(const xmlNode *p, struct onvif_profile *o)
{
	xmlNode *ve = child(p, "VideoEncoderConfiguration");
	xmlChar *tok = xmlGetNoNsProp(p, (const xmlChar *)"token");
	char t[ONVIF_STR];
	long v;

	memset(o, 0, sizeof(*o));
	if (tok) {
		/* an attribute keeps its spaces; a token never has any at its ends */
		const char *s = (const char *)tok;
		while (is_space(*s))
			s++;
		size_t n = str_copy(o->token, sizeof(o->token), s);
		while (n && is_space(o->token[n - 1]))
			o->token[--n] = '\0';
		xmlFree(tok);
	}
	text_of(child(p, "Name"), o->name, sizeof(o->name));
	if (!ve)
		ve = child(child(p, "Configurations"), "VideoEncoder");
	if (!ve)
		return;
	field_of(ve, "Encoding", t, sizeof(t));
	encoding_set(o->encoding, sizeof(o->encoding), t);
	xmlNode *res = child(ve, "Resolution");
	field_of(res, "Width", t, sizeof(t));
	v = number_of(t, 65535);
	o->width = v > 0 ? (int)v : 0;
	field_of(res, "Height", t, sizeof(t));
	v = number_of(t, 65535);
	o->height = v > 0 ? (int)v : 0;
	field_of(child(ve, "RateControl"), "FrameRateLimit", t, sizeof(t));
	if (ascii_is_digit(t[0])) {
		char *end;
		double f = strtod(t, &end);
		o->fps = !*end && isfinite(f) && f > 0 && f <= 1000 ? f : 0;
	}
}

enum cs_err onvif_parse_profiles(const char *xml, size_t len, struct onvif_profile *out,
	size_t cap, size_t *n, struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp;
	enum cs_err e;

	*n = 0;
	e = answer_read(xml, len, "GetProfilesResponse", &doc, &resp, err);
	if (e)
		return e;
	for (xmlNode *p = resp->children; p && *n < cap; p = p->next)
		if (is_elem(p, "Profiles"))
			profile_read(p, &out[(*n)++]);
	xmlFreeDoc(doc);
	return CS_OK;
}

/* ---- GetStreamUri ---- */

enum cs_err onvif_parse_stream_uri(const char *xml, size_t len, char *uri, size_t cap,
	struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp, *u;
	size_t n;
	enum cs_err e;

	if (!cap)
		return cs_fail(err, CS_INTERNAL, "no room for the stream Uri");
	uri[0] = '\0';
	e = answer_read(xml, len, "GetStreamUriResponse", &doc, &resp, err);
	if (e)
		return e;
	u = child(child(resp, "MediaUri"), "Uri");
	if (!u)
		u = child(resp, "Uri");
	if (!u) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's answer has no stream Uri");
		goto out;
	}
	n = text_of(u, uri, cap);
	if (n == 0) {
		e = cs_fail(err, CS_OPEN_FAILED, "the device's stream Uri is empty");
	} else if (n >= cap) {
		uri[0] = '\0';
		e = cs_fail(err, CS_OPEN_FAILED, "the device's stream Uri is longer than %zu bytes",
			cap - 1);
	}
out:
	xmlFreeDoc(doc);
	return e;
}

/* ---- WS-Discovery ProbeMatches ---- */

/* Splits the text of @n at white space into up to @max entries of @list; returns the count.
 * With @whole, an entry that does not fit is left out rather than cut (an address). */
static int words_of(const xmlNode *n, char (*list)[ONVIF_URI_MAX], int max, bool whole)
{
	xmlChar *t;
	int count = 0;

	if (!n)
		return 0;
	t = xmlNodeGetContent(n);
	if (!t)
		return 0;
	for (const char *s = (const char *)t; *s && count < max; ) {
		size_t w;
		while (is_space(*s))
			s++;
		w = 0;
		while (s[w] && !is_space(s[w]))
			w++;
		if (w && (w < ONVIF_URI_MAX || !whole)) {
			size_t k = w < ONVIF_URI_MAX ? w : ONVIF_URI_MAX - 1;
			while (k < w && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
				k--; /* cut before a continuation byte */
			memcpy(list[count], s, k);
			list[count][k] = '\0';
			count++;
		}
		s += w;
	}
	xmlFree(t);
	return count;
}

enum cs_err onvif_parse_probe_matches(const char *xml, size_t len, const char *relates_to,
	struct onvif_match *out, size_t cap, size_t *n, struct cs_error *err)
{
	xmlDocPtr doc;
	xmlNode *resp;
	enum cs_err e;

	*n = 0;
	e = answer_read(xml, len, "ProbeMatches", &doc, &resp, err);
	if (e)
		return e;
	if (relates_to) {
		xmlNode *hdr = child(xmlDocGetRootElement(doc), "Header");
		char rel[ONVIF_URI_MAX];
		size_t rn = text_of(child(hdr, "RelatesTo"), rel, sizeof(rel));
		if (rn >= sizeof(rel) || strcmp(rel, relates_to) != 0) {
			xmlFreeDoc(doc);
			return cs_fail(err, CS_BAD_REQUEST, "not an answer to our probe");
		}
	}
	for (xmlNode *m = resp->children; m && *n < cap; m = m->next) {
		if (!is_elem(m, "ProbeMatch"))
			continue;
		struct onvif_match *o = &out[(*n)++];
		memset(o, 0, sizeof(*o));
		text_of(child(child(m, "EndpointReference"), "Address"), o->endpoint,
			sizeof(o->endpoint));
		text_of(child(m, "Types"), o->types, sizeof(o->types));
		o->n_xaddrs = words_of(child(m, "XAddrs"), o->xaddrs, ONVIF_MAX_XADDRS, true);
		o->n_scopes = words_of(child(m, "Scopes"), o->scopes, ONVIF_MAX_SCOPES, false);
	}
	xmlFreeDoc(doc);
	return CS_OK;
}

void onvif_scope_value(const struct onvif_match *m, const char *key, char *out, size_t cap)
{
	static const char base[] = "onvif://www.onvif.org/";
	const size_t bn = sizeof(base) - 1, kn = strlen(key);
	char dec[ONVIF_URI_MAX], clean[ONVIF_URI_MAX];

	if (!cap)
		return;
	out[0] = '\0';
	for (int i = 0; i < m->n_scopes && i < ONVIF_MAX_SCOPES; i++) {
		const char *s = m->scopes[i];
		size_t d = 0;
		if (strlen(s) <= bn + kn || !str_eq_nocase(s, bn, base) ||
			!str_eq_nocase(s + bn, kn, key) || s[bn + kn] != '/')
			continue;
		/* percent-decoding only shrinks: dec holds any scope; %00 is dropped */
		for (s += bn + kn + 1; *s; s++) {
			int hi, lo;
			if (*s == '%' && (hi = ascii_hex_val(s[1])) >= 0 &&
				(lo = ascii_hex_val(s[2])) >= 0) {
				if (hi || lo)
					dec[d++] = (char)(hi * 16 + lo);
				s += 2;
			} else {
				dec[d++] = *s;
			}
		}
		dec[d] = '\0';
		str_utf8_clean(dec, clean, sizeof(clean));
		str_copy(out, cap, clean);
		return;
	}
}
