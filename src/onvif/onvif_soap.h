/* onvif_soap: the SOAP 1.2 requests camstream sends an ONVIF device, with the WS-Security
 * UsernameToken header (PasswordDigest = Base64(SHA-1(nonce + created + password)), ONVIF
 * Core spec 5.12 / OASIS UsernameToken Profile 1.0), and WS-Discovery's Probe. Text in, text
 * out: every value put into XML is escaped. Pure: safe on any thread. */
#ifndef CAMSTREAM_ONVIF_SOAP_H
#define CAMSTREAM_ONVIF_SOAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ONVIF_NONCE_LEN 16

/* Request bodies (the Body element's content). */
#define ONVIF_NS_DEVICE "http://www.onvif.org/ver10/device/wsdl"
#define ONVIF_NS_MEDIA "http://www.onvif.org/ver10/media/wsdl"
#define ONVIF_NS_MEDIA2 "http://www.onvif.org/ver20/media/wsdl"

enum onvif_call {
	ONVIF_GET_SYSTEM_DATE_AND_TIME, /* device service, sent without WS-Security */
	ONVIF_GET_DEVICE_INFORMATION,   /* device service */
	ONVIF_GET_SERVICES,             /* device service, IncludeCapability false */
	ONVIF_GET_CAPABILITIES,         /* device service, Category All */
	ONVIF_GET_PROFILES,             /* media (ver10) */
	ONVIF_GET_PROFILES2,            /* media2 (ver20), Type All */
	ONVIF_GET_STREAM_URI,           /* media (ver10): RTP-Unicast over RTSP, @token */
	ONVIF_GET_STREAM_URI2,          /* media2 (ver20): Protocol RTSP, @token */
};

/* The SOAP action URI of @call (for the Content-Type's action parameter). */
const char *onvif_action(enum onvif_call call);

/* The whole envelope of @call (malloc'd, NUL-terminated; NULL if out of memory). @token is
 * the profile token for the GetStreamUri calls (NULL otherwise). When @username is not NULL
 * and not empty, a Security header with a UsernameToken is put in: Username, Password of type
 * #PasswordDigest, Nonce (Base64 of @nonce, ONVIF_NONCE_LEN bytes) and Created (@created_utc_s
 * as "YYYY-MM-DDThh:mm:ssZ"). */
char *onvif_envelope(enum onvif_call call, const char *token, const char *username,
	const char *password, const unsigned char *nonce, int64_t created_utc_s);

/* Base64(SHA-1(@nonce[@nonce_len] + @created + @password)) into @out (29 bytes with the NUL). */
void onvif_password_digest(const unsigned char *nonce, size_t nonce_len, const char *created,
	const char *password, char out[29]);

/* @utc_s as "YYYY-MM-DDThh:mm:ssZ" into @out (21 bytes with the NUL). */
void onvif_format_time(int64_t utc_s, char out[21]);

/* WS-Discovery (2005/04, what ONVIF devices answer) Probe for dn:NetworkVideoTransmitter,
 * with MessageID "urn:uuid:@uuid" (malloc'd; NULL if out of memory). */
char *onvif_probe_message(const char *uuid);

#endif
