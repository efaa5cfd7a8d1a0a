/* onvif_soap: see onvif_soap.h. The envelopes are written as text (strbuf): they are small
 * and fixed, and every value that comes from outside goes through xml_escape(). */
#include "onvif_soap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "strbuf.h"
#include "text.h"

#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define WSS_DIGEST "http://docs.oasis-open.org/wss/2004/01/" \
	"oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define WSS_BASE64 "http://docs.oasis-open.org/wss/2004/01/" \
	"oasis-200401-wss-soap-message-security-1.0#Base64Binary"
#define NS_SCHEMA "http://www.onvif.org/ver10/schema"
#define NS_ADDRESSING "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_DISCOVERY "http://schemas.xmlsoap.org/ws/2005/04/discovery"
#define NS_NETWORK "http://www.onvif.org/ver10/network/wsdl"

/* Per call: its action and its Body's content (%s: the escaped profile token, if it takes one). */
struct call_def {
	const char *action;
	const char *body;
};

static const struct call_def calls[] = {
	[ONVIF_GET_SYSTEM_DATE_AND_TIME] = { ONVIF_NS_DEVICE "/GetSystemDateAndTime",
		"<tds:GetSystemDateAndTime xmlns:tds=\"" ONVIF_NS_DEVICE "\"/>" },
	[ONVIF_GET_DEVICE_INFORMATION] = { ONVIF_NS_DEVICE "/GetDeviceInformation",
		"<tds:GetDeviceInformation xmlns:tds=\"" ONVIF_NS_DEVICE "\"/>" },
	[ONVIF_GET_SERVICES] = { ONVIF_NS_DEVICE "/GetServices",
		"<tds:GetServices xmlns:tds=\"" ONVIF_NS_DEVICE "\">"
		"<tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>" },
	[ONVIF_GET_CAPABILITIES] = { ONVIF_NS_DEVICE "/GetCapabilities",
		"<tds:GetCapabilities xmlns:tds=\"" ONVIF_NS_DEVICE "\">"
		"<tds:Category>All</tds:Category></tds:GetCapabilities>" },
	[ONVIF_GET_PROFILES] = { ONVIF_NS_MEDIA "/GetProfiles",
		"<trt:GetProfiles xmlns:trt=\"" ONVIF_NS_MEDIA "\"/>" },
	[ONVIF_GET_PROFILES2] = { ONVIF_NS_MEDIA2 "/GetProfiles",
		"<tr2:GetProfiles xmlns:tr2=\"" ONVIF_NS_MEDIA2 "\"><tr2:Type>All</tr2:Type>"
		"</tr2:GetProfiles>" },
	[ONVIF_GET_STREAM_URI] = { ONVIF_NS_MEDIA "/GetStreamUri",
		"<trt:GetStreamUri xmlns:trt=\"" ONVIF_NS_MEDIA "\" xmlns:tt=\"" NS_SCHEMA "\">"
		"<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
		"<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
		"<trt:ProfileToken>%s</trt:ProfileToken></trt:GetStreamUri>" },
	[ONVIF_GET_STREAM_URI2] = { ONVIF_NS_MEDIA2 "/GetStreamUri",
		"<tr2:GetStreamUri xmlns:tr2=\"" ONVIF_NS_MEDIA2 "\"><tr2:Protocol>RTSP</tr2:Protocol>"
		"<tr2:ProfileToken>%s</tr2:ProfileToken></tr2:GetStreamUri>" },
};

static bool call_ok(enum onvif_call call)
{
	return (unsigned)call < sizeof(calls) / sizeof(calls[0]) && calls[call].action;
}

const char *onvif_action(enum onvif_call call)
{
	return call_ok(call) ? calls[call].action : "";
}

/* @s as XML text or attribute value: the five special characters as entities, tab, CR and
 * LF as character references (so they survive attribute normalisation), the other control
 * bytes (not allowed in XML 1.0 at all) left out, bytes that are not UTF-8 as '?'. */
static void xml_escape(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);
	char *clean = malloc(n + 6); /* str_utf8_clean keeps 5 bytes of room */

	if (!clean) {
		b->failed = true;
		return;
	}
	str_utf8_clean(s, clean, n + 6);
	for (const char *p = clean; *p; p++) {
		switch (*p) {
		case '&': sb_puts(b, "&amp;"); break;
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		case '\'': sb_puts(b, "&apos;"); break;
		case '\t': sb_puts(b, "&#9;"); break;
		case '\n': sb_puts(b, "&#10;"); break;
		case '\r': sb_puts(b, "&#13;"); break;
		default:
			if ((unsigned char)*p >= 0x20)
				sb_putc(b, *p);
		}
	}
	free(clean);
}

void onvif_password_digest(const unsigned char *nonce, size_t nonce_len, const char *created,
	const char *password, char out[29])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
		EVP_DigestUpdate(ctx, nonce, nonce_len) &&
		EVP_DigestUpdate(ctx, created, strlen(created)) &&
		EVP_DigestUpdate(ctx, password ? password : "", password ? strlen(password) : 0) &&
		EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 20;

	EVP_MD_CTX_free(ctx);
	out[0] = '\0';
	if (ok)
		EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 characters and a NUL */
}

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468; /* from 0000-03-01 */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;                                   /* 0..146096 */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          /* 0..365, from March 1 */
	mp = (5 * doy + 2) / 153;                                 /* 0..11, March first */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void onvif_format_time(int64_t utc_s, char out[21])
{
	const int64_t max = 253402300799; /* 9999-12-31T23:59:59Z: four digits of year */
	int y, mo, d;

	if (utc_s < 0)
		utc_s = 0;
	if (utc_s > max)
		utc_s = max;
	civil_from_days(utc_s / 86400, &y, &mo, &d);
	int64_t s = utc_s % 86400;
	/* the remainders only tell the compiler the widths the clamp above already ensures */
	snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u,
		(unsigned)mo % 100u, (unsigned)d % 100u, (unsigned)(s / 3600) % 100u,
		(unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

static void security_header(struct strbuf *b, const char *username, const char *password,
	const unsigned char *nonce, int64_t created_utc_s)
{
	char created[21], digest[29], nonce64[4 * ((ONVIF_NONCE_LEN + 2) / 3) + 1];

	onvif_format_time(created_utc_s, created);
	onvif_password_digest(nonce, ONVIF_NONCE_LEN, created, password, digest);
	EVP_EncodeBlock((unsigned char *)nonce64, nonce, ONVIF_NONCE_LEN);
	sb_puts(b, "<s:Header><wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"" NS_WSSE
		"\" xmlns:wsu=\"" NS_WSU "\"><wsse:UsernameToken><wsse:Username>");
	xml_escape(b, username);
	sb_puts(b, "</wsse:Username><wsse:Password Type=\"" WSS_DIGEST "\">");
	sb_puts(b, digest);
	sb_puts(b, "</wsse:Password><wsse:Nonce EncodingType=\"" WSS_BASE64 "\">");
	sb_puts(b, nonce64);
	sb_puts(b, "</wsse:Nonce><wsu:Created>");
	sb_puts(b, created);
	sb_puts(b, "</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>");
}

char *onvif_envelope(enum onvif_call call, const char *token, const char *username,
	const char *password, const unsigned char *nonce, int64_t created_utc_s)
{
	struct strbuf b = STRBUF_INIT;
	const char *body, *slot;

	if (!call_ok(call))
		return NULL;
	if (username && username[0] && !nonce)
		return NULL; /* a digest without a nonce would be replayable: no envelope */
	sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\">");
	if (username && username[0])
		security_header(&b, username, password, nonce, created_utc_s);
	sb_puts(&b, "<s:Body>");
	body = calls[call].body;
	slot = strstr(body, "%s");
	if (slot) {
		sb_add(&b, body, (size_t)(slot - body));
		xml_escape(&b, token ? token : "");
		sb_puts(&b, slot + 2);
	} else {
		sb_puts(&b, body);
	}
	sb_puts(&b, "</s:Body></s:Envelope>\n");
	return sb_take(&b);
}

char *onvif_probe_message(const char *uuid)
{
	struct strbuf b = STRBUF_INIT;

	sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:a=\"" NS_ADDRESSING "\" xmlns:d=\""
		NS_DISCOVERY "\" xmlns:dn=\"" NS_NETWORK "\"><s:Header>"
		"<a:Action s:mustUnderstand=\"1\">" NS_DISCOVERY "/Probe</a:Action>"
		"<a:MessageID>urn:uuid:");
	xml_escape(&b, uuid ? uuid : "");
	sb_puts(&b, "</a:MessageID><a:ReplyTo><a:Address>" NS_ADDRESSING "/role/anonymous"
		"</a:Address></a:ReplyTo>"
		"<a:To s:mustUnderstand=\"1\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
		"</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
		"</d:Probe></s:Body></s:Envelope>\n");
	return sb_take(&b);
}
