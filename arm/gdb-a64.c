/*
 * arm64 gdb stub, the parts that need no KVM (arm/gdb-a64.h).  Register
 * layout from the GDB manual's "AArch64 Features"; descriptors, ESR and
 * debug registers from the Arm Architecture Reference Manual (VMSAv8-64
 * translation, ESR_ELx, DBGBCR/DBGWCR).
 */
#include <errno.h>
#include <string.h>
#include "arm/gdb-a64.h"

#define X(n) "<reg name=\"x" #n "\" bitsize=\"64\" type=\"int\"/>\n"
#define V(n) "<reg name=\"v" #n "\" bitsize=\"128\" type=\"uint128\"/>\n"
const char a64_target_xml[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
	"<target version=\"1.0\">\n"
	"<architecture>aarch64</architecture>\n"
	"<feature name=\"org.gnu.gdb.aarch64.core\">\n"
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
	X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30)
	"<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
	"<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/>\n"
	"<reg name=\"cpsr\" bitsize=\"32\" type=\"int\"/>\n"
	"</feature>\n"
	"<feature name=\"org.gnu.gdb.aarch64.fpu\">\n"
	V(0) V(1) V(2) V(3) V(4) V(5) V(6) V(7) V(8) V(9) V(10) V(11) V(12) V(13) V(14) V(15)
	V(16) V(17) V(18) V(19) V(20) V(21) V(22) V(23) V(24) V(25) V(26) V(27) V(28) V(29)
	V(30) V(31)
	"<reg name=\"fpsr\" bitsize=\"32\" type=\"int\"/>\n"
	"<reg name=\"fpcr\" bitsize=\"32\" type=\"int\"/>\n"
	"</feature>\n"
	"</target>\n";
#undef X
#undef V

/* gdb's register numbers in the image, filled from the offsets above. */
struct gdb_reg_slot a64_reg_slots[A64_NR_REGS];

__attribute__((constructor)) static void init_reg_slots(void)
{
	for (int i = 0; i < 31; i++)
		a64_reg_slots[i] = (struct gdb_reg_slot){ (u16)(A64_OFF_X + 8 * i), 8 };
	a64_reg_slots[31] = (struct gdb_reg_slot){ A64_OFF_SP, 8 };
	a64_reg_slots[32] = (struct gdb_reg_slot){ A64_OFF_PC, 8 };
	a64_reg_slots[33] = (struct gdb_reg_slot){ A64_OFF_CPSR, 4 };
	for (int i = 0; i < 32; i++)
		a64_reg_slots[34 + i] = (struct gdb_reg_slot){ (u16)(A64_OFF_V + 16 * i), 16 };
	a64_reg_slots[66] = (struct gdb_reg_slot){ A64_OFF_FPSR, 4 };
	a64_reg_slots[67] = (struct gdb_reg_slot){ A64_OFF_FPCR, 4 };
}

void a64_regs_to_image(const struct a64_regs *r, u8 *buf)
{
	memcpy(buf + A64_OFF_X, r->x, sizeof(r->x));
	memcpy(buf + A64_OFF_SP, &r->sp, 8);
	memcpy(buf + A64_OFF_PC, &r->pc, 8);
	memcpy(buf + A64_OFF_CPSR, &r->cpsr, 4);
	memcpy(buf + A64_OFF_V, r->v, sizeof(r->v));
	memcpy(buf + A64_OFF_FPSR, &r->fpsr, 4);
	memcpy(buf + A64_OFF_FPCR, &r->fpcr, 4);
}

void a64_image_to_regs(const u8 *buf, struct a64_regs *r)
{
	memcpy(r->x, buf + A64_OFF_X, sizeof(r->x));
	memcpy(&r->sp, buf + A64_OFF_SP, 8);
	memcpy(&r->pc, buf + A64_OFF_PC, 8);
	memcpy(&r->cpsr, buf + A64_OFF_CPSR, 4);
	memcpy(r->v, buf + A64_OFF_V, sizeof(r->v));
	memcpy(&r->fpsr, buf + A64_OFF_FPSR, 4);
	memcpy(&r->fpcr, buf + A64_OFF_FPCR, 4);
}

enum a64_debug_kind a64_esr_kind(u32 esr)
{
	switch (esr >> 26) {
	case A64_EC_BRK64: return A64_DBG_BRK;
	case A64_EC_SS_LOWER: case A64_EC_SS_CUR: return A64_DBG_STEP;
	case A64_EC_HW_BP_LOWER: case A64_EC_HW_BP_CUR: return A64_DBG_HW_BP;
	case A64_EC_WP_LOWER: case A64_EC_WP_CUR: return A64_DBG_WATCH;
	default: return A64_DBG_OTHER;
	}
}

#define DBG_ENABLE	1ULL
#define DBG_EL1_EL0	(3ULL << 1)	/* PMC / PAC: privileged and user */

bool a64_bp_regs(u64 addr, u64 *bcr, u64 *bvr)
{
	if (addr & 3)
		return false;
	*bcr = DBG_ENABLE | DBG_EL1_EL0 | (0xfULL << 5);	/* BAS: an A64 instruction */
	*bvr = addr;
	return true;
}

bool a64_wp_regs(enum gdb_bp_type type, u64 addr, u64 len, u64 *wcr, u64 *wvr)
{
	u64 lsc = type == GDB_WATCH_READ ? 1 : type == GDB_WATCH_WRITE ? 2 : 3;
	u64 bas, mask = 0;

	if (type < GDB_WATCH_WRITE || type > GDB_WATCH_ACCESS || len == 0)
		return false;
	if ((addr & 7) + len <= 8) {
		bas = ((1ULL << len) - 1) << (addr & 7);
		*wvr = addr & ~7ULL;
	} else if (!(len & (len - 1)) && len <= (1ULL << 31) && !(addr & (len - 1))) {
		mask = (u64)__builtin_ctzll(len);	/* >= 4 here: len > 8 */
		bas = 0xff;
		*wvr = addr;
	} else {
		return false;
	}
	*wcr = DBG_ENABLE | DBG_EL1_EL0 | (lsc << 3) | ((bas & 0xff) << 5) | (mask << 24);
	return true;
}

/* --- stage-1 translation ---------------------------------------------------- */

#define SCTLR_M		1ULL
#define OA_MASK		0x0000ffffffffffffULL	/* 48-bit output addresses */
#define MAX_VA_BITS	48

struct region {
	unsigned int va_bits, granule;	/* granule as a shift: 12, 14, 16 */
	u64 table;
};

/* TCR_EL1's fields of the half va falls into; -EFAULT outside both halves. */
static int pick_region(const struct a64_mmu *m, u64 va, struct region *r)
{
	bool upper = (va >> 55) & 1;
	unsigned int txsz = (unsigned int)(m->tcr >> (upper ? 16 : 0)) & 0x3f;
	unsigned int tg = (unsigned int)(m->tcr >> (upper ? 30 : 14)) & 3;
	bool tbi = (m->tcr >> (upper ? 38 : 37)) & 1;
	bool epd = (m->tcr >> (upper ? 23 : 7)) & 1;
	static const unsigned int tg0[4] = { 12, 16, 14, 0 }, tg1[4] = { 0, 14, 12, 16 };
	unsigned int top = tbi ? 56 : 64;
	u64 high;

	r->granule = upper ? tg1[tg] : tg0[tg];
	if (!r->granule || txsz < 64 - MAX_VA_BITS || txsz > 47)
		return -EINVAL;
	r->va_bits = 64 - txsz;
	/* Bits [top-1 : va_bits] must all equal bit 55 (all ones or all zeros). */
	high = (va & (top == 64 ? ~0ULL : (1ULL << top) - 1)) >> r->va_bits;
	if (high != (upper ? (1ULL << (top - r->va_bits)) - 1 : 0))
		return -EFAULT;
	if (epd)
		return -EFAULT;
	r->table = (upper ? m->ttbr1 : m->ttbr0) & OA_MASK & ~7ULL;
	return 0;
}

/* Can a block descriptor sit at this level of this granule (48-bit OA)? */
static bool block_ok(unsigned int granule, int level)
{
	return level == 2 || (granule == 12 && level == 1);
}

int a64_translate(const struct a64_mmu *m, u64 va, a64_read_desc rd, void *ctx, u64 *pa)
{
	struct region r;
	unsigned int stride, shift, bits;
	int level, ret;
	u64 table, desc;

	if (!(m->sctlr & SCTLR_M)) {
		if (va & ~OA_MASK)
			return -EFAULT;
		*pa = va;
		return 0;
	}
	ret = pick_region(m, va, &r);
	if (ret)
		return ret;
	stride = r.granule - 3;
	level = 4 - (int)((r.va_bits - r.granule + stride - 1) / stride);
	if (level < 0)
		return -EINVAL;
	table = r.table;
	for (; level <= 3; level++) {
		shift = r.granule + stride * (unsigned int)(3 - level);
		bits = MIN(stride, r.va_bits - shift);	/* the first level may be shorter */
		ret = rd(ctx, table + 8 * ((va >> shift) & ((1ULL << bits) - 1)), &desc);
		if (ret)
			return ret;
		if (!(desc & 1))
			return -EFAULT;
		if (level == 3 || !(desc & 2)) {
			if ((level == 3) != ((desc & 2) != 0) || (level < 3 && !block_ok(r.granule, level)))
				return -EINVAL;	/* a reserved encoding */
			*pa = (desc & OA_MASK & ~((1ULL << shift) - 1)) | (va & ((1ULL << shift) - 1));
			return 0;
		}
		table = desc & OA_MASK & ~((1ULL << r.granule) - 1);
	}
	return -EINVAL;		/* not reached: level 3 always ends the walk */
}
