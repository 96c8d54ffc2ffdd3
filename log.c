/* Diagnostics: one line per message, so scripts can grep lkvm's stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "lkvm/log.h"

int log_debug_enabled;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* A single write keeps lines from different threads whole. */
	fprintf(stderr, "lkvm: %s%s\n", level, buf);
}

#define DEFINE_LOG(fn, level)                 \
	void fn(const char *fmt, ...)         \
	{                                     \
		va_list ap;                   \
		va_start(ap, fmt);            \
		vlog(level, fmt, ap);         \
		va_end(ap);                   \
	}

DEFINE_LOG(pr_err, "error: ")
DEFINE_LOG(pr_warn, "warning: ")
DEFINE_LOG(pr_info, "")

void pr_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_enabled)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
	exit(1);
}
