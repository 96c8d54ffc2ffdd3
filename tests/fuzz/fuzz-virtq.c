/*
 * Fuzz target: the split-virtqueue data path (virtio/virtqueue.c) and the
 * ring set-up checks (virtio/queue-setup.c) on fuzzed guest memory.  Built
 * again with FUZZ_VIRTQ_PACKED by fuzz-virtq-packed.c, for the packed ring.
 *
 * Input layout (little endian):
 *   0   u8   flags: 1 VERSION_1, 2 INDIRECT_DESC, 4 EVENT_IDX,
 *                   8 legacy PFN layout, 16 modern transport
 *   1   u16  queue size the driver writes
 *   3   u64  desc GPA   (legacy: PFN in the low 32 bits)
 *   11  u64  avail GPA  (legacy: page size)
 *   19  u64  used GPA   (legacy: alignment)
 *   27  5 bytes reserved
 *   32  OPS x 6 bytes: what the device (and a racing guest) does
 *   224 the first bytes of guest RAM (the rest is zero)
 *
 * Oracles, besides ASan/UBSan and the guard pages around RAM: every chain
 * virtq_pop() returns lies wholly inside guest RAM, has no empty buffer,
 * no more buffers than the queue size and lengths that add up; a broken
 * queue pops nothing; a notification round ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/virtio.h"
#include "fuzz-chain.h"
#ifdef FUZZ_VIRTQ_PACKED
#include "pdriver.h"
#define TARGET "fuzz-virtq-packed"
#else
#define TARGET "fuzz-virtq"
#endif

#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL
#define QMAX 256
#define HDR_LEN 32
#define OPS 32
#define OP_LEN 6
#define IMAGE_OFF (HDR_LEN + OPS * OP_LEN)
#define HELD_MAX 8

#define F_LEGACY_LAYOUT 8
#define F_MODERN 16

enum op_kind {
	OP_POP_PUSH,		/* pop one chain, use it, push it */
	OP_POP_HOLD,		/* pop one chain and keep it (in flight) */
	OP_PUSH_HELD,		/* push every held chain as one batch */
	OP_DISABLE_NOTIFY,
	OP_ENABLE_NOTIFY,
	OP_SIGNAL,
	OP_GUEST_WRITE,		/* the guest changes RAM between two pops */
	OP_HAS_AVAIL,
	OP_KICK,		/* a queue notification: the device drains the queue */
	OP_RESET,		/* driver resets and sets the queue up again */
#ifdef FUZZ_VIRTQ_PACKED
	OP_GUEST_ADD,		/* a packed driver makes a chain available */
	OP_GUEST_TAKE,		/* ...and takes a used descriptor back */
	OP_GUEST_EVENT,		/* ...and writes its event suppression structure */
#endif
	OP_NR
};

static struct fuzz_ram ram;
static struct virtio_device vdev;
static u8 config[8];
static unsigned int signals, popped;

struct setup {
	u8 flags;
	u16 qsize;
	u64 desc, avail, used;
};

/* ---- the device ---- */

static struct virtq_elem *kick_elem;

static void d_notify(struct virtio_device *dev, struct virt_queue *vq)
{
	popped += fuzz_drain_queue(&ram, vq, kick_elem);
}

static void t_signal_queue(struct virtio_device *dev, struct virt_queue *vq)
{
	signals++;
}

static void t_signal_config(struct virtio_device *dev)
{
	signals++;
}

static const struct virtio_transport_ops transport = {
	.name = "fuzz",
	.signal_queue = t_signal_queue,
	.signal_config = t_signal_config,
};

static const struct virtio_device_ops dev_ops = {
	.name = "fuzz",
	.device_id = 42,
	.nr_queues = 2,
	.max_queue_size = QMAX,
	.features = 1ULL << 5,
	.queue_notify = d_notify,
};

static bool pop_counted(struct virt_queue *vq, struct virtq_elem *e)
{
	bool got = fuzz_pop(&ram, vq, e);

	popped += got;
	return got;
}

/* ---- driver side ---- */

static u64 features_of(u8 flags)
{
	u64 f = 1ULL << 5;

	if (flags & 1)
		f |= 1ULL << VIRTIO_F_VERSION_1;
	if (flags & 2)
		f |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (flags & 4)
		f |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
#ifdef FUZZ_VIRTQ_PACKED
	f |= 1ULL << VIRTIO_F_RING_PACKED;
#endif
	return f;
}

/* Negotiate and set queue 0 up as the input says; DRIVER_OK last. */
static void driver_setup(const struct setup *s)
{
	struct fuzz_queue q = { .size = s->qsize, .legacy_pfn = s->flags & F_LEGACY_LAYOUT };

	if (q.legacy_pfn) {
		/* The input's three u64s carry the legacy values in their low halves. */
		q.legacy.pfn = (u32)s->desc;
		q.legacy.page_size = (u32)s->avail;
		q.legacy.align = (u32)s->used;
	} else {
		q.desc = s->desc;
		q.avail = s->avail;
		q.used = s->used;
	}
	fuzz_driver_setup(&vdev, features_of(s->flags), &q, 1);
}

#ifdef FUZZ_VIRTQ_PACKED
/*
 * A well-behaved packed driver beside the raw RAM writes, so that runs get
 * deep into the ring (both wrap counters turning) as well as malformed.
 */
static struct pdrv drv;

static void *area(u64 gpa, u64 len)
{
	if (len > RAM_SIZE || gpa < RAM_GPA || gpa - RAM_GPA > RAM_SIZE - len)
		return NULL;
	return ram.hva + (gpa - RAM_GPA);
}

static void guest_init(const struct setup *s)
{
	void *ring = area(s->desc, 16ULL * s->qsize), *d = area(s->avail, 4), *u = area(s->used, 4);

	memset(&drv, 0, sizeof(drv));
	/* Only on a ring the device accepted (it checked size and alignment). */
	if (ring && d && u && virtio_queue_is_ready(&vdev, 0) && vdev.vqs[0].packed &&
	    s->qsize <= PDRV_MAX_SIZE)
		pdrv_init(&drv, ring, d, u, s->qsize);
}

/* n buffers of len bytes in the upper half of RAM, the last k writable. */
static void guest_add(u8 a, u16 b, u16 c)
{
	struct pbuf bufs[4];
	unsigned int n = 1 + a % 4, k = (a >> 2) % (n + 1);

	if (!drv.ring || n > drv.size)
		return;
	for (unsigned int i = 0; i < n; i++)
		bufs[i] = (struct pbuf){ RAM_GPA + RAM_SIZE / 2 + (b % 0x7000), 1 + c % 0x800,
					 i >= n - k };
	pdrv_add(&drv, bufs, n, (u16)(b >> 8) % drv.size);
}

static void guest_take(void)
{
	u16 id;
	u32 len;

	if (drv.ring)
		pdrv_get_used(&drv, &id, &len);
}

static void guest_event(u16 b, u16 c)
{
	if (drv.ring)
		pdrv_set_event(&drv, b % 4, c);
}
#endif

static void guest_write(u16 off, u16 val)
{
	u64 at = off % (RAM_SIZE - 1);

	memcpy(ram.hva + at, &val, sizeof(val));
}

struct held {
	struct virtq_elem *elem[HELD_MAX];
	unsigned int nr;
};

static void push_held(struct virt_queue *vq, struct held *h)
{
	for (unsigned int i = 0; i < h->nr; i++)
		virtq_add_used(vq, h->elem[i]->head, fuzz_consume_chain(h->elem[i], 0xa5));
	h->nr = 0;
	virtq_publish_used(vq);
	virtq_signal_if_needed(vq);
}

static void run_op(struct fuzz_in *in, const struct setup *s, struct held *h,
		   struct virtq_elem *spare)
{
	struct virt_queue *vq = virtio_get_queue(&vdev, 0);
	u8 kind = fuzz_u8(in) % OP_NR, a = fuzz_u8(in);
	u16 b = fuzz_u16(in), c = fuzz_u16(in);

	switch (kind) {
	case OP_POP_PUSH:
		if (pop_counted(vq, spare))
			virtq_push_and_signal(vq, spare->head, fuzz_consume_chain(spare, a));
		break;
	case OP_POP_HOLD:
		if (h->nr == HELD_MAX)
			push_held(vq, h);
		if (pop_counted(vq, h->elem[h->nr]))
			h->nr++;
		break;
	case OP_PUSH_HELD:
		push_held(vq, h);
		break;
	case OP_DISABLE_NOTIFY:
		virtq_disable_notify(vq);
		break;
	case OP_ENABLE_NOTIFY:
		virtq_enable_notify_and_check(vq);
		break;
	case OP_SIGNAL:
		virtq_signal_if_needed(vq);
		break;
	case OP_GUEST_WRITE:
		guest_write(b, c);
		break;
	case OP_HAS_AVAIL:
		virtq_has_avail(vq);
		break;
	case OP_KICK:
		virtio_queue_notify(&vdev, a & 1);
		break;
	case OP_RESET:
		h->nr = 0;	/* a reset drops what was in flight */
		virtio_set_status(&vdev, 0);
		driver_setup(s);
#ifdef FUZZ_VIRTQ_PACKED
		guest_init(s);
#endif
		break;
#ifdef FUZZ_VIRTQ_PACKED
	case OP_GUEST_ADD:
		guest_add(a, b, c);
		break;
	case OP_GUEST_TAKE:
		guest_take();
		break;
	case OP_GUEST_EVENT:
		guest_event(b, c);
		break;
#endif
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct virtq_elem *spare;
	struct held held = { .nr = 0 };
	struct fuzz_in in;
	struct setup s;

	if (!ram.hva)
		fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
	fuzz_ram_clear(&ram);
	if (size > IMAGE_OFF)
		memcpy(ram.hva, data + IMAGE_OFF, MIN(size - IMAGE_OFF, RAM_SIZE));

	fuzz_in_init(&in, data, size);
	s.flags = fuzz_u8(&in);
	s.qsize = fuzz_u16(&in);
	s.desc = fuzz_u64(&in);
	s.avail = fuzz_u64(&in);
	s.used = fuzz_u64(&in);
	fuzz_in_init(&in, data, MIN(size, (size_t)IMAGE_OFF));
	fuzz_skip(&in, HDR_LEN);

	if (virtio_device_init(&vdev, &dev_ops, &ram.mem, config, sizeof(config)))
		abort();
	virtio_device_set_transport(&vdev, &transport, NULL, s.flags & F_MODERN);
	spare = virtq_elem_alloc(&vdev.vqs[0]);
	kick_elem = virtq_elem_alloc(&vdev.vqs[0]);
	for (unsigned int i = 0; i < HELD_MAX; i++)
		held.elem[i] = virtq_elem_alloc(&vdev.vqs[0]);

	signals = popped = 0;
	driver_setup(&s);
#ifdef FUZZ_VIRTQ_PACKED
	guest_init(&s);
#endif
	for (unsigned int i = 0; i < OPS && fuzz_left(&in); i++)
		run_op(&in, &s, &held, spare);

	if (fuzz_verbose())
		fprintf(stderr, TARGET ": %u chains popped, %u interrupts, %s\n", popped,
			signals, virtio_device_is_broken(&vdev) ? "broken" : "not broken");
	virtio_device_reset(&vdev);
	virtio_device_exit(&vdev);
	for (unsigned int i = 0; i < HELD_MAX; i++)
		virtq_elem_free(held.elem[i]);
	virtq_elem_free(spare);
	virtq_elem_free(kick_elem);
	return 0;
}
