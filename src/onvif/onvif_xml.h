/* onvif_xml: reads the SOAP answers of an ONVIF device and WS-Discovery's ProbeMatches with
 * libxml2, bounded and without a DTD: bytes in, plain structs out. Elements are matched by
 * their local name (devices vary their prefixes, and some their namespaces), inside the
 * response element the caller asks for. A document with a DTD (DOCTYPE) is refused, entities
 * are never substituted and nothing is loaded from the network, so XXE and entity expansion
 * cannot happen; one over ONVIF_XML_MAX bytes is refused unread. Strings are cut to their
 * field's size at a UTF-8 boundary. Pure: safe on any thread once onvif_xml_init() ran. */
#ifndef CAMSTREAM_ONVIF_XML_H
#define CAMSTREAM_ONVIF_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ONVIF_XML_MAX (1024 * 1024) /* largest SOAP answer read (a device's are < 64 KiB) */
#define ONVIF_STR 128                /* names, tokens, versions */
#define ONVIF_URI_MAX 1024           /* XAddrs and stream URIs */
#define ONVIF_MAX_PROFILES 16        /* profiles kept from GetProfiles, in document order */
#define ONVIF_MAX_XADDRS 4           /* XAddrs kept per discovered device */
#define ONVIF_MAX_SCOPES 16          /* scopes kept per discovered device */
#define ONVIF_MAX_MATCHES 8          /* ProbeMatch elements kept per ProbeMatches message */

/* Once, on the main thread, before any thread parses (libxml2's global init). */
void onvif_xml_init(void);
void onvif_xml_cleanup(void);

/* Every parser below first looks for a SOAP Fault. A fault whose code or subcode is
 * NotAuthorized / FailedAuthentication (any prefix), or whose reason says the sender is not
 * authorized, is CS_UNAUTHORIZED; any other fault is CS_OPEN_FAILED with its reason text
 * ("the device answered a SOAP fault: <reason>"). Malformed XML, a DTD, a document over the
 * bound, or a missing response element is CS_OPEN_FAILED with a message that says which
 * ("the device's answer is not well-formed XML", "... has a DTD: refused", ...). Messages never
 * quote more than 64 bytes of the document. */

/* GetSystemDateAndTimeResponse: SystemDateAndTime/UTCDateTime/{Date/{Year,Month,Day},
 * Time/{Hour,Minute,Second}} as Unix seconds. A device without UTCDateTime gives
 * LocalDateTime and TimeZone; then the local time is used as if it were UTC (the offset
 * then only has to be right to the device's own reading, which is what the digest needs). */
enum cs_err onvif_parse_time(const char *xml, size_t len, int64_t *utc_s, struct cs_error *err);

struct onvif_device_info {
	char manufacturer[ONVIF_STR], model[ONVIF_STR], firmware[ONVIF_STR];
	char serial[ONVIF_STR], hardware[ONVIF_STR];
};
/* GetDeviceInformationResponse: Manufacturer, Model, FirmwareVersion, SerialNumber,
 * HardwareId (absent ones stay ""). */
enum cs_err onvif_parse_device_info(const char *xml, size_t len, struct onvif_device_info *out,
	struct cs_error *err);

/* Where the media services answer. */
struct onvif_services {
	char media[ONVIF_URI_MAX];  /* Media (ver10) XAddr, "" if none */
	char media2[ONVIF_URI_MAX]; /* Media2 (ver20) XAddr, "" if none */
};
/* GetServicesResponse: each Service's Namespace and XAddr; namespaces
 * http://www.onvif.org/ver10/media/wsdl and http://www.onvif.org/ver20/media/wsdl. */
enum cs_err onvif_parse_services(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err);
/* GetCapabilitiesResponse: Capabilities/Media/XAddr into out->media (media2 left as is). */
enum cs_err onvif_parse_capabilities(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err);

struct onvif_profile {
	char token[ONVIF_STR], name[ONVIF_STR];
	char encoding[16];  /* "H264", "H265", "JPEG", "MPEG4" as the device writes them, with
	                     * Media2's "H.264"/"H.265"/"HEVC" normalised to H264/H265; "" if the
	                     * profile has no video encoder */
	int width, height;  /* 0 if unknown */
	double fps;         /* FrameRateLimit, 0 if unknown */
};
/* GetProfilesResponse of Media (ver10: Profiles@token, Name, VideoEncoderConfiguration/
 * {Encoding, Resolution/{Width,Height}, RateControl/FrameRateLimit}) or Media2 (ver20:
 * Profiles@token, Name, Configurations/VideoEncoder/{@Encoding or Encoding, Resolution,
 * RateControl/FrameRateLimit}). At most @cap profiles, in document order; *@n their count
 * (0 is not an error: a device may have none). */
enum cs_err onvif_parse_profiles(const char *xml, size_t len, struct onvif_profile *out,
	size_t cap, size_t *n, struct cs_error *err);

/* GetStreamUriResponse: MediaUri/Uri (ver10) or Uri (ver20), into @uri (NUL-terminated, at
 * most @cap - 1 bytes; a longer URI is an error rather than cut). */
enum cs_err onvif_parse_stream_uri(const char *xml, size_t len, char *uri, size_t cap,
	struct cs_error *err);

/* One ProbeMatch of WS-Discovery. */
struct onvif_match {
	char endpoint[ONVIF_URI_MAX];              /* EndpointReference/Address, "" if none */
	char types[ONVIF_URI_MAX];                 /* Types, as written (space-separated QNames) */
	char xaddrs[ONVIF_MAX_XADDRS][ONVIF_URI_MAX]; /* XAddrs split at white space */
	int n_xaddrs;
	char scopes[ONVIF_MAX_SCOPES][ONVIF_URI_MAX]; /* Scopes split at white space */
	int n_scopes;
};
/* A ProbeMatches message: the matches of its Body, at most @cap. @relates_to, if not NULL,
 * must equal the Header's RelatesTo (our Probe's MessageID) or the message is refused
 * (CS_BAD_REQUEST "not an answer to our probe"). A match without XAddrs is kept (n_xaddrs 0). */
enum cs_err onvif_parse_probe_matches(const char *xml, size_t len, const char *relates_to,
	struct onvif_match *out, size_t cap, size_t *n, struct cs_error *err);

/* The value of the scope "onvif://www.onvif.org/@key/VALUE" among @m's scopes (key "name",
 * "hardware", "location"), percent-decoded, into @out (cap bytes); "" if absent. */
void onvif_scope_value(const struct onvif_match *m, const char *key, char *out, size_t cap);

#endif
