#ifndef LKVM_LOG_H
#define LKVM_LOG_H

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

#endif
