#ifndef LKVM_CONFIG_H
#define LKVM_CONFIG_H

#include <stdbool.h>
#include "lkvm/compiler.h"

#define LKVM_MAX_DISKS 16
#define LKVM_MAX_NICS 8
#define LKVM_MAX_CPUS 64
#define LKVM_MAX_9P 8

/* What `lkvm run` was asked to do, after option parsing. */
struct lkvm_config {
	const char *kernel_path;
	const char *initrd_path;
	const char *firmware_path;
	const char *params;	/* -p: appended to the kernel command line */
	const char *name;
	u64 ram_mib;
	unsigned int nr_cpus;
	const char *console;	/* "serial" (default) or "virtio" */
	const char *transport;	/* "pci" (default), "pci-legacy", "mmio" */
	bool rng;
	bool balloon;
	u64 vsock_cid;		/* 0: no vsock device */
	bool debug;
	unsigned long timeout_sec;	/* 0: none */
	bool test_device;	/* hidden: test device for the direct tests */
	const char *irqchip;	/* arm64: gicv3, gicv3-its, gicv2; NULL: best there is */
	const char *dump_dtb;	/* arm64: write the device tree here and exit */
	const char *disk_specs[LKVM_MAX_DISKS];
	unsigned int nr_disks;
	const char *net_specs[LKVM_MAX_NICS];
	unsigned int nr_nics;
	const char *p9_specs[LKVM_MAX_9P];
	unsigned int nr_p9;
};

#endif
