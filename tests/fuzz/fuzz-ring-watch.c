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
/*
 * Per queue index and head: chains taken and not completed yet.  A slot
 * counts only if stamped with the current input's generation, so that
 * the reset before each input is one increment, not a 2 MiB memset
 * (which was a third of the blk target's time).
 */
struct held_chain {
	unsigned int generation;
	unsigned int outstanding;
	size_t writable;
};
static struct held_chain held[MAX_QUEUES][VIRTQ_MAX_SIZE];
static unsigned int generation;

void fuzz_ring_watch_reset(const struct fuzz_ram *r)
{
	ram = r;
	if (++generation == 0) {	/* wrapped: stale stamps could match */
		memset(held, 0, sizeof(held));
		generation = 1;
	}
}

static struct held_chain *held_chain(const struct virt_queue *vq, unsigned int head)
{
	struct held_chain *h = &held[vq->index % MAX_QUEUES][head];

	if (h->generation != generation)
		*h = (struct held_chain){ .generation = generation };
	return h;
}

bool __wrap_virtq_pop(struct virt_queue *vq, struct virtq_elem *elem)
{
	bool was_broken = virtq_is_broken(vq);

	if (!__real_virtq_pop(vq, elem))
		return false;
	FUZZ_ASSERT(!was_broken, "a broken queue popped chain %u", elem->head);
	fuzz_check_chain(ram, vq, elem);
	/*
	 * A guest may offer a head again while it is in flight (and change
	 * its descriptors meanwhile): count, and bound by the largest.
	 */
	struct held_chain *h = held_chain(vq, elem->head);
	if (!h->outstanding++ || h->writable < elem->in_len)
		h->writable = elem->in_len;
	return true;
}

static void completing(struct virt_queue *vq, u16 head, u32 len)
{
	FUZZ_ASSERT(head < VIRTQ_MAX_SIZE && held_chain(vq, head)->outstanding > 0,
		    "queue %u: the device completed chain %u, which it does not hold",
		    vq->index, head);
	struct held_chain *h = held_chain(vq, head);
	FUZZ_ASSERT(len <= h->writable,
		    "queue %u: used length %u for chain %u of %zu writable bytes", vq->index,
		    len, head, h->writable);
	h->outstanding--;
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
