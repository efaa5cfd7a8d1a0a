#include "webrtc_version.h"

#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

const char *webrtc_version_openssl(void)
{
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}

const char *webrtc_version_srtp(void)
{
	const char *v = srtp_get_version_string();
	const char *sp = strrchr(v, ' ');
	return sp ? sp + 1 : v;
}
