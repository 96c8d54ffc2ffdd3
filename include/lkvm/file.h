#ifndef LKVM_FILE_H
#define LKVM_FILE_H

#include <stddef.h>
#include "lkvm/compiler.h"

/* Read a whole file into memory; dies with "WHAT PATH: reason" on error. */
u8 *read_whole_file(const char *path, const char *what, size_t *size);
/*
 * For reading straight into guest RAM (no buffer to fault in and copy
 * from): open a regular file and give its size; read len bytes at off
 * into dst.  Both die with "WHAT PATH: reason" on error, a short file too.
 */
int open_regular_file(const char *path, const char *what, size_t *size);
void read_file_range(int fd, const char *path, const char *what, u64 off, void *dst,
		     size_t len);

#endif
