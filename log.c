/* Diagnostics: one line per message, so scripts can grep lkvm's stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lkvm/log.h"

int log_debug_enabled;
unsigned int log_ratelimit_interval_ms = LOG_RATELIMIT_INTERVAL_MS;
static unsigned int ratelimit_generation = 1;

static const char *const level_prefix[] = {
	[LOG_ERR] = "error: ",
	[LOG_WARN] = "warning: ",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

static void emit(const char *level, const char *text)
{
	/* A single write keeps lines from different threads whole. */
	fprintf(stderr, "lkvm: %s%s\n", level, text);
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	emit(level, buf);
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

/* ---- rate limiting ---- */

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	unsigned long long now = now_ms();
	unsigned long suppressed = 0;
	char text[1024], last[sizeof(rl->last)];
	size_t n;
	bool print;
	va_list ap;

	pthread_mutex_lock(&rl->lock);
	if (rl->generation != __atomic_load_n(&ratelimit_generation, __ATOMIC_RELAXED)) {
		rl->generation = __atomic_load_n(&ratelimit_generation, __ATOMIC_RELAXED);
		rl->started = false;
		rl->suppressed = 0;
	}
	if (!rl->started || now - rl->window_start >= log_ratelimit_interval_ms) {
		/* A new interval: report what the last one swallowed. */
		suppressed = rl->suppressed;
		memcpy(last, rl->last, sizeof(last));
		rl->started = true;
		rl->window_start = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	print = rl->printed < LOG_RATELIMIT_BURST;
	if (print) {
		rl->printed++;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		n = strnlen(text, sizeof(rl->last) - 1);
		memcpy(rl->last, text, n);
		rl->last[n] = '\0';
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&rl->lock);

	if (suppressed) {
		char line[sizeof(last) + 64];

		snprintf(line, sizeof(line), "%lu more messages like \"%s\" suppressed",
			 suppressed, last);
		emit(level_prefix[level], line);
	}
	if (print)
		emit(level_prefix[level], text);
}

void log_ratelimit_reset(void)
{
	__atomic_add_fetch(&ratelimit_generation, 1, __ATOMIC_RELAXED);
}
