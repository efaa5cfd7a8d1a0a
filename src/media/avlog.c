#include "avlog.h"

#include <stdarg.h>

#include <libavutil/log.h>

#include "log.h"

static void av_log_to_ours(void *avcl, int level, const char *fmt, va_list vl)
{
	if (level > av_log_get_level() || log_get_level() < LOG_DEBUG)
		return;
	char line[1024];
	int print_prefix = 1;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	log_msg(LOG_DEBUG, "ffmpeg: %s", line);
}

void avlog_route(bool debug)
{
	av_log_set_level(debug ? AV_LOG_INFO : AV_LOG_ERROR);
	av_log_set_callback(av_log_to_ours);
}

void avlog_restore(void)
{
	av_log_set_callback(av_log_default_callback);
}
