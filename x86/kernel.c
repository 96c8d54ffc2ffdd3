/* Which kernel `lkvm run` boots without -k, and what release it is (x86). */
#include "lkvm/kvm-arch.h"
#include "x86/bzimage.h"

/* A kernel tree's top (after make) first, then its boot directory. */
const char *const kvm_arch_default_kernels[] = {
	"bzImage", "arch/x86/boot/bzImage", NULL,
};

int kvm_arch_kernel_release(const u8 *img, size_t size, char *buf, size_t len)
{
	return bzimage_release(img, size, buf, len);
}
