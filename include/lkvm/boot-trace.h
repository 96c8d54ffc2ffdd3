#ifndef LKVM_BOOT_TRACE_H
#define LKVM_BOOT_TRACE_H
/*
 * lkvm run --boot-trace: when the milestones of a boot first happened,
 * counted from the start of `lkvm run`, printed at exit.  Marking is one
 * atomic load once a milestone is recorded, so the hooks stay in hot paths.
 *
 * The boot-progress milestone is the guest's first write to a register the
 * architecture provides for it (x86: I/O port 0x514, see x86/layout.h;
 * another architecture registers an MMIO address of its choice and calls
 * boot_trace_progress() from its handler).
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

enum boot_milestone {
	BOOT_VM_READY,		/* guest loaded, devices built, vCPUs about to start */
	BOOT_FIRST_VCPU_RUN,	/* first KVM_RUN of any vCPU */
	BOOT_FIRST_CONSOLE,	/* first byte the guest wrote to its console */
	BOOT_PROGRESS,		/* first write to the boot-progress register */
	BOOT_NR_MILESTONES,
};

void boot_trace_start(bool enabled);
void boot_trace_mark(enum boot_milestone m);
/* A guest write to the boot-progress register (value kept for the report). */
void boot_trace_progress(u64 value);
/* Print the milestones to stderr (if enabled). */
void boot_trace_report(void);
/* The milestone's time in ns since the start, or -1 if it never happened. */
long long boot_trace_ns(enum boot_milestone m);

#endif
