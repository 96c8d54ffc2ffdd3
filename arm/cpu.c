/*
 * arm64 vCPUs: KVM_ARM_VCPU_INIT with PSCI 0.2 (KVM then answers the
 * guest's PSCI calls itself: CPU_ON starts the secondaries, which begin
 * powered off; SYSTEM_OFF/RESET arrive as KVM_EXIT_SYSTEM_EVENT), the
 * boot registers of booting.rst, and the register dump.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/ptrace.h>
#include "lkvm/kvm-arch.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "arm/arm.h"

#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			 (offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define SYS_REG_ESR_EL1 ARM64_SYS_REG(3, 0, 5, 2, 0)
#define SYS_REG_FAR_EL1 ARM64_SYS_REG(3, 0, 6, 0, 0)

int arm_cpu_get_reg(struct kvm_cpu *cpu, u64 id, u64 *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)(unsigned long)val };

	return ioctl(cpu->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static void set_reg(struct kvm_cpu *cpu, u64 id, u64 val, const char *name)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)(unsigned long)&val };

	if (ioctl(cpu->fd, KVM_SET_ONE_REG, &r) < 0)
		die("vCPU %u: cannot set %s: %s", cpu->id, name, strerror(errno));
}

void kvm_cpu_arch_init(struct kvm_cpu *cpu)
{
	struct kvm_vcpu_init init = arm_vm(cpu->kvm)->init;

	/* No SVE or pointer authentication: those need features and finalising. */
	memset(init.features, 0, sizeof(init.features));
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (cpu->id)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(cpu->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		die("vCPU %u: KVM_ARM_VCPU_INIT: %s", cpu->id, strerror(errno));
}

/* booting.rst: x0 = DTB, x1-x3 = 0, EL1h with D, A, I, F masked, MMU off. */
void arm_cpu_set_boot_regs(struct kvm_cpu *cpu, u64 pc, u64 x0)
{
	set_reg(cpu, CORE_REG(regs.pstate),
		PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT, "PSTATE");
	set_reg(cpu, CORE_REG(regs.regs[0]), x0, "x0");
	for (int i = 1; i < 4; i++)
		set_reg(cpu, CORE_REG(regs.regs[i]), 0, "x1-x3");
	set_reg(cpu, CORE_REG(regs.pc), pc, "PC");
}

/*
 * A panic: Debian's arm64 kernels have no pvpanic driver, so lkvm's
 * command line has "panic=-1 reboot=panic_warm": a panicking kernel resets
 * with PSCI SYSTEM_RESET2 (a warm reset), an ordinary reboot with
 * SYSTEM_RESET.
 */
bool kvm_cpu_arch_system_event(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;

	if (run->system_event.type != KVM_SYSTEM_EVENT_RESET ||
	    !run->system_event.ndata ||
	    !(run->system_event.data[0] & KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2))
		return false;
	pr_err("guest kernel panicked (warm reset through PSCI SYSTEM_RESET2)");
	kvm_request_stop(cpu->kvm, VM_STOP_PANIC);
	return true;
}

bool kvm_cpu_arch_handle_exit(struct kvm_cpu *cpu UNUSED)
{
	return false;
}

int kvm_cpu_arch_format_regs(struct kvm_cpu *cpu, struct reg_text *t)
{
	u64 pc, pstate, sp, sp_el1, elr, esr, far, x[31];
	int ret;

	if ((ret = arm_cpu_get_reg(cpu, CORE_REG(regs.pc), &pc)) ||
	    (ret = arm_cpu_get_reg(cpu, CORE_REG(regs.pstate), &pstate)) ||
	    (ret = arm_cpu_get_reg(cpu, CORE_REG(regs.sp), &sp)) ||
	    (ret = arm_cpu_get_reg(cpu, CORE_REG(sp_el1), &sp_el1)) ||
	    (ret = arm_cpu_get_reg(cpu, CORE_REG(elr_el1), &elr)))
		return ret;
	for (int i = 0; i < 31; i++)
		if ((ret = arm_cpu_get_reg(cpu, CORE_REG(regs.regs[i]), &x[i])))
			return ret;
	if (arm_cpu_get_reg(cpu, SYS_REG_ESR_EL1, &esr))
		esr = 0;
	if (arm_cpu_get_reg(cpu, SYS_REG_FAR_EL1, &far))
		far = 0;
	reg_text_add(t, "  pc  %016llx pstate %016llx sp %016llx sp_el1 %016llx\n",
		     (unsigned long long)pc, (unsigned long long)pstate,
		     (unsigned long long)sp, (unsigned long long)sp_el1);
	reg_text_add(t, "  elr_el1 %016llx esr_el1 %016llx far_el1 %016llx\n",
		     (unsigned long long)elr, (unsigned long long)esr, (unsigned long long)far);
	for (int i = 0; i < 31; i += 4) {
		reg_text_add(t, " ");
		for (int j = i; j < MIN(i + 4, 31); j++)
			reg_text_add(t, " x%-2d %016llx", j, (unsigned long long)x[j]);
		reg_text_add(t, "\n");
	}
	return 0;
}

/* arm64 has no NMI that KVM can inject. */
int kvm_cpu_arch_nmi(struct kvm_cpu *cpu UNUSED)
{
	return -ENOTSUP;
}
