/* Wrappers around the device-side ring calls (see fuzz-ring-watch.h). */
#include <string.h>
#include "fuzz-chain.h"
#include "fuzz-ring-watch.h"

bool __real_virtq_pop(struct virt_queue *vq, struct virtq_elem *elem);
void __real_virtq_add_used(struct virt_queue *vq, u16 head, u32 len);
void __real_virtq_push(struct virt_queue *vq, u16 head, u32 len);
void __real_virtq_push_and_signal(struct virt_queue *vq, u16 head, u32 len);

bool __wrap_virtq_pop(struct virt_queue *vq, struct virtq_elem *elem);
void __wrap_virtq_add_used(struct virt_queue *vq, u16 head, u32 len);
void __wrap_virtq_push(struct virt_queue *vq, u16 head, u32 len);
void __wrap_virtq_push_and_signal(struct virt_queue *vq, u16 head, u32 len);

#define MAX_QUEUES 16

static const struct fuzz_ram *ram;
/* Per queue index and head: chains taken and not completed yet. */
static unsigned int outstanding[MAX_QUEUES][VIRTQ_MAX_SIZE];
static size_t writable[MAX_QUEUES][VIRTQ_MAX_SIZE];

void fuzz_ring_watch_reset(const struct fuzz_ram *r)
{
	ram = r;
	memset(outstanding, 0, sizeof(outstanding));
}

bool __wrap_virtq_pop(struct virt_queue *vq, struct virtq_elem *elem)
{
	bool was_broken = virtq_is_broken(vq);
	unsigned int q = vq->index % MAX_QUEUES;

	if (!__real_virtq_pop(vq, elem))
		return false;
	FUZZ_ASSERT(!was_broken, "a broken queue popped chain %u", elem->head);
	fuzz_check_chain(ram, vq, elem);
	/*
	 * A guest may offer a head again while it is in flight (and change
	 * its descriptors meanwhile): count, and bound by the largest.
	 */
	if (!outstanding[q][elem->head]++ || writable[q][elem->head] < elem->in_len)
		writable[q][elem->head] = elem->in_len;
	return true;
}

static void completing(struct virt_queue *vq, u16 head, u32 len)
{
	unsigned int q = vq->index % MAX_QUEUES;

	FUZZ_ASSERT(head < VIRTQ_MAX_SIZE && outstanding[q][head] > 0,
		    "queue %u: the device completed chain %u, which it does not hold",
		    vq->index, head);
	FUZZ_ASSERT(len <= writable[q][head],
		    "queue %u: used length %u for chain %u of %zu writable bytes", vq->index,
		    len, head, writable[q][head]);
	outstanding[q][head]--;
}

void __wrap_virtq_add_used(struct virt_queue *vq, u16 head, u32 len)
{
	completing(vq, head, len);
	__real_virtq_add_used(vq, head, len);
}

void __wrap_virtq_push(struct virt_queue *vq, u16 head, u32 len)
{
	completing(vq, head, len);
	__real_virtq_push(vq, head, len);
}

void __wrap_virtq_push_and_signal(struct virt_queue *vq, u16 head, u32 len)
{
	completing(vq, head, len);
	__real_virtq_push_and_signal(vq, head, len);
}
