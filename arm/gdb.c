/*
 * The gdb stub on arm64: not there yet.  gdb_arch (weak, include/lkvm/
 * gdb-arch.h) stays undefined, so --gdb says the architecture is not
 * supported; only the breakpoint instruction, which the generic stub
 * names directly, is given: BRK #0.
 */
#include "lkvm/gdb-arch.h"

const u8 *gdb_arch_sw_bp(size_t *len)
{
	static const u8 brk0[] = { 0x00, 0x00, 0x20, 0xd4 };

	*len = sizeof(brk0);
	return brk0;
}
