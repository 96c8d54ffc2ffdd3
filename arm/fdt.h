#ifndef LKVM_ARM_FDT_H
#define LKVM_ARM_FDT_H
/*
 * The device tree an arm64 guest boots with, built with libfdt from a
 * description of the machine.  Needs no KVM: unit-tested on any host.
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"
#include "arm/layout.h"

struct arm_fdt_mmio {
	u64 base, size;
	u32 spi;
};

struct arm_fdt_desc {
	u64 ram_base, ram_size;
	unsigned int nr_cpus;
	const u64 *mpidr;		/* MPIDR_EL1 of each vCPU */
	enum arm_gic_type gic;
	const char *bootargs;
	u64 initrd_start, initrd_end;	/* equal: no initrd */
	const struct arm_fdt_mmio *mmio;
	unsigned int nr_mmio;
	bool pci;			/* the ECAM host bridge */
	bool pvpanic;
};

/* Phandles the tree uses. */
#define ARM_FDT_PHANDLE_GIC	1
#define ARM_FDT_PHANDLE_ITS	2

/* Build the tree into buf (size bytes); 0 or -ENOSPC / -EINVAL. */
int arm_fdt_build(const struct arm_fdt_desc *d, void *buf, size_t size);
/* Bytes of a built tree. */
size_t arm_fdt_size(const void *fdt);

#endif
