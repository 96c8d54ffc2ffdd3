#ifndef LKVM_ARM_GDB_A64_H
#define LKVM_ARM_GDB_A64_H
/*
 * The KVM-free half of the arm64 gdb stub (arm/gdb-a64.c, used by
 * arm/gdb.c; unit-tested on any host): the 'g' image gdb's aarch64
 * target description expects, what an ESR_EL2 of a debug exit means,
 * the hardware breakpoint/watchpoint control values, and the stage-1
 * translation table walk (Arm ARM D8, VMSAv8-64) for memory accesses at
 * guest virtual addresses.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"
#include "lkvm/gdb-arch.h"

/*
 * org.gnu.gdb.aarch64.core: x0-x30, sp, pc (8 bytes each), cpsr (4);
 * org.gnu.gdb.aarch64.fpu: v0-v31 (16 bytes each), fpsr, fpcr (4 each).
 */
enum {
	A64_OFF_X = 0,
	A64_OFF_SP = 248,
	A64_OFF_PC = 256,
	A64_OFF_CPSR = 264,
	A64_OFF_V = 268,
	A64_OFF_FPSR = 780,
	A64_OFF_FPCR = 784,
	A64_REGS_SIZE = 788,
	A64_NR_REGS = 31 + 3 + 32 + 2,
	A64_PC_REGNO = 32,
};

struct a64_regs {
	u64 x[31], sp, pc;
	u32 cpsr;
	u8 v[32][16];
	u32 fpsr, fpcr;
};

/* The target description and gdb's register numbering of the image. */
extern const char a64_target_xml[];
extern struct gdb_reg_slot a64_reg_slots[A64_NR_REGS];

void a64_regs_to_image(const struct a64_regs *r, u8 *buf);
void a64_image_to_regs(const u8 *buf, struct a64_regs *r);

/* ESR exception classes of the debug exits KVM reports (Arm ARM D17.2.37). */
#define A64_EC_HW_BP_LOWER	0x30
#define A64_EC_HW_BP_CUR	0x31
#define A64_EC_SS_LOWER		0x32
#define A64_EC_SS_CUR		0x33
#define A64_EC_WP_LOWER		0x34
#define A64_EC_WP_CUR		0x35
#define A64_EC_BRK64		0x3c

/* What a debug exit with this ESR (KVM's run->debug.arch.hsr) is. */
enum a64_debug_kind { A64_DBG_BRK, A64_DBG_STEP, A64_DBG_HW_BP, A64_DBG_WATCH, A64_DBG_OTHER };
enum a64_debug_kind a64_esr_kind(u32 esr);
/* The BRK instruction's 16-bit immediate (ESR ISS[15:0]). */
static inline unsigned int a64_brk_imm(u32 esr) { return esr & 0xffff; }

/*
 * DBGBCR/DBGBVR and DBGWCR/DBGWVR for one slot (EL1 and EL0, unlinked
 * address match).  false when the hardware cannot cover [addr, addr+len):
 * breakpoints need a 4-byte aligned address; watchpoints 1-8 bytes inside
 * one aligned doubleword, or a power of two from 8 bytes to 2 GiB aligned
 * to its size.
 */
bool a64_bp_regs(u64 addr, u64 *bcr, u64 *bvr);
bool a64_wp_regs(enum gdb_bp_type type, u64 addr, u64 len, u64 *wcr, u64 *wvr);

/* The stage-1 translation registers of EL1 (KVM_GET_ONE_REG). */
struct a64_mmu {
	u64 sctlr, tcr, ttbr0, ttbr1;
};

/* Reads the 8-byte descriptor at a guest-physical address: 0 or -EFAULT. */
typedef int (*a64_read_desc)(void *ctx, u64 gpa, u64 *desc);

/*
 * Guest virtual to guest physical through the EL1&0 regime: 4, 16 or 64
 * KiB granules, up to 48-bit VAs and output addresses, table, block and
 * page descriptors.  -EFAULT for an unmapped address (invalid descriptor,
 * address outside the region, walk disabled), -EINVAL for a malformed
 * configuration or table (reserved granule or size, block where none can
 * be), or the reader's error.  With the MMU off the address is physical.
 */
int a64_translate(const struct a64_mmu *m, u64 va, a64_read_desc rd, void *ctx, u64 *pa);

#endif
