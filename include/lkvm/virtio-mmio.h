#ifndef LKVM_VIRTIO_MMIO_H
#define LKVM_VIRTIO_MMIO_H
/*
 * virtio-mmio transport (Virtio 1.2 section 4.2): each device is a 512-byte
 * register window plus one interrupt line.  Version 2 (modern) layout by
 * default, version 1 (legacy: GuestPageSize, QueueAlign, QueuePFN) on
 * request.
 *
 * Interrupts are level-like: the line is high while InterruptStatus has
 * any bit set and drops when the driver acknowledges the last one.  The
 * firmware tables must therefore describe the line as level-triggered,
 * active-high (ACPI: Interrupt (ResourceConsumer, Level, ActiveHigh,
 * Shared); device tree: IRQ_TYPE_LEVEL_HIGH).  When there are more devices
 * than lines, devices share lines (Linux's virtio_mmio requests them
 * shared); the transport ORs the devices' levels itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

struct kvm;
struct virtio_device;

#define VIRTIO_MMIO_WINDOW_SIZE	0x200ULL
#define VIRTIO_MMIO_MAX_DEVICES	64
#define VIRTIO_MMIO_MAX_GSIS	32

/* One attached device, as firmware tables describe it. */
struct virtio_mmio_desc {
	u64 base;
	u64 size;		/* VIRTIO_MMIO_WINDOW_SIZE */
	u32 gsi;
	u32 device_id;		/* VIRTIO_ID_*, for names and logs */
	bool legacy;		/* version 1 register layout */
};

/*
 * The window area and interrupt lines, chosen by the architecture before
 * the first attach (x86/devices.c, arm/devices.c): -EBUSY afterwards,
 * -EINVAL for an empty area or no lines.  Attaching without a layout
 * fails with -ENODEV.
 */
int virtio_mmio_set_layout(u64 base, u64 size, const u32 *gsis, unsigned int nr_gsis);

/*
 * Expose vdev (initialised, not yet attached) at the next free window with
 * the next interrupt line.  Queue notifications go through ioeventfds when
 * KVM provides them, otherwise through the register handler.  Returns 0,
 * -ENOSPC (no window left) or another -errno.
 */
int virtio_mmio_attach(struct kvm *kvm, struct virtio_device *vdev, bool legacy);

/* All attached devices, in attach order (stable pointer); returns the count. */
unsigned int virtio_mmio_list(const struct virtio_mmio_desc **out);

/*
 * "virtio_mmio.device=0x200@0xfe800000:5 ..." for every device, for
 * kernels built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES (others ignore
 * it).  Returns the string length (0 without devices) or -ENOSPC if buf
 * is too small (buf then holds "").
 */
int virtio_mmio_cmdline_arg(char *buf, size_t size);

#endif
