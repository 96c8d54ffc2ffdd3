/*
 * arm64 side of the gdb stub (include/lkvm/gdb-arch.h): registers through
 * KVM_GET/SET_ONE_REG, guest virtual addresses through a walk of the
 * guest's own stage-1 tables (arm64 KVM has no KVM_TRANSLATE), BRK #0
 * software breakpoints, single-step and the debug registers through
 * KVM_SET_GUEST_DEBUG.  Layouts and decoding: arm/gdb-a64.c.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/ptrace.h>
#include "lkvm/config.h"
#include "lkvm/gdb-arch.h"
#include "lkvm/kvm-cpu.h"
#include "arm/arm.h"
#include "arm/gdb-a64.h"

#define CORE_ID(field, size) (KVM_REG_ARM64 | KVM_REG_ARM_CORE | (size) | \
			      (offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define CORE64(field)	CORE_ID(field, KVM_REG_SIZE_U64)
#define SYS_SCTLR_EL1	ARM64_SYS_REG(3, 0, 1, 0, 0)
#define SYS_TTBR0_EL1	ARM64_SYS_REG(3, 0, 2, 0, 0)
#define SYS_TTBR1_EL1	ARM64_SYS_REG(3, 0, 2, 0, 1)
#define SYS_TCR_EL1	ARM64_SYS_REG(3, 0, 2, 0, 2)
#define SYS_ESR_EL1	ARM64_SYS_REG(3, 0, 5, 2, 0)
#define SYS_VBAR_EL1	ARM64_SYS_REG(3, 0, 12, 0, 0)

/*
 * Four slots for breakpoints and watchpoints together (the stub hands
 * them out in any mix); every arm64 CPU has at least two of each, the
 * exact numbers (KVM_CAP_GUEST_DEBUG_HW_BPS/WPS) are checked when the
 * slots are programmed.
 */
const struct gdb_arch_desc gdb_arch = {
	.target_xml = a64_target_xml,
	.regs_size = A64_REGS_SIZE,
	.regs = a64_reg_slots,
	.nr_regs = A64_NR_REGS,
	.pc_regno = A64_PC_REGNO,
	.nr_hw_slots = 4,
};

static int one_reg(struct kvm_cpu *cpu, u64 id, void *val, bool set)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)(unsigned long)val };

	return ioctl(cpu->fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get64(struct kvm_cpu *cpu, u64 id, u64 *v) { return one_reg(cpu, id, v, false); }
static int set64(struct kvm_cpu *cpu, u64 id, u64 v) { return one_reg(cpu, id, &v, true); }

/* The stack pointer gdb means: SP_EL1 in EL1h, SP_EL0 otherwise. */
static u64 sp_id(u64 pstate)
{
	return (pstate & PSR_MODE_MASK) == PSR_MODE_EL1h ? CORE64(sp_el1) : CORE64(regs.sp);
}

/* Every register of the image, one ONE_REG access each. */
static int access_regs(struct kvm_cpu *cpu, struct a64_regs *r, bool set)
{
	u64 pstate;
	int ret = get64(cpu, CORE64(regs.pstate), &pstate);

	for (int i = 0; i < 31 && !ret; i++)
		ret = one_reg(cpu, CORE64(regs.regs[i]), &r->x[i], set);
	if (!ret)
		ret = one_reg(cpu, sp_id(pstate), &r->sp, set);
	if (!ret)
		ret = one_reg(cpu, CORE64(regs.pc), &r->pc, set);
	for (int i = 0; i < 32 && !ret; i++)
		ret = one_reg(cpu, CORE_ID(fp_regs.vregs[i], KVM_REG_SIZE_U128), r->v[i], set);
	if (!ret)
		ret = one_reg(cpu, CORE_ID(fp_regs.fpsr, KVM_REG_SIZE_U32), &r->fpsr, set);
	if (!ret)
		ret = one_reg(cpu, CORE_ID(fp_regs.fpcr, KVM_REG_SIZE_U32), &r->fpcr, set);
	if (ret)
		return ret;
	if (!set) {
		r->cpsr = (u32)pstate;
		return 0;
	}
	/* cpsr is PSTATE's low half; the rest stays. */
	return set64(cpu, CORE64(regs.pstate), (pstate & ~0xffffffffULL) | r->cpsr);
}

int gdb_arch_read_regs(struct kvm_cpu *cpu, u8 *buf)
{
	struct a64_regs r;
	int ret = access_regs(cpu, &r, false);

	if (!ret)
		a64_regs_to_image(&r, buf);
	return ret;
}

int gdb_arch_write_regs(struct kvm_cpu *cpu, const u8 *buf)
{
	struct a64_regs r;

	a64_image_to_regs(buf, &r);
	return access_regs(cpu, &r, true);
}

int gdb_arch_set_pc(struct kvm_cpu *cpu, u64 pc)
{
	return set64(cpu, CORE64(regs.pc), pc);
}

/* Table descriptors are read only through the checked guest-RAM accessor. */
static int read_desc(void *ctx, u64 gpa, u64 *desc)
{
	struct kvm_cpu *cpu = ctx;
	const void *p = kvm_gpa_to_hva(cpu->kvm, gpa, 8);

	if (!p || (gpa & 7))
		return -EFAULT;
	memcpy(desc, p, 8);
	return 0;
}

int gdb_arch_translate(struct kvm_cpu *cpu, u64 gva, u64 *gpa)
{
	struct a64_mmu m;
	int ret;

	if ((ret = get64(cpu, SYS_SCTLR_EL1, &m.sctlr)) || (ret = get64(cpu, SYS_TCR_EL1, &m.tcr)) ||
	    (ret = get64(cpu, SYS_TTBR0_EL1, &m.ttbr0)) || (ret = get64(cpu, SYS_TTBR1_EL1, &m.ttbr1)))
		return ret;
	return a64_translate(&m, gva, read_desc, cpu, gpa);
}

const u8 *gdb_arch_sw_bp(size_t *len)
{
	static const u8 brk0[] = { 0x00, 0x00, 0x20, 0xd4 };	/* BRK #0 */

	*len = sizeof(brk0);
	return brk0;
}

bool gdb_arch_hw_ok(enum gdb_bp_type type, u64 addr, u64 len)
{
	u64 c, v;

	return type == GDB_BP_HW ? a64_bp_regs(addr, &c, &v) : a64_wp_regs(type, addr, len, &c, &v);
}

/*
 * A single step with an interrupt pending (the timer, after gdb held the VM
 * for a while) would stop at the IRQ vector, and arm64 KVM has no
 * KVM_GUESTDBG_BLOCKIRQ: mask IRQ and FIQ in PSTATE for the step and give
 * the bits back afterwards (to SPSR_EL1 when the step entered an exception
 * vector, which saved them there).  Not for the instructions that read or
 * write DAIF themselves (MRS/MSR DAIF, MSR DAIFSet/DAIFClr, ERET).
 */
static u64 step_masked[LKVM_MAX_CPUS];	/* PSTATE bits set; each on its vCPU's thread */

static bool touches_daif(u32 insn)
{
	return (insn & 0xfffff0df) == 0xd50340df ||	/* MSR DAIFSet/DAIFClr, #imm */
	       (insn & 0xffdfffe0) == 0xd51b4220 ||	/* MSR DAIF, Xt / MRS Xt, DAIF */
	       insn == 0xd69f03e0 || (insn & 0xfffffbff) == 0xd69f0bff;	/* ERET, ERETAx */
}

static void step_mask_irqs(struct kvm_cpu *cpu)
{
	u64 pstate, pc, gpa, bits;
	const void *p;
	u32 insn;

	if (cpu->id >= LKVM_MAX_CPUS || get64(cpu, CORE64(regs.pstate), &pstate) ||
	    get64(cpu, CORE64(regs.pc), &pc) || gdb_arch_translate(cpu, pc, &gpa) ||
	    !(p = kvm_gpa_to_hva(cpu->kvm, gpa, 4)))
		return;
	memcpy(&insn, p, 4);
	bits = (PSR_I_BIT | PSR_F_BIT) & ~pstate;
	if (!bits || touches_daif(insn) || set64(cpu, CORE64(regs.pstate), pstate | bits))
		return;
	step_masked[cpu->id] = bits;
}

static void step_unmask_irqs(struct kvm_cpu *cpu)
{
	u64 bits = cpu->id < LKVM_MAX_CPUS ? step_masked[cpu->id] : 0, pc, vbar, id, v;

	if (!bits)
		return;
	step_masked[cpu->id] = 0;
	if (get64(cpu, CORE64(regs.pc), &pc) || get64(cpu, SYS_VBAR_EL1, &vbar))
		return;
	id = pc >= vbar && pc < vbar + 0x800 ? CORE64(spsr[KVM_SPSR_EL1]) : CORE64(regs.pstate);
	if (!get64(cpu, id, &v))
		set64(cpu, id, v & ~bits);
}

int gdb_arch_set_debug(struct kvm_cpu *cpu, bool enable, bool sw_bps, bool step,
		       const struct gdb_hw_slot *slots)
{
	const struct arm_vm *vm = arm_vm(cpu->kvm);
	struct kvm_guest_debug dbg = { 0 };
	unsigned int nb = 0, nw = 0;

	step_unmask_irqs(cpu);
	if (enable) {
		dbg.control = KVM_GUESTDBG_ENABLE;
		if (sw_bps)
			dbg.control |= KVM_GUESTDBG_USE_SW_BP;
		if (step) {
			dbg.control |= KVM_GUESTDBG_SINGLESTEP;
			step_mask_irqs(cpu);
		}
	}
	for (unsigned int i = 0; enable && slots && i < gdb_arch.nr_hw_slots; i++) {
		const struct gdb_hw_slot *h = &slots[i];
		u64 ctrl, value;

		if (!h->used)
			continue;
		if (h->type == GDB_BP_HW) {
			if (nb >= vm->hw_bps)
				return -ENOSPC;
			if (!a64_bp_regs(h->addr, &ctrl, &value))
				return -EINVAL;
			dbg.arch.dbg_bcr[nb] = ctrl;
			dbg.arch.dbg_bvr[nb++] = value;
		} else {
			if (nw >= vm->hw_wps)
				return -ENOSPC;
			if (!a64_wp_regs(h->type, h->addr, h->len, &ctrl, &value))
				return -EINVAL;
			dbg.arch.dbg_wcr[nw] = ctrl;
			dbg.arch.dbg_wvr[nw++] = value;
		}
		dbg.control |= KVM_GUESTDBG_USE_HW;
	}
	return ioctl(cpu->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -errno : 0;
}

/* The used slot of this kind whose range holds addr (watchpoints: its doubleword). */
static int find_slot(const struct gdb_hw_slot *slots, bool watch, u64 addr)
{
	int any = -1;

	for (unsigned int i = 0; i < gdb_arch.nr_hw_slots; i++) {
		const struct gdb_hw_slot *h = &slots[i];

		if (!h->used || (h->type != GDB_BP_HW) != watch)
			continue;
		if (!watch ? h->addr == addr
			   : addr >= (h->addr & ~7ULL) && addr < MAX(h->addr + h->len, (h->addr | 7) + 1))
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	/* FAR may point anywhere in a larger access: the only watchpoint, then. */
	return watch ? any : -1;
}

void gdb_arch_decode_stop(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots,
			  struct gdb_stop *stop)
{
	const struct kvm_debug_exit_arch *d = &cpu->run->debug.arch;

	step_unmask_irqs(cpu);
	stop->kind = GDB_STOP_OTHER;
	stop->hw_slot = -1;
	if (get64(cpu, CORE64(regs.pc), &stop->pc))
		stop->pc = 0;
	switch (a64_esr_kind(d->hsr)) {
	case A64_DBG_BRK:
		stop->kind = GDB_STOP_SW_BP;
		break;
	case A64_DBG_STEP:
		stop->kind = GDB_STOP_STEP;
		break;
	case A64_DBG_HW_BP:
		stop->kind = GDB_STOP_HW;
		stop->hw_slot = find_slot(slots, false, stop->pc);
		break;
	case A64_DBG_WATCH:
		stop->kind = GDB_STOP_HW;
		stop->hw_slot = find_slot(slots, true, d->far);
		break;
	case A64_DBG_OTHER:
		break;
	}
}

/*
 * The guest's own BRK (BUG(), WARN(), kprobes) trapped because software
 * breakpoints are on: KVM cannot inject it, so take the exception as the
 * CPU would (Arm ARM "Exception entry"): SPSR_EL1, ELR_EL1 and ESR_EL1
 * saved, EL1h with DAIF masked, PAN set unless SCTLR_EL1.SPAN, the
 * synchronous vector of where it came from.
 */
#define SCTLR_SPAN	(1ULL << 23)
#define SCTLR_DSSBS	(1ULL << 44)
#define PSTATE_PAN	(1ULL << 22)
#define PSTATE_SSBS	(1ULL << 12)

int gdb_arch_reinject_sw_bp(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots UNUSED)
{
	u64 pstate, pc, vbar, sctlr, esr = cpu->run->debug.arch.hsr, vector, new;
	int ret;

	if ((ret = get64(cpu, CORE64(regs.pstate), &pstate)) || (ret = get64(cpu, CORE64(regs.pc), &pc)) ||
	    (ret = get64(cpu, SYS_VBAR_EL1, &vbar)) || (ret = get64(cpu, SYS_SCTLR_EL1, &sctlr)))
		return ret;
	if ((pstate & PSR_MODE_MASK) == PSR_MODE_EL1h)
		vector = 0x200;		/* current EL with SP_ELx */
	else if ((pstate & PSR_MODE_MASK) == PSR_MODE_EL1t)
		vector = 0x000;		/* current EL with SP_EL0 */
	else
		vector = 0x400;		/* lower EL, AArch64 */
	new = PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT;
	if (!(sctlr & SCTLR_SPAN))
		new |= PSTATE_PAN;
	else
		new |= pstate & PSTATE_PAN;
	if (sctlr & SCTLR_DSSBS)
		new |= PSTATE_SSBS;
	if ((ret = set64(cpu, CORE64(spsr[KVM_SPSR_EL1]), pstate)) ||
	    (ret = set64(cpu, CORE64(elr_el1), pc)) || (ret = set64(cpu, SYS_ESR_EL1, esr)) ||
	    (ret = set64(cpu, CORE64(regs.pstate), new)))
		return ret;
	return set64(cpu, CORE64(regs.pc), vbar + vector);
}
