/* onvif_xml: stub until the parser lands (see onvif_xml.h). */
#include "onvif_xml.h"

#include <string.h>

void onvif_xml_init(void) {}
void onvif_xml_cleanup(void) {}
#define STUB (void)xml; (void)len; return cs_fail(err, CS_INTERNAL, "not built yet")
enum cs_err onvif_parse_time(const char *xml, size_t len, int64_t *utc_s, struct cs_error *err)
{ (void)utc_s; STUB; }
enum cs_err onvif_parse_device_info(const char *xml, size_t len, struct onvif_device_info *out,
	struct cs_error *err) { (void)out; STUB; }
enum cs_err onvif_parse_services(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err) { (void)out; STUB; }
enum cs_err onvif_parse_capabilities(const char *xml, size_t len, struct onvif_services *out,
	struct cs_error *err) { (void)out; STUB; }
enum cs_err onvif_parse_profiles(const char *xml, size_t len, struct onvif_profile *out,
	size_t cap, size_t *n, struct cs_error *err) { (void)out; (void)cap; (void)n; STUB; }
enum cs_err onvif_parse_stream_uri(const char *xml, size_t len, char *uri, size_t cap,
	struct cs_error *err) { (void)uri; (void)cap; STUB; }
enum cs_err onvif_parse_probe_matches(const char *xml, size_t len, const char *relates_to,
	struct onvif_match *out, size_t cap, size_t *n, struct cs_error *err)
{ (void)relates_to; (void)out; (void)cap; (void)n; STUB; }
void onvif_scope_value(const struct onvif_match *m, const char *key, char *out, size_t cap)
{ (void)m; (void)key; if (cap) out[0] = '\0'; }
