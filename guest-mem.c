/* Registry of guest RAM regions (see include/lkvm/guest-mem.h). */
#include <errno.h>
#include "lkvm/guest-mem.h"

int guest_mem_add(struct guest_mem *mem, u64 gpa, u64 size, void *hva)
{
	if (mem->nr_regions >= GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	mem->regions[mem->nr_regions++] = (struct guest_mem_region){
		.gpa = gpa, .size = size, .hva = hva,
	};
	return 0;
}
