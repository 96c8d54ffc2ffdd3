/*
 * Fuzz target: virtio-blk request handling (virtio/blk.c) on fuzzed guest
 * memory and a 64 KiB raw image on tmpfs.
 *
 * blk.c is compiled into this file so that the fuzzer can run the queue
 * thread's work loop, process_queue(), on its own thread: the I/O threads
 * are never started (activate is replaced by one that only records the
 * write-through mode, as the real one does), and the image is opened with
 * ",sync" so that disk_unplug() completes every request before it
 * returns.  Every input is then deterministic.
 *
 * Input layout (little endian):
 *   0   u8   features: 1 VERSION_1, 2 INDIRECT_DESC, 4 EVENT_IDX, 8 FLUSH,
 *            16 DISCARD, 32 WRITE_ZEROES, 64 read-only image,
 *            128 legacy transport
 *   1   u16  queue size
 *   3   u16  desc, avail, used: offsets of the rings in guest RAM
 *   9   u8   kicks: how many times the queue is processed (1 + n % 4)
 *   10  6 bytes reserved
 *   16  the first bytes of guest RAM (64 KiB at GPA 0x10000)
 *
 * Oracles, besides ASan/UBSan/LSan and the guard pages around RAM: every
 * ring call blk.c makes passes the fuzz-ring-watch.h checks; unless the
 * guest broke the ring rules, every chain taken gets its used entry; no
 * request stays in flight; a read-only image is never modified.
 */
#include "../../virtio/blk.c"

#include <fcntl.h>
#include <unistd.h>
#include "fuzz-ring-watch.h"

#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL
#define IMG_SIZE 0x10000
#define HDR_LEN 16

#define FL_V1 1
#define FL_INDIRECT 2
#define FL_EVENT_IDX 4
#define FL_FLUSH 8
#define FL_DISCARD 16
#define FL_WRITE_ZEROES 32
#define FL_RO 64
#define FL_LEGACY 128

static struct fuzz_ram ram;
static struct kvm kvm;
static char img[600];
static u8 *pattern;

/* blk_activate() without the threads: the fuzzer is the queue thread. */
static int activate_inline(struct virtio_device *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	blk->writethrough = !virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH);
	return 0;
}

static void setup_once(void)
{
	const char *dir = fuzz_scratch_dir("vblk");

	fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
	kvm.mem = ram.mem;
	kvm.nr_cpus = 1;
	snprintf(img, sizeof(img), "%s/disk.raw", dir);
	pattern = malloc(IMG_SIZE);
	if (!pattern)
		abort();
	for (unsigned int i = 0; i < IMG_SIZE; i++)
		pattern[i] = (u8)(i * 11 + i / 512);
}

/* The image back to its pattern: writes of the last input are gone. */
static void reset_image(void)
{
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, pattern, IMG_SIZE) != IMG_SIZE) {
		perror(img);
		exit(2);
	}
	close(fd);
}

static bool image_is_pattern(void)
{
	u8 *b = malloc(IMG_SIZE);
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	bool same = fd >= 0 && b && pread(fd, b, IMG_SIZE, 0) == IMG_SIZE &&
		    !memcmp(b, pattern, IMG_SIZE);

	if (fd >= 0)
		close(fd);
	free(b);
	return same;
}

static u64 features_of(u8 fl)
{
	u64 f = 0;

	f |= fl & FL_V1 ? 1ULL << VIRTIO_F_VERSION_1 : 0;
	f |= fl & FL_INDIRECT ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0;
	f |= fl & FL_EVENT_IDX ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0;
	f |= fl & FL_FLUSH ? 1ULL << VIRTIO_BLK_F_FLUSH : 0;
	f |= fl & FL_DISCARD ? 1ULL << VIRTIO_BLK_F_DISCARD : 0;
	f |= fl & FL_WRITE_ZEROES ? 1ULL << VIRTIO_BLK_F_WRITE_ZEROES : 0;
	return f | (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE);
}

static void check_queue(struct virtio_blk *blk)
{
	struct blk_queue *q = &blk->queues[0];
	struct virt_queue *vq = queue_vq(q);

	FUZZ_ASSERT(q->inflight == 0 && q->done == NULL, "%u requests still in flight",
		    q->inflight);
	if (virtq_is_broken(vq))
		return;
	FUZZ_ASSERT(vq->used_idx == vq->last_avail_idx,
		    "%u chains taken, %u used entries", vq->last_avail_idx, vq->used_idx);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct virtio_device *vdev;
	struct virtio_blk *blk;
	struct fuzz_in in;
	char spec[700];
	struct disk_params params;
	const char *why;
	struct fuzz_queue q = {};
	u8 fl, kicks;

	if (!pattern)
		setup_once();
	fuzz_in_init(&in, data, MIN(size, (size_t)HDR_LEN));
	fl = fuzz_u8(&in);
	q.size = fuzz_u16(&in);
	q.desc = RAM_GPA + fuzz_u16(&in);
	q.avail = RAM_GPA + fuzz_u16(&in);
	q.used = RAM_GPA + fuzz_u16(&in);
	kicks = 1 + fuzz_u8(&in) % 4;

	fuzz_ram_clear(&ram);
	fuzz_ring_watch_reset(&ram);
	if (size > HDR_LEN)
		memcpy(ram.hva, data + HDR_LEN, MIN(size - HDR_LEN, RAM_SIZE));
	reset_image();
	snprintf(spec, sizeof(spec), "%s,sync%s", img, fl & FL_RO ? ",ro" : "");
	if (disk_parse_spec(spec, &params, &why) || virtio_blk_init(&kvm, &params, 0, &vdev))
		abort();
	blk = to_blk(vdev);
	blk->ops.activate = activate_inline;
	virtio_device_set_transport(vdev, &fuzz_quiet_transport, NULL, !(fl & FL_LEGACY));
	fuzz_driver_setup(vdev, features_of(fl), &q, 1);

	for (unsigned int i = 0; i < kicks; i++) {
		virtio_queue_notify(vdev, 0);	/* sets the kick flag, or nothing */
		if (virtio_queue_is_ready(vdev, 0) &&
		    (virtio_get_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
			process_queue(&blk->queues[0]);
		check_queue(blk);
	}
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-virtio-blk: %u chains, %s\n", queue_vq(&blk->queues[0])->used_idx,
			virtio_device_is_broken(vdev) ? "broken" : "not broken");
	virtio_blk_exit(vdev);
	FUZZ_ASSERT(!(fl & FL_RO) || image_is_pattern(), "a read-only image was modified");
	return 0;
}
