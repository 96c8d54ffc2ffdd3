/*
 * newc cpio writer (lkvm/cpio.h), from the format's description in the
 * kernel's early-userspace documentation and cpio(5): a 110-byte header of
 * "070701" and thirteen 8-digit hex fields, the NUL-terminated name, both
 * padded to a multiple of 4, then the data padded the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/cpio.h"

#define CPIO_HDR_LEN 110

void cpio_init(struct cpio *c, int fd)
{
	c->fd = fd;
	c->next_ino = 1;
	c->offset = 0;
	c->error = 0;
}

static void put(struct cpio *c, const void *buf, size_t len)
{
	const u8 *p = buf;

	while (len && !c->error) {
		ssize_t n = write(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->error = n < 0 ? -errno : -EIO;
			return;
		}
		p += n;
		len -= n;
		c->offset += n;
	}
}

static void pad4(struct cpio *c)
{
	static const u8 zeros[4];

	put(c, zeros, (4 - c->offset % 4) % 4);
}

static void header(struct cpio *c, const char *name, mode_t mode, u64 size,
		   u32 rmajor, u32 rminor)
{
	char hdr[CPIO_HDR_LEN + 1];
	size_t namesize = strlen(name) + 1;
	bool trailer = !strcmp(name, "TRAILER!!!");

	if (size > 0xffffffffULL) {
		c->error = c->error ? c->error : -EFBIG;
		return;
	}
	/* ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 trailer ? 0 : c->next_ino++, (unsigned int)mode, 0, 0,
		 S_ISDIR(mode) ? 2 : 1, 0, (unsigned int)size, 0, 0, rmajor, rminor,
		 (unsigned int)namesize, 0);
	put(c, hdr, CPIO_HDR_LEN);
	put(c, name, namesize);
	pad4(c);
}

int cpio_add_dir(struct cpio *c, const char *name, mode_t mode)
{
	header(c, name, S_IFDIR | (mode & 07777), 0, 0, 0);
	return c->error;
}

int cpio_add_file(struct cpio *c, const char *name, mode_t mode, const void *data,
		  size_t len)
{
	header(c, name, S_IFREG | (mode & 07777), len, 0, 0);
	put(c, data, len);
	pad4(c);
	return c->error;
}

int cpio_add_host_file(struct cpio *c, const char *name, mode_t mode, const char *path)
{
	u8 buf[65536];
	struct stat st;
	u64 left;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		int err = fd < 0 ? -errno : -EINVAL;

		if (fd >= 0)
			close(fd);
		return err;	/* the archive is still whole: the caller decides */
	}
	header(c, name, S_IFREG | (mode & 07777), st.st_size, 0, 0);
	for (left = st.st_size; left && !c->error;) {
		ssize_t n = read(fd, buf, MIN(left, (u64)sizeof(buf)));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->error = n < 0 ? -errno : -EIO;	/* file shrank */
			break;
		}
		put(c, buf, n);
		left -= n;
	}
	close(fd);
	pad4(c);
	return c->error;
}

int cpio_add_node(struct cpio *c, const char *name, mode_t mode, u32 major, u32 minor)
{
	header(c, name, mode, 0, major, minor);
	return c->error;
}

int cpio_add_symlink(struct cpio *c, const char *name, const char *target)
{
	size_t len = strlen(target);

	header(c, name, S_IFLNK | 0777, len, 0, 0);
	put(c, target, len);
	pad4(c);
	return c->error;
}

int cpio_finish(struct cpio *c)
{
	header(c, "TRAILER!!!", 0, 0, 0, 0);
	return c->error;
}
