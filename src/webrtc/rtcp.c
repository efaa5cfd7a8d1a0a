/* rtcp: see rtcp.h */
#include "rtcp.h"
