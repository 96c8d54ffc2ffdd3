#ifndef LKVM_VIRTQUEUE_INTERNAL_H
#define LKVM_VIRTQUEUE_INTERNAL_H
/*
 * What the split (virtqueue.c) and packed (virtqueue-packed.c) ring code
 * share: buffer checks, indirect tables and the should-signal barrier.
 * Only those two files include this; devices see lkvm/virtio.h alone.
 */
#include "lkvm/virtio.h"

/*
 * The barrier between publishing used entries and reading the driver's
 * interrupt threshold in the should-signal functions.  Only the ordering
 * test defines VIRTQ_TEST_WEAK_SIGNAL_BARRIER, to build a deliberately
 * broken copy and prove the test can see the lost wake-up this prevents.
 */
#ifdef VIRTQ_TEST_WEAK_SIGNAL_BARRIER
#define virtq_signal_barrier() barrier()
#else
#define virtq_signal_barrier() mb()
#endif

/* Acquire pairs with the release in queue setup: rings mapped before ready. */
static inline bool virtq_usable(const struct virt_queue *vq)
{
	return __atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE) && !virtq_is_broken(vq);
}

/* One buffer (addr, len, WRITE flag) into elem, after every check. */
bool virtq_add_buffer(struct virt_queue *vq, struct virtq_elem *elem,
		      u64 addr, u32 len, bool writable);
/*
 * The table an INDIRECT descriptor (addr, len, flags) points to, checked
 * (negotiated, not chained, whole 16-byte entries, at most the queue size,
 * inside guest RAM); *n gets its entry count.  NULL: the queue is broken.
 */
const u8 *virtq_indirect_table(struct virt_queue *vq, const struct virtq_elem *elem,
			       u64 addr, u32 len, u16 flags, unsigned int *n);
/* Empty elem, ready for a chain whose first descriptor is at head. */
void virtq_elem_start(struct virtq_elem *elem, u16 head);

/* The packed ring behind the public virtq_* calls (virtqueue-packed.c). */
bool virtq_packed_pop(struct virt_queue *vq, struct virtq_elem *elem);
bool virtq_packed_has_avail(struct virt_queue *vq);
void virtq_packed_add_used(struct virt_queue *vq, u16 id, u32 len);
void virtq_packed_publish_used(struct virt_queue *vq);
bool virtq_packed_need_signal(struct virt_queue *vq, u16 new_idx, u16 old, bool valid);
void virtq_packed_disable_notify(struct virt_queue *vq);
bool virtq_packed_enable_notify_and_check(struct virt_queue *vq);

#endif
