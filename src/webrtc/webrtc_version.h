/* webrtc_version: the runtime versions of the libraries WebRTC's DTLS-SRTP runs on, for
 * --version and /metrics. Any thread; the strings are the libraries' own constants. */
#ifndef CAMSTREAM_WEBRTC_VERSION_H
#define CAMSTREAM_WEBRTC_VERSION_H

/* "3.0.19": the OpenSSL libcrypto loaded (OpenSSL_version()) */
const char *webrtc_version_openssl(void);
/* "2.5.0": the libsrtp2 loaded (srtp_get_version_string() without its "libsrtp2 " prefix) */
const char *webrtc_version_srtp(void);

#endif
