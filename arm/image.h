#ifndef LKVM_ARM_IMAGE_H
#define LKVM_ARM_IMAGE_H
/*
 * The Linux arm64 Image header (Documentation/arch/arm64/booting.rst):
 * 64 bytes at the start of the file, little-endian.  Parsing needs no KVM.
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

#define ARM64_IMAGE_HDR_SIZE	64
#define ARM64_IMAGE_MAGIC	0x644d5241u	/* "ARM\x64" at offset 0x38 */
/* Kernels before 3.17 have image_size 0 and this text_offset. */
#define ARM64_IMAGE_OLD_TEXT_OFFSET 0x80000ULL

struct arm64_image {
	u64 text_offset;	/* from the 2 MiB aligned base */
	u64 image_size;		/* bytes the kernel occupies, bss included */
	unsigned int page_kib;	/* 4, 16, 64, or 0 if unspecified */
	bool anywhere;		/* may sit anywhere in RAM, not near its base */
};

/*
 * Check the header of a file_size-byte file whose first len bytes are in
 * buf.  NULL and *img filled, or a one-line reason the file cannot boot.
 */
const char *arm64_image_parse(const u8 *buf, size_t len, u64 file_size,
			      struct arm64_image *img);

#endif
