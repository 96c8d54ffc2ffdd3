#ifndef LKVM_X86_E820_H
#define LKVM_X86_E820_H

#include <asm/bootparam.h>
#include "lkvm/guest-mem.h"

/*
 * The BIOS memory map for a guest with the given RAM regions: usable RAM
 * except the EBDA and the legacy BIOS area (ACPI tables live there).
 * Returns the number of entries written (at most max).
 */
unsigned int e820_build(const struct guest_mem *mem, struct boot_e820_entry *e,
			unsigned int max);

#endif
