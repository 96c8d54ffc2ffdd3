#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/file.h"
#include "lkvm/log.h"

u8 *read_whole_file(const char *path, const char *what, size_t *size)
{
	struct stat st;
	u8 *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		die("%s %s: not a regular file", what, path);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		die("%s %s: out of memory", what, path);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s %s: read failed: %s", what, path, n ? strerror(errno) : "short file");
		done += n;
	}
	close(fd);
	*size = done;
	return buf;
}
