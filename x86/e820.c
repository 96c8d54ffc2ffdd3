/* The e820 map handed to Linux in boot_params. */
#include "x86/e820.h"
#include "x86/layout.h"

enum { E820_RAM = 1, E820_RESERVED = 2 };

static unsigned int add(struct boot_e820_entry *e, unsigned int n, unsigned int max,
			u64 addr, u64 size, u32 type)
{
	if (n < max && size)
		e[n++] = (struct boot_e820_entry){ .addr = addr, .size = size, .type = type };
	return n;
}

unsigned int e820_build(const struct guest_mem *mem, struct boot_e820_entry *e,
			unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		u64 start = mem->regions[i].gpa;
		u64 end = start + mem->regions[i].size;

		if (start < X86_BIOS_END) {
			/* Low memory: RAM up to the EBDA, then the legacy areas. */
			n = add(e, n, max, start, MIN(end, X86_EBDA_START) - start, E820_RAM);
			n = add(e, n, max, X86_EBDA_START, 0xa0000 - X86_EBDA_START, E820_RESERVED);
			n = add(e, n, max, X86_ACPI_ADDR, X86_BIOS_END - X86_ACPI_ADDR, E820_RESERVED);
			start = X86_BIOS_END;
		}
		if (end > start)
			n = add(e, n, max, start, end - start, E820_RAM);
	}
	return n;
}
