/* onvif_soap: the requests camstream sends an ONVIF device (src/onvif/onvif_soap.c). Each
 * envelope is read back with libxml2, namespaces and all; the WS-Security digest is checked
 * against vectors computed outside camstream, on this machine, with
 *   printf '%s%s%s' NONCE CREATED PASSWORD | openssl sha1 -binary | base64 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "check.h"
#include "onvif_soap.h"

#define NS_S "http://www.w3.org/2003/05/soap-envelope"
#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_TT "http://www.onvif.org/ver10/schema"
#define NS_A "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_D "http://schemas.xmlsoap.org/ws/2005/04/discovery"

static const unsigned char ascii_nonce[ONVIF_NONCE_LEN] = "0123456789abcdef";
static const unsigned char binary_nonce[ONVIF_NONCE_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	10, 11, 12, 13, 14, 15 };

static xmlDocPtr read_back(const char *text)
{
	return text ? xmlReadMemory(text, (int)strlen(text), NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING) : NULL;
}

static bool named(const xmlNode *n, const char *ns, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0 &&
		n->ns && strcmp((const char *)n->ns->href, ns) == 0;
}

/* The first element child of @n in @ns named @local. */
static xmlNode *kid(const xmlNode *n, const char *ns, const char *local)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (named(k, ns, local))
			return k;
	return NULL;
}

/* The element's whole text (static buffer: one at a time). */
static const char *text(const xmlNode *n)
{
	static char buf[1024];
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "(none)");
	xmlFree(t);
	return buf;
}

static const char *attr(const xmlNode *n, const char *name)
{
	static char buf[512];
	xmlChar *t = n ? xmlGetNoNsProp(n, (const xmlChar *)name) : NULL;
	snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "(none)");
	xmlFree(t);
	return buf;
}

static void digest_matches_openssl_vector(void)
{
	char d[29];
	onvif_password_digest(ascii_nonce, ONVIF_NONCE_LEN, "2024-02-29T06:30:15Z", "secret&<pw>",
		d);
	CHECK_STR(d, "dngXEsILmYlmMFwhmeA8PRCFsys=");
	onvif_password_digest(binary_nonce, ONVIF_NONCE_LEN, "1970-01-01T00:00:00Z", "admin12345",
		d);
	CHECK_STR(d, "f1kyzXN6WgZ/jU0UjBCp6jAHcog=");
}

static void time_formatted_as_xsd_datetime_utc(void)
{
	char t[21];
	onvif_format_time(0, t);
	CHECK_STR(t, "1970-01-01T00:00:00Z");
	onvif_format_time(1709188215, t);
	CHECK_STR(t, "2024-02-29T06:30:15Z");
	onvif_format_time(1704067199, t);
	CHECK_STR(t, "2023-12-31T23:59:59Z");
	onvif_format_time(951782400, t);
	CHECK_STR(t, "2000-02-29T00:00:00Z");
	onvif_format_time(-5, t);
	CHECK_STR(t, "1970-01-01T00:00:00Z");
	onvif_format_time(INT64_MAX, t);
	CHECK_STR(t, "9999-12-31T23:59:59Z");
}

static void actions_name_service_and_operation(void)
{
	CHECK_STR(onvif_action(ONVIF_GET_SYSTEM_DATE_AND_TIME),
		"http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime");
	CHECK_STR(onvif_action(ONVIF_GET_DEVICE_INFORMATION),
		"http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation");
	CHECK_STR(onvif_action(ONVIF_GET_SERVICES),
		"http://www.onvif.org/ver10/device/wsdl/GetServices");
	CHECK_STR(onvif_action(ONVIF_GET_CAPABILITIES),
		"http://www.onvif.org/ver10/device/wsdl/GetCapabilities");
	CHECK_STR(onvif_action(ONVIF_GET_PROFILES),
		"http://www.onvif.org/ver10/media/wsdl/GetProfiles");
	CHECK_STR(onvif_action(ONVIF_GET_PROFILES2),
		"http://www.onvif.org/ver20/media/wsdl/GetProfiles");
	CHECK_STR(onvif_action(ONVIF_GET_STREAM_URI),
		"http://www.onvif.org/ver10/media/wsdl/GetStreamUri");
	CHECK_STR(onvif_action(ONVIF_GET_STREAM_URI2),
		"http://www.onvif.org/ver20/media/wsdl/GetStreamUri");
	CHECK_STR(onvif_action((enum onvif_call)99), "");
}

/* Every call: a SOAP 1.2 envelope whose Body holds one element, the operation in its
 * service's namespace. */
static void every_envelope_parses_with_its_operation(void)
{
	static const struct {
		enum onvif_call call;
		const char *ns, *op;
	} calls[] = {
		{ ONVIF_GET_SYSTEM_DATE_AND_TIME, ONVIF_NS_DEVICE, "GetSystemDateAndTime" },
		{ ONVIF_GET_DEVICE_INFORMATION, ONVIF_NS_DEVICE, "GetDeviceInformation" },
		{ ONVIF_GET_SERVICES, ONVIF_NS_DEVICE, "GetServices" },
		{ ONVIF_GET_CAPABILITIES, ONVIF_NS_DEVICE, "GetCapabilities" },
		{ ONVIF_GET_PROFILES, ONVIF_NS_MEDIA, "GetProfiles" },
		{ ONVIF_GET_PROFILES2, ONVIF_NS_MEDIA2, "GetProfiles" },
		{ ONVIF_GET_STREAM_URI, ONVIF_NS_MEDIA, "GetStreamUri" },
		{ ONVIF_GET_STREAM_URI2, ONVIF_NS_MEDIA2, "GetStreamUri" },
	};
	for (size_t i = 0; i < N(calls); i++) {
		char *e = onvif_envelope(calls[i].call, "Profile_1", "admin", "pw", ascii_nonce, 0);
		xmlDocPtr doc = read_back(e);
		xmlNode *env = doc ? xmlDocGetRootElement(doc) : NULL;
		xmlNode *body = kid(env, NS_S, "Body");
		CHECK(named(env, NS_S, "Envelope"));
		CHECK(body && named(xmlFirstElementChild(body), calls[i].ns, calls[i].op));
		CHECK(body && xmlChildElementCount(body) == 1);
		xmlFreeDoc(doc);
		free(e);
	}
}

static void get_services_without_capabilities(void)
{
	char *e = onvif_envelope(ONVIF_GET_SERVICES, NULL, NULL, NULL, NULL, 0);
	xmlDocPtr doc = read_back(e);
	xmlNode *op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	CHECK_STR(text(kid(op, ONVIF_NS_DEVICE, "IncludeCapability")), "false");
	xmlFreeDoc(doc);
	free(e);
	e = onvif_envelope(ONVIF_GET_CAPABILITIES, NULL, NULL, NULL, NULL, 0);
	doc = read_back(e);
	op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	CHECK_STR(text(kid(op, ONVIF_NS_DEVICE, "Category")), "All");
	xmlFreeDoc(doc);
	free(e);
}

static void get_profiles2_asks_for_all_configurations(void)
{
	char *e = onvif_envelope(ONVIF_GET_PROFILES2, NULL, NULL, NULL, NULL, 0);
	xmlDocPtr doc = read_back(e);
	xmlNode *op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	CHECK_STR(text(kid(op, ONVIF_NS_MEDIA2, "Type")), "All");
	xmlFreeDoc(doc);
	free(e);
}

static void stream_uri_media1_setup_in_schema_namespace(void)
{
	char *e = onvif_envelope(ONVIF_GET_STREAM_URI, "Profile_1", NULL, NULL, NULL, 0);
	xmlDocPtr doc = read_back(e);
	xmlNode *op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	xmlNode *setup = kid(op, ONVIF_NS_MEDIA, "StreamSetup");
	CHECK_STR(text(kid(setup, NS_TT, "Stream")), "RTP-Unicast");
	CHECK_STR(text(kid(kid(setup, NS_TT, "Transport"), NS_TT, "Protocol")), "RTSP");
	CHECK_STR(text(kid(op, ONVIF_NS_MEDIA, "ProfileToken")), "Profile_1");
	xmlFreeDoc(doc);
	free(e);
}

static void stream_uri_media2_protocol_and_token(void)
{
	char *e = onvif_envelope(ONVIF_GET_STREAM_URI2, "Profile_2", NULL, NULL, NULL, 0);
	xmlDocPtr doc = read_back(e);
	xmlNode *op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	CHECK_STR(text(kid(op, ONVIF_NS_MEDIA2, "Protocol")), "RTSP");
	CHECK_STR(text(kid(op, ONVIF_NS_MEDIA2, "ProfileToken")), "Profile_2");
	xmlFreeDoc(doc);
	free(e);
}

static void token_escaped(void)
{
	const char *token = "a<b>&\"c'</trt:ProfileToken><x/>\tz";
	char *e = onvif_envelope(ONVIF_GET_STREAM_URI, token, NULL, NULL, NULL, 0);
	CHECK_NOT_CONTAINS(e, "<x/>");
	xmlDocPtr doc = read_back(e);
	CHECK(doc != NULL);
	xmlNode *op = xmlFirstElementChild(kid(xmlDocGetRootElement(doc), NS_S, "Body"));
	CHECK_STR(text(kid(op, ONVIF_NS_MEDIA, "ProfileToken")), token);
	xmlFreeDoc(doc);
	free(e);
}

static void security_header_carries_the_token(void)
{
	const char *user = "ad<m>in&\"'";
	char *e = onvif_envelope(ONVIF_GET_DEVICE_INFORMATION, NULL, user, "secret&<pw>",
		ascii_nonce, 1709188215);
	xmlDocPtr doc = read_back(e);
	CHECK(doc != NULL);
	xmlNode *hdr = kid(xmlDocGetRootElement(doc), NS_S, "Header");
	xmlNode *sec = kid(hdr, NS_WSSE, "Security");
	xmlNode *ut = kid(sec, NS_WSSE, "UsernameToken");
	CHECK(ut != NULL);
	CHECK_STR(text(kid(ut, NS_WSSE, "Username")), user);
	xmlNode *pw = kid(ut, NS_WSSE, "Password");
	CHECK_STR(attr(pw, "Type"), "http://docs.oasis-open.org/wss/2004/01/"
		"oasis-200401-wss-username-token-profile-1.0#PasswordDigest");
	CHECK_STR(text(pw), "dngXEsILmYlmMFwhmeA8PRCFsys=");
	xmlNode *nonce = kid(ut, NS_WSSE, "Nonce");
	CHECK_STR(attr(nonce, "EncodingType"), "http://docs.oasis-open.org/wss/2004/01/"
		"oasis-200401-wss-soap-message-security-1.0#Base64Binary");
	CHECK_STR(text(nonce), "MDEyMzQ1Njc4OWFiY2RlZg==");
	CHECK_STR(text(kid(ut, NS_WSU, "Created")), "2024-02-29T06:30:15Z");
	CHECK_NOT_CONTAINS(e, "secret");
	xmlFreeDoc(doc);
	free(e);
}

static void no_security_header_without_username(void)
{
	const char *users[] = { NULL, "" };
	for (size_t i = 0; i < N(users); i++) {
		char *e = onvif_envelope(ONVIF_GET_SYSTEM_DATE_AND_TIME, NULL, users[i], "secret",
			ascii_nonce, 0);
		CHECK(e != NULL);
		CHECK_NOT_CONTAINS(e, "Security");
		CHECK_NOT_CONTAINS(e, "secret");
		xmlDocPtr doc = read_back(e);
		CHECK(doc && !kid(xmlDocGetRootElement(doc), NS_S, "Header"));
		xmlFreeDoc(doc);
		free(e);
	}
}

static void username_without_nonce_gives_no_envelope(void)
{
	CHECK(onvif_envelope(ONVIF_GET_PROFILES, NULL, "admin", "pw", NULL, 0) == NULL);
}

static void probe_message_for_video_transmitters(void)
{
	char *e = onvif_probe_message("6c8e1f3a-2d4b-4e5f-9a0b-1c2d3e4f5a6b");
	xmlDocPtr doc = read_back(e);
	xmlNode *env = xmlDocGetRootElement(doc);
	xmlNode *hdr = kid(env, NS_S, "Header");
	CHECK(named(env, NS_S, "Envelope"));
	CHECK_STR(text(kid(hdr, NS_A, "Action")),
		"http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe");
	CHECK_STR(text(kid(hdr, NS_A, "MessageID")),
		"urn:uuid:6c8e1f3a-2d4b-4e5f-9a0b-1c2d3e4f5a6b");
	CHECK_STR(text(kid(hdr, NS_A, "To")), "urn:schemas-xmlsoap-org:ws:2005:04:discovery");
	xmlNode *types = kid(kid(kid(env, NS_S, "Body"), NS_D, "Probe"), NS_D, "Types");
	CHECK_STR(text(types), "dn:NetworkVideoTransmitter");
	/* the QName's prefix resolves in the message itself */
	xmlNsPtr dn = types ? xmlSearchNs(doc, types, (const xmlChar *)"dn") : NULL;
	CHECK(dn && strcmp((const char *)dn->href, "http://www.onvif.org/ver10/network/wsdl") == 0);
	xmlFreeDoc(doc);
	free(e);
}

static void probe_message_id_escaped(void)
{
	char *e = onvif_probe_message("x</a:MessageID><evil/>");
	CHECK_NOT_CONTAINS(e, "<evil/>");
	xmlDocPtr doc = read_back(e);
	CHECK(doc != NULL);
	xmlFreeDoc(doc);
	free(e);
}

int main(void)
{
	xmlInitParser();
	RUN(digest_matches_openssl_vector);
	RUN(time_formatted_as_xsd_datetime_utc);
	RUN(actions_name_service_and_operation);
	RUN(every_envelope_parses_with_its_operation);
	RUN(get_services_without_capabilities);
	RUN(get_profiles2_asks_for_all_configurations);
	RUN(stream_uri_media1_setup_in_schema_namespace);
	RUN(stream_uri_media2_protocol_and_token);
	RUN(token_escaped);
	RUN(security_header_carries_the_token);
	RUN(no_security_header_without_username);
	RUN(username_without_nonce_gives_no_envelope);
	RUN(probe_message_for_video_transmitters);
	RUN(probe_message_id_escaped);
	xmlCleanupParser();
	return CHECK_DONE();
}
