/*
 * The transport-neutral virtio device model: feature negotiation, the
 * device status state machine, reset, the ISR byte and config space.
 * Transports translate their registers into these calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"

static bool is_pow2(u32 x)
{
	return x && !(x & (x - 1));
}

int virtio_device_init(struct virtio_device *vdev, const struct virtio_device_ops *ops,
		       const struct guest_mem *mem, void *config, u32 config_size)
{
	memset(vdev, 0, sizeof(*vdev));
	if (!ops->name || !ops->nr_queues || !is_pow2(ops->max_queue_size) ||
	    ops->max_queue_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	vdev->vqs = calloc(ops->nr_queues, sizeof(*vdev->vqs));
	if (!vdev->vqs)
		return -ENOMEM;
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->ops = ops;
	vdev->mem = mem;
	vdev->config = config;
	vdev->config_size = config ? config_size : 0;
	vdev->device_features = ops->features | VIRTIO_CORE_FEATURES;
	vdev->nr_queues = ops->nr_queues;
	for (unsigned int i = 0; i < vdev->nr_queues; i++) {
		struct virt_queue *vq = &vdev->vqs[i];

		vq->vdev = vdev;
		vq->mem = mem;
		vq->index = i;
		vq->max_size = ops->max_queue_size;
		vq->id_slots = calloc(vq->max_size, sizeof(*vq->id_slots));
		if (!vq->id_slots) {
			virtio_device_exit(vdev);
			return -ENOMEM;
		}
		virtq_reset(vq);
	}
	return 0;
}

void virtio_device_exit(struct virtio_device *vdev)
{
	for (unsigned int i = 0; vdev->vqs && i < vdev->nr_queues; i++)
		free(vdev->vqs[i].id_slots);
	free(vdev->vqs);
	vdev->vqs = NULL;
	vdev->nr_queues = 0;
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_device_set_transport(struct virtio_device *vdev,
				 const struct virtio_transport_ops *tops,
				 void *transport_data, bool modern)
{
	vdev->transport = tops;
	vdev->transport_data = transport_data;
	vdev->modern = modern;
}

void virtio_device_no_packed(struct virtio_device *vdev)
{
	vdev->device_features &= ~(1ULL << VIRTIO_F_RING_PACKED);
}

void virtio_device_lock(struct virtio_device *vdev)
{
	pthread_mutex_lock(&vdev->lock);
}

void virtio_device_unlock(struct virtio_device *vdev)
{
	pthread_mutex_unlock(&vdev->lock);
}

bool virtio_has_feature(const struct virtio_device *vdev, unsigned int bit)
{
	return bit < 64 && (READ_ONCE(vdev->driver_features) & (1ULL << bit));
}

bool virtio_device_is_broken(const struct virtio_device *vdev)
{
	return __atomic_load_n(&vdev->broken, __ATOMIC_RELAXED);
}

static u8 status_load(struct virtio_device *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

/* Config interrupt, only once the driver is ready to take it. */
static void signal_config(struct virtio_device *vdev)
{
	if (!(status_load(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	__atomic_or_fetch(&vdev->isr, VIRTIO_ISR_CONFIG, __ATOMIC_SEQ_CST);
	if (vdev->transport && vdev->transport->signal_config)
		vdev->transport->signal_config(vdev);
}

/* The ISR bit first: a legacy driver's handler reads it to find the cause. */
int virtio_queue_irqfd(struct virtio_device *vdev, struct virt_queue *vq)
{
	if (!vdev->transport || !vdev->transport->queue_irqfd)
		return -1;
	return vdev->transport->queue_irqfd(vdev, vq);
}

int virtio_queue_kickfd(struct virtio_device *vdev, struct virt_queue *vq)
{
	if (!vdev->transport || !vdev->transport->queue_kickfd)
		return -1;
	return vdev->transport->queue_kickfd(vdev, vq);
}

void virtio_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	__atomic_or_fetch(&vdev->isr, VIRTIO_ISR_QUEUE, __ATOMIC_SEQ_CST);
	if (vdev->transport && vdev->transport->signal_queue)
		vdev->transport->signal_queue(vdev, vq);
}

/* Lock-free: called from device threads, which must never wait on reset. */
void virtio_device_mark_broken(struct virtio_device *vdev, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (__atomic_exchange_n(&vdev->broken, true, __ATOMIC_SEQ_CST))
		return;	/* already reported: one line per break */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err_ratelimited("virtio-%s: %s; device stopped until reset", vdev->ops->name, why);
	/* Legacy drivers have no NEEDS_RESET bit: they just see a dead device. */
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1))
		return;
	__atomic_or_fetch(&vdev->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_SEQ_CST);
	signal_config(vdev);
}

void virtio_config_changed(struct virtio_device *vdev)
{
	__atomic_add_fetch(&vdev->config_generation, 1, __ATOMIC_SEQ_CST);
	signal_config(vdev);
}

u32 virtio_config_generation(struct virtio_device *vdev)
{
	return __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
}

/* ---- features ---- */

u32 virtio_get_device_features(struct virtio_device *vdev, u32 select)
{
	return select < 2 ? (u32)(vdev->device_features >> (32 * select)) : 0;
}

u32 virtio_get_driver_features(struct virtio_device *vdev, u32 select)
{
	u32 val;

	virtio_device_lock(vdev);
	val = select < 2 ? (u32)(vdev->driver_features >> (32 * select)) : 0;
	virtio_device_unlock(vdev);
	return val;
}

void virtio_set_driver_features(struct virtio_device *vdev, u32 select, u32 value)
{
	u64 mask;

	virtio_device_lock(vdev);
	/* Frozen once negotiated (modern) or once running (legacy). */
	if (status_load(vdev) & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK))
		goto out;
	if (select >= 2) {
		if (value)
			vdev->driver_features_invalid = true;
		goto out;
	}
	mask = 0xffffffffULL << (32 * select);
	WRITE_ONCE(vdev->driver_features,
		   (vdev->driver_features & ~mask) | ((u64)value << (32 * select)));
out:
	virtio_device_unlock(vdev);
}

static bool features_acceptable(struct virtio_device *vdev)
{
	u64 f = vdev->driver_features;
	u64 unknown = f & ~vdev->device_features;

	if (vdev->driver_features_invalid || unknown) {
		pr_warn_ratelimited("virtio-%s: driver accepted features 0x%llx%s we do not offer",
			vdev->ops->name, (unsigned long long)unknown,
			vdev->driver_features_invalid ? " and bits above 63" : "");
		return false;
	}
	if (vdev->modern && !(f & (1ULL << VIRTIO_F_VERSION_1))) {
		pr_warn_ratelimited("virtio-%s: modern driver did not accept VERSION_1", vdev->ops->name);
		return false;
	}
	if (vdev->ops->validate_features && !vdev->ops->validate_features(vdev, f)) {
		pr_warn_ratelimited("virtio-%s: device refused features 0x%llx", vdev->ops->name,
			(unsigned long long)f);
		return false;
	}
	return true;
}

/* ---- status ---- */

u8 virtio_get_status(struct virtio_device *vdev)
{
	return status_load(vdev);
}

static void reset_locked(struct virtio_device *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	if (vdev->transport && vdev->transport->reset)
		vdev->transport->reset(vdev);
	for (unsigned int i = 0; i < vdev->nr_queues; i++)
		virtq_reset(&vdev->vqs[i]);
	WRITE_ONCE(vdev->driver_features, 0);
	vdev->driver_features_invalid = false;
	__atomic_store_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vdev->broken, false, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vdev->status, 0, __ATOMIC_SEQ_CST);
}

void virtio_device_reset(struct virtio_device *vdev)
{
	virtio_device_lock(vdev);
	reset_locked(vdev);
	virtio_device_unlock(vdev);
}

/* DRIVER_OK: bring queues up to date with the final features, then start. */
static bool driver_ok(struct virtio_device *vdev, u8 new_status)
{
	bool modern = vdev->modern || virtio_has_feature(vdev, VIRTIO_F_VERSION_1);

	if (modern && !(new_status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		pr_warn_ratelimited("virtio-%s: DRIVER_OK without FEATURES_OK", vdev->ops->name);
		return false;
	}
	/*
	 * Legacy has no FEATURES_OK to refuse with: drop what we never offered,
	 * and packed rings, which the legacy interface cannot lay out.
	 */
	if (!modern)
		WRITE_ONCE(vdev->driver_features, vdev->driver_features &
			   vdev->device_features & ~(1ULL << VIRTIO_F_RING_PACKED));
	for (unsigned int i = 0; i < vdev->nr_queues; i++)
		virtq_apply_features(&vdev->vqs[i]);
	if (vdev->ops->activate && vdev->ops->activate(vdev))
		virtio_device_mark_broken(vdev, "activation failed");
	return true;
}

void virtio_set_status(struct virtio_device *vdev, u8 status)
{
	u8 cur, added;

	virtio_device_lock(vdev);
	if (status == 0) {
		reset_locked(vdev);
		goto out;
	}
	cur = status_load(vdev);
	status &= ~VIRTIO_CONFIG_S_NEEDS_RESET;	/* the device's bit, not the driver's */
	if (cur & ~status & ~VIRTIO_CONFIG_S_NEEDS_RESET) {
		pr_debug_ratelimited("virtio-%s: driver cleared status bits 0x%x -> 0x%x, ignored",
			 vdev->ops->name, cur, status);
		goto out;
	}
	added = status & ~cur;
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (!(status & VIRTIO_CONFIG_S_DRIVER) || !features_acceptable(vdev)))
		added &= ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !driver_ok(vdev, (cur | added) & ~VIRTIO_CONFIG_S_NEEDS_RESET))
		added &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	/* OR, not store: a device thread may have set NEEDS_RESET meanwhile. */
	__atomic_or_fetch(&vdev->status, added, __ATOMIC_SEQ_CST);
out:
	virtio_device_unlock(vdev);
}

/* ---- ISR ---- */

u8 virtio_isr_read_clear(struct virtio_device *vdev)
{
	return __atomic_exchange_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
}

u8 virtio_isr_peek(struct virtio_device *vdev)
{
	return __atomic_load_n(&vdev->isr, __ATOMIC_SEQ_CST);
}

void virtio_isr_ack(struct virtio_device *vdev, u8 bits)
{
	__atomic_and_fetch(&vdev->isr, (u8)~bits, __ATOMIC_SEQ_CST);
}

/* ---- config space ---- */

void virtio_config_read(struct virtio_device *vdev, u32 offset, void *data, u32 len)
{
	memset(data, 0, len);
	virtio_device_lock(vdev);
	if (offset < vdev->config_size)
		memcpy(data, (char *)vdev->config + offset,
		       MIN(len, vdev->config_size - offset));
	virtio_device_unlock(vdev);
}

void virtio_config_write(struct virtio_device *vdev, u32 offset, const void *data, u32 len)
{
	virtio_device_lock(vdev);
	if (offset < vdev->config_size && len <= vdev->config_size - offset &&
	    vdev->ops->config_write)
		vdev->ops->config_write(vdev, offset, data, len);
	virtio_device_unlock(vdev);
}
