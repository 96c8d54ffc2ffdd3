#ifndef LKVM_OPTIONS_H
#define LKVM_OPTIONS_H

#include <stdio.h>
#include "lkvm/config.h"

/* Exit status for a command line that cannot be used. */
#define LKVM_EXIT_USAGE 2

/*
 * Parse `lkvm run` options into cfg (defaults filled in first).  Returns 0,
 * LKVM_EXIT_USAGE after printing one line that names the problem, or -1
 * when --help was printed (exit 0).
 */
int parse_run_options(int argc, char **argv, struct lkvm_config *cfg);
void print_run_usage(FILE *out);
/* Parse a memory size: plain number = MiB, or with a K/M/G/T suffix. */
int parse_mem_size(const char *s, u64 *mib);

#endif
