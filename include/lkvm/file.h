#ifndef LKVM_FILE_H
#define LKVM_FILE_H

#include <stddef.h>
#include "lkvm/compiler.h"

/* Read a whole file into memory; dies with "WHAT PATH: reason" on error. */
u8 *read_whole_file(const char *path, const char *what, size_t *size);

#endif
