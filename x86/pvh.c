/* The hvm_start_info page for a PVH entry (see x86/pvh.h). */
#include <stddef.h>
#include <string.h>
#include "x86/e820.h"
#include "x86/pvh.h"

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");

void pvh_fill_boot_page(struct pvh_boot_page *page, const struct pvh_boot *b,
			const struct guest_mem *mem)
{
	struct boot_e820_entry e820[PVH_MAX_MEMMAP];
	unsigned int n = e820_build(mem, e820, PVH_MAX_MEMMAP);

	memset(page, 0, sizeof(*page));
	page->info.magic = HVM_START_MAGIC;
	page->info.version = 1;
	page->info.cmdline_paddr = b->cmdline_paddr;
	page->info.rsdp_paddr = b->rsdp_paddr;
	if (b->initrd_size) {
		page->info.nr_modules = 1;
		page->info.modlist_paddr = b->info_paddr + offsetof(struct pvh_boot_page, module);
		page->module.paddr = b->initrd_paddr;
		page->module.size = b->initrd_size;
	}
	for (unsigned int i = 0; i < n; i++)
		page->memmap[i] = (struct hvm_memmap_table_entry){
			.addr = e820[i].addr, .size = e820[i].size, .type = e820[i].type,
		};
	page->info.memmap_paddr = b->info_paddr + offsetof(struct pvh_boot_page, memmap);
	page->info.memmap_entries = n;
}
