/*
 * The newc cpio writer: the archive must be what cpio(1) reads, names and
 * contents intact (odd sizes exercise the 4-byte padding).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/cpio.h"
#include "unit.h"

static char dir[64];

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
	return system(cmd);
}

static char *read_file(const char *path, size_t *len)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	*len = n > 0 ? (size_t)n : 0;
	buf[*len] = '\0';
	return n < 0 ? NULL : buf;
}

static void write_archive(const char *path, const u8 *big, size_t big_len)
{
	struct cpio c;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char host[128];

	snprintf(host, sizeof(host), "%s/host-file", dir);
	int hfd = open(host, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(hfd >= 0 && write(hfd, "from the host\n", 14) == 14);
	close(hfd);

	CHECK(fd >= 0);
	cpio_init(&c, fd);
	CHECK_EQ(cpio_add_dir(&c, "d", 0755), 0);
	CHECK_EQ(cpio_add_dir(&c, "d/sub", 0700), 0);
	CHECK_EQ(cpio_add_file(&c, "d/one", 0644, "x", 1), 0);
	CHECK_EQ(cpio_add_file(&c, "d/sub/big", 0755, big, big_len), 0);
	CHECK_EQ(cpio_add_file(&c, "empty", 0600, "", 0), 0);
	CHECK_EQ(cpio_add_host_file(&c, "d/copied", 0644, host), 0);
	CHECK_EQ(cpio_add_symlink(&c, "d/link", "one"), 0);
	CHECK_EQ(cpio_add_node(&c, "console", S_IFCHR | 0600, 5, 1), 0);
	CHECK(cpio_add_host_file(&c, "nope", 0644, "/no/such/file") < 0);
	CHECK_EQ(cpio_finish(&c), 0);
	CHECK_EQ(c.offset % 4, 0);
	CHECK_EQ((off_t)c.offset, lseek(fd, 0, SEEK_CUR));
	close(fd);
}

static void test_cpio_readable_by_cpio(void)
{
	u8 big[5003];
	char arch[128], list[128], out[128], path[192];
	size_t len;
	char *got;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (u8)(i * 7 + 3);
	snprintf(arch, sizeof(arch), "%s/a.cpio", dir);
	write_archive(arch, big, sizeof(big));

	snprintf(list, sizeof(list), "%s/list", dir);
	CHECK_EQ(sh("cpio -t --quiet < %s/a.cpio > %s/list", dir), 0);
	got = read_file(list, &len);
	CHECK_STR(got, "d\nd/sub\nd/one\nd/sub/big\nempty\nd/copied\nd/link\nconsole\n");

	/* Extract all but the device node (mknod may not be allowed). */
	snprintf(out, sizeof(out), "%s/x", dir);
	mkdir(out, 0755);
	CHECK_EQ(sh("cd %s/x && cpio -id --quiet -f console < ../a.cpio", dir), 0);
	snprintf(path, sizeof(path), "%s/d/sub/big", out);
	got = read_file(path, &len);
	CHECK(got && len == sizeof(big) && !memcmp(got, big, sizeof(big)));
	snprintf(path, sizeof(path), "%s/d/one", out);
	CHECK_STR(read_file(path, &len), "x");
	snprintf(path, sizeof(path), "%s/d/copied", out);
	CHECK_STR(read_file(path, &len), "from the host\n");
	snprintf(path, sizeof(path), "%s/empty", out);
	CHECK(read_file(path, &len) && len == 0);
	snprintf(path, sizeof(path), "%s/d/link", out);
	char target[16] = "";
	CHECK_EQ(readlink(path, target, sizeof(target) - 1), 3);
	CHECK_STR(target, "one");
	struct stat st;
	snprintf(path, sizeof(path), "%s/d/sub/big", out);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0755);

	/* The node's type and device numbers, from the verbose listing. */
	CHECK_EQ(sh("cpio -tv --quiet < %s/a.cpio | grep -q '^crw------- .* 5, *1 .*console$'", dir), 0);
}

static void test_cpio_write_error(void)
{
	struct cpio c;
	int fd = open("/dev/full", O_WRONLY);

	if (fd < 0)
		return;
	cpio_init(&c, fd);
	cpio_add_file(&c, "f", 0644, "data", 4);
	CHECK(cpio_finish(&c) < 0);
	close(fd);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lkvm-test-cpio.XXXXXX");
	if (!mkdtemp(dir) || system("command -v cpio >/dev/null")) {
		printf("SKIP: test-cpio (no temp dir or no cpio(1))\n");
		return 0;
	}
	RUN(test_cpio_readable_by_cpio);
	RUN(test_cpio_write_error);
	sh("rm -rf %s", dir);
	return unit_summary();
}
