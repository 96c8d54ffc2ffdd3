/*
 * The log functions of lkvm/log.h for tests that keep log.c out of the
 * link: the virtio core unit tests, the ordering test and the fuzz
 * targets.  Weak, so that log.c wins wherever something pulls it in.
 * Lines look like log.c's and go to fd 2 (where the unit tests' log
 * capture counts them) unless log_stub_quiet() says otherwise; die()
 * aborts: no test input may reach it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "lkvm/log.h"

__attribute__((weak)) int log_debug_enabled;

/* A test harness may override this (the fuzz targets are quiet by default). */
__attribute__((weak)) bool log_stub_quiet(void)
{
	return false;
}

/* Format even when quiet: a bad format argument must still be caught. */
static void vlog(const char *level, bool print, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (print && !log_stub_quiet())
		fprintf(stderr, "lkvm: %s%s\n", level, buf);
}

#define STUB_LOG(fn, level, print)                          \
	__attribute__((weak)) void fn(const char *fmt, ...) \
	{                                                   \
		va_list ap;                                 \
		va_start(ap, fmt);                          \
		vlog(level, print, fmt, ap);                \
		va_end(ap);                                 \
	}

STUB_LOG(pr_err, "error: ", true)
STUB_LOG(pr_warn, "warning: ", true)
STUB_LOG(pr_info, "", true)
STUB_LOG(pr_debug, "debug: ", log_debug_enabled)

/* Rate limits only hide lines: here every message is formatted and shown. */
__attribute__((weak)) unsigned int log_ratelimit_interval_ms = LOG_RATELIMIT_INTERVAL_MS;

__attribute__((weak)) void log_ratelimit_reset(void)
{
}

__attribute__((weak)) void log_ratelimited(struct log_ratelimit *rl, enum log_level level,
					  const char *fmt, ...)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	va_start(ap, fmt);
	vlog(prefix[level], level != LOG_DEBUG || log_debug_enabled, fmt, ap);
	va_end(ap);
}

__attribute__((weak)) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("lkvm: die() reached in a test: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
