#ifndef LKVM_TESTS_VIRTIO_FAKE_H
#define LKVM_TESTS_VIRTIO_FAKE_H
/*
 * Shared fixture for the virtio core unit tests: fake guest RAM at a
 * nonzero GPA, fenced by PROT_NONE pages so any access outside it crashes
 * the test, a counting transport, a counting device, log capture, and
 * driver-side helpers that write rings the way a guest would.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "fenced-ram.h"
#include "unit.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x40000ULL	/* 256 KiB */
#define RAM_END (RAM_GPA + RAM_SIZE)
#define QSIZE 16
#define DESC_GPA (RAM_GPA + 0x0000)
#define AVAIL_GPA (RAM_GPA + 0x1000)
#define USED_GPA (RAM_GPA + 0x2000)
#define TABLE_GPA (RAM_GPA + 0x8000)	/* indirect tables */
#define BUF_GPA (RAM_GPA + 0x10000)	/* data buffers */
#define DEVICE_FEATURE_BIT 5

/* Logs come from tests/unit/lib/log-stub.c: lines reach fd 2, where log_capture counts them. */

static u8 *ram;
static struct guest_mem mem;

static UNUSED void ram_init(void)
{
	if (!ram) {
		ram = fenced_ram(RAM_SIZE);
		mem.regions[0].gpa = RAM_GPA;
		mem.regions[0].size = RAM_SIZE;
		mem.regions[0].hva = ram;
		mem.nr_regions = 1;
	}
	memset(ram, 0, RAM_SIZE);
}

static UNUSED void *gpa(u64 addr)
{
	return ram + (addr - RAM_GPA);
}

/* ---- counting transport and device ---- */

static int queue_signals, config_signals, transport_resets;
static int notifies, resets, activations, activate_ret;
static bool veto_features;
static u8 config_space[8];
static u32 config_write_off, config_write_len;

static UNUSED void t_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	queue_signals++;
}

static UNUSED void t_signal_config(struct virtio_device *vdev)
{
	config_signals++;
}

static UNUSED void t_reset(struct virtio_device *vdev)
{
	transport_resets++;
}

static const struct virtio_transport_ops fake_transport = {
	.name = "fake",
	.signal_queue = t_signal_queue,
	.signal_config = t_signal_config,
	.reset = t_reset,
};

static UNUSED void d_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	notifies++;
}

static UNUSED void d_reset(struct virtio_device *vdev)
{
	resets++;
}

static UNUSED int d_activate(struct virtio_device *vdev)
{
	activations++;
	return activate_ret;
}

static UNUSED bool d_validate(struct virtio_device *vdev, u64 features)
{
	return !veto_features;
}

static UNUSED void d_config_write(struct virtio_device *vdev, u32 off, const void *data, u32 len)
{
	config_write_off = off;
	config_write_len = len;
	memcpy(config_space + off, data, len);
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.nr_queues = 2,
	.max_queue_size = QSIZE,
	.features = 1ULL << DEVICE_FEATURE_BIT,
	.queue_notify = d_notify,
	.reset = d_reset,
	.activate = d_activate,
	.validate_features = d_validate,
	.config_write = d_config_write,
};

static struct virtio_device vdev;

static UNUSED void counters_clear(void)
{
	queue_signals = config_signals = transport_resets = 0;
	notifies = resets = activations = activate_ret = 0;
	veto_features = false;
}

/* Fresh RAM and a device that is initialised but not negotiated. */
static UNUSED void device_new(bool modern)
{
	if (vdev.vqs)
		virtio_device_exit(&vdev);
	ram_init();
	counters_clear();
	memset(config_space, 0, sizeof(config_space));
	if (virtio_device_init(&vdev, &fake_ops, &mem, config_space, sizeof(config_space))) {
		fprintf(stderr, "virtio_device_init failed\n");
		exit(2);
	}
	virtio_device_set_transport(&vdev, &fake_transport, NULL, modern);
}

static UNUSED void set_features(u64 f)
{
	virtio_set_driver_features(&vdev, 0, (u32)f);
	virtio_set_driver_features(&vdev, 1, (u32)(f >> 32));
}

#define F_V1 (1ULL << VIRTIO_F_VERSION_1)
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_ALL (F_V1 | F_INDIRECT | F_EVENT_IDX)

/* A fresh device with f negotiated (and FEATURES_OK if modern): the status so far. */
static UNUSED u8 device_negotiate(u64 f)
{
	bool modern = f & F_V1;
	u8 st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	device_new(modern);
	virtio_set_status(&vdev, st);
	set_features(f);
	if (modern) {
		st |= VIRTIO_CONFIG_S_FEATURES_OK;
		virtio_set_status(&vdev, st);
	}
	return st;
}

/* Give queue 0 `size` entries and its three areas, without enabling it. */
static UNUSED void queue_place(u32 size, u64 desc, u64 drv_area, u64 dev_area)
{
	virtio_queue_set_size(&vdev, 0, size);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DESC, desc);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DRIVER, drv_area);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DEVICE, dev_area);
}

/* Negotiate f, queue 0 of `size` entries at DESC/AVAIL/USED_GPA, DRIVER_OK. */
static UNUSED struct virt_queue *device_up_sized(u64 f, u16 size)
{
	u8 st = device_negotiate(f);

	queue_place(size, DESC_GPA, AVAIL_GPA, USED_GPA);
	if (virtio_queue_enable(&vdev, 0)) {
		fprintf(stderr, "queue enable failed\n");
		exit(2);
	}
	virtio_set_status(&vdev, st | VIRTIO_CONFIG_S_DRIVER_OK);
	return virtio_get_queue(&vdev, 0);
}

static UNUSED struct virt_queue *device_up(u64 f)
{
	return device_up_sized(f, QSIZE);
}

/* ---- driver side: write rings as a guest would ---- */

static UNUSED struct vring_desc *desc_at(u64 table_gpa, unsigned int i)
{
	return (struct vring_desc *)gpa(table_gpa) + i;
}

static UNUSED void put_desc_in(u64 table_gpa, unsigned int i, u64 addr, u32 len, u16 flags, u16 next)
{
	struct vring_desc *d = desc_at(table_gpa, i);

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

static UNUSED void put_desc(unsigned int i, u64 addr, u32 len, u16 flags, u16 next)
{
	put_desc_in(DESC_GPA, i, addr, len, flags, next);
}

static UNUSED struct vring_avail *avail_ring(void)
{
	return gpa(AVAIL_GPA);
}

static UNUSED struct vring_used *used_ring(void)
{
	return gpa(USED_GPA);
}

static UNUSED void offer(u16 head)
{
	struct vring_avail *a = avail_ring();
	u16 idx = le16toh(a->idx);

	a->ring[idx % QSIZE] = htole16(head);
	a->idx = htole16(idx + 1);
}

static UNUSED void set_used_event(u16 v)
{
	avail_ring()->ring[QSIZE] = htole16(v);
}

static UNUSED u16 avail_event(void)
{
	u16 v;

	memcpy(&v, (u8 *)gpa(USED_GPA) + 4 + 8 * QSIZE, sizeof(v));
	return le16toh(v);
}

/* ---- capture of fd 2, to count log lines ---- */

static int saved_stderr = -1;
static FILE *capture;

/* Every message site starts with its full burst (lkvm/log.h). */
static UNUSED void log_capture_begin(void)
{
	log_ratelimit_reset();
	fflush(stderr);
	capture = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(capture), 2);
}

/* Stop capturing; echo what was logged; count lines containing needle. */
static UNUSED int log_capture_end(const char *needle)
{
	char line[512];
	int n = 0;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture);
	while (fgets(line, sizeof(line), capture)) {
		fprintf(stderr, "    (logged) %s", line);
		if (strstr(line, needle))
			n++;
	}
	fclose(capture);
	return n;
}

/* ---- the verdict on a malformed ring, split or packed ---- */

/*
 * The driver has just made a malformed chain available on vq (modern
 * device): nothing is popped, one message, the device asks for a reset,
 * and nothing completes afterwards.  The caller checks its ring area.
 */
static UNUSED void check_ring_refused(struct virt_queue *vq, struct virtq_elem *elem)
{
	log_capture_begin();
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_has_avail(vq));
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(log_capture_end("device stopped until reset"), 1);
	CHECK(virtq_is_broken(vq));
	CHECK(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(config_signals, 1);
	CHECK(virtio_isr_read_clear(&vdev) & VIRTIO_ISR_CONFIG);
	/* No queue interrupt for a completion on a broken queue. */
	virtq_push_and_signal(vq, 0, 8);
	CHECK_EQ(queue_signals, 0);
}

#endif
