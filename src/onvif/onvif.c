/* onvif: stub until the client lands (see onvif.h). */
#include "onvif.h"
