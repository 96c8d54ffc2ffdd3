/* Which kernel `lkvm run` boots without -k, and what release it is (arm64). */
#include <errno.h>
#include <string.h>
#include "lkvm/kvm-arch.h"
#include "arm/image.h"

/* A kernel tree's top (after make) first, then its boot directory. */
const char *const kvm_arch_default_kernels[] = {
	"Image", "arch/arm64/boot/Image", NULL,
};

/*
 * An arm64 Image has no version field in its header, but an uncompressed
 * one carries the kernel's banner, "Linux version RELEASE (...".
 */
int kvm_arch_kernel_release(const u8 *img, size_t size, char *buf, size_t len)
{
	static const char banner[] = "Linux version ";
	const u8 *p = img, *end = img + size;
	size_t n;

	if (size < 64 || memcmp(img + 0x38, "ARM\x64", 4))
		return -ENOEXEC;
	while ((p = memmem(p, end - p, banner, sizeof(banner) - 1))) {
		p += sizeof(banner) - 1;
		for (n = 0; p + n < end && n + 1 < len && p[n] > ' ' && p[n] < 0x7f; n++)
			;
		/* A release starts with a digit; the banner's format string does not. */
		if (n && p[0] >= '0' && p[0] <= '9' && p + n < end && p[n] == ' ') {
			memcpy(buf, p, n);
			buf[n] = '\0';
			return 0;
		}
	}
	return -ENODATA;
}
