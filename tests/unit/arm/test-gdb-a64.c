/* arm64 gdb stub without KVM (arm/gdb-a64.c): register image, ESR, debug registers, page walk. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "arm/gdb-a64.h"
#include "../unit.h"

/* The XML's registers, in order, have the slots' sizes, and the slots tile the image. */
static void test_register_layout(void)
{
	const char *p = a64_target_xml;
	unsigned int n = 0, off = 0;

	while ((p = strstr(p, "<reg name=\""))) {
		const char *bits = strstr(p, "bitsize=\"");

		CHECK(n < A64_NR_REGS);
		if (n >= A64_NR_REGS || !bits)
			break;
		CHECK_EQ(atoi(bits + 9), 8 * a64_reg_slots[n].size);
		CHECK_EQ(a64_reg_slots[n].offset, off);
		if (n == A64_PC_REGNO)
			CHECK(!strncmp(p, "<reg name=\"pc\"", 14));
		off += a64_reg_slots[n].size;
		n++;
		p++;
	}
	CHECK_EQ(n, A64_NR_REGS);
	CHECK_EQ(off, A64_REGS_SIZE);
	CHECK(strstr(a64_target_xml, "<architecture>aarch64</architecture>"));
	CHECK(strstr(a64_target_xml, "org.gnu.gdb.aarch64.core"));
	CHECK(strstr(a64_target_xml, "<reg name=\"cpsr\" bitsize=\"32\""));
}

static u64 get_le(const u8 *p, unsigned int n)
{
	u64 v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

static void test_register_image(void)
{
	struct a64_regs r, back;
	u8 img[A64_REGS_SIZE];

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 31; i++)
		r.x[i] = 0x1111000000000000ULL + (u64)i;
	r.sp = 0xffff800008003f00ULL;
	r.pc = 0xffff800008010000ULL;
	r.cpsr = 0x600003c5;
	for (int i = 0; i < 32; i++)
		memset(r.v[i], i + 1, 16);
	r.fpsr = 0x8000001f;
	r.fpcr = 0x03c00000;
	a64_regs_to_image(&r, img);
	CHECK_EQ(get_le(img + 0, 8), 0x1111000000000000ULL);
	CHECK_EQ(get_le(img + 30 * 8, 8), 0x111100000000001eULL);
	CHECK_EQ(get_le(img + 248, 8), r.sp);
	CHECK_EQ(get_le(img + 256, 8), r.pc);
	CHECK_EQ(get_le(img + 264, 4), 0x600003c5);
	CHECK_EQ(img[268], 1);
	CHECK_EQ(img[268 + 31 * 16 + 15], 32);
	CHECK_EQ(get_le(img + 780, 4), r.fpsr);
	CHECK_EQ(get_le(img + 784, 4), r.fpcr);
	memset(&back, 0xee, sizeof(back));
	a64_image_to_regs(img, &back);
	memset((u8 *)&back + offsetof(struct a64_regs, fpcr) + 4, 0,
	       sizeof(back) - offsetof(struct a64_regs, fpcr) - 4);	/* tail padding */
	CHECK(!memcmp(&r, &back, sizeof(r)));
}

static void test_esr_kinds(void)
{
	CHECK_EQ(a64_esr_kind(0xf2000000u), A64_DBG_BRK);	/* EC 0x3c, IL, imm 0 */
	CHECK_EQ(a64_esr_kind(0xf2000800u), A64_DBG_BRK);	/* BUG()'s BRK #0x800 */
	CHECK_EQ(a64_brk_imm(0xf2000800u), 0x800);
	CHECK_EQ(a64_esr_kind(0x32u << 26), A64_DBG_STEP);
	CHECK_EQ(a64_esr_kind((0x33u << 26) | 0x2000022), A64_DBG_STEP);
	CHECK_EQ(a64_esr_kind(0x30u << 26), A64_DBG_HW_BP);
	CHECK_EQ(a64_esr_kind(0x31u << 26), A64_DBG_HW_BP);
	CHECK_EQ(a64_esr_kind((0x34u << 26) | 0x40), A64_DBG_WATCH);
	CHECK_EQ(a64_esr_kind(0x35u << 26), A64_DBG_WATCH);
	CHECK_EQ(a64_esr_kind(0x16u << 26), A64_DBG_OTHER);	/* HVC */
	CHECK_EQ(a64_esr_kind(0x24u << 26), A64_DBG_OTHER);	/* data abort */
	CHECK_EQ(a64_esr_kind(0), A64_DBG_OTHER);
}

static void test_debug_registers(void)
{
	u64 c, v;

	CHECK(a64_bp_regs(0xffff800008010004ULL, &c, &v));
	CHECK_EQ(c, 0x1e7);
	CHECK_EQ(v, 0xffff800008010004ULL);
	CHECK(!a64_bp_regs(0xffff800008010002ULL, &c, &v));

	/* 8 aligned bytes, write: LSC 10, BAS 0xff. */
	CHECK(a64_wp_regs(GDB_WATCH_WRITE, 0xffff800009000010ULL, 8, &c, &v));
	CHECK_EQ(c, 1 | (3 << 1) | (2 << 3) | (0xff << 5));
	CHECK_EQ(v, 0xffff800009000010ULL);
	/* 2 bytes at offset 4 of a doubleword, read: BAS 0b00110000. */
	CHECK(a64_wp_regs(GDB_WATCH_READ, 0x1004, 2, &c, &v));
	CHECK_EQ(c, 1 | (3 << 1) | (1 << 3) | (0x30 << 5));
	CHECK_EQ(v, 0x1000);
	/* 4 KiB aligned, access: MASK 12 and BAS 0xff. */
	CHECK(a64_wp_regs(GDB_WATCH_ACCESS, 0x7000, 4096, &c, &v));
	CHECK_EQ(c, 1 | (3 << 1) | (3 << 3) | (0xff << 5) | (12ULL << 24));
	CHECK_EQ(v, 0x7000);
	CHECK(!a64_wp_regs(GDB_WATCH_WRITE, 0x1006, 4, &c, &v));	/* crosses a doubleword */
	CHECK(!a64_wp_regs(GDB_WATCH_WRITE, 0x1008, 24, &c, &v));	/* not a power of two */
	CHECK(!a64_wp_regs(GDB_WATCH_WRITE, 0x1010, 32, &c, &v));	/* misaligned */
	CHECK(!a64_wp_regs(GDB_WATCH_WRITE, 0x1000, 0, &c, &v));
	CHECK(!a64_wp_regs(GDB_WATCH_WRITE, 0, 1ULL << 32, &c, &v));	/* beyond MASK */
	CHECK(!a64_wp_regs(GDB_BP_HW, 0x1000, 4, &c, &v));
}

/* --- page walk on a fake guest RAM ------------------------------------------- */

#define RAM_BASE 0x40000000ULL
#define RAM_PAGES 32
static u64 ram[RAM_PAGES * 512];
static unsigned int reads, bad_reads;

static int fake_read(void *ctx, u64 gpa, u64 *desc)
{
	(void)ctx;
	reads++;
	if (gpa < RAM_BASE || gpa + 8 > RAM_BASE + sizeof(ram) || (gpa & 7)) {
		bad_reads++;
		return -EFAULT;
	}
	*desc = ram[(gpa - RAM_BASE) / 8];
	return 0;
}

static u64 page(unsigned int n) { return RAM_BASE + 4096ULL * n; }
static void set_desc(unsigned int pg, unsigned int idx, u64 v) { ram[pg * 512 + idx] = v; }

#define TABLE 3ULL
#define PAGE_D (3ULL | (1ULL << 10))	/* AF */
#define BLOCK (1ULL | (1ULL << 10))
/* 4 KiB granule, 48-bit halves, TTBR1 tables in page 0, TTBR0 in page 8. */
#define TCR_4K_48 ((16ULL) | (16ULL << 16) | (2ULL << 30))

static struct a64_mmu mmu_4k(void)
{
	return (struct a64_mmu){ .sctlr = 1, .tcr = TCR_4K_48, .ttbr1 = page(0) | (5ULL << 48),
				 .ttbr0 = page(8) };
}

/* VA index of a level (4 KiB granule): level 0 = bits 47:39 ... level 3 = 20:12. */
static unsigned int idx(u64 va, int level) { return (unsigned int)(va >> (39 - 9 * level)) & 511; }

static void build_tables(void)
{
	const u64 kva = 0xffff800008010000ULL, blk2m = 0xffff800040000000ULL;
	const u64 blk1g = 0xffff808000000000ULL;

	memset(ram, 0, sizeof(ram));
	/* kva: L0 page 0 -> L1 page 1 -> L2 page 2 -> L3 page 3 -> 0x41234000 */
	set_desc(0, idx(kva, 0), page(1) | TABLE);
	set_desc(1, idx(kva, 1), page(2) | TABLE);
	set_desc(2, idx(kva, 2), page(3) | TABLE);
	set_desc(3, idx(kva, 3), 0x41234000ULL | PAGE_D | (1ULL << 54));	/* UXN ignored */
	/* blk2m: 2 MiB block at L2 */
	set_desc(1, idx(blk2m, 1), page(4) | TABLE);
	set_desc(4, idx(blk2m, 2), 0x80200000ULL | BLOCK);
	/* blk1g: 1 GiB block at L1 (another L0 entry) */
	set_desc(0, idx(blk1g, 0), page(5) | TABLE);
	set_desc(5, idx(blk1g, 1), 0xc0000000ULL | BLOCK);
}

static void test_walk_4k(void)
{
	struct a64_mmu m = mmu_4k();
	u64 pa = 0;

	build_tables();
	reads = bad_reads = 0;
	CHECK_EQ(a64_translate(&m, 0xffff800008010abcULL, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x41234abcULL);
	CHECK_EQ(reads, 4);
	CHECK_EQ(a64_translate(&m, 0xffff800040123456ULL, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x80323456ULL);
	CHECK_EQ(a64_translate(&m, 0xffff808012345678ULL, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0xd2345678ULL);
	/* Neighbours left invalid. */
	CHECK_EQ(a64_translate(&m, 0xffff800008011000ULL, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(a64_translate(&m, 0xffff800008200000ULL, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(a64_translate(&m, 0xffff000000000000ULL, fake_read, NULL, &pa), -EFAULT);
	/* Non-canonical: bits 63:48 not all ones (no TBI). */
	CHECK_EQ(a64_translate(&m, 0xfeff800008010000ULL, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(a64_translate(&m, 0x0001000000000000ULL, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(bad_reads, 0);
}

static void test_walk_ttbr0_and_tbi(void)
{
	struct a64_mmu m = mmu_4k();
	const u64 uva = 0x0000aaaabbbbc123ULL;
	u64 pa = 0;

	build_tables();
	set_desc(8, idx(uva, 0), page(9) | TABLE);
	set_desc(9, idx(uva, 1), page(10) | TABLE);
	set_desc(10, idx(uva, 2), page(11) | TABLE);
	set_desc(11, idx(uva, 3), 0x5000ULL | PAGE_D);
	CHECK_EQ(a64_translate(&m, uva, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x5123ULL);
	/* A tagged pointer works only with TBI0. */
	CHECK_EQ(a64_translate(&m, uva | (0x5aULL << 56), fake_read, NULL, &pa), -EFAULT);
	m.tcr |= 1ULL << 37;
	CHECK_EQ(a64_translate(&m, uva | (0x5aULL << 56), fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x5123ULL);
	/* EPD0: walks of the lower half disabled. */
	m.tcr |= 1ULL << 7;
	CHECK_EQ(a64_translate(&m, uva, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(bad_reads, 0);
}

static void test_walk_malformed(void)
{
	struct a64_mmu m = mmu_4k();
	const u64 kva = 0xffff800008010000ULL;
	u64 pa = 0;

	build_tables();
	bad_reads = 0;
	/* A table descriptor pointing outside RAM: the reader refuses it. */
	set_desc(2, idx(kva, 2), 0x0000fffffffff000ULL | TABLE);
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(bad_reads, 1);
	/* A block at level 0 (4 KiB granule, no 52-bit): reserved. */
	build_tables();
	set_desc(0, idx(kva, 0), 0x0ULL | BLOCK);
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EINVAL);
	/* Level 3 with 0b01: reserved. */
	build_tables();
	set_desc(3, idx(kva, 3), 0x41234000ULL | BLOCK);
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EINVAL);
	/* A loop (a table pointing at itself) ends at level 3 all the same. */
	build_tables();
	for (unsigned int i = 0; i < 512; i++)
		set_desc(1, i, page(1) | TABLE);
	reads = 0;
	CHECK_EQ(a64_translate(&m, kva | 0x123, fake_read, NULL, &pa), 0);
	CHECK_EQ(reads, 4);
	CHECK_EQ(pa, page(1) + 0x123);	/* at level 3 the table descriptor reads as a page */
	/* TTBR outside RAM. */
	m.ttbr1 = 0x10000000ULL;
	bad_reads = 0;
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EFAULT);
	CHECK_EQ(bad_reads, 1);
	/* Reserved TG1 and out-of-range T1SZ. */
	m = mmu_4k();
	m.tcr &= ~(3ULL << 30);
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EINVAL);
	m = mmu_4k();
	m.tcr = (m.tcr & ~(0x3fULL << 16)) | (12ULL << 16);	/* 52-bit VA */
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EINVAL);
	m.tcr = (m.tcr & ~(0x3fULL << 16)) | (63ULL << 16);
	CHECK_EQ(a64_translate(&m, kva, fake_read, NULL, &pa), -EINVAL);
	/* Random tables never read outside the fake RAM. */
	m = mmu_4k();
	srand(1);
	bad_reads = 0;
	for (unsigned int round = 0; round < 200; round++) {
		for (unsigned int i = 0; i < RAM_PAGES * 512; i++)
			ram[i] = (rand() & 1) ? page((unsigned int)rand() % (RAM_PAGES + 4)) |
						  (u64)(rand() & 3)
					      : ((u64)rand() << 33) ^ (u64)rand();
		for (unsigned int k = 0; k < 64; k++)
			a64_translate(&m, 0xffff000000000000ULL | ((u64)rand() << 20) | (u64)rand(),
				      fake_read, NULL, &pa);
	}
	/* Out-of-range descriptors are refused by the reader, not read. */
	CHECK(bad_reads > 0);
	CHECK_EQ(reads > 0, 1);
}

static void test_walk_mmu_off_and_other_granules(void)
{
	struct a64_mmu m = { .sctlr = 0 };
	u64 pa = 0;

	CHECK_EQ(a64_translate(&m, 0x40080000ULL, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x40080000ULL);
	CHECK_EQ(a64_translate(&m, 0xffff800008000000ULL, fake_read, NULL, &pa), -EFAULT);

	/* 64 KiB granule, 42-bit TTBR1: two levels (2 and 3), 512 MiB blocks at level 2. */
	memset(ram, 0, sizeof(ram));
	m = (struct a64_mmu){ .sctlr = 1, .tcr = (22ULL << 16) | (3ULL << 30), .ttbr1 = page(0) };
	const u64 va = 0xfffffc0012345678ULL;
	unsigned int i2 = (unsigned int)(va >> 29) & 0x1fff, i3 = (unsigned int)(va >> 16) & 0x1fff;
	/* The level-3 table must be 64 KiB aligned: pages 16..31. */
	ram[i2] = page(16) | TABLE;
	ram[16 * 512 + i3] = 0x7770000ULL | PAGE_D;
	reads = 0;
	CHECK_EQ(a64_translate(&m, va, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x7775678ULL);
	CHECK_EQ(reads, 2);
	ram[i2] = 0x20000000ULL | BLOCK;
	CHECK_EQ(a64_translate(&m, va, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x20000000ULL + (va & 0x1fffffffULL));

	/* 16 KiB granule, 47-bit TTBR1: levels 1-3; a level-1 block is reserved. */
	memset(ram, 0, sizeof(ram));
	m = (struct a64_mmu){ .sctlr = 1, .tcr = (17ULL << 16) | (1ULL << 30), .ttbr1 = page(0) };
	const u64 v16 = 0xffffc00000004abcULL;
	ram[(v16 >> 36) & 0x7ff] = 0x100000000ULL | BLOCK;
	CHECK_EQ(a64_translate(&m, v16, fake_read, NULL, &pa), -EINVAL);
	ram[(v16 >> 36) & 0x7ff] = page(4) | TABLE;
	ram[4 * 512 + ((v16 >> 25) & 0x7ff)] = page(8) | TABLE;
	ram[8 * 512 + ((v16 >> 14) & 0x7ff)] = 0x12344000ULL | PAGE_D;
	CHECK_EQ(a64_translate(&m, v16, fake_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x12344abcULL);
}

int main(void)
{
	RUN(test_register_layout);
	RUN(test_register_image);
	RUN(test_esr_kinds);
	RUN(test_debug_registers);
	RUN(test_walk_4k);
	RUN(test_walk_ttbr0_and_tbi);
	RUN(test_walk_malformed);
	RUN(test_walk_mmu_off_and_other_granules);
	return unit_summary();
}
