/* Finding the kernel and its release (lkvm/kernel-find.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/kernel-find.h"
#include "lkvm/kvm-arch.h"

void kernel_candidates(struct kernel_candidates *c, const char *release)
{
	c->nr = 0;
	for (unsigned int i = 0; kvm_arch_default_kernels[i] && c->nr < KERNEL_FIND_MAX - 1; i++)
		snprintf(c->path[c->nr++], PATH_MAX, "%s", kvm_arch_default_kernels[i]);
	snprintf(c->path[c->nr++], PATH_MAX, "/boot/vmlinuz-%s", release);
}

int kernel_pick(const struct kernel_candidates *c, char *tried, size_t size)
{
	size_t used = 0;

	if (size)
		tried[0] = '\0';
	for (unsigned int i = 0; i < c->nr; i++) {
		struct stat st;

		if (stat(c->path[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    access(c->path[i], R_OK) == 0)
			return (int)i;
		if (used < size) {
			int n = snprintf(tried + used, size - used, "%s%s", i ? ", " : "",
					 c->path[i]);

			used += n > 0 ? (size_t)n : 0;
		}
	}
	return -1;
}

/* The header and setup code are at the start: the first 64 KiB will do. */
int kernel_release(const char *path, char *buf, size_t len)
{
	static u8 head[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n < 0)
		return -errno;
	return kvm_arch_kernel_release(head, (size_t)n, buf, len);
}
