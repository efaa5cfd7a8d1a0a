/* dtls_srtp: see dtls_srtp.h */
#include "dtls_srtp.h"
