#ifndef LKVM_KERNEL_FIND_H
#define LKVM_KERNEL_FIND_H
/*
 * The kernel `lkvm run` boots when -k is not given: the architecture's
 * candidates in the current directory (x86: ./bzImage, then
 * ./arch/x86/boot/bzImage), then the running kernel's
 * /boot/vmlinuz-$(uname -r).
 */
#include <limits.h>
#include <stddef.h>

#define KERNEL_FIND_MAX 8

struct kernel_candidates {
	char path[KERNEL_FIND_MAX][PATH_MAX];
	unsigned int nr;
};

/* The candidates in order; release is the host's uname -r. */
void kernel_candidates(struct kernel_candidates *c, const char *release);
/*
 * Index of the first candidate that is a readable regular file, or -1
 * with the tried paths, comma-separated, in tried[0, size).
 */
int kernel_pick(const struct kernel_candidates *c, char *tried, size_t size);
/*
 * The release of the kernel image at path (lkvm/kvm-arch.h); 0, or -errno
 * (-ENOEXEC: not a Linux image, -ENODATA: it does not say).
 */
int kernel_release(const char *path, char *buf, size_t len);

#endif
