#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/file.h"
#include "lkvm/log.h"

int open_regular_file(const char *path, const char *what, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		die("%s %s: not a regular file", what, path);
	*size = st.st_size;
	return fd;
}

void read_file_range(int fd, const char *path, const char *what, u64 off, void *dst,
		     size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (u8 *)dst + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s %s: read failed: %s", what, path, n ? strerror(errno) : "short file");
		done += n;
	}
}

u8 *read_whole_file(const char *path, const char *what, size_t *size)
{
	int fd = open_regular_file(path, what, size);
	u8 *buf = malloc(*size ? *size : 1);

	if (!buf)
		die("%s %s: out of memory", what, path);
	read_file_range(fd, path, what, 0, buf, *size);
	close(fd);
	return buf;
}
