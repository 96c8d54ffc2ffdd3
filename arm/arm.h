#ifndef LKVM_ARM_ARM_H
#define LKVM_ARM_ARM_H
/* State shared by the files of arm/ (kvm->arch). */
#include <linux/kvm.h>
#include "lkvm/kvm.h"
#include "arm/layout.h"

#define ARM_SYS_REG_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

struct arm_vm {
	enum arm_gic_type gic;
	int gic_fd;			/* the vGIC device */
	int its_fd;			/* the ITS device, -1 without */
	struct kvm_vcpu_init init;	/* KVM_ARM_PREFERRED_TARGET */
	unsigned int hw_bps, hw_wps;	/* debug registers KVM_SET_GUEST_DEBUG programs */
	struct arm_boot_layout boot;
};

static inline struct arm_vm *arm_vm(struct kvm *kvm)
{
	return kvm->arch;
}

/* arm/gic.c */
void arm_gic_create(struct kvm *kvm);
void arm_gic_finalize(struct kvm *kvm);
/* arm/boot.c: after the vCPUs exist: device tree, vCPU 0's entry registers. */
void arm_boot_finish(struct kvm *kvm);
/* arm/cpu.c */
int arm_cpu_get_reg(struct kvm_cpu *cpu, u64 id, u64 *val);
void arm_cpu_set_boot_regs(struct kvm_cpu *cpu, u64 pc, u64 x0);

#endif
