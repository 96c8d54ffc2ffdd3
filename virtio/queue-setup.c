/*
 * Virtqueue configuration from the control path: size and ring addresses
 * (modern) or a page frame number (legacy), and the checks at enable time
 * that make every later ring access land inside guest RAM.
 */
#include <errno.h>
#include <endian.h>
#include <string.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"

static bool is_pow2_u32(u32 x)
{
	return x && !(x & (x - 1));
}

/* Ring sizes from spec 2.7: flags, idx, ring[size], then the event word. */
static u64 desc_bytes(u32 size)
{
	return 16ULL * size;
}

static u64 avail_bytes(u32 size)
{
	return 6 + 2ULL * size;
}

static u64 used_bytes(u32 size)
{
	return 6 + 8ULL * size;
}

/* Packed rings (spec 2.8.10): the event suppression areas are 4 bytes each. */
#define PACKED_EVENT_BYTES sizeof(struct vring_packed_desc_event)
#define PACKED_EVENT_ALIGN 4u

/* Data-path state of an enabled ring as the spec says it starts. */
static void ring_state_init(struct virt_queue *vq)
{
	vq->last_avail_idx = vq->shadow_avail_idx = 0;
	vq->used_idx = vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->used_flags = 0;
	/* Spec 2.8.1: both wrap counters start at 1. */
	vq->avail_slot = vq->used_slot = 0;
	vq->avail_wrap = vq->used_wrap = true;
	vq->event_flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	vq->batch_open = false;
	vq->batch_slot = vq->batch_flags = 0;
	if (vq->id_slots)
		memset(vq->id_slots, 0, vq->max_size * sizeof(*vq->id_slots));
}

void virtq_reset(struct virt_queue *vq)
{
	__atomic_store_n(&vq->ready, false, __ATOMIC_SEQ_CST);
	vq->size = vq->max_size;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->legacy_pfn = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->used_event = vq->avail_event = NULL;
	vq->event_idx = vq->indirect = vq->packed = false;
	vq->pdesc = NULL;
	vq->driver_event = vq->device_event = NULL;
	ring_state_init(vq);
	vq->broken = false;
}

void virtq_apply_features(struct virt_queue *vq)
{
	vq->event_idx = virtio_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = virtio_has_feature(vq->vdev, VIRTIO_RING_F_INDIRECT_DESC);
	/* A queue enabled before FEATURES_OK may have the other layout. */
	if (READ_ONCE(vq->ready) &&
	    vq->packed != virtio_has_feature(vq->vdev, VIRTIO_F_RING_PACKED))
		virtq_mark_broken(vq, "enabled as a %s ring, but the driver %s packed rings",
				  vq->packed ? "packed" : "split",
				  vq->packed ? "dropped" : "accepted");
}

struct virt_queue *virtio_get_queue(struct virtio_device *vdev, u32 index)
{
	return index < vdev->nr_queues ? &vdev->vqs[index] : NULL;
}

/* The queue if it exists and may still be configured; lock held. */
static struct virt_queue *configurable(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);

	return vq && !vq->ready ? vq : NULL;
}

int virtio_queue_set_size(struct virtio_device *vdev, u32 index, u32 size)
{
	struct virt_queue *vq;
	int ret = -EINVAL;

	virtio_device_lock(vdev);
	vq = configurable(vdev, index);
	if (vq) {
		/* Checked at enable; an impossible size reads back as 0. */
		vq->size = size <= VIRTQ_MAX_SIZE ? size : 0;
		ret = 0;
	}
	virtio_device_unlock(vdev);
	return ret;
}

u16 virtio_queue_get_size(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);
	u16 size;

	if (!vq)
		return 0;
	virtio_device_lock(vdev);
	size = vq->size;
	virtio_device_unlock(vdev);
	return size;
}

u16 virtio_queue_get_max_size(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);

	return vq ? vq->max_size : 0;
}

static u64 *area_addr(struct virt_queue *vq, enum virtq_area area)
{
	switch (area) {
	case VIRTQ_AREA_DESC:
		return &vq->desc_gpa;
	case VIRTQ_AREA_DRIVER:
		return &vq->avail_gpa;
	case VIRTQ_AREA_DEVICE:
		return &vq->used_gpa;
	}
	return NULL;
}

int virtio_queue_set_addr(struct virtio_device *vdev, u32 index, enum virtq_area area, u64 gpa)
{
	struct virt_queue *vq;
	u64 *addr;
	int ret = -EINVAL;

	virtio_device_lock(vdev);
	vq = configurable(vdev, index);
	addr = vq ? area_addr(vq, area) : NULL;
	if (addr) {
		*addr = gpa;
		ret = 0;
	}
	virtio_device_unlock(vdev);
	return ret;
}

int virtio_queue_set_addr32(struct virtio_device *vdev, u32 index, enum virtq_area area,
			    bool high, u32 value)
{
	struct virt_queue *vq;
	u64 *addr;
	int ret = -EINVAL;

	virtio_device_lock(vdev);
	vq = configurable(vdev, index);
	addr = vq ? area_addr(vq, area) : NULL;
	if (addr) {
		if (high)
			*addr = (*addr & 0xffffffffULL) | ((u64)value << 32);
		else
			*addr = (*addr & ~0xffffffffULL) | value;
		ret = 0;
	}
	virtio_device_unlock(vdev);
	return ret;
}

u64 virtio_queue_get_addr(struct virtio_device *vdev, u32 index, enum virtq_area area)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);
	u64 *addr, val = 0;

	if (!vq)
		return 0;
	virtio_device_lock(vdev);
	addr = area_addr(vq, area);
	if (addr)
		val = *addr;
	virtio_device_unlock(vdev);
	return val;
}

/* Descriptor ring and the two event suppression areas (spec 2.8.10). */
static int map_packed(struct virt_queue *vq)
{
	u32 size = vq->size;

	/* Spec 2.8: any size up to 32768, no power of 2 needed. */
	if (!size || size > vq->max_size) {
		virtq_mark_broken(vq, "packed queue size %u is not in 1..%u", size, vq->max_size);
		return -EINVAL;
	}
	if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE || vq->avail_gpa % PACKED_EVENT_ALIGN ||
	    vq->used_gpa % PACKED_EVENT_ALIGN) {
		virtq_mark_broken(vq, "misaligned packed ring 0x%llx driver area 0x%llx "
				  "device area 0x%llx",
				  (unsigned long long)vq->desc_gpa,
				  (unsigned long long)vq->avail_gpa,
				  (unsigned long long)vq->used_gpa);
		return -EINVAL;
	}
	vq->pdesc = guest_mem_ptr(vq->mem, vq->desc_gpa, desc_bytes(size));
	vq->driver_event = guest_mem_ptr(vq->mem, vq->avail_gpa, PACKED_EVENT_BYTES);
	vq->device_event = guest_mem_ptr(vq->mem, vq->used_gpa, PACKED_EVENT_BYTES);
	if (!vq->pdesc || !vq->driver_event || !vq->device_event) {
		virtq_mark_broken(vq, "packed ring 0x%llx driver area 0x%llx device area 0x%llx "
				  "not inside guest RAM (size %u)",
				  (unsigned long long)vq->desc_gpa,
				  (unsigned long long)vq->avail_gpa,
				  (unsigned long long)vq->used_gpa, size);
		vq->pdesc = NULL;
		vq->driver_event = vq->device_event = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Split ring: descriptor table, avail and used rings (spec 2.7). */
static int map_split(struct virt_queue *vq)
{
	u32 size = vq->size;
	void *desc, *avail, *used;

	if (!is_pow2_u32(size) || size > vq->max_size) {
		virtq_mark_broken(vq, "queue size %u is not a power of 2 <= %u",
				  size, vq->max_size);
		return -EINVAL;
	}
	if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE || vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    vq->used_gpa % VRING_USED_ALIGN_SIZE) {
		virtq_mark_broken(vq, "misaligned rings desc 0x%llx avail 0x%llx used 0x%llx",
				  (unsigned long long)vq->desc_gpa,
				  (unsigned long long)vq->avail_gpa,
				  (unsigned long long)vq->used_gpa);
		return -EINVAL;
	}
	desc = guest_mem_ptr(vq->mem, vq->desc_gpa, desc_bytes(size));
	avail = guest_mem_ptr(vq->mem, vq->avail_gpa, avail_bytes(size));
	used = guest_mem_ptr(vq->mem, vq->used_gpa, used_bytes(size));
	if (!desc || !avail || !used) {
		virtq_mark_broken(vq, "rings desc 0x%llx avail 0x%llx used 0x%llx "
				  "not inside guest RAM (size %u)",
				  (unsigned long long)vq->desc_gpa,
				  (unsigned long long)vq->avail_gpa,
				  (unsigned long long)vq->used_gpa, size);
		return -EINVAL;
	}
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	/* The event words sit right after each ring's last entry. */
	vq->used_event = (u16 *)((u8 *)avail + 4 + 2 * size);
	vq->avail_event = (u16 *)((u8 *)used + 4 + 8 * size);
	return 0;
}

/*
 * Check size and placement, map the rings, mark ready; lock held.  The
 * legacy interface has only the split layout.
 */
static int map_rings(struct virt_queue *vq, bool legacy)
{
	int ret;

	vq->packed = !legacy && virtio_has_feature(vq->vdev, VIRTIO_F_RING_PACKED);
	ret = vq->packed ? map_packed(vq) : map_split(vq);
	if (ret)
		return ret;
	ring_state_init(vq);
	virtq_apply_features(vq);
	/* Release: a device thread that sees ready sees the mapped rings. */
	__atomic_store_n(&vq->ready, true, __ATOMIC_RELEASE);
	return 0;
}

int virtio_queue_enable(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq;
	int ret = -EINVAL;

	virtio_device_lock(vdev);
	vq = configurable(vdev, index);
	if (vq)
		ret = map_rings(vq, false);
	virtio_device_unlock(vdev);
	return ret;
}

bool virtio_queue_is_ready(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);

	return vq && __atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE);
}

/*
 * Legacy layout: descriptors at the page, the avail ring right after them,
 * the used ring at the next `align` boundary.  Returns false if the
 * arithmetic would wrap (a guest-chosen PFN must not wrap into RAM).
 */
static bool legacy_layout(struct virt_queue *vq, u32 pfn, u32 page_size, u32 align)
{
	u64 base = (u64)pfn * page_size;
	u64 avail = base + desc_bytes(vq->size);
	u64 avail_end = avail + avail_bytes(vq->size);

	if (base / page_size != pfn || avail_end < base ||
	    avail_end > UINT64_MAX - align)
		return false;
	vq->desc_gpa = base;
	vq->avail_gpa = avail;
	vq->used_gpa = ALIGN_UP(avail_end, (u64)align);
	return true;
}

int virtio_queue_set_legacy_pfn(struct virtio_device *vdev, u32 index, u32 pfn,
				u32 page_size, u32 align)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);
	int ret = -EINVAL;

	if (!vq)
		return -EINVAL;
	virtio_device_lock(vdev);
	if (pfn == 0) {
		/* Drivers "delete" a queue this way, normally after a reset. */
		if (!(virtio_get_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) {
			virtq_reset(vq);
			ret = 0;
		}
	} else if (!vq->ready) {
		vq->legacy_pfn = pfn;
		if (!is_pow2_u32(page_size) || !is_pow2_u32(align) ||
		    !legacy_layout(vq, pfn, page_size, align))
			virtq_mark_broken(vq, "legacy pfn 0x%x page size %u align %u unusable",
					  pfn, page_size, align);
		else
			ret = map_rings(vq, true);
	}
	virtio_device_unlock(vdev);
	return ret;
}

u32 virtio_queue_get_legacy_pfn(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);
	u32 pfn;

	if (!vq)
		return 0;
	virtio_device_lock(vdev);
	pfn = vq->legacy_pfn;
	virtio_device_unlock(vdev);
	return pfn;
}

void virtio_queue_notify(struct virtio_device *vdev, u32 index)
{
	struct virt_queue *vq = virtio_get_queue(vdev, index);

	if (!vq || !(virtio_get_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    !__atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE) || virtq_is_broken(vq))
		return;
	if (vdev->ops->queue_notify)
		vdev->ops->queue_notify(vdev, vq);
}
