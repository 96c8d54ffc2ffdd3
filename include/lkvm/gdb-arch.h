#ifndef LKVM_GDB_ARCH_H
#define LKVM_GDB_ARCH_H
/*
 * What the gdb stub (gdb/) asks of the architecture directory: x86/gdb.c
 * and arm/gdb.c implement all of it.  The stub calls it unconditionally,
 * so a new architecture must implement it too before lkvm links.  Every
 * function taking a vCPU runs on that vCPU's own thread (the stub calls it
 * through kvm_cpu_run_on() while the VM is stopped, or from a
 * KVM_EXIT_DEBUG).
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

struct kvm_cpu;

/* One register of the 'g' packet: gdb's number is the index. */
struct gdb_reg_slot {
	u16 offset;
	u8 size;
};

struct gdb_arch_desc {
	const char *target_xml;		/* qXfer:features:read:target.xml */
	size_t regs_size;		/* bytes of a 'g' packet */
	const struct gdb_reg_slot *regs;
	unsigned int nr_regs;
	unsigned int pc_regno;
	unsigned int nr_hw_slots;	/* breakpoints + watchpoints together */
};
extern const struct gdb_arch_desc gdb_arch;

enum gdb_bp_type {		/* numbered as in Z/z packets */
	GDB_BP_SW = 0, GDB_BP_HW = 1, GDB_WATCH_WRITE = 2,
	GDB_WATCH_READ = 3, GDB_WATCH_ACCESS = 4,
};

struct gdb_hw_slot {
	bool used;
	enum gdb_bp_type type;
	u64 addr;
	u64 len;
};

/* What a KVM_EXIT_DEBUG meant. */
struct gdb_stop {
	enum { GDB_STOP_SW_BP, GDB_STOP_HW, GDB_STOP_STEP, GDB_STOP_OTHER } kind;
	u64 pc;
	int hw_slot;			/* GDB_STOP_HW: index into the slots */
};

/* The 'g' image of cpu's registers; buf has regs_size bytes. */
int gdb_arch_read_regs(struct kvm_cpu *cpu, u8 *buf);
int gdb_arch_write_regs(struct kvm_cpu *cpu, const u8 *buf);
/* Guest virtual to guest physical through cpu's current translation. */
int gdb_arch_translate(struct kvm_cpu *cpu, u64 gva, u64 *gpa);
/* The software breakpoint instruction. */
const u8 *gdb_arch_sw_bp(size_t *len);
/* Can a hardware slot watch/break on [addr, addr+len) of this type? */
bool gdb_arch_hw_ok(enum gdb_bp_type type, u64 addr, u64 len);
/*
 * KVM_SET_GUEST_DEBUG: enable == false turns debugging off; otherwise
 * software breakpoints trap to lkvm if sw_bps, the hardware slots are
 * programmed, and step single-steps this vCPU.
 */
int gdb_arch_set_debug(struct kvm_cpu *cpu, bool enable, bool sw_bps, bool step,
		       const struct gdb_hw_slot *slots);
/* Decode cpu->run after KVM_EXIT_DEBUG. */
void gdb_arch_decode_stop(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots,
			  struct gdb_stop *stop);
/* The guest's own breakpoint instruction trapped: hand it back to the guest. */
int gdb_arch_reinject_sw_bp(struct kvm_cpu *cpu, const struct gdb_hw_slot *slots);
int gdb_arch_set_pc(struct kvm_cpu *cpu, u64 pc);

#endif
