#ifndef LKVM_X86_PVH_H
#define LKVM_X86_PVH_H
/*
 * The PVH boot ABI's start-of-day structure, version 1, as Xen's public
 * headers specify it (our own definitions): the guest finds it with ebx
 * at its 32-bit entry, in protected mode with paging off.
 */
#include "lkvm/guest-mem.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr;	/* version 1 */
	u32 memmap_entries;
	u32 reserved;
};

struct hvm_modlist_entry {
	u64 paddr;
	u64 size;
	u64 cmdline_paddr;
	u64 reserved;
};

struct hvm_memmap_table_entry {
	u64 addr;
	u64 size;
	u32 type;	/* e820 types */
	u32 reserved;
};

#define PVH_MAX_MEMMAP 32

/* The page lkvm builds at info_paddr: start info, one module, the memmap. */
struct pvh_boot_page {
	struct hvm_start_info info;
	struct hvm_modlist_entry module;
	struct hvm_memmap_table_entry memmap[PVH_MAX_MEMMAP];
};

struct pvh_boot {
	u64 info_paddr;		/* where the page lives in the guest */
	u64 cmdline_paddr;
	u64 initrd_paddr, initrd_size;	/* 0 size: no module */
	u64 rsdp_paddr;
};

/* Fill page (to live at b->info_paddr); the memmap comes from mem's regions. */
void pvh_fill_boot_page(struct pvh_boot_page *page, const struct pvh_boot *b,
			const struct guest_mem *mem);

#endif
