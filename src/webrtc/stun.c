/* stun: see stun.h */
#include "stun.h"
