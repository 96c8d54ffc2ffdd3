/*
 * Fuzz target: the virtio PCI transport (virtio/pci.c, pci-modern.c,
 * pci-legacy.c) on the PCI host (hw/pci.c, hw/pci-msix.c): a guest's
 * configuration-space, BAR and port accesses in any order, on a device
 * whose queues a fake device drains over fuzzed guest RAM.
 *
 * Input layout (little endian):
 *   0   u8   flags: 1 legacy-only device, 2 KVM refuses ioeventfds,
 *                   4 KVM refuses irqfds
 *   1   7 bytes reserved
 *   8   OPS x 12 bytes: kind u8, width u8, off u16, value u64
 *       kind bit 0: write; (kind >> 1) % 5 picks the target:
 *       0 configuration space through 0xCF8/0xCFC, 1 BAR0 (legacy I/O),
 *       2 BAR1 (MSI-X), 3 BAR4 (modern), 4 any I/O port
 *       width: 1 << (width % 4) bytes
 *   776 the first bytes of guest RAM (64 KiB at GPA 0x100000)
 *
 * Like KVM, the harness turns a write that hits a registered ioeventfd
 * into a call of its handler instead of a bus access.
 *
 * Oracles, besides ASan/UBSan/LSan and the guard pages: every chain the
 * device pops passes the fuzz-chain.h checks; no descriptor (eventfd)
 * outlives the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/bus.h"
#include "lkvm/kvm.h"
#include "lkvm/pci.h"
#include "lkvm/virtio-pci.h"
#include "fuzz-chain.h"
#include "fuzz-kvm.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x10000ULL
#define HDR_LEN 8
#define OPS 64
#define OP_LEN 12
#define IMAGE_OFF (HDR_LEN + OPS * OP_LEN)

#define FL_LEGACY_ONLY 1
#define FL_NO_IOEVENTFD 2
#define FL_NO_IRQFD 4

static struct fuzz_ram ram;
static struct kvm kvm;
static struct virtio_device vdev;
static struct virtq_elem *elem;
static u8 config[16];
static unsigned int popped;

/* ---- the device ---- */

static void d_notify(struct virtio_device *dev, struct virt_queue *vq)
{
	popped += fuzz_drain_queue(&ram, vq, elem);
}

static void d_config_write(struct virtio_device *dev, u32 off, const void *data, u32 len)
{
	memcpy(config + off, data, len);
}

static const struct virtio_device_ops dev_ops = {
	.name = "fuzz",
	.device_id = 4,		/* rng: has a transitional PCI id */
	.nr_queues = 2,
	.max_queue_size = 256,
	.features = 1ULL << 5,
	.queue_notify = d_notify,
	.config_write = d_config_write,
};

/* ---- the guest ---- */

static void run_op(struct fuzz_in *in, struct virtio_pci *vp)
{
	u8 kind = fuzz_u8(in), width = fuzz_u8(in);
	u16 off = fuzz_u16(in);
	u64 value = fuzz_u64(in);
	bool write = kind & 1;
	u32 len = 1u << (width % 4);
	unsigned int bars[] = { 0, VPCI_LEGACY_BAR, VPCI_MSIX_BAR, VPCI_MODERN_BAR };
	unsigned int target = (kind >> 1) % 5;
	struct pci_bar *b;
	u64 addr;

	switch (target) {
	case 0:
		fuzz_guest_access(&kvm.pio_bus, true, 0xcf8, 4, true,
		       0x80000000u | vp->pci.slot << 11 | (off & 0xfc));
		fuzz_guest_access(&kvm.pio_bus, true, 0xcfc + (off & 3), MIN(len, 4u), write, value);
		break;
	case 1:
	case 2:
	case 3:
		b = &vp->pci.bars[bars[target]];
		if (!b->size)
			break;
		/* Sometimes past the end: the neighbour, or nothing. */
		off %= 2 * b->size;
		addr = b->mapped ? b->mapped_addr : pci_bar_addr(&vp->pci, bars[target]);
		fuzz_guest_access(b->io ? &kvm.pio_bus : &kvm.mmio_bus, b->io, addr + off, len, write,
		       value);
		break;
	case 4:
		fuzz_guest_access(&kvm.pio_bus, true, off, len, write, value);
		break;
	}
}

/* FUZZ_VERBOSE: the layout a seed has to address. */
static void describe(struct virtio_pci *vp)
{
	struct pci_device *p = &vp->pci;

	fprintf(stderr, "fuzz-virtio-pci: slot %u, capabilities:", p->slot);
	for (u8 c = pci_cfg_get8(p, PCI_CAPABILITY_LIST); c; c = pci_cfg_get8(p, c + 1))
		fprintf(stderr, " 0x%02x@0x%02x", pci_cfg_get8(p, c), c);
	fputc('\n', stderr);
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (p->bars[i].size)
			fprintf(stderr, "fuzz-virtio-pci: BAR%u %s 0x%llx size 0x%x\n", i,
				p->bars[i].io ? "io" : "mem",
				(unsigned long long)p->bars[i].mapped_addr, p->bars[i].size);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in;
	u8 flags;
	int fds;

	if (!ram.hva)
		fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
	fuzz_ram_clear(&ram);
	if (size > IMAGE_OFF)
		memcpy(ram.hva, data + IMAGE_OFF, MIN(size - IMAGE_OFF, RAM_SIZE));
	fuzz_in_init(&in, data, MIN(size, (size_t)IMAGE_OFF));
	flags = fuzz_u8(&in);
	fuzz_kvm_no_ioeventfd = flags & FL_NO_IOEVENTFD;
	fuzz_kvm_no_irqfd = flags & FL_NO_IRQFD;
	fuzz_skip(&in, HDR_LEN - 1);
	fds = fuzz_count_fds();

	memset(&kvm, 0, sizeof(kvm));
	fuzz_kvm_reset();
	memset(config, 0, sizeof(config));
	kvm.mem = ram.mem;
	popped = 0;
	bus_init(&kvm.pio_bus, "pio");
	bus_init(&kvm.mmio_bus, "mmio");
	if (pci_host_init(&kvm) ||
	    virtio_device_init(&vdev, &dev_ops, &ram.mem, config, sizeof(config)) ||
	    virtio_pci_attach(&kvm, &vdev, flags & FL_LEGACY_ONLY))
		abort();
	elem = virtq_elem_alloc(&vdev.vqs[0]);

	if (fuzz_verbose())
		describe(vdev.transport_data);
	for (unsigned int i = 0; i < OPS && fuzz_left(&in); i++)
		run_op(&in, vdev.transport_data);

	if (fuzz_verbose())
		fprintf(stderr, "fuzz-virtio-pci: status 0x%x, %u chains, %s\n",
			virtio_get_status(&vdev), popped,
			virtio_device_is_broken(&vdev) ? "broken" : "not broken");
	virtio_device_reset(&vdev);
	virtio_pci_detach(&vdev);
	virtio_device_exit(&vdev);
	virtq_elem_free(elem);
	pci_host_exit(&kvm);
	bus_destroy(&kvm.pio_bus);
	bus_destroy(&kvm.mmio_bus);
	FUZZ_ASSERT(fuzz_count_fds() == fds, "%d descriptors open after detach, %d before",
		    fuzz_count_fds(), fds);
	return 0;
}
