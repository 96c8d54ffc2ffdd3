/*
 * Fuzz target: the virtio-mmio transport (virtio/mmio.c), version 2 and
 * legacy version 1 register windows, driving a fake device whose queues
 * are drained over fuzzed guest RAM.
 *
 * Windows cannot be detached, so two devices are attached once (a modern
 * one at window 0, a legacy one at window 1) and every input starts with
 * a driver reset of both: status 0 and every selector, the guest page size
 * and the queue alignments written back to their defaults.
 *
 * Input layout (little endian):
 *   0   u8   flags: 1 queue notifications bypass the ioeventfds
 *   1   7 bytes reserved
 *   8   OPS x 8 bytes: kind u8, width u8, off u16, value u32
 *       kind bit 0: write, bit 1: the legacy device; off % 0x400 from
 *       the window (past 0x200: the next window or nothing)
 *       width: 1 << (width % 4) bytes
 *   520 the first bytes of guest RAM (64 KiB at GPA 0x100000)
 *
 * Oracles, besides ASan/UBSan/LSan and the guard pages: every chain popped
 * passes the fuzz-chain.h checks; after the closing reset no interrupt
 * line is left high.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_mmio.h>
#include "lkvm/bus.h"
#include "lkvm/kvm.h"
#include "lkvm/virtio-mmio.h"
#include "fuzz-chain.h"
#include "fuzz-kvm.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x10000ULL
#define HDR_LEN 8
#define OPS 64
#define OP_LEN 8
#define IMAGE_OFF (HDR_LEN + OPS * OP_LEN)
#define NR_QUEUES 2

#define FL_NO_IOEVENTFD 1

struct fuzz_dev {
	struct virtio_device vdev;
	struct virtio_device_ops ops;
	u8 config[16];
	u64 base;
};

static struct fuzz_ram ram;
static struct kvm kvm;
static struct fuzz_dev devs[2];
static struct virtq_elem *elem;
static unsigned int popped;

static void d_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	popped += fuzz_drain_queue(&ram, vq, elem);
}

static void d_config_write(struct virtio_device *vdev, u32 off, const void *data, u32 len)
{
	memcpy((u8 *)vdev->config + off, data, len);
}

static void setup_once(void)
{
	const struct virtio_mmio_desc *desc;

	fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
	kvm.mem = ram.mem;
	bus_init(&kvm.pio_bus, "pio");
	bus_init(&kvm.mmio_bus, "mmio");
	if (virtio_mmio_set_layout(0xfe800000, 0x400000, (const u32[]){ 5, 6 }, 2))
		abort();
	for (unsigned int i = 0; i < 2; i++) {
		struct fuzz_dev *d = &devs[i];

		d->ops = (struct virtio_device_ops){
			.name = i ? "fuzz-legacy" : "fuzz",
			.device_id = 4,
			.nr_queues = NR_QUEUES,
			.max_queue_size = 256,
			.features = 1ULL << 5,
			.queue_notify = d_notify,
			.config_write = d_config_write,
		};
		if (virtio_device_init(&d->vdev, &d->ops, &ram.mem, d->config,
				       sizeof(d->config)) ||
		    virtio_mmio_attach(&kvm, &d->vdev, i == 1))
			abort();
	}
	if (virtio_mmio_list(&desc) != 2)
		abort();
	devs[0].base = desc[0].base;
	devs[1].base = desc[1].base;
	elem = virtq_elem_alloc(&devs[0].vdev.vqs[0]);
}

static void reg_write(struct fuzz_dev *d, u64 off, u32 val)
{
	fuzz_guest_access(&kvm.mmio_bus, false, d->base + off, 4, true, val);
}

/* Both devices back to what a fresh attach gives. */
static void driver_reset(void)
{
	for (unsigned int i = 0; i < 2; i++) {
		struct fuzz_dev *d = &devs[i];

		reg_write(d, VIRTIO_MMIO_STATUS, 0);
		reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
		if (i == 1) {
			reg_write(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, VIRTIO_LEGACY_PAGE_SIZE);
			for (u32 q = 0; q < NR_QUEUES; q++) {
				reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
				reg_write(d, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_LEGACY_ALIGN);
			}
		}
		reg_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
		memset(d->config, 0, sizeof(d->config));
	}
}

static void run_op(struct fuzz_in *in, bool bypass_ioeventfd)
{
	u8 kind = fuzz_u8(in), width = fuzz_u8(in);
	u64 off = fuzz_u16(in) % 0x400;
	u32 value = fuzz_u32(in);
	struct fuzz_dev *d = &devs[(kind >> 1) & 1];
	u32 len = 1u << (width % 4);
	u8 data[8];

	if (bypass_ioeventfd) {
		bus_data_put(data, len, value);
		bus_dispatch(&kvm.mmio_bus, d->base + off, data, len, kind & 1);
	} else {
		fuzz_guest_access(&kvm.mmio_bus, false, d->base + off, len, kind & 1, value);
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in;
	u8 flags;

	if (!elem)
		setup_once();
	fuzz_ram_clear(&ram);
	if (size > IMAGE_OFF)
		memcpy(ram.hva, data + IMAGE_OFF, MIN(size - IMAGE_OFF, RAM_SIZE));
	fuzz_in_init(&in, data, MIN(size, (size_t)IMAGE_OFF));
	flags = fuzz_u8(&in);
	fuzz_skip(&in, HDR_LEN - 1);
	popped = 0;
	driver_reset();

	for (unsigned int i = 0; i < OPS && fuzz_left(&in); i++)
		run_op(&in, flags & FL_NO_IOEVENTFD);

	if (fuzz_verbose())
		fprintf(stderr, "fuzz-virtio-mmio: status 0x%x / 0x%x, %u chains\n",
			virtio_get_status(&devs[0].vdev), virtio_get_status(&devs[1].vdev), popped);
	driver_reset();
	FUZZ_ASSERT(fuzz_kvm_irq_lines_high() == 0, "%u interrupt lines high after reset",
		    fuzz_kvm_irq_lines_high());
	return 0;
}
