/*
 * Split virtqueue data path: popping descriptor chains, publishing used
 * elements and the notification decisions in both directions, plus the
 * buffer checks both ring formats share.  A queue with a packed ring is
 * handed to virtqueue-packed.c at the top of each public call.  Every ring
 * field and buffer address comes from the guest and is checked before use;
 * a violation marks the device broken instead of being acted on.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "virtqueue-internal.h"

bool virtq_is_broken(const struct virt_queue *vq)
{
	return READ_ONCE(vq->broken) || virtio_device_is_broken(vq->vdev);
}

void virtq_mark_broken(struct virt_queue *vq, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	WRITE_ONCE(vq->broken, true);
	if (virtio_device_is_broken(vq->vdev))
		return;	/* already reported: one line per break */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	virtio_device_mark_broken(vq->vdev, "queue %u: %s", vq->index, why);
}

struct virtq_elem *virtq_elem_alloc(const struct virt_queue *vq)
{
	struct virtq_elem *elem;

	elem = calloc(1, sizeof(*elem) + vq->max_size * sizeof(struct iovec));
	if (elem)
		elem->iov_cap = vq->max_size;
	return elem;
}

void virtq_elem_free(struct virtq_elem *elem)
{
	free(elem);
}

/*
 * Are there avail entries we have not taken?  avail->idx is re-read only
 * once the previously seen ones are consumed.
 */
static bool avail_pending(struct virt_queue *vq)
{
	u16 idx;

	if (vq->last_avail_idx != vq->shadow_avail_idx)
		return true;
	idx = le16toh(READ_ONCE(vq->avail->idx));
	if ((u16)(idx - vq->last_avail_idx) > vq->size) {
		virtq_mark_broken(vq, "avail idx %u is more than %u ahead of %u",
				  idx, vq->size, vq->last_avail_idx);
		return false;
	}
	vq->shadow_avail_idx = idx;
	if (idx == vq->last_avail_idx)
		return false;
	/* Ring entries are read after the idx that published them. */
	rmb();
	return true;
}

bool virtq_has_avail(struct virt_queue *vq)
{
	if (vq->packed)
		return virtq_packed_has_avail(vq);
	return virtq_usable(vq) && avail_pending(vq);
}

/* Copy once: the guest may rewrite the descriptor while we look at it. */
static void read_desc(struct vring_desc *d, const void *src)
{
	memcpy(d, src, sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

bool virtq_add_buffer(struct virt_queue *vq, struct virtq_elem *elem,
		      u64 addr, u32 len, bool writable)
{
	unsigned int n = elem->out_num + elem->in_num;
	void *hva;

	if (len == 0) {
		virtq_mark_broken(vq, "zero-length buffer in chain %u", elem->head);
		return false;
	}
	if (n >= elem->iov_cap || n >= vq->size) {
		virtq_mark_broken(vq, "chain %u has more than %u buffers", elem->head,
				  MIN(elem->iov_cap, (unsigned int)vq->size));
		return false;
	}
	if (!writable && elem->in_num) {
		virtq_mark_broken(vq, "readable buffer after a writable one in chain %u",
				  elem->head);
		return false;
	}
	hva = guest_mem_ptr(vq->mem, addr, len);
	if (!hva) {
		virtq_mark_broken(vq, "buffer 0x%llx+0x%x outside guest RAM in chain %u",
				  (unsigned long long)addr, len, elem->head);
		return false;
	}
	/* Spec: a chain is at most 4 GiB; used lengths are 32-bit. */
	if ((u64)elem->out_len + elem->in_len + len > 0xffffffffULL) {
		virtq_mark_broken(vq, "chain %u is longer than 4 GiB", elem->head);
		return false;
	}
	elem->iov[n].iov_base = hva;
	elem->iov[n].iov_len = len;
	if (writable) {
		elem->in_num++;
		elem->in_len += len;
	} else {
		elem->out_num++;
		elem->out_len += len;
	}
	return true;
}

static bool add_buffer(struct virt_queue *vq, struct virtq_elem *elem,
		       const struct vring_desc *d)
{
	return virtq_add_buffer(vq, elem, d->addr, d->len, d->flags & VRING_DESC_F_WRITE);
}

/* Both formats use 16-byte descriptors, in the ring and in indirect tables. */
_Static_assert(sizeof(struct vring_desc) == 16 && sizeof(struct vring_packed_desc) == 16,
	       "virtio descriptors are 16 bytes");

const u8 *virtq_indirect_table(struct virt_queue *vq, const struct virtq_elem *elem,
			       u64 addr, u32 len, u16 flags, unsigned int *n)
{
	const u8 *table;	/* bytes: the spec does not promise alignment */

	if (!vq->indirect || (flags & VRING_DESC_F_NEXT)) {
		virtq_mark_broken(vq, "%s indirect descriptor in chain %u",
				  vq->indirect ? "chained" : "unnegotiated", elem->head);
		return NULL;
	}
	*n = len / 16;
	if (len == 0 || len % 16 || *n > vq->size) {
		virtq_mark_broken(vq, "indirect table of %u bytes in chain %u", len, elem->head);
		return NULL;
	}
	table = guest_mem_ptr(vq->mem, addr, len);
	if (!table)
		virtq_mark_broken(vq, "indirect table 0x%llx outside guest RAM in chain %u",
				  (unsigned long long)addr, elem->head);
	return table;
}

/* The table an indirect descriptor points to; it ends the chain. */
static bool walk_indirect(struct virt_queue *vq, struct virtq_elem *elem,
			  const struct vring_desc *ind)
{
	const u8 *table;
	struct vring_desc d;
	unsigned int n, i = 0, steps = 0;

	table = virtq_indirect_table(vq, elem, ind->addr, ind->len, ind->flags, &n);
	if (!table)
		return false;
	for (;;) {
		if (++steps > n) {
			virtq_mark_broken(vq, "indirect chain %u loops", elem->head);
			return false;
		}
		read_desc(&d, table + i * sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			virtq_mark_broken(vq, "nested indirect table in chain %u", elem->head);
			return false;
		}
		if (!add_buffer(vq, elem, &d))
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return true;
		i = d.next;
		if (i >= n) {
			virtq_mark_broken(vq, "indirect next %u beyond table of %u in chain %u",
					  i, n, elem->head);
			return false;
		}
	}
}

static bool walk_chain(struct virt_queue *vq, struct virtq_elem *elem)
{
	struct vring_desc d;
	unsigned int i = elem->head, steps = 0;

	for (;;) {
		if (++steps > vq->size) {
			virtq_mark_broken(vq, "chain %u loops", elem->head);
			return false;
		}
		read_desc(&d, &vq->desc[i]);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return walk_indirect(vq, elem, &d);
		if (!add_buffer(vq, elem, &d))
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return true;
		i = d.next;
		if (i >= vq->size) {
			virtq_mark_broken(vq, "next %u beyond queue size %u in chain %u",
					  i, vq->size, elem->head);
			return false;
		}
	}
}

void virtq_elem_start(struct virtq_elem *elem, u16 head)
{
	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
}

bool virtq_pop(struct virt_queue *vq, struct virtq_elem *elem)
{
	u16 slot, head;

	if (vq->packed)
		return virtq_packed_pop(vq, elem);
	if (!virtq_usable(vq) || !avail_pending(vq))
		return false;
	slot = vq->last_avail_idx & (vq->size - 1);
	head = le16toh(READ_ONCE(vq->avail->ring[slot]));
	if (head >= vq->size) {
		virtq_mark_broken(vq, "avail head %u >= queue size %u", head, vq->size);
		return false;
	}
	virtq_elem_start(elem, head);
	if (!walk_chain(vq, elem))
		return false;
	vq->last_avail_idx++;
	return true;
}

void virtq_add_used(struct virt_queue *vq, u16 head, u32 len)
{
	struct vring_used_elem *e;

	if (vq->packed) {
		virtq_packed_add_used(vq, head, len);
		return;
	}
	if (!virtq_usable(vq))
		return;
	if (head >= vq->size) {
		virtq_mark_broken(vq, "device pushed head %u (lkvm bug)", head);
		return;
	}
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	WRITE_ONCE(e->id, htole32(head));
	WRITE_ONCE(e->len, htole32(len));
	vq->used_idx++;
}

void virtq_publish_used(struct virt_queue *vq)
{
	if (vq->packed) {
		virtq_packed_publish_used(vq);
		return;
	}
	if (!virtq_usable(vq))
		return;
	/* The driver must see the elements before the index that covers them. */
	wmb();
	WRITE_ONCE(vq->used->idx, htole16(vq->used_idx));
}

void virtq_push(struct virt_queue *vq, u16 head, u32 len)
{
	virtq_add_used(vq, head, len);
	virtq_publish_used(vq);
}

bool virtq_should_signal(struct virt_queue *vq)
{
	u16 old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	/*
	 * Store-buffer pattern.  We stored used->idx (packed ring: the used
	 * descriptor's flags) and now load used_event or avail->flags (packed
	 * ring: the driver's event suppression structure); the driver stores
	 * used_event and then loads used->idx to decide whether to sleep.  Without a full barrier on
	 * both sides each CPU may read the other's old value while its own
	 * store still sits in its store buffer: we see the stale used_event
	 * and skip the interrupt, the driver sees the stale used->idx and
	 * sleeps - with completed work nobody will ever announce.  Loads may
	 * pass earlier stores even on x86, so this must be mb(), not wmb().
	 */
	virtq_signal_barrier();

	if (!virtq_usable(vq))
		return false;
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	if (valid && old == new_idx)
		return false;	/* nothing published since the last decision */
	if (vq->packed)
		return virtq_packed_need_signal(vq, new_idx, old, valid);
	if (!vq->event_idx)
		return !(le16toh(READ_ONCE(vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return virtq_need_event(le16toh(READ_ONCE(*vq->used_event)), new_idx, old);
}

void virtq_signal_if_needed(struct virt_queue *vq)
{
	if (virtq_should_signal(vq))
		virtio_signal_queue(vq->vdev, vq);
}

void virtq_push_and_signal(struct virt_queue *vq, u16 head, u32 len)
{
	virtq_push(vq, head, len);
	virtq_signal_if_needed(vq);
}

void virtq_disable_notify(struct virt_queue *vq)
{
	if (vq->packed) {
		virtq_packed_disable_notify(vq);
		return;
	}
	/* With EVENT_IDX a stale avail_event already suppresses kicks. */
	if (!virtq_usable(vq) || vq->event_idx ||
	    (vq->used_flags & VRING_USED_F_NO_NOTIFY))
		return;
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	WRITE_ONCE(vq->used->flags, htole16(vq->used_flags));
}

bool virtq_enable_notify_and_check(struct virt_queue *vq)
{
	if (vq->packed)
		return virtq_packed_enable_notify_and_check(vq);
	if (!virtq_usable(vq))
		return false;
	if (vq->event_idx) {
		WRITE_ONCE(*vq->avail_event, htole16(vq->last_avail_idx));
	} else if (vq->used_flags & VRING_USED_F_NO_NOTIFY) {
		vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
		WRITE_ONCE(vq->used->flags, htole16(vq->used_flags));
	}
	/*
	 * The mirror image of virtq_should_signal(): we store "kick me" and
	 * then load avail->idx; the driver stores avail->idx and then loads
	 * avail_event / used->flags.  A full barrier keeps our load from
	 * passing our store, so either we see its new buffer here or it sees
	 * our request and kicks; otherwise both wait and the queue stalls.
	 */
	mb();
	return avail_pending(vq);
}
