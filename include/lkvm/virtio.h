#ifndef LKVM_VIRTIO_H
#define LKVM_VIRTIO_H
/*
 * Transport-neutral virtio core: split virtqueues (virt_queue) and the
 * device model (virtio_device) that virtio-pci and virtio-mmio drive.
 * Nothing here knows PCI, MMIO or KVM; guest memory is reached only
 * through guest_mem_ptr(), so the whole library runs on fake memory.
 *
 * Threading contract
 * ------------------
 * Control path (transport register accesses from vCPU threads): every
 * virtio_*() function below takes vdev->lock itself.  Device ops called
 * from the control path (reset, activate, config_write, validate_features)
 * run with vdev->lock held and must not call back into virtio_*() control
 * functions.
 *
 * Data path: each queue is used by ONE device thread at a time (the virtq_*
 * functions take no lock).  A device may touch its queues only between
 * ops->activate() and the moment its ops->reset() returns: reset() must
 * stop/quiesce the device's threads before returning, because the core
 * then clears the queue state.  queue_notify is called only while
 * DRIVER_OK is set and the queue is ready.  A device thread that sleeps
 * until kicked is a virtq_worker (lkvm/virtio-worker.h), whose stop()
 * gives reset() that guarantee.
 *
 * Transport callbacks (signal_queue, signal_config) may be called from any
 * device thread and must be thread-safe.
 *
 * A guest that breaks the ring rules marks the device broken: one pr_err
 * line, VIRTIO_CONFIG_S_NEEDS_RESET set (when VERSION_1 was negotiated) and
 * a config interrupt; every queue of the device then pops nothing until the
 * driver resets the device.
 */
#include <stdbool.h>
#include <pthread.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_config.h>
#include "lkvm/compiler.h"
#include "lkvm/guest-mem.h"

/* Split and packed queues hold at most 32768 entries (spec 2.7, 2.8). */
#define VIRTQ_MAX_SIZE 32768u

/*
 * Ring features every device gets from the core.  VIRTIO_F_RING_PACKED is
 * never used on a legacy interface (it has no way to lay the ring out),
 * and is withdrawn for kernel data paths (vhost) and --virtio-ring=split.
 */
#define VIRTIO_CORE_FEATURES                                           \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_F_RING_PACKED))

/* ISR status bits (read-to-clear on PCI, InterruptStatus on MMIO). */
#define VIRTIO_ISR_QUEUE 0x1
#define VIRTIO_ISR_CONFIG 0x2

/* Legacy interface: queue addresses are page frame numbers of 4 KiB. */
#define VIRTIO_LEGACY_PAGE_SIZE 4096u
#define VIRTIO_LEGACY_ALIGN 4096u

struct virtio_device;

struct virt_queue {
	struct virtio_device *vdev;
	const struct guest_mem *mem;
	u16 index;
	u16 max_size;

	/* Driver-written configuration (control path, under vdev->lock). */
	u16 size;
	u64 desc_gpa, avail_gpa, used_gpa;
	u32 legacy_pfn;		/* last legacy PFN written, for read-back */
	bool ready;		/* enabled and validated; read with READ_ONCE */

	/* Host views of the rings, valid while ready. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u16 *used_event;	/* avail->ring[size]: driver's interrupt threshold */
	u16 *avail_event;	/* used->ring[size]: device's kick threshold */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	/*
	 * VIRTIO_F_RING_PACKED: fixed when the queue is enabled, because it
	 * decides what the three areas hold (spec 2.8.10: descriptor ring,
	 * driver event suppression, device event suppression).
	 */
	bool packed;
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event;	/* driver writes */
	struct vring_packed_desc_event *device_event;	/* we write */

	/*
	 * Data-path state, owned by the queue's device thread.  For a packed
	 * ring last_avail_idx and used_idx count ring slots (mod 2^16) so that
	 * the notification arithmetic works on both formats alike.
	 */
	u16 last_avail_idx;	/* next avail entry to take */
	u16 shadow_avail_idx;	/* avail->idx as last read */
	u16 used_idx;		/* our copy of used->idx */
	u16 signalled_used;	/* used_idx at the last should-signal check */
	bool signalled_used_valid;
	u16 used_flags;		/* our copy of used->flags */
	bool broken;

	/* Packed ring only (spec 2.8.1): positions and wrap counters. */
	u16 avail_slot, used_slot;
	bool avail_wrap, used_wrap;
	u16 event_flags;	/* our copy of device_event->flags */
	bool batch_open;	/* used entries added, first one's flags held back */
	u16 batch_slot, batch_flags;
	/* Ring slots each outstanding buffer id took (max_size entries). */
	u16 *id_slots;
};

/*
 * One popped descriptor chain: iov[0, out_num) are device-readable
 * (driver → device), iov[out_num, out_num + in_num) device-writable.
 */
struct virtq_elem {
	u16 head;		/* give back to virtq_push() */
	unsigned int out_num, in_num;
	size_t out_len, in_len;	/* bytes in each part */
	unsigned int iov_cap;
	struct iovec iov[];
};

struct virtio_device_ops {
	const char *name;		/* "blk", "net", ... for log lines */
	u32 device_id;			/* VIRTIO_ID_* */
	unsigned int nr_queues;
	u16 max_queue_size;		/* power of 2, <= VIRTQ_MAX_SIZE */
	u64 features;			/* device-specific feature bits */

	/* Guest kicked queue vq (only while DRIVER_OK and vq->ready). */
	void (*queue_notify)(struct virtio_device *vdev, struct virt_queue *vq);
	/* Driver wrote 0 to status: stop all device threads before returning. */
	void (*reset)(struct virtio_device *vdev);
	/* Driver set DRIVER_OK: start work (buffers may already be queued). */
	int (*activate)(struct virtio_device *vdev);
	/* Optional veto of a feature set at FEATURES_OK; true = accept. */
	bool (*validate_features)(struct virtio_device *vdev, u64 features);
	/*
	 * Optional: driver wrote config bytes [offset, offset+len), already
	 * bounds-checked against config_size.  Without it writes are dropped.
	 */
	void (*config_write)(struct virtio_device *vdev, u32 offset,
			     const void *data, u32 len);
};

struct virtio_transport_ops {
	const char *name;
	/* Raise the used-buffer interrupt for vq (ISR bit already set). */
	void (*signal_queue)(struct virtio_device *vdev, struct virt_queue *vq);
	/* Raise the configuration-change interrupt (ISR bit already set). */
	void (*signal_config)(struct virtio_device *vdev);
	/* Optional: device reset, clear transport state (vectors...). */
	void (*reset)(struct virtio_device *vdev);
	/*
	 * Optional: an eventfd whose write raises vq's interrupt without
	 * lkvm (a KVM irqfd), or -1 when the interrupt must pass through
	 * virtio_signal_queue() (INTx, no vector, an ISR to set first).
	 * The transport keeps the fd open and correct (vector moves and
	 * masking) until the device resets.  Control path, vdev->lock held.
	 */
	int (*queue_irqfd)(struct virtio_device *vdev, struct virt_queue *vq);
	/*
	 * Optional: an eventfd that KVM signals when the guest notifies vq,
	 * which lkvm then stops reading (kicks still arriving through an
	 * exit go to ops->queue_notify()), or -1.  Kept for the device's
	 * life.  Control path, vdev->lock held.
	 */
	int (*queue_kickfd)(struct virtio_device *vdev, struct virt_queue *vq);
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	const struct virtio_transport_ops *transport;
	void *transport_data;
	void *priv;			/* for the device */
	const struct guest_mem *mem;

	pthread_mutex_t lock;		/* control-path state below */
	u64 device_features;		/* ops->features | VIRTIO_CORE_FEATURES */
	u64 driver_features;
	bool driver_features_invalid;	/* driver wrote bits above word 1 */
	/*
	 * Modern interface: FEATURES_OK requires VERSION_1.  Set by the
	 * transport; a transitional one sets it for the interface in use.
	 */
	bool modern;
	u8 status;			/* atomic: NEEDS_RESET comes from the data path */
	u8 isr;				/* atomic */
	u32 config_generation;		/* atomic */
	bool broken;			/* atomic */

	void *config;			/* device-specific config space */
	u32 config_size;

	unsigned int nr_queues;
	struct virt_queue *vqs;
};

/* ---- Device lifetime (device code) ---- */

/* 0, -EINVAL for bad ops, -ENOMEM. Devices may OR bits into device_features. */
int virtio_device_init(struct virtio_device *vdev, const struct virtio_device_ops *ops,
		       const struct guest_mem *mem, void *config, u32 config_size);
void virtio_device_exit(struct virtio_device *vdev);
/* Called once by the transport that exposes the device. */
void virtio_device_set_transport(struct virtio_device *vdev,
				 const struct virtio_transport_ops *tops,
				 void *transport_data, bool modern);
/* Device changed its config space (under virtio_device_lock): gen++, interrupt. */
void virtio_config_changed(struct virtio_device *vdev);
void virtio_device_lock(struct virtio_device *vdev);
void virtio_device_unlock(struct virtio_device *vdev);
/* Negotiated (driver-accepted) feature bit. */
bool virtio_has_feature(const struct virtio_device *vdev, unsigned int bit);
/*
 * Device-side fatal error or guest misuse: one pr_err line, NEEDS_RESET
 * (VERSION_1 only) plus config interrupt; queues stop until reset.
 */
void virtio_device_mark_broken(struct virtio_device *vdev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool virtio_device_is_broken(const struct virtio_device *vdev);
/*
 * Raise vq's used-buffer interrupt: sets the ISR bit, then asks the
 * transport.  Any thread.  Unconditional: devices that keep the used ring
 * themselves go through virtq_signal_if_needed(), which decides whether;
 * only a kernel data path (vhost), which has decided already, calls this.
 */
void virtio_signal_queue(struct virtio_device *vdev, struct virt_queue *vq);
/*
 * For a kernel data path that decides itself when to interrupt (vhost):
 * the transport's irqfd for vq (see queue_irqfd), or -1.  Called from
 * ops->activate(); the fd stays valid until ops->reset() returns.
 */
int virtio_queue_irqfd(struct virtio_device *vdev, struct virt_queue *vq);
/* The same for notifications: the transport's kick eventfd for vq, or -1. */
int virtio_queue_kickfd(struct virtio_device *vdev, struct virt_queue *vq);

/* ---- Control path (transport code) ---- */

u32 virtio_get_device_features(struct virtio_device *vdev, u32 select);
u32 virtio_get_driver_features(struct virtio_device *vdev, u32 select);
void virtio_set_driver_features(struct virtio_device *vdev, u32 select, u32 value);
u8 virtio_get_status(struct virtio_device *vdev);
/* Status state machine; 0 resets.  Re-read status to see FEATURES_OK refused. */
void virtio_set_status(struct virtio_device *vdev, u8 status);
void virtio_device_reset(struct virtio_device *vdev);

u8 virtio_isr_read_clear(struct virtio_device *vdev);	/* PCI ISR read */
u8 virtio_isr_peek(struct virtio_device *vdev);		/* MMIO InterruptStatus */
void virtio_isr_ack(struct virtio_device *vdev, u8 bits);	/* MMIO InterruptACK */

/* Out-of-range bytes read as 0 and writes are dropped. */
void virtio_config_read(struct virtio_device *vdev, u32 offset, void *data, u32 len);
void virtio_config_write(struct virtio_device *vdev, u32 offset, const void *data, u32 len);
u32 virtio_config_generation(struct virtio_device *vdev);

enum virtq_area { VIRTQ_AREA_DESC, VIRTQ_AREA_DRIVER, VIRTQ_AREA_DEVICE };

/* NULL if index >= nr_queues (a guest-chosen queue_select may be anything). */
struct virt_queue *virtio_get_queue(struct virtio_device *vdev, u32 index);
/* Setters return 0, or -EINVAL (bad index, or queue already enabled). */
int virtio_queue_set_size(struct virtio_device *vdev, u32 index, u32 size);
u16 virtio_queue_get_size(struct virtio_device *vdev, u32 index);	/* 0: no queue */
u16 virtio_queue_get_max_size(struct virtio_device *vdev, u32 index);	/* 0: no queue */
int virtio_queue_set_addr(struct virtio_device *vdev, u32 index, enum virtq_area area, u64 gpa);
/* Write the low (high=false) or high 32 bits of an address. */
int virtio_queue_set_addr32(struct virtio_device *vdev, u32 index, enum virtq_area area,
			    bool high, u32 value);
u64 virtio_queue_get_addr(struct virtio_device *vdev, u32 index, enum virtq_area area);
/*
 * Modern queue_enable = 1: validates size and ring placement.  A bad setup
 * marks the device broken and returns -EINVAL.
 */
int virtio_queue_enable(struct virtio_device *vdev, u32 index);
bool virtio_queue_is_ready(struct virtio_device *vdev, u32 index);
/*
 * Legacy queue address: desc at pfn * page_size, avail right after it, used
 * at the next `align` boundary (spec "Legacy Interfaces: A Note on
 * Virtqueue Layout").  Enables the queue; pfn 0 resets it (ignored while
 * DRIVER_OK).  Legacy PCI uses VIRTIO_LEGACY_PAGE_SIZE / VIRTIO_LEGACY_ALIGN.
 */
int virtio_queue_set_legacy_pfn(struct virtio_device *vdev, u32 index, u32 pfn,
				u32 page_size, u32 align);
u32 virtio_queue_get_legacy_pfn(struct virtio_device *vdev, u32 index);
/* Guest kicked queue index; ignored unless DRIVER_OK and ready. */
void virtio_queue_notify(struct virtio_device *vdev, u32 index);

/* Core-internal (the virtio/ core files only): queue back to its reset state. */
void virtq_reset(struct virt_queue *vq);
/* Core-internal: copy negotiated ring features into the queue. */
void virtq_apply_features(struct virt_queue *vq);

/* Stop offering VIRTIO_F_RING_PACKED (vhost, --virtio-ring=split), before the driver runs. */
void virtio_device_no_packed(struct virtio_device *vdev);

/* ---- Data path (device threads) ---- */

/* An element able to hold a chain as long as vq's maximum size. */
struct virtq_elem *virtq_elem_alloc(const struct virt_queue *vq);
void virtq_elem_free(struct virtq_elem *elem);

/* Take the next available chain; false if none, not ready or broken. */
bool virtq_pop(struct virt_queue *vq, struct virtq_elem *elem);
/* True if the driver has made buffers available we have not popped. */
bool virtq_has_avail(struct virt_queue *vq);

/*
 * Write a used element without publishing it (for batches).  head is the
 * head index (split) or the buffer id (packed) that virtq_pop() returned.
 */
void virtq_add_used(struct virt_queue *vq, u16 head, u32 len);
/* Make added used elements visible: wmb, then used->idx. */
void virtq_publish_used(struct virt_queue *vq);
void virtq_push(struct virt_queue *vq, u16 head, u32 len);

/*
 * Does the driver want an interrupt for what was published since the last
 * call?  Contains the full barrier that pairs with the driver's; the only
 * way devices decide to interrupt.
 */
bool virtq_should_signal(struct virt_queue *vq);
void virtq_signal_if_needed(struct virt_queue *vq);
void virtq_push_and_signal(struct virt_queue *vq, u16 head, u32 len);

/* Kick suppression around a processing loop:
 *	do { virtq_disable_notify(vq); while (virtq_pop(...)) ...; }
 *	while (virtq_enable_notify_and_check(vq));
 */
void virtq_disable_notify(struct virt_queue *vq);
/* Ask for kicks again; true if buffers arrived meanwhile (keep going). */
bool virtq_enable_notify_and_check(struct virt_queue *vq);

bool virtq_is_broken(const struct virt_queue *vq);
/* Mark vq's device broken (one log line per break). */
void virtq_mark_broken(struct virt_queue *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Signal iff (u16)(new - event - 1) < (u16)(new - old): spec's need-event. */
static inline bool virtq_need_event(u16 event, u16 new_idx, u16 old_idx)
{
	return (u16)(new_idx - event - 1) < (u16)(new_idx - old_idx);
}

#endif
