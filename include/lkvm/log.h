#ifndef LKVM_LOG_H
#define LKVM_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include "lkvm/compiler.h"

/* One line per message, prefixed "lkvm: ", to stderr. */
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed only with --debug. */
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print and exit(1): for start-up errors only, never on a guest's input. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2))) NORETURN;

extern int log_debug_enabled;

/*
 * Messages a guest can trigger at will (refused feature sets, broken
 * queues, failed activations...) go through the *_ratelimited forms, so
 * that a guest cannot flood the host's log: each message site prints at
 * most LOG_RATELIMIT_BURST lines per interval and counts the rest; the
 * first message of a later interval is preceded by one line
 * "N more messages like "..." suppressed".
 */
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_MS 5000
/* The interval; tests shorten it. */
extern unsigned int log_ratelimit_interval_ms;
/* Tests: every site starts afresh (full burst, nothing counted). */
void log_ratelimit_reset(void);

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct log_ratelimit {
	pthread_mutex_t lock;
	unsigned int generation;		/* of log_ratelimit_reset() */
	bool started;
	unsigned long long window_start;	/* ms, CLOCK_MONOTONIC */
	unsigned int printed;			/* in this interval */
	unsigned long suppressed;		/* in this interval */
	char last[96];				/* the last line printed */
};

#define LOG_RATELIMIT_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One limit per call site. */
#define LOG_RATELIMITED(level, ...)                                           \
	do {                                                                  \
		static struct log_ratelimit log_rl_ = LOG_RATELIMIT_INIT;     \
		log_ratelimited(&log_rl_, level, __VA_ARGS__);                \
	} while (0)
#define pr_err_ratelimited(...) LOG_RATELIMITED(LOG_ERR, __VA_ARGS__)
#define pr_warn_ratelimited(...) LOG_RATELIMITED(LOG_WARN, __VA_ARGS__)
#define pr_debug_ratelimited(...)                                             \
	do {                                                                  \
		if (log_debug_enabled)                                        \
			LOG_RATELIMITED(LOG_DEBUG, __VA_ARGS__);              \
	} while (0)

#endif
