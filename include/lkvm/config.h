#ifndef LKVM_CONFIG_H
#define LKVM_CONFIG_H

#include <stdbool.h>
#include "lkvm/compiler.h"

#define LKVM_MAX_DISKS 16
#define LKVM_MAX_NICS 8
#define LKVM_MAX_CPUS 64
#define LKVM_MAX_9P 8
#define LKVM_MAX_RWDIRS 4

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
	const char *gdb;	/* --gdb [HOST:]PORT; NULL: no stub */
	bool gdb_wait;		/* vCPUs held until a debugger attaches */
	bool boot_trace;
	unsigned long timeout_sec;	/* 0: none */
	bool test_device;	/* hidden: test device for the direct tests */
	bool no_sandbox;	/* --no-sandbox */
	int sandbox_test_role;	/* hidden: a role that breaks the sandbox, or -1 */
	const char *disk_specs[LKVM_MAX_DISKS];
	unsigned int nr_disks;
	const char *net_specs[LKVM_MAX_NICS];
	unsigned int nr_nics;
	const char *p9_specs[LKVM_MAX_9P];
	unsigned int nr_p9;
	/* The kernel developer's loop (devloop.c): host root over 9p, a command. */
	const char *rootfs;	/* --rootfs: export this instead of / */
	bool rootfs_rw;		/* --rw: the export is written to */
	const char *rwdirs[LKVM_MAX_RWDIRS];	/* --rwdir: writable at the same path */
	unsigned int nr_rwdirs;
	const char *modules_dir;	/* --modules: where the kernel's modules are */
	char **command;		/* after "--": run in the guest (NULL-terminated) */
	bool command_given;	/* "--" seen (an empty command: a shell) */
};

#endif
