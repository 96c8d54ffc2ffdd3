/*
 * Packed virtqueue data path (virtio 1.2 section 2.8), behind the same
 * virtq_* calls as the split ring.  One ring of 16-byte descriptors is
 * shared both ways: the driver makes a descriptor available by setting its
 * AVAIL flag to its wrap counter and USED to the inverse; the device hands
 * a buffer back by writing one used descriptor (buffer id, written length,
 * AVAIL = USED = its own wrap counter) at its used position, then skips as
 * many slots as the buffer took.  Every descriptor is guest memory that may
 * change under us: each field is read once, and anything inconsistent
 * marks the device broken (virtq_mark_broken: one message per break).
 */
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include "lkvm/virtio.h"
#include "virtqueue-internal.h"

#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)
#define EVENT_WRAP (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define EVENT_FLAGS_MASK 0x3u

/* One descriptor as read from guest memory, host byte order. */
struct pdesc {
	u64 addr;
	u32 len;
	u16 id;
	u16 flags;
};

/* The flags a descriptor the driver made available in this lap carries. */
static u16 avail_flags(bool wrap)
{
	return wrap ? F_AVAIL : F_USED;
}

static bool is_avail(u16 flags, bool wrap)
{
	return (flags & (F_AVAIL | F_USED)) == avail_flags(wrap);
}

/*
 * The head slot says "not available": either the driver has not got there
 * (the flags still describe an earlier lap) or it wrote AVAIL == USED ==
 * our wrap counter, a state only a device may write in this lap.
 */
static bool is_bogus_head(u16 flags, bool wrap)
{
	return (flags & (F_AVAIL | F_USED)) == (wrap ? F_AVAIL | F_USED : 0) &&
	       !is_avail(flags, wrap);
}

static void advance(u16 *slot, bool *wrap, u16 by, u16 size)
{
	u32 next = (u32)*slot + by;

	if (next >= size) {
		next -= size;
		*wrap = !*wrap;
	}
	*slot = (u16)next;
}

static u16 load_flags(const struct vring_packed_desc *d)
{
	return le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));
}

/*
 * The fields other than flags, read once, after the flags that made the
 * descriptor available (the acquire in load_flags orders them).
 */
static void read_body(struct pdesc *out, const struct vring_packed_desc *d, u16 flags)
{
	struct vring_packed_desc raw;

	memcpy(&raw, d, offsetof(struct vring_packed_desc, flags));
	out->addr = le64toh(raw.addr);
	out->len = le32toh(raw.len);
	out->id = le16toh(raw.id);
	out->flags = flags;
}

/*
 * An indirect table: entries in order, as many as fit in its length
 * (spec 2.8.7: NEXT is not used inside, WRITE is the only flag that means
 * anything).  A table inside a table is refused.
 */
static bool walk_indirect(struct virt_queue *vq, struct virtq_elem *elem, const struct pdesc *ind)
{
	unsigned int n;
	const u8 *table = virtq_indirect_table(vq, elem, ind->addr, ind->len, ind->flags, &n);

	if (!table)
		return false;
	for (unsigned int i = 0; i < n; i++) {
		struct vring_packed_desc raw;

		memcpy(&raw, table + i * sizeof(raw), sizeof(raw));
		if (le16toh(raw.flags) & VRING_DESC_F_INDIRECT) {
			virtq_mark_broken(vq, "nested indirect table in chain %u", elem->head);
			return false;
		}
		if (!virtq_add_buffer(vq, elem, le64toh(raw.addr), le32toh(raw.len),
				      le16toh(raw.flags) & VRING_DESC_F_WRITE))
			return false;
	}
	return true;
}

bool virtq_packed_has_avail(struct virt_queue *vq)
{
	u16 flags;

	if (!virtq_usable(vq))
		return false;
	flags = load_flags(&vq->pdesc[vq->avail_slot]);
	if (is_bogus_head(flags, vq->avail_wrap)) {
		virtq_mark_broken(vq, "descriptor %u has flags 0x%x, wrong for wrap counter %u",
				  vq->avail_slot, flags, vq->avail_wrap);
		return false;
	}
	return is_avail(flags, vq->avail_wrap);
}

/*
 * Walk the ring from the head: descriptors linked by NEXT in consecutive
 * slots (wrapping), each available in its own lap, at most a queue's worth,
 * ending in a plain or an indirect descriptor whose id names the buffer.
 */
static bool walk_chain(struct virt_queue *vq, struct virtq_elem *elem, u16 head_flags,
		       u16 *id, u16 *slots)
{
	u16 slot = vq->avail_slot, flags = head_flags;
	bool wrap = vq->avail_wrap;
	struct pdesc d;

	for (*slots = 0;; ) {
		if (*slots == vq->size) {
			virtq_mark_broken(vq, "chain %u is longer than queue size %u",
					  elem->head, vq->size);
			return false;
		}
		if (*slots) {
			flags = load_flags(&vq->pdesc[slot]);
			if (!is_avail(flags, wrap)) {
				virtq_mark_broken(vq, "descriptor %u in chain %u has flags 0x%x, "
						  "wrong for wrap counter %u",
						  slot, elem->head, flags, wrap);
				return false;
			}
		}
		read_body(&d, &vq->pdesc[slot], flags);
		++*slots;
		advance(&slot, &wrap, 1, vq->size);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!walk_indirect(vq, elem, &d))
				return false;
			break;
		}
		if (!virtq_add_buffer(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE))
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
	}
	/* Spec 2.8.6: the buffer id is in the chain's last descriptor. */
	*id = d.id;
	return true;
}

bool virtq_packed_pop(struct virt_queue *vq, struct virtq_elem *elem)
{
	u16 flags, id, slots;

	if (!virtq_usable(vq))
		return false;
	flags = load_flags(&vq->pdesc[vq->avail_slot]);
	if (!is_avail(flags, vq->avail_wrap)) {
		if (is_bogus_head(flags, vq->avail_wrap))
			virtq_mark_broken(vq, "descriptor %u has flags 0x%x, wrong for wrap "
					  "counter %u", vq->avail_slot, flags, vq->avail_wrap);
		return false;
	}
	/* Messages name the chain by its first slot until its id is known. */
	virtq_elem_start(elem, vq->avail_slot);
	if (!walk_chain(vq, elem, flags, &id, &slots))
		return false;
	if (id >= vq->size) {
		virtq_mark_broken(vq, "buffer id %u >= queue size %u in chain at slot %u",
				  id, vq->size, vq->avail_slot);
		return false;
	}
	if (vq->id_slots[id]) {
		virtq_mark_broken(vq, "buffer id %u made available again while in use", id);
		return false;
	}
	vq->id_slots[id] = slots;
	elem->head = id;
	advance(&vq->avail_slot, &vq->avail_wrap, slots, vq->size);
	vq->last_avail_idx += slots;
	return true;
}

void virtq_packed_add_used(struct virt_queue *vq, u16 id, u32 len)
{
	struct vring_packed_desc *d;
	u16 flags, slots;

	if (!virtq_usable(vq))
		return;
	if (id >= vq->size || !vq->id_slots[id]) {
		virtq_mark_broken(vq, "device pushed buffer id %u it does not hold (lkvm bug)", id);
		return;
	}
	slots = vq->id_slots[id];
	vq->id_slots[id] = 0;
	d = &vq->pdesc[vq->used_slot];
	WRITE_ONCE(d->id, htole16(id));
	WRITE_ONCE(d->len, htole32(len));
	/* Spec 2.8.4: len only counts when WRITE is set in the used descriptor. */
	flags = (vq->used_wrap ? F_AVAIL | F_USED : 0) | (len ? VRING_DESC_F_WRITE : 0);
	if (!vq->batch_open) {
		/* The batch's first flags go last: they release the whole batch. */
		vq->batch_open = true;
		vq->batch_slot = vq->used_slot;
		vq->batch_flags = flags;
	} else {
		__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
	}
	advance(&vq->used_slot, &vq->used_wrap, slots, vq->size);
	vq->used_idx += slots;
}

void virtq_packed_publish_used(struct virt_queue *vq)
{
	if (!virtq_usable(vq) || !vq->batch_open)
		return;
	vq->batch_open = false;
	/* id and len of every entry before the flags that hand them over. */
	wmb();
	__atomic_store_n(&vq->pdesc[vq->batch_slot].flags, htole16(vq->batch_flags),
			 __ATOMIC_RELEASE);
}

/*
 * The driver's DESC event (spec 2.8.10): interrupt once the used position
 * passes slot off in the lap of wrap counter w.  Our position moved from
 * old to new (in slots) since the last decision; counted back from where we
 * are now, the event slot lies dist slots behind us, and is newly passed
 * iff 1 <= dist <= new - old.
 */
static bool packed_need_event(const struct virt_queue *vq, u16 off_wrap, u16 new_idx, u16 old)
{
	int off = off_wrap & ~EVENT_WRAP;
	bool wrap = off_wrap & EVENT_WRAP;
	int dist = (int)vq->used_slot - off + (wrap == vq->used_wrap ? 0 : vq->size);

	return dist >= 1 && dist <= (u16)(new_idx - old);
}

/*
 * The packed ring's half of virtq_should_signal(), which has already made
 * the full barrier and the "anything new?" bookkeeping: read the driver's
 * event suppression structure.
 */
bool virtq_packed_need_signal(struct virt_queue *vq, u16 new_idx, u16 old, bool valid)
{
	/* off_wrap and flags in one load: a consistent pair. */
	u32 event = le32toh(__atomic_load_n((const u32 *)vq->driver_event, __ATOMIC_RELAXED));
	u16 flags = (event >> 16) & EVENT_FLAGS_MASK;

	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	/* DESC means something only with EVENT_IDX; otherwise be safe and interrupt. */
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || !valid)
		return true;
	return packed_need_event(vq, (u16)event, new_idx, old);
}

/* Our event suppression structure, off_wrap and flags in one store. */
static void write_device_event(struct virt_queue *vq, u16 off_wrap, u16 flags)
{
	vq->event_flags = flags;
	__atomic_store_n((u32 *)vq->device_event, htole32((u32)flags << 16 | off_wrap),
			 __ATOMIC_RELAXED);
}

void virtq_packed_disable_notify(struct virt_queue *vq)
{
	if (!virtq_usable(vq) || vq->event_flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return;
	vq->event_flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	__atomic_store_n(&vq->device_event->flags, htole16(VRING_PACKED_EVENT_FLAG_DISABLE),
			 __ATOMIC_RELAXED);
}

bool virtq_packed_enable_notify_and_check(struct virt_queue *vq)
{
	if (!virtq_usable(vq))
		return false;
	if (vq->event_idx)
		write_device_event(vq, vq->avail_slot | (vq->avail_wrap ? EVENT_WRAP : 0),
				   VRING_PACKED_EVENT_FLAG_DESC);
	else if (vq->event_flags != VRING_PACKED_EVENT_FLAG_ENABLE)
		write_device_event(vq, 0, VRING_PACKED_EVENT_FLAG_ENABLE);
	/*
	 * As in the split ring: we store "kick me" and then load the next
	 * descriptor's flags; the driver stores those flags and then loads our
	 * event structure.  Without a full barrier both may miss the other.
	 */
	mb();
	return virtq_packed_has_avail(vq);
}
