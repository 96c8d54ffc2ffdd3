#ifndef LKVM_X86_CPUID_H
#define LKVM_X86_CPUID_H

#include <linux/kvm.h>

#include <stdbool.h>
#include "lkvm/kvm.h"

struct kvm_cpu;

/* Adjust one supported-CPUID entry for vCPU apic_id of nr_cpus. */
void cpuid_fixup_entry(struct kvm_cpuid_entry2 *e, unsigned int apic_id,
		       unsigned int nr_cpus);
void cpuid_setup_vcpu(struct kvm_cpu *cpu);
/* Look up function/index (set in *e) in KVM's supported CPUID; fills *e. */
bool cpuid_supported_entry(struct kvm *kvm, struct kvm_cpuid_entry2 *e);

#endif
