/* x86 vCPU set-up: CPUID, MSRs, local APIC wiring and boot registers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "lkvm/kvm-arch.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "x86/boot.h"
#include "x86/cpuid.h"
#include "x86/layout.h"

#define MSR_IA32_MISC_ENABLE	0x1a0
#define MISC_ENABLE_FAST_STRING	(1ULL << 0)

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void xioctl(struct kvm_cpu *cpu, unsigned long req, void *arg, const char *name)
{
	if (ioctl(cpu->fd, req, arg) < 0)
		die("vCPU %u: %s: %s", cpu->id, name, strerror(errno));
}

static void setup_msrs(struct kvm_cpu *cpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = {
		.hdr.nmsrs = 1,
		.e[0] = { .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
	};

	if (ioctl(cpu->fd, KVM_SET_MSRS, &msrs) != 1)
		pr_debug("vCPU %u: MSR_IA32_MISC_ENABLE not settable", cpu->id);
}

/*
 * Start with XCR0 holding every user state component the CPUID leaf 0xD
 * offers.  KVM recomputes the leaf's "size for XCR0" from its own copy of
 * XCR0, so that copy must match what the guest will enable: a guest's
 * XSETBV that never reaches KVM (nested SVM under QEMU's TCG does not
 * intercept it) would otherwise leave the guest reading a size for x87+SSE
 * only while its AVX state is larger: Linux then warns "XSAVE consistency
 * problem".  The guest sets XCR0 itself before using XSAVE, so starting
 * wider is harmless.
 */
#define XCR0_USER_STATES 0xe7ULL	/* x87, SSE, AVX, AVX-512 opmask/ZMM */

static void setup_xcr0(struct kvm_cpu *cpu)
{
	struct kvm_cpuid_entry2 leaf = { .function = 0xd };
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

	if (!cpuid_supported_entry(cpu->kvm, &leaf))
		return;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = (leaf.eax | (u64)leaf.edx << 32) & XCR0_USER_STATES;
	if (xcrs.xcrs[0].value & 1 && ioctl(cpu->fd, KVM_SET_XCRS, &xcrs) < 0)
		pr_debug("vCPU %u: KVM_SET_XCRS 0x%llx: %s", cpu->id,
			 (unsigned long long)xcrs.xcrs[0].value, strerror(errno));
}

/* Virtual-wire mode, as firmware leaves it: PIC on LINT0, NMI on LINT1. */
static void setup_lapic(struct kvm_cpu *cpu)
{
	struct kvm_lapic_state lapic;
	u32 *lvt0 = (u32 *)&lapic.regs[APIC_LVT0];
	u32 *lvt1 = (u32 *)&lapic.regs[APIC_LVT1];

	xioctl(cpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	*lvt0 = (*lvt0 & ~0x700u & ~(1u << 16)) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u & ~(1u << 16)) | (APIC_MODE_NMI << 8);
	xioctl(cpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

static void set_segment(struct kvm_segment *s, u16 sel, u64 base, u32 limit,
			u8 type, bool code64, bool db)
{
	*s = (struct kvm_segment){
		.base = base, .limit = limit, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = code64,
		.g = limit > 0xfffff,
	};
}

static void boot_regs_linux64(struct kvm_cpu *cpu, struct kvm_sregs *sregs,
			      struct kvm_regs *regs)
{
	set_segment(&sregs->cs, 0x10, 0, 0xffffffff, 0xb, true, false);
	set_segment(&sregs->ds, 0x18, 0, 0xffffffff, 0x3, false, true);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr.type = 0xb;	/* busy TSS: required in long mode */
	sregs->tr.present = 1;
	sregs->gdt.base = X86_GDT_ADDR;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs->cr3 = X86_PML4_ADDR;
	sregs->cr4 = CR4_PAE;
	sregs->efer = EFER_LME | EFER_LMA;
	regs->rip = x86_vm(cpu->kvm)->entry;
	regs->rsi = X86_ZERO_PAGE_ADDR;
	regs->rsp = X86_BOOT_STACK_TOP;
}

/* PVH: flat 32-bit protected mode, paging off, ebx = hvm_start_info. */
static void boot_regs_pvh32(struct kvm_cpu *cpu, struct kvm_sregs *sregs,
			    struct kvm_regs *regs)
{
	set_segment(&sregs->cs, 0x08, 0, 0xffffffff, 0xb, false, true);
	set_segment(&sregs->ds, 0x18, 0, 0xffffffff, 0x3, false, true);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr.type = 0xb;	/* busy 32-bit TSS, as the ABI asks */
	sregs->tr.present = 1;
	sregs->gdt.base = X86_GDT_ADDR;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->cr0 = CR0_PE | CR0_ET;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;
	regs->rip = x86_vm(cpu->kvm)->entry;
	regs->rbx = X86_PVH_INFO_ADDR;
}

static void boot_regs_flat(struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	u16 seg = X86_FLAT_LOAD_ADDR >> 4;

	set_segment(&sregs->cs, seg, X86_FLAT_LOAD_ADDR, 0xffff, 0xb, false, false);
	set_segment(&sregs->ds, seg, X86_FLAT_LOAD_ADDR, 0xffff, 0x3, false, false);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	regs->rip = 0;
	regs->rsp = 0xfff0;
}

static void setup_boot_regs(struct kvm_cpu *cpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2 };

	xioctl(cpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (x86_vm(cpu->kvm)->boot_mode == X86_BOOT_LINUX64)
		boot_regs_linux64(cpu, &sregs, &regs);
	else if (x86_vm(cpu->kvm)->boot_mode == X86_BOOT_PVH32)
		boot_regs_pvh32(cpu, &sregs, &regs);
	else
		boot_regs_flat(&sregs, &regs);
	xioctl(cpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	xioctl(cpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

void kvm_cpu_arch_init(struct kvm_cpu *cpu)
{
	cpuid_setup_vcpu(cpu);
	setup_xcr0(cpu);
	setup_msrs(cpu);
	setup_lapic(cpu);
	/* Other vCPUs wait for INIT/SIPI from the guest, as on hardware. */
	if (cpu->id == 0)
		setup_boot_regs(cpu);
}

bool kvm_cpu_arch_system_event(struct kvm_cpu *cpu UNUSED)
{
	return false;
}

bool kvm_cpu_arch_handle_exit(struct kvm_cpu *cpu UNUSED)
{
	return false;
}

static void put_segment(struct reg_text *t, const char *name, const struct kvm_segment *s)
{
	reg_text_add(t, "  %-3s sel %04x base %016llx limit %08x type %x p%u dpl%u db%u l%u g%u\n",
	    name, s->selector, (unsigned long long)s->base, s->limit, s->type,
	    s->present, s->dpl, s->db, s->l, s->g);
}

int kvm_cpu_arch_format_regs(struct kvm_cpu *cpu, struct reg_text *t)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(cpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	reg_text_add(t,
	    "  rip %016llx rsp %016llx rflags %016llx\n"
	    "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
	    "  rsi %016llx rdi %016llx rbp %016llx\n"
	    "  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
	    "  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
	    "  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n",
	    r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
	    r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
	    r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	put_segment(t, "cs", &s.cs);
	put_segment(t, "ss", &s.ss);
	put_segment(t, "ds", &s.ds);
	reg_text_add(t, "  gdt %016llx/%x idt %016llx/%x\n",
	    (unsigned long long)s.gdt.base, s.gdt.limit,
	    (unsigned long long)s.idt.base, s.idt.limit);
	/* KVM on AMD INITs a vCPU that triple-faulted before reporting it. */
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000 && s.cs.base == 0xffff0000)
		reg_text_add(t, "  (the reset state: KVM re-initialised this vCPU, as it does on AMD"
			     " after a triple fault; the faulting state is lost)\n");
	return 0;
}

int kvm_cpu_arch_nmi(struct kvm_cpu *cpu)
{
	return ioctl(cpu->fd, KVM_NMI) < 0 ? -errno : 0;
}
