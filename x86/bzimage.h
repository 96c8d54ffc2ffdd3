#ifndef LKVM_X86_BZIMAGE_H
#define LKVM_X86_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <asm/bootparam.h>
#include "lkvm/guest-mem.h"

/*
 * Loading a bzImage for the 64-bit boot protocol (boot.rst, "64-bit BOOT
 * PROTOCOL"): lkvm has no BIOS, so the real-mode setup code (which calls
 * BIOS services) is skipped; the protected-mode kernel is entered in long
 * mode at its startup_64 (load address + 0x200) with boot_params in RSI.
 */
struct bzimage_info {
	u16 version;		/* boot protocol version */
	size_t setup_size;	/* bytes of real-mode setup, incl. boot sector */
	u32 init_size;		/* memory the kernel needs from its load address */
	u32 initrd_addr_max;
	u32 cmdline_size;	/* max command line length (without NUL) */
};

bool bzimage_detect(const u8 *img, size_t size);
/*
 * The release named by the header's kernel_version string (boot protocol
 * 2.00+: a pointer at 0x20e, relative to 0x200): its first word.  0, or
 * -ENOEXEC (not a bzImage), -ENODATA (no usable string).
 */
int bzimage_release(const u8 *img, size_t size, char *buf, size_t len);
/* 0, or -EINVAL with *why set to a message naming the problem. */
int bzimage_parse(const u8 *img, size_t size, struct bzimage_info *info,
		  const char **why);

struct bzimage_load {
	u64 kernel_addr;	/* where the protected-mode kernel goes */
	u64 cmdline_addr;
	const char *cmdline;
	u64 initrd_addr, initrd_size;	/* 0 size: none */
	u64 rsdp_addr;		/* 0: none */
};

/*
 * Fill bp (the zero page) from the image's setup header and the load
 * description; e820 from the guest RAM regions.
 */
void bzimage_fill_boot_params(struct boot_params *bp, const u8 *img,
			      const struct bzimage_info *info,
			      const struct bzimage_load *load,
			      const struct guest_mem *mem);
/*
 * Where the initrd goes: as high as possible below both initrd_addr_max and
 * the top of low RAM, page aligned, above kernel_end.  0 if it cannot fit.
 */
u64 bzimage_initrd_addr(const struct bzimage_info *info, const struct guest_mem *mem,
			u64 kernel_end, u64 initrd_size);

#endif
