/* onvif_soap: stub until the writer lands (see onvif_soap.h). */
#include "onvif_soap.h"

#include <string.h>

const char *onvif_action(enum onvif_call call) { (void)call; return ""; }
char *onvif_envelope(enum onvif_call call, const char *token, const char *username,
	const char *password, const unsigned char *nonce, int64_t created_utc_s)
{ (void)call; (void)token; (void)username; (void)password; (void)nonce; (void)created_utc_s;
	return NULL; }
void onvif_password_digest(const unsigned char *nonce, size_t nonce_len, const char *created,
	const char *password, char out[29])
{ (void)nonce; (void)nonce_len; (void)created; (void)password; out[0] = '\0'; }
void onvif_format_time(int64_t utc_s, char out[21]) { (void)utc_s; out[0] = '\0'; }
char *onvif_probe_message(const char *uuid) { (void)uuid; return NULL; }
