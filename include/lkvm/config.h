#ifndef LKVM_CONFIG_H
#define LKVM_CONFIG_H

#include <stdbool.h>
#include "lkvm/compiler.h"
#include "lkvm/disk.h"
#include "lkvm/net.h"
#include "lkvm/virtio-9p.h"

#define LKVM_MAX_DISKS 16
#define LKVM_MAX_NICS 8
#define LKVM_MAX_CPUS 64
#define LKVM_MAX_9P 8
#define LKVM_MAX_RWDIRS 4

enum lkvm_console { LKVM_CONSOLE_SERIAL, LKVM_CONSOLE_VIRTIO };

enum lkvm_transport {
	LKVM_TRANSPORT_PCI, LKVM_TRANSPORT_PCI_LEGACY,
	LKVM_TRANSPORT_MMIO, LKVM_TRANSPORT_MMIO_LEGACY,
};

/* "pci", "pci-legacy", "mmio", "mmio-legacy": the --virtio-transport names. */
const char *lkvm_transport_name(enum lkvm_transport t);

/*
 * What `lkvm run` was asked to do, after option parsing: every spec is
 * parsed and checked here once, set-up code only reads typed values.
 */
struct lkvm_config {
	const char *kernel_path;
	const char *initrd_path;
	const char *firmware_path;
	const char *params;	/* -p: appended to the kernel command line */
	const char *name;
	u64 ram_mib;
	unsigned int nr_cpus;
	enum lkvm_console console;
	enum lkvm_transport transport;
	bool split_rings;	/* --virtio-ring=split: never offer packed rings */
	bool rng;
	bool balloon;
	u64 vsock_cid;		/* 0: no vsock device */
	bool debug;
	const char *gdb;	/* --gdb [HOST:]PORT; NULL: no stub */
	bool gdb_wait;		/* vCPUs held until a debugger attaches */
	bool boot_trace;
	bool reboot_on_triple_fault;	/* a triple fault is a reboot (exit 0) */
	unsigned long timeout_sec;	/* 0: none */
	bool test_device;	/* hidden: test device for the direct tests */
	bool no_sandbox;	/* --no-sandbox */
	int sandbox_test_role;	/* hidden: a role that breaks the sandbox, or -1 */
	const char *irqchip;	/* arm64: gicv3, gicv3-its, gicv2; NULL: best there is */
	const char *dump_dtb;	/* arm64: write the device tree here and exit */
	struct disk_params disks[LKVM_MAX_DISKS];	/* -d, in order */
	unsigned int nr_disks;
	struct net_params nics[LKVM_MAX_NICS];	/* -n, or one user-mode NIC */
	unsigned int nr_nics;
	struct p9_params p9[LKVM_MAX_9P];
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
