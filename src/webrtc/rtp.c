/* rtp: see rtp.h */
#include "rtp.h"
