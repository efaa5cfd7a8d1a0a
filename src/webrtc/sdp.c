/* sdp: see sdp.h */
#include "sdp.h"
