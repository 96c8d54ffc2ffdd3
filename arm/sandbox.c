/* What arm64 vCPU threads need beyond the generic sandbox roles. */
#include <linux/kvm.h>
#include "lkvm/sandbox.h"

/*
 * Register dumps (a fatal exit on the vCPU, `lkvm debug --dump` through
 * it) and the gdb stub's requests, which run on the vCPU's thread.
 */
static const unsigned long vcpu_ioctls[] = { KVM_GET_ONE_REG, KVM_SET_ONE_REG, KVM_SET_GUEST_DEBUG, 0 };
static const struct sandbox_rules vcpu_rules = { .ioctls = vcpu_ioctls };

const struct sandbox_rules *kvm_arch_sandbox_rules(enum sandbox_role role)
{
	return role == SANDBOX_VCPU ? &vcpu_rules : NULL;
}
