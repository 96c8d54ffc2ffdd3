#ifndef LKVM_X86_BOOT_H
#define LKVM_X86_BOOT_H

#include "lkvm/kvm.h"

enum x86_boot_mode {
	X86_BOOT_LINUX64,	/* bzImage via the 64-bit boot protocol */
	X86_BOOT_PVH32,		/* vmlinux: PVH 32-bit entry, paging off */
	X86_BOOT_FLAT,		/* flat binary in real mode at 1000:0000 */
};

/* Per-VM x86 state, kvm->arch. */
struct x86_vm {
	enum x86_boot_mode boot_mode;
	u64 entry;		/* RIP for vCPU 0 */
	u64 rsdp_addr;
};

static inline struct x86_vm *x86_vm(struct kvm *kvm)
{
	return kvm->arch;
}

/*
 * The kernel command line: lkvm's defaults (console, reboot method), then
 * extra (device descriptions, may be NULL), then -p.  Length or
 * -ENAMETOOLONG.
 */
int x86_build_cmdline(char *buf, size_t size, const char *console,
		      const char *extra, const char *user_params);

#endif
