#ifndef LKVM_X86_ELF_H
#define LKVM_X86_ELF_H
/*
 * An x86_64 vmlinux (ELF64) for the PVH boot ABI: its PT_LOAD segments and
 * the 32-bit entry from the XEN_ELFNOTE_PHYS32_ENTRY note.  Written from
 * the ELF specification and Xen's PVH ABI description; the file and every
 * size in it are untrusted.
 */
#include <stddef.h>
#include "lkvm/guest-mem.h"

#define ELF_MAX_LOAD_SEGS	16
#define ELF_MAX_PHDRS		128
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_load_seg {
	u64 paddr;	/* guest-physical load address */
	u64 offset;	/* in the file */
	u64 filesz;
	u64 memsz;	/* filesz..memsz is zeroed */
};

struct pvh_image {
	u64 entry;	/* 32-bit PVH entry, guest-physical */
	u64 start, end;	/* lowest and highest loaded byte + 1 */
	unsigned int nr_segs;
	struct elf_load_seg segs[ELF_MAX_LOAD_SEGS];
};

bool elf_detect(const u8 *img, size_t size);
/*
 * Check img and describe how to load it: every segment inside one RAM
 * region of mem, at or above min_paddr (lkvm's boot data lives below),
 * no two segments overlapping, the entry inside a segment.  0, or
 * -EINVAL/-ENOEXEC with *why naming the problem.
 */
int pvh_elf_parse(const u8 *img, size_t size, const struct guest_mem *mem,
		  u64 min_paddr, struct pvh_image *out, const char **why);

#endif
