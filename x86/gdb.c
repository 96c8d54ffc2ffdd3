/*
 * x86_64 side of the gdb stub (include/lkvm/gdb-arch.h): the register
 * file as gdb's i386:x86-64 target description numbers it (features
 * org.gnu.gdb.i386.core, .sse and .segments from the GDB manual's
 * "i386 Features"), translation with KVM_TRANSLATE, int3 breakpoints and
 * the four debug registers through KVM_SET_GUEST_DEBUG.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "lkvm/gdb-arch.h"
#include "lkvm/kvm-cpu.h"

/* Byte offsets in the 'g' image. */
enum {
	OFF_GPR = 0,			/* rax..r15: 16 x 8, gdb's order */
	OFF_RIP = 128,
	OFF_EFLAGS = 136,
	OFF_SEG = 140,			/* cs ss ds es fs gs: 6 x 4 */
	OFF_ST = 164,			/* st0..st7: 8 x 10 */
	OFF_FPCTL = 244,		/* fctrl fstat ftag fiseg fioff foseg fooff fop */
	OFF_XMM = 276,			/* xmm0..15: 16 x 16 */
	OFF_MXCSR = 532,
	OFF_FS_BASE = 536,
	OFF_GS_BASE = 544,
	REGS_SIZE = 552,
};
#define NR_REGS (16 + 2 + 6 + 8 + 8 + 16 + 1 + 2)

static const char target_xml[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
	"<target version=\"1.0\">\n"
	"<architecture>i386:x86-64</architecture>\n"
	"<feature name=\"org.gnu.gdb.i386.core\">\n"
	"<reg name=\"rax\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rbx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rcx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rdx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rsi\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rdi\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
	"<reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
	"<reg name=\"r8\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r9\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r10\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r11\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r12\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r13\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r14\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r15\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>\n"
	"<reg name=\"eflags\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"</feature>\n"
	"<feature name=\"org.gnu.gdb.i386.sse\">\n"
	"<reg name=\"xmm0\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm1\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm2\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm3\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm4\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm5\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm6\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm7\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm8\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm9\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm10\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm11\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm12\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm13\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm14\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"xmm15\" bitsize=\"128\" type=\"uint128\"/>\n"
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>\n"
	"</feature>\n"
	"<feature name=\"org.gnu.gdb.i386.segments\">\n"
	"<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>\n"
	"<reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>\n"
	"</feature>\n"
	"</target>\n";

static struct gdb_reg_slot reg_slots[NR_REGS];

/* Offsets of gdb's register numbers, computed once from the sizes. */
__attribute__((constructor)) static void init_reg_slots(void)
{
	unsigned int n = 0;
	u16 off = 0;

#define ADD(count, sz) \
	for (unsigned int i = 0; i < (count); i++, off += (sz)) \
		reg_slots[n++] = (struct gdb_reg_slot){ .offset = off, .size = (sz) }
	ADD(16, 8);	/* general registers */
	ADD(1, 8);	/* rip */
	ADD(7, 4);	/* eflags, segment selectors */
	ADD(8, 10);	/* st0-7 */
	ADD(8, 4);	/* x87 control */
	ADD(16, 16);	/* xmm */
	ADD(1, 4);	/* mxcsr */
	ADD(2, 8);	/* fs_base, gs_base */
#undef ADD
}

const struct gdb_arch_desc gdb_arch = {
	.target_xml = target_xml,
	.regs_size = REGS_SIZE,
	.regs = reg_slots,
	.nr_regs = NR_REGS,
	.pc_regno = 16,
	.nr_hw_slots = 4,
};

_Static_assert(OFF_GS_BASE + 8 == REGS_SIZE, "register image layout");

static void put64(u8 *buf, unsigned int off, u64 v) { memcpy(buf + off, &v, 8); }
static void put32(u8 *buf, unsigned int off, u32 v) { memcpy(buf + off, &v, 4); }
static u64 get64(const u8 *buf, unsigned int off) { u64 v; memcpy(&v, buf + off, 8); return v; }
static u32 get32(const u8 *buf, unsigned int off) { u32 v; memcpy(&v, buf + off, 4); return v; }

/* gdb's order of the general registers, as kvm_regs fields. */
#define GPR_LIST(X) X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rbp) X(rsp) \
	X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15)

/* FXSAVE's abridged tag (1 bit per register, 1 = valid) to the full tag word. */
static u32 full_ftag(u8 abridged)
{
	u32 tag = 0;

	for (int i = 0; i < 8; i++)
		tag |= (abridged & (1u << i) ? 0u : 3u) << (2 * i);
	return tag;
}

static u8 abridged_ftag(u32 full)
{
	u8 tag = 0;

	for (int i = 0; i < 8; i++)
		if (((full >> (2 * i)) & 3) != 3)
			tag |= 1u << i;
	return tag;
}

/* The three register sets a 'g' image is made of. */
struct regs_image {
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;
};

static int get_state(struct kvm_cpu *cpu, struct regs_image *st)
{
	if (ioctl(cpu->fd, KVM_GET_REGS, &st->r) < 0 || ioctl(cpu->fd, KVM_GET_SREGS, &st->s) < 0 ||
	    ioctl(cpu->fd, KVM_GET_FPU, &st->f) < 0)
		return -errno;
	return 0;
}

int gdb_arch_read_regs(struct kvm_cpu *cpu, u8 *buf)
{
	struct regs_image st;
	unsigned int off = OFF_GPR;
	int ret = get_state(cpu, &st);

	if (ret)
		return ret;
	memset(buf, 0, REGS_SIZE);
#define GET_GPR(name) put64(buf, off, st.r.name); off += 8;
	GPR_LIST(GET_GPR)
#undef GET_GPR
	put64(buf, OFF_RIP, st.r.rip);
	put32(buf, OFF_EFLAGS, (u32)st.r.rflags);
	const struct kvm_segment *segs[6] = {
		&st.s.cs, &st.s.ss, &st.s.ds, &st.s.es, &st.s.fs, &st.s.gs,
	};
	for (int i = 0; i < 6; i++)
		put32(buf, OFF_SEG + 4 * i, segs[i]->selector);
	for (int i = 0; i < 8; i++)
		memcpy(buf + OFF_ST + 10 * i, st.f.fpr[i], 10);
	put32(buf, OFF_FPCTL + 0, st.f.fcw);
	put32(buf, OFF_FPCTL + 4, st.f.fsw);
	put32(buf, OFF_FPCTL + 8, full_ftag(st.f.ftwx));
	put32(buf, OFF_FPCTL + 16, (u32)st.f.last_ip);
	put32(buf, OFF_FPCTL + 24, (u32)st.f.last_dp);
	put32(buf, OFF_FPCTL + 28, st.f.last_opcode);
	memcpy(buf + OFF_XMM, st.f.xmm, 16 * 16);
	put32(buf, OFF_MXCSR, st.f.mxcsr);
	put64(buf, OFF_FS_BASE, st.s.fs.base);
	put64(buf, OFF_GS_BASE, st.s.gs.base);
	return 0;
}

/* Segment selectors are read-only here: a selector alone cannot reload a descriptor. */
int gdb_arch_write_regs(struct kvm_cpu *cpu, const u8 *buf)
{
	struct regs_image st;
	unsigned int off = OFF_GPR;
	int ret = get_state(cpu, &st);

	if (ret)
		return ret;
#define SET_GPR(name) st.r.name = get64(buf, off); off += 8;
	GPR_LIST(SET_GPR)
#undef SET_GPR
	st.r.rip = get64(buf, OFF_RIP);
	st.r.rflags = (st.r.rflags & ~0xffffffffULL) | get32(buf, OFF_EFLAGS) | 0x2;
	for (int i = 0; i < 8; i++)
		memcpy(st.f.fpr[i], buf + OFF_ST + 10 * i, 10);
	st.f.fcw = (u16)get32(buf, OFF_FPCTL + 0);
	st.f.fsw = (u16)get32(buf, OFF_FPCTL + 4);
	st.f.ftwx = abridged_ftag(get32(buf, OFF_FPCTL + 8));
	st.f.last_opcode = (u16)get32(buf, OFF_FPCTL + 28);
	memcpy(st.f.xmm, buf + OFF_XMM, 16 * 16);
	st.f.mxcsr = get32(buf, OFF_MXCSR);
	st.s.fs.base = get64(buf, OFF_FS_BASE);
	st.s.gs.base = get64(buf, OFF_GS_BASE);
	if (ioctl(cpu->fd, KVM_SET_REGS, &st.r) < 0 || ioctl(cpu->fd, KVM_SET_SREGS, &st.s) < 0 ||
	    ioctl(cpu->fd, KVM_SET_FPU, &st.f) < 0)
		return -errno;
	return 0;
}

int gdb_arch_set_pc(struct kvm_cpu *cpu, u64 pc)
{
	struct kvm_regs r;

	if (ioctl(cpu->fd, KVM_GET_REGS, &r) < 0)
		return -errno;
	r.rip = pc;
	return ioctl(cpu->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

int gdb_arch_translate(struct kvm_cpu *cpu, u64 gva, u64 *gpa)
{
	struct kvm_translation t = { .linear_address = gva };

	if (ioctl(cpu->fd, KVM_TRANSLATE, &t) < 0)
		return -errno;
	if (!t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}

const u8 *gdb_arch_sw_bp(size_t *len)
{
	static const u8 int3 = 0xcc;

	*len = 1;
	return &int3;
}

/* DR7 breaks on execution (length 1), writes, or reads and writes of 1, 2, 4, 8 aligned bytes. */
bool gdb_arch_hw_ok(enum gdb_bp_type type, u64 addr, u64 len)
{
	if (type == GDB_BP_HW)
		return true;
	return (len == 1 || len == 2 || len == 4 || len == 8) && !(addr & (len - 1));
}

#define DR7_GE		(1u << 9)
#define DR6_BS		(1u << 14)

static u64 dr7_bits(unsigned int i, const struct gdb_hw_slot *h)
{
	static const u8 len_code[9] = { [1] = 0, [2] = 1, [4] = 3, [8] = 2 };
	u64 rw = h->type == GDB_BP_HW ? 0 : h->type == GDB_WATCH_WRITE ? 1 : 3;
	u64 len = h->type == GDB_BP_HW ? 0 : len_code[h->len];

	return (2ULL << (2 * i)) | (rw << (16 + 4 * i)) | (len << (18 + 4 * i));
}

static int set_guest_debug(struct kvm_cpu *cpu, u32 control, const struct gdb_hw_slot *slots)
{
	struct kvm_guest_debug dbg = { .control = control };
	bool any_hw = false;

	for (unsigned int i = 0; slots && i < 4; i++) {
		if (!slots[i].used)
			continue;
		any_hw = true;
		dbg.arch.debugreg[i] = slots[i].addr;
		dbg.arch.debugreg[7] |= dr7_bits(i, &slots[i]);
	}
	if (any_hw) {
		dbg.control |= KVM_GUESTDBG_USE_HW_BP;
		dbg.arch.debugreg[7] |= DR7_GE;
	}
	if (ioctl(cpu->fd, KVM_SET_GUEST_DEBUG, &dbg) == 0)
		return 0;
	/* Kernels before KVM_CAP_SET_GUEST_DEBUG2 refuse BLOCKIRQ. */
	if (errno == EINVAL && (dbg.control & KVM_GUESTDBG_BLOCKIRQ)) {
		dbg.control &= ~KVM_GUESTDBG_BLOCKIRQ;
		if (ioctl(cpu->fd, KVM_SET_GUEST_DEBUG, &dbg) == 0)
			return 0;
	}
	return -errno;
}

int gdb_arch_set_debug(struct kvm_cpu *cpu, bool enable, bool sw_bps, bool step,
		       const struct gdb_hw_slot *slots)
{
	u32 control = 0;

	if (enable) {
		control = KVM_GUESTDBG_ENABLE;
		if (sw_bps)
			control |= KVM_GUESTDBG_USE_SW_BP;
		if (step)
			control |= KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_BLOCKIRQ;
	}
	return set_guest_debug(cpu, control, enable ? slots : NULL);
}

void gdb_arch_decode_stop(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots,
			  struct gdb_stop *stop)
{
	const struct kvm_debug_exit_arch *d = &cpu->run->debug.arch;

	stop->pc = d->pc;
	stop->hw_slot = -1;
	if (d->exception == 3) {	/* #BP */
		stop->kind = GDB_STOP_SW_BP;
		return;
	}
	stop->kind = GDB_STOP_OTHER;
	if (d->exception != 1)
		return;
	for (int i = 0; i < 4; i++) {
		if ((d->dr6 & (1u << i)) && slots[i].used) {
			stop->kind = GDB_STOP_HW;
			stop->hw_slot = i;
			return;
		}
	}
	if (d->dr6 & DR6_BS)
		stop->kind = GDB_STOP_STEP;
}

/* KVM skips the int3 and delivers the #BP; the debug set-up stays as it was. */
int gdb_arch_reinject_sw_bp(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots)
{
	return set_guest_debug(cpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP |
				    KVM_GUESTDBG_INJECT_BP, slots);
}
