/*
 * CPUID for each vCPU: what KVM supports, with the APIC id and topology
 * made to match the vCPU (one core per vCPU, no SMT) so the guest's view
 * is self-consistent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "x86/cpuid.h"

static struct kvm_cpuid2 *get_supported_cpuid(int sys_fd)
{
	for (unsigned int n = 64;; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			die("out of memory");
		c->nent = n;
		if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || n > 4096)
			die("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_fixup_entry(struct kvm_cpuid_entry2 *e, unsigned int apic_id,
		       unsigned int nr_cpus)
{
	unsigned int core_bits = bits_for(nr_cpus);

	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC id, [23:16] logical processors. */
		e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) |
			 ((nr_cpus & 0xff) << 16);
		if (nr_cpus > 1)
			e->edx |= 1u << 28;	/* HTT: the count above is valid */
		e->ecx |= 1u << 31;		/* running under a hypervisor */
		break;
	case 4:
		/* EAX[31:26]: cores per package - 1; [25:14]: sharing - 1. */
		e->eax &= 0x3ff;
		e->eax |= ((nr_cpus - 1) & 0x3f) << 26;
		if (((e->eax >> 5) & 7) == 3)	/* L3 shared by the package */
			e->eax |= ((nr_cpus - 1) & 0xfff) << 14;
		break;
	case 0xb:
	case 0x1f:
		/* Extended topology: level 0 = SMT (1 thread), level 1 = core. */
		e->edx = apic_id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = nr_cpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000008:
		/* AMD: ECX[7:0] cores - 1, [15:12] APIC id bits. */
		e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | ((nr_cpus - 1) & 0xff);
		break;
	default:
		break;
	}
}

static struct kvm_cpuid2 *supported;

/*
 * KVM emulates the TSC-deadline mode of the in-kernel local APIC but does
 * not report it in KVM_GET_SUPPORTED_CPUID (it depends on the irqchip,
 * which is the VMM's choice): offer it when KVM has it.  Without it Linux
 * calibrates the APIC timer against the tick at boot, ~0.1-0.2 s in the
 * nested harness, and programs the timer through slower one-shot writes.
 */
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

static void offer_tsc_deadline(struct kvm *kvm, struct kvm_cpuid2 *c)
{
	if (ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) <= 0)
		return;
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
}

/* KVM's supported CPUID plus what lkvm adds, asked for once. */
static struct kvm_cpuid2 *supported_cpuid(struct kvm *kvm)
{
	if (!supported) {
		supported = get_supported_cpuid(kvm->sys_fd);
		offer_tsc_deadline(kvm, supported);
	}
	return supported;
}

bool cpuid_supported_entry(struct kvm *kvm, struct kvm_cpuid_entry2 *e)
{
	supported_cpuid(kvm);
	for (unsigned int i = 0; i < supported->nent; i++) {
		if (supported->entries[i].function == e->function &&
		    supported->entries[i].index == e->index) {
			*e = supported->entries[i];
			return true;
		}
	}
	return false;
}

void cpuid_setup_vcpu(struct kvm_cpu *cpu)
{
	struct kvm_cpuid2 *c;
	size_t bytes;

	supported_cpuid(cpu->kvm);
	bytes = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	c = malloc(bytes);
	if (!c)
		die("out of memory");
	memcpy(c, supported, bytes);
	for (unsigned int i = 0; i < c->nent; i++)
		cpuid_fixup_entry(&c->entries[i], cpu->id, cpu->kvm->nr_cpus);
	if (ioctl(cpu->fd, KVM_SET_CPUID2, c) < 0)
		die("KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
}
