#include "app.h"

struct app *app_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}
