/*
 * Fuzz target: x86/elf.c, the vmlinux/PVH parser, on a fuzzed file with
 * 64 MiB of fake guest RAM.  Oracle: an accepted image's segments lie in
 * the file and in RAM above 1 MiB, do not overlap, and hold the entry.
 */
#include <stdlib.h>
#include "x86/elf.h"

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct guest_mem m = { 0 };
	struct pvh_image img;
	const char *why;
	bool entry_in = false;

	guest_mem_add(&m, 0, 64 << 20, (void *)0x1000);
	if (pvh_elf_parse(data, size, &m, 0x100000, &img, &why))
		return 0;
	for (unsigned int i = 0; i < img.nr_segs; i++) {
		const struct elf_load_seg *s = &img.segs[i];

		if (s->offset > size || s->filesz > size - s->offset || s->filesz > s->memsz ||
		    s->paddr < 0x100000 || !guest_mem_range_ok(&m, s->paddr, s->memsz))
			abort();
		for (unsigned int j = 0; j < i; j++)
			if (s->paddr < img.segs[j].paddr + img.segs[j].memsz &&
			    img.segs[j].paddr < s->paddr + s->memsz)
				abort();
		if (img.entry >= s->paddr && img.entry - s->paddr < s->filesz)
			entry_in = true;
	}
	if (!entry_in)
		abort();
	return 0;
}
