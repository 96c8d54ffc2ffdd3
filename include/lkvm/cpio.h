#ifndef LKVM_CPIO_H
#define LKVM_CPIO_H
/*
 * A writer of "newc" cpio archives (the format the Linux kernel unpacks as
 * an initramfs: ASCII hex headers, names and data padded to 4 bytes, a
 * TRAILER!!! entry at the end).  Appends to a file descriptor.
 */
#include <stddef.h>
#include <sys/types.h>
#include "lkvm/compiler.h"

struct cpio {
	int fd;
	u32 next_ino;
	u64 offset;	/* bytes written so far */
	int error;	/* first -errno; later calls do nothing */
};

void cpio_init(struct cpio *c, int fd);
/* mode holds the file type bits (S_IFDIR...) and the permissions. */
int cpio_add_dir(struct cpio *c, const char *name, mode_t mode);
int cpio_add_file(struct cpio *c, const char *name, mode_t mode, const void *data,
		  size_t len);
/* A regular file's contents from the host file at path. */
int cpio_add_host_file(struct cpio *c, const char *name, mode_t mode, const char *path);
int cpio_add_node(struct cpio *c, const char *name, mode_t mode, u32 major, u32 minor);
int cpio_add_symlink(struct cpio *c, const char *name, const char *target);
/* The trailer; 0 or the first error of the whole archive. */
int cpio_finish(struct cpio *c);

#endif
