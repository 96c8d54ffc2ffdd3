/*
 * virtio-mmio transport: register semantics of the version 2 and legacy
 * version 1 layouts, queue setup, notifications (ioeventfd and exit
 * paths), the level-style interrupt line, the config window and the
 * descriptions handed to the firmware tables.  A dummy device over fake
 * guest RAM; KVM's irq line and ioeventfds are stubbed below.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_mmio.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-mmio.h"
#include "unit.h"

#define RAM_GPA 0x40000000ULL
#define RAM_SIZE 0x40000ULL
#define QMAX 16
#define DEV_FEATURE_BIT 5

#define ST_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_DRV VIRTIO_CONFIG_S_DRIVER
#define ST_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define ST_DOK VIRTIO_CONFIG_S_DRIVER_OK

/* ---- stubs for KVM (kvm.o and ioeventfd.o stay out of the link) ---- */

static int irq_level[64];
static int irq_calls;

int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	if (gsi < ARRAY_SIZE(irq_level))
		irq_level[gsi] = level;
	irq_calls++;
	return 0;
}

struct ioevent {
	u64 addr;
	u32 len;
	bool pio, datamatch;
	u64 match;
	ioevent_fn fn;
	void *opaque;
};

static bool ioevent_fail = true;
static struct ioevent ioevents[16];
static unsigned int nr_ioevents;

int ioevent_add(struct kvm *kvm, u64 addr, u32 len, bool pio, bool datamatch,
		u64 match, ioevent_fn fn, void *opaque, struct ioevent **out)
{
	if (ioevent_fail || nr_ioevents == ARRAY_SIZE(ioevents))
		return -ENOSYS;
	ioevents[nr_ioevents] = (struct ioevent){ addr, len, pio, datamatch, match, fn, opaque };
	*out = &ioevents[nr_ioevents++];
	return 0;
}

void ioevent_del(struct ioevent *ev)
{
}

/* ---- fake VM and dummy device ---- */

static struct kvm kvm;
static u8 *ram;

static void vm_init(void)
{
	long page = sysconf(_SC_PAGESIZE);
	u8 *area = mmap(NULL, RAM_SIZE + 2 * page, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* Guard pages on both sides: a stray access crashes the test. */
	if (area == MAP_FAILED || mprotect(area + page, RAM_SIZE, PROT_READ | PROT_WRITE)) {
		perror("mmap");
		exit(2);
	}
	ram = area + page;
	guest_mem_add(&kvm.mem, RAM_GPA, RAM_SIZE, ram);
	bus_init(&kvm.mmio_bus, "mmio");
}

static int notified[4];
static int resets;
static u8 config[12];
static u32 config_write_off, config_write_len;

static void d_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	notified[vq->index]++;
}

static void d_reset(struct virtio_device *vdev)
{
	resets++;
}

static void d_config_write(struct virtio_device *vdev, u32 off, const void *data, u32 len)
{
	config_write_off = off;
	config_write_len = len;
	memcpy(config + off, data, len);
}

static const struct virtio_device_ops dummy_ops = {
	.name = "dummy",
	.device_id = 42,
	.nr_queues = 2,
	.max_queue_size = QMAX,
	.features = 1ULL << DEV_FEATURE_BIT,
	.queue_notify = d_notify,
	.reset = d_reset,
	.config_write = d_config_write,
};

/* A freshly attached device and the base of its window. */
struct tdev {
	struct virtio_device vdev;
	u64 base;
	u32 gsi;
};

static struct tdev *attach(bool legacy)
{
	struct tdev *t = calloc(1, sizeof(*t));
	const struct virtio_mmio_desc *d;
	unsigned int n;

	if (!t || virtio_device_init(&t->vdev, &dummy_ops, &kvm.mem, config, sizeof(config))) {
		fprintf(stderr, "device init failed\n");
		exit(2);
	}
	if (virtio_mmio_attach(&kvm, &t->vdev, legacy)) {
		fprintf(stderr, "attach failed\n");
		exit(2);
	}
	n = virtio_mmio_list(&d);
	t->base = d[n - 1].base;
	t->gsi = d[n - 1].gsi;
	memset(notified, 0, sizeof(notified));
	resets = 0;
	return t;
}

static u32 rd(struct tdev *t, u64 off, u32 len)
{
	u8 data[8];

	memset(data, 0xaa, sizeof(data));
	if (!bus_dispatch(&kvm.mmio_bus, t->base + off, data, len, false))
		return 0xdeadbeef;
	return (u32)bus_data_get(data, len);
}

static u32 rd32(struct tdev *t, u64 off)
{
	return rd(t, off, 4);
}

static void wr(struct tdev *t, u64 off, u32 val, u32 len)
{
	u8 data[8];

	bus_data_put(data, len, val);
	bus_dispatch(&kvm.mmio_bus, t->base + off, data, len, true);
}

static void wr32(struct tdev *t, u64 off, u32 val)
{
	wr(t, off, val, 4);
}

static void set_features64(struct tdev *t, u64 f)
{
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES, (u32)f);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(f >> 32));
}

#define F_V1 (1ULL << VIRTIO_F_VERSION_1)

/* Modern queue q at gpa (desc, avail +0x400, used +0x800). */
static void setup_queue(struct tdev *t, u32 q, u32 size, u64 gpa)
{
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, q);
	wr32(t, VIRTIO_MMIO_QUEUE_NUM, size);
	wr32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)gpa);
	wr32(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(gpa >> 32));
	wr32(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)(gpa + 0x400));
	wr32(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (u32)((gpa + 0x400) >> 32));
	wr32(t, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)(gpa + 0x800));
	wr32(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (u32)((gpa + 0x800) >> 32));
	wr32(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* A modern device negotiated with VERSION_1, both queues up, DRIVER_OK. */
static struct tdev *modern_up(void)
{
	struct tdev *t = attach(false);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	setup_queue(t, 0, QMAX, RAM_GPA);
	setup_queue(t, 1, QMAX, RAM_GPA + 0x1000);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	return t;
}

/* ---- tests ---- */

/* The x86 layout (x86/devices.c); the transport itself has no default. */
#define TEST_MMIO_BASE 0xfe800000ULL
static const u32 test_gsis[] = { 5, 6, 7, 10, 11, 14, 15 };

static void test_layout(void)
{
	struct tdev *a, *b;

	CHECK_EQ(virtio_mmio_set_layout(TEST_MMIO_BASE, 0x400000, test_gsis,
					ARRAY_SIZE(test_gsis)), 0);
	a = attach(false);
	b = attach(true);
	const struct virtio_mmio_desc *d;

	CHECK_EQ(virtio_mmio_list(&d), 2);
	CHECK_EQ(a->base, TEST_MMIO_BASE);
	CHECK_EQ(b->base, TEST_MMIO_BASE + 0x200);
	CHECK_EQ(d[0].size, 0x200);
	CHECK_EQ(d[0].gsi, 5);
	CHECK_EQ(d[1].gsi, 6);
	CHECK_EQ(d[0].device_id, 42);
	CHECK(!d[0].legacy);
	CHECK(d[1].legacy);
	/* Windows are exactly 0x200 bytes: the next byte is someone else's. */
	CHECK_EQ(rd32(b, 0x1fc), 0);
	CHECK_EQ(rd32(b, 0x200), 0xdeadbeef);
	CHECK_EQ(virtio_mmio_set_layout(0xd0000000, 0x1000, (u32[]){ 3 }, 1), -EBUSY);
	CHECK_EQ(virtio_mmio_set_layout(0xd0000000, 0x100, (u32[]){ 3 }, 1), -EINVAL);
	CHECK_EQ(virtio_mmio_set_layout(0xd0000000, 0x1000, NULL, 0), -EINVAL);
}

static void test_identity_registers(void)
{
	struct tdev *t = attach(false);

	CHECK_EQ(rd32(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_ID), 42);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_VENDOR_ID), 0x4d564b4c);
	/* Read-only registers ignore writes. */
	wr32(t, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr32(t, VIRTIO_MMIO_DEVICE_ID, 7);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_ID), 42);
	/* No shared memory regions: length reads as -1. */
	wr32(t, VIRTIO_MMIO_SHM_SEL, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
}

static void test_feature_words(void)
{
	struct tdev *t = attach(false);

	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES),
		 (1u << DEV_FEATURE_BIT) | (1u << VIRTIO_RING_F_INDIRECT_DESC) |
			 (1u << VIRTIO_RING_F_EVENT_IDX));
	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES), (1u << (VIRTIO_F_VERSION_1 - 32)) |
		 (1u << (VIRTIO_F_RING_PACKED - 32)));
	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1 | (1ULL << DEV_FEATURE_BIT));
	CHECK_EQ(virtio_get_driver_features(&t->vdev, 0), 1u << DEV_FEATURE_BIT);
	CHECK_EQ(virtio_get_driver_features(&t->vdev, 1), 1u << (VIRTIO_F_VERSION_1 - 32));
	/* DriverFeatures is write-only. */
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DRIVER_FEATURES), 0);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK);
	CHECK(virtio_has_feature(&t->vdev, DEV_FEATURE_BIT));
}

static void test_modern_requires_version_1(void)
{
	struct tdev *t = attach(false);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, 1ULL << DEV_FEATURE_BIT);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV);
}

static void test_modern_queue_setup(void)
{
	struct tdev *t = attach(false);
	u64 base = RAM_GPA + 0x3000;

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 1, 8, base);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK(virtio_queue_is_ready(&t->vdev, 1));
	CHECK(!virtio_queue_is_ready(&t->vdev, 0));
	CHECK_EQ(virtio_queue_get_size(&t->vdev, 1), 8);
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 1, VIRTQ_AREA_DESC), base);
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 1, VIRTQ_AREA_DRIVER), base + 0x400);
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 1, VIRTQ_AREA_DEVICE), base + 0x800);
	/* Queue 0 is still unready: QueueReady follows QueueSel. */
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	/* A queue that does not exist: max 0, writes go nowhere. */
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr32(t, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	/* Before DRIVER_OK the driver may take a queue down again. */
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr32(t, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(!virtio_queue_is_ready(&t->vdev, 1));
}

/* Packed rings on virtio-mmio v2: any size, the areas are ring + events. */
static void test_packed_queue_setup(void)
{
	struct tdev *t = attach(false);
	u64 base = RAM_GPA + 0x3000;
	struct virt_queue *vq;

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1 | (1ULL << VIRTIO_F_RING_PACKED));
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK);
	setup_queue(t, 1, 7, base);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 1);
	vq = virtio_get_queue(&t->vdev, 1);
	CHECK(vq->packed);
	CHECK(vq->pdesc == (void *)(ram + 0x3000));
	CHECK(vq->driver_event == (void *)(ram + 0x3400));
	CHECK(vq->device_event == (void *)(ram + 0x3800));
	CHECK(!virtq_is_broken(vq));
	/* Legacy (v1): the packed bit is not even visible. */
	t = attach(true);
	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_high_address_outside_ram_refused(void)
{
	struct tdev *t = attach(false);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	/* Only the high words point outside RAM. */
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr32(t, VIRTIO_MMIO_QUEUE_NUM, QMAX);
	wr32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)RAM_GPA);
	wr32(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	wr32(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)RAM_GPA + 0x400);
	wr32(t, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)RAM_GPA + 0x800);
	wr32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(rd32(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Reset clears everything, the line included. */
	wr32(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_notify_through_exit(void)
{
	struct tdev *t;

	ioevent_fail = true;
	t = attach(false);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	setup_queue(t, 0, QMAX, RAM_GPA);
	setup_queue(t, 1, QMAX, RAM_GPA + 0x1000);
	/* No notifications before DRIVER_OK. */
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(notified[1], 0);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 7);	/* no such queue */
	CHECK_EQ(notified[0], 1);
	CHECK_EQ(notified[1], 2);
}

static void test_notify_through_ioeventfd(void)
{
	struct tdev *t;
	unsigned int first = nr_ioevents;

	ioevent_fail = false;
	t = modern_up();
	ioevent_fail = true;
	CHECK_EQ(nr_ioevents - first, 2);
	for (unsigned int i = 0; i < 2 && first + i < nr_ioevents; i++) {
		struct ioevent *ev = &ioevents[first + i];

		CHECK_EQ(ev->addr, t->base + VIRTIO_MMIO_QUEUE_NOTIFY);
		CHECK_EQ(ev->len, 4);
		CHECK(!ev->pio);
		CHECK(ev->datamatch);
		CHECK_EQ(ev->match, i);
		/* What the epoll thread does when the guest writes i. */
		ev->fn(ev->opaque);
	}
	CHECK_EQ(notified[0], 1);
	CHECK_EQ(notified[1], 1);
}

static void test_interrupt_status_and_ack(void)
{
	struct tdev *t = modern_up();
	struct virt_queue *vq = virtio_get_queue(&t->vdev, 1);
	struct vring_desc *desc = (struct vring_desc *)(ram + 0x1000);
	struct vring_avail *avail = (struct vring_avail *)(ram + 0x1400);
	struct virtq_elem *elem = virtq_elem_alloc(vq);

	CHECK_EQ(irq_level[t->gsi], 0);
	desc[0] = (struct vring_desc){ .addr = htole64(RAM_GPA + 0x8000), .len = htole32(16),
				       .flags = htole16(VRING_DESC_F_WRITE) };
	avail->ring[0] = 0;
	avail->idx = htole16(1);
	CHECK(virtq_pop(vq, elem));
	virtq_push_and_signal(vq, elem->head, 16);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(irq_level[t->gsi], 1);
	/* Acknowledging a bit that is not set changes nothing. */
	wr32(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(irq_level[t->gsi], 1);
	virtio_config_changed(&t->vdev);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS),
		 VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	wr32(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(irq_level[t->gsi], 1);
	wr32(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(irq_level[t->gsi], 0);
	/* Reset with an interrupt pending drops the line. */
	virtio_config_changed(&t->vdev);
	CHECK_EQ(irq_level[t->gsi], 1);
	wr32(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(resets, 1);
	CHECK_EQ(irq_level[t->gsi], 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), 0);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	virtq_elem_free(elem);
}

static void test_config_window(void)
{
	struct tdev *t = attach(false);

	memcpy(config, "\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc", 12);
	CHECK_EQ(rd(t, 0x100, 1), 0x11);
	CHECK_EQ(rd(t, 0x102, 2), 0x4433);
	CHECK_EQ(rd(t, 0x104, 4), 0x88776655);
	CHECK_EQ(rd(t, 0x10a, 2), 0xccbb);
	/* Beyond the device's 12 bytes: zeros, partly or wholly. */
	CHECK_EQ(rd(t, 0x10a, 4), 0xccbb);
	CHECK_EQ(rd(t, 0x1f0, 4), 0);
	wr(t, 0x104, 0xdeadbeef, 4);
	CHECK_EQ(config_write_off, 4);
	CHECK_EQ(config_write_len, 4);
	CHECK_EQ(rd(t, 0x104, 4), 0xdeadbeef);
	config_write_len = 0;
	wr(t, 0x10a, 0x12345678, 4);	/* crosses the end: dropped */
	CHECK_EQ(config_write_len, 0);
	CHECK_EQ(rd(t, 0x10a, 2), 0xccbb);
}

static void test_narrow_register_access_ignored(void)
{
	struct tdev *t = attach(false);

	CHECK_EQ(rd(t, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);	/* unaligned */
	wr(t, VIRTIO_MMIO_STATUS, ST_ACK, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), 0);
	wr(t, VIRTIO_MMIO_STATUS + 2, ST_ACK, 4);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), 0);
	/* 8-byte accesses are not 32-bit ones either. */
	CHECK_EQ(rd(t, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
}

static void test_legacy_registers(void)
{
	struct tdev *t = attach(true);

	CHECK_EQ(rd32(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_VERSION), 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_ID), 42);
	/* A legacy device has no VERSION_1 and only 32 feature bits. */
	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK(rd32(t, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << DEV_FEATURE_BIT));
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	set_features64(t, F_V1 | (1ULL << DEV_FEATURE_BIT));
	CHECK_EQ(virtio_get_driver_features(&t->vdev, 1), 0);
	CHECK_EQ(virtio_get_driver_features(&t->vdev, 0), 1u << DEV_FEATURE_BIT);
	/* Version 2 registers do not exist here. */
	CHECK_EQ(rd32(t, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)RAM_GPA);
	wr32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(!virtio_queue_is_ready(&t->vdev, 0));
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 0, VIRTQ_AREA_DESC), 0);
}

/* Legacy layout: desc at pfn * page size, avail after it, used aligned. */
static void test_legacy_pfn_queue(void)
{
	struct tdev *t = attach(true);
	u32 pfn = (u32)((RAM_GPA + 0x4000) / 4096);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	wr32(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_PFN), 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr32(t, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr32(t, VIRTIO_MMIO_QUEUE_ALIGN, 256);
	wr32(t, VIRTIO_MMIO_QUEUE_PFN, pfn);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_PFN), pfn);
	CHECK(virtio_queue_is_ready(&t->vdev, 0));
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 0, VIRTQ_AREA_DESC), RAM_GPA + 0x4000);
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 0, VIRTQ_AREA_DRIVER), RAM_GPA + 0x4000 + 128);
	/* avail ends at 128 + 6 + 16 = 150: used at the next 256 boundary. */
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 0, VIRTQ_AREA_DEVICE), RAM_GPA + 0x4100);

	/* Queue 1 with a 1 KiB guest page and the default 4 KiB alignment. */
	wr32(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, 1024);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr32(t, VIRTIO_MMIO_QUEUE_NUM, QMAX);
	wr32(t, VIRTIO_MMIO_QUEUE_PFN, (u32)((RAM_GPA + 0x6400) / 1024));
	CHECK(virtio_queue_is_ready(&t->vdev, 1));
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 1, VIRTQ_AREA_DESC), RAM_GPA + 0x6400);
	CHECK_EQ(virtio_queue_get_addr(&t->vdev, 1, VIRTQ_AREA_DEVICE), RAM_GPA + 0x7000);

	/* Legacy: DRIVER_OK without FEATURES_OK, then notifications work. */
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_DOK);
	wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(notified[1], 1);
	/* Reset, then the driver deletes its queues with PFN 0. */
	wr32(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd32(t, VIRTIO_MMIO_QUEUE_PFN), 0);
	wr32(t, VIRTIO_MMIO_QUEUE_PFN, 0);
	CHECK(!virtio_queue_is_ready(&t->vdev, 1));
}

static void test_legacy_bad_page_size_refused(void)
{
	struct tdev *t = attach(true);

	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	wr32(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, 3000);
	wr32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr32(t, VIRTIO_MMIO_QUEUE_PFN, 0x40000);
	CHECK(!virtio_queue_is_ready(&t->vdev, 0));
	/* A PFN beyond RAM is refused as well. */
	wr32(t, VIRTIO_MMIO_STATUS, 0);
	wr32(t, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	wr32(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	wr32(t, VIRTIO_MMIO_QUEUE_PFN, 0xffffffff);
	CHECK(!virtio_queue_is_ready(&t->vdev, 0));
}

/* More devices than lines: the line stays up while any sharer asserts it. */
static void test_shared_line(void)
{
	const struct virtio_mmio_desc *d;
	struct tdev *devs[8], *a = NULL, *b = NULL;
	unsigned int n;

	for (unsigned int i = 0; i < ARRAY_SIZE(devs); i++)
		devs[i] = modern_up();
	n = virtio_mmio_list(&d);
	(void)n;
	for (unsigned int i = 0; i < ARRAY_SIZE(devs) && !b; i++)
		for (unsigned int j = i + 1; j < ARRAY_SIZE(devs); j++)
			if (devs[i]->gsi == devs[j]->gsi) {
				a = devs[i];
				b = devs[j];
				break;
			}
	CHECK(a && b);
	if (!a || !b)
		return;
	virtio_config_changed(&a->vdev);
	virtio_config_changed(&b->vdev);
	CHECK_EQ(irq_level[a->gsi], 1);
	wr32(a, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(irq_level[a->gsi], 1);
	wr32(b, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(irq_level[a->gsi], 0);
	/* A reset of one sharer releases only its own share. */
	virtio_config_changed(&a->vdev);
	virtio_config_changed(&b->vdev);
	wr32(b, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(irq_level[a->gsi], 1);
	wr32(a, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(irq_level[a->gsi], 0);
}

static void test_cmdline_arg(void)
{
	const struct virtio_mmio_desc *d;
	unsigned int n = virtio_mmio_list(&d);
	char buf[8192], expect[64];
	int len = virtio_mmio_cmdline_arg(buf, sizeof(buf));

	CHECK(n >= 2);
	CHECK_EQ(len, (int)strlen(buf));
	CHECK(!strncmp(buf, "virtio_mmio.device=0x200@0xfe800000:5 "
			    "virtio_mmio.device=0x200@0xfe800200:6 ", 2 * 38));
	snprintf(expect, sizeof(expect), " virtio_mmio.device=0x200@0x%llx:%u",
		 (unsigned long long)d[n - 1].base, d[n - 1].gsi);
	CHECK(len >= (int)strlen(expect) &&
	      !strcmp(buf + len - strlen(expect), expect));
	CHECK_EQ(virtio_mmio_cmdline_arg(buf, 50), -ENOSPC);
	CHECK_STR(buf, "");
	CHECK_EQ(virtio_mmio_cmdline_arg(buf, 0), -ENOSPC);
}

static void test_windows_run_out(void)
{
	struct virtio_device *v;
	int ret = 0;

	for (unsigned int i = 0; i <= VIRTIO_MMIO_MAX_DEVICES && !ret; i++) {
		v = calloc(1, sizeof(*v));
		if (!v || virtio_device_init(v, &dummy_ops, &kvm.mem, NULL, 0))
			exit(2);
		ret = virtio_mmio_attach(&kvm, v, false);
		if (ret) {
			virtio_device_exit(v);
			free(v);
		}
	}
	CHECK_EQ(ret, -ENOSPC);
}

int main(void)
{
	vm_init();
	RUN(test_layout);
	RUN(test_identity_registers);
	RUN(test_feature_words);
	RUN(test_modern_requires_version_1);
	RUN(test_modern_queue_setup);
	RUN(test_packed_queue_setup);
	RUN(test_high_address_outside_ram_refused);
	RUN(test_notify_through_exit);
	RUN(test_notify_through_ioeventfd);
	RUN(test_interrupt_status_and_ack);
	RUN(test_config_window);
	RUN(test_narrow_register_access_ignored);
	RUN(test_legacy_registers);
	RUN(test_legacy_pfn_queue);
	RUN(test_legacy_bad_page_size_refused);
	RUN(test_shared_line);
	RUN(test_cmdline_arg);
	RUN(test_windows_run_out);
	return unit_summary();
}
