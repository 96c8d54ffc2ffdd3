#ifndef LKVM_GUEST_MEM_H
#define LKVM_GUEST_MEM_H

#include <stdbool.h>
#include "lkvm/compiler.h"

/*
 * Guest physical memory as the host sees it: a few contiguous regions.
 * Everything that dereferences a guest-supplied address goes through
 * guest_mem_ptr(), which refuses any range not wholly inside one region.
 * Kept free of KVM so device code can be unit-tested on fake memory.
 */
#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
	u64 gpa;
	u64 size;
	void *hva;
};

struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
};

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside RAM. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, u64 gpa, u64 len)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return (char *)r->hva + (gpa - r->gpa);
	}
	return NULL;
}

static inline bool guest_mem_range_ok(const struct guest_mem *mem, u64 gpa, u64 len)
{
	return guest_mem_ptr(mem, gpa, len) != NULL;
}

/* Add a region; returns 0 or -ENOSPC. */
int guest_mem_add(struct guest_mem *mem, u64 gpa, u64 size, void *hva);

#endif
