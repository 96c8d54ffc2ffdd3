/* Finding the kernel without -k, and reading its release from the image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/kernel-find.h"
#include "lkvm/kvm-arch.h"
#include "unit.h"

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	CHECK(fd >= 0);
	close(fd);
}

static void test_search_order(void)
{
	struct kernel_candidates c;
	char tried[1024];
	unsigned int n = 0;

	kernel_candidates(&c, "9.9.9-test");
	while (kvm_arch_default_kernels[n])
		n++;
	CHECK_EQ(c.nr, n + 1);
	for (unsigned int i = 0; i < n; i++)
		CHECK_STR(c.path[i], kvm_arch_default_kernels[i]);
	CHECK_STR(c.path[n], "/boot/vmlinuz-9.9.9-test");
#if defined(__x86_64__)
	CHECK_STR(c.path[0], "bzImage");
	CHECK_STR(c.path[1], "arch/x86/boot/bzImage");
#endif

	/* Nothing there: every path tried is named. */
	CHECK_EQ(kernel_pick(&c, tried, sizeof(tried)), -1);
	for (unsigned int i = 0; i < c.nr; i++)
		CHECK(strstr(tried, c.path[i]) != NULL);

	/* The last arch candidate, then an earlier one wins. */
	CHECK_EQ(system("mkdir -p arch/x86/boot arch/arm64/boot"), 0);
	touch(kvm_arch_default_kernels[n - 1]);
	CHECK_EQ(kernel_pick(&c, tried, sizeof(tried)), (int)n - 1);
	if (n > 1) {
		/* A directory of that name is no kernel. */
		CHECK_EQ(mkdir(kvm_arch_default_kernels[0], 0755), 0);
		CHECK_EQ(kernel_pick(&c, tried, sizeof(tried)), (int)n - 1);
		rmdir(kvm_arch_default_kernels[0]);
		touch(kvm_arch_default_kernels[0]);
		CHECK_EQ(kernel_pick(&c, tried, sizeof(tried)), 0);
	}
}

#if defined(__x86_64__)
/* A bzImage header with kernel_version pointing at text. */
static size_t fake_bzimage(u8 *img, size_t size, const char *text, u16 ptr)
{
	memset(img, 0, size);
	memcpy(img + 0x202, "HdrS", 4);
	img[0x20e] = (u8)ptr;
	img[0x20f] = (u8)(ptr >> 8);
	if (text)
		memcpy(img + 0x200 + ptr, text, strlen(text) + 1);
	return size;
}

static void test_bzimage_release(void)
{
	static u8 img[0x1000];
	char rel[64];

	fake_bzimage(img, sizeof(img), "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP",
		     0x300);
	CHECK_EQ(kvm_arch_kernel_release(img, sizeof(img), rel, sizeof(rel)), 0);
	CHECK_STR(rel, "6.1.0-57-amd64");
	/* Too small a buffer: cut, still terminated. */
	CHECK_EQ(kvm_arch_kernel_release(img, sizeof(img), rel, 6), 0);
	CHECK_STR(rel, "6.1.0");
	fake_bzimage(img, sizeof(img), NULL, 0);
	CHECK_EQ(kvm_arch_kernel_release(img, sizeof(img), rel, sizeof(rel)), -ENODATA);
	fake_bzimage(img, sizeof(img), "x", 0x0f00);	/* beyond the image */
	CHECK_EQ(kvm_arch_kernel_release(img, 0x800, rel, sizeof(rel)), -ENODATA);
	memset(img, 0, sizeof(img));
	CHECK_EQ(kvm_arch_kernel_release(img, sizeof(img), rel, sizeof(rel)), -ENOEXEC);
}

static void test_release_of_file(void)
{
	static u8 img[0x1000];
	char rel[64];
	int fd = open("k", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	fake_bzimage(img, sizeof(img), "5.99.1-custom+ #3", 0x400);
	CHECK(fd >= 0 && write(fd, img, sizeof(img)) == (ssize_t)sizeof(img));
	close(fd);
	CHECK_EQ(kernel_release("k", rel, sizeof(rel)), 0);
	CHECK_STR(rel, "5.99.1-custom+");
	CHECK_EQ(kernel_release("no-such-kernel", rel, sizeof(rel)), -ENOENT);
}
#endif

int main(void)
{
	char dir[] = "/tmp/lkvm-test-kfind.XXXXXX", cmd[64];

	if (!mkdtemp(dir) || chdir(dir)) {
		printf("FAIL: test-kernel-find (no temp dir)\n");
		return 1;
	}
	RUN(test_search_order);
#if defined(__x86_64__)
	RUN(test_bzimage_release);
	RUN(test_release_of_file);
#endif
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (chdir("/") == 0)
		system(cmd);
	return unit_summary();
}
