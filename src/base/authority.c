#include "authority.h"

#include <string.h>

const char *authority_userinfo_end(const char *auth, const char *stops, size_t *len)
{
	size_t n = strcspn(auth, stops);
	const char *at = NULL;
	for (size_t i = 0; i < n; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (len)
		*len = n;
	return at;
}
