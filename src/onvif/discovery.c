/* discovery: stub until WS-Discovery lands (see onvif.h). */
#include "onvif.h"
