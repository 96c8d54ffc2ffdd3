/*
 * Fuzz target: the memory balloon (virtio/balloon.c): fuzzed page-frame
 * lists on the inflate and deflate queues and statistics records on the
 * stats queue, with the host side (target, stats requests) in between.
 * Inflating drops host pages with madvise(): the one place a guest's
 * numbers decide which host memory is thrown away.
 *
 * Input layout (little endian):
 *   0   u8   features: 1 VERSION_1, 2 INDIRECT_DESC, 4 EVENT_IDX,
 *            8 MUST_TELL_HOST, 16 STATS_VQ, 32 legacy transport
 *   1   3 x (u16 size, u16 desc, u16 avail, u16 used): the queues, ring
 *       offsets into guest RAM
 *   25  7 bytes reserved
 *   32  OPS x 4 bytes: kind u8, a u8, b u16
 *   96  the first bytes of guest RAM (256 KiB at GPA 0x100000)
 *
 * Oracles, besides ASan/UBSan/LSan and the guard pages: every madvise()
 * (wrapped at link time) is MADV_DONTNEED on whole pages inside guest RAM;
 * every ring call the balloon makes passes the fuzz-ring-watch.h checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/virtio_balloon.h>
#include "lkvm/kvm.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-balloon.h"
#include "fuzz-ring-watch.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x40000ULL
#define NR_QUEUES 3
#define HDR_LEN 32
#define OPS 16
#define OP_LEN 4
#define IMAGE_OFF (HDR_LEN + OPS * OP_LEN)

#define FL_V1 1
#define FL_INDIRECT 2
#define FL_EVENT_IDX 4
#define FL_TELL_HOST 8
#define FL_STATS 16
#define FL_LEGACY 32

enum op_kind {
	OP_KICK,		/* the guest kicks queue a % 3 */
	OP_SET_TARGET,		/* the host asks for b pages */
	OP_STATS,		/* the host asks for statistics (no wait) */
	OP_GET,			/* the host reads target and actual */
	OP_CONFIG_WRITE,	/* the driver writes config bytes */
	OP_CONFIG_READ,
	OP_GUEST_WRITE,		/* the guest changes a RAM byte */
	OP_RESET,		/* reset and set everything up again */
	OP_NR
};

static struct fuzz_ram ram;
static struct kvm kvm;
static unsigned int madvised;

int __real_madvise(void *addr, size_t len, int advice);
int __wrap_madvise(void *addr, size_t len, int advice);

int __wrap_madvise(void *addr, size_t len, int advice)
{
	FUZZ_ASSERT(advice == MADV_DONTNEED, "madvise advice %d", advice);
	FUZZ_ASSERT(fuzz_ram_holds(&ram, addr, len), "madvise(%p, 0x%zx) outside guest RAM",
		    addr, len);
	FUZZ_ASSERT((u8 *)addr >= ram.hva && ((u8 *)addr - ram.hva) % BALLOON_PAGE_SIZE == 0 &&
		    len % BALLOON_PAGE_SIZE == 0 && len, "madvise(%p, 0x%zx) of partial pages",
		    addr, len);
	madvised++;
	return __real_madvise(addr, len, advice);
}

static u64 features_of(u8 fl)
{
	u64 f = 0;

	f |= fl & FL_V1 ? 1ULL << VIRTIO_F_VERSION_1 : 0;
	f |= fl & FL_INDIRECT ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0;
	f |= fl & FL_EVENT_IDX ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0;
	f |= fl & FL_TELL_HOST ? 1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST : 0;
	f |= fl & FL_STATS ? 1ULL << VIRTIO_BALLOON_F_STATS_VQ : 0;
	return f;
}

static void run_op(struct fuzz_in *in, struct virtio_device *vdev, u8 fl,
		   const struct fuzz_queue *qs)
{
	u8 kind = fuzz_u8(in) % OP_NR, a = fuzz_u8(in);
	u16 b = fuzz_u16(in);
	struct balloon_stats st;
	u8 buf[8];
	u64 target, actual;

	switch (kind) {
	case OP_KICK:
		virtio_queue_notify(vdev, a % NR_QUEUES);
		break;
	case OP_SET_TARGET:
		virtio_balloon_set_target(vdev, a & 1 ? b : (u64)b << 16);
		break;
	case OP_STATS:
		virtio_balloon_stats(vdev, 0, &st);
		break;
	case OP_GET:
		virtio_balloon_get(vdev, &target, &actual);
		break;
	case OP_CONFIG_WRITE:
		memcpy(buf, &b, sizeof(b));
		memcpy(buf + 2, &b, sizeof(b));
		virtio_config_write(vdev, a % 16, buf, 1u << (b % 3));
		break;
	case OP_CONFIG_READ:
		virtio_config_read(vdev, a % 16, buf, 1u << (b % 4));
		break;
	case OP_GUEST_WRITE:
		ram.hva[b % RAM_SIZE] = a;
		break;
	case OP_RESET:
		virtio_set_status(vdev, 0);
		fuzz_driver_setup(vdev, features_of(fl), qs, NR_QUEUES);
		break;
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_queue qs[NR_QUEUES] = {};
	struct virtio_device *vdev;
	struct fuzz_in in;
	u8 fl;

	if (!ram.hva) {
		fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
		kvm.mem = ram.mem;
		kvm.ram_size = RAM_SIZE;
	}
	fuzz_ram_clear(&ram);
	if (size > IMAGE_OFF)
		memcpy(ram.hva, data + IMAGE_OFF, MIN(size - IMAGE_OFF, RAM_SIZE));
	fuzz_ring_watch_reset(&ram);
	madvised = 0;
	fuzz_in_init(&in, data, MIN(size, (size_t)IMAGE_OFF));
	fl = fuzz_u8(&in);
	for (unsigned int i = 0; i < NR_QUEUES; i++) {
		qs[i].size = fuzz_u16(&in);
		qs[i].desc = RAM_GPA + fuzz_u16(&in);
		qs[i].avail = RAM_GPA + fuzz_u16(&in);
		qs[i].used = RAM_GPA + fuzz_u16(&in);
	}
	fuzz_skip(&in, HDR_LEN - 1 - NR_QUEUES * 8);

	if (virtio_balloon_init(&kvm, &vdev))
		abort();
	virtio_device_set_transport(vdev, &fuzz_quiet_transport, NULL, !(fl & FL_LEGACY));
	/* DRIVER_OK drains what is already queued (activate). */
	fuzz_driver_setup(vdev, features_of(fl), qs, NR_QUEUES);
	for (unsigned int i = 0; i < OPS && fuzz_left(&in); i++)
		run_op(&in, vdev, fl, qs);
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-virtio-balloon: %u madvise calls, %s\n", madvised,
			virtio_device_is_broken(vdev) ? "broken" : "not broken");
	virtio_balloon_exit(vdev);
	return 0;
}
