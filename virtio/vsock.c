/*
 * virtio-vsock on vhost-vsock.  The host kernel moves the data: it reads
 * and writes the rx (0) and tx (1) rings itself, straight in guest RAM, so
 * lkvm only hands it the memory map and the ring addresses when the driver
 * sets DRIVER_OK, and stops it on reset.  The event queue (2) stays with
 * lkvm: we never send an event (only migration would), so its buffers just
 * wait there.
 *
 * Notifications: kicks arrive as queue_notify calls and are passed on to
 * vhost; its interrupt requests come back through the call thread of the
 * shared vhost helper (include/lkvm/vhost.h), which signals without
 * virtq_signal_if_needed(): the used ring is vhost's, not ours, and so is
 * the decision to interrupt.
 *
 * Lock order: vdev->lock (control path; activate/reset run under it)
 * before nothing: this file takes no other lock.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/vhost.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-vsock.h"
#include "lkvm/sandbox.h"

#define VSOCK_QUEUE_SIZE 256
#define VSOCK_NR_QUEUES 3
#define VSOCK_VHOST_QUEUES 2	/* rx and tx; the event queue is ours */

struct virtio_vsock {
	struct virtio_device vdev;
	struct virtio_vsock_config config;
	struct kvm *kvm;
	u64 cid;
	struct vhost_dev vhost;		/* rings 0 and 1; running: vhost started */
};

static struct virtio_vsock *to_vsock(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_vsock, vdev);
}

/* ---- starting and stopping vhost ---- */

static int vsock_activate(struct virtio_device *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);
	int running = 1;

	if (vhost_dev_start(&vs->vhost, vdev, vdev->driver_features))
		return -EIO;
	if (vhost_dev_ioctl(&vs->vhost, VHOST_VSOCK_SET_RUNNING, &running,
			    "VHOST_VSOCK_SET_RUNNING")) {
		vhost_dev_stop(&vs->vhost);
		return -EIO;
	}
	/* Buffers queued before DRIVER_OK: their kicks went nowhere. */
	vhost_dev_kick_all(&vs->vhost);
	return 0;
}

/* vhost stops touching the rings before the core forgets them. */
static void vsock_reset(struct virtio_device *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);
	int running = 0;

	if (!vs->vhost.running)
		return;
	vhost_dev_ioctl(&vs->vhost, VHOST_VSOCK_SET_RUNNING, &running,
			"VHOST_VSOCK_SET_RUNNING 0");
	vhost_dev_stop(&vs->vhost);
}

static void vsock_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	/* The event queue's buffers wait for events we never send. */
	vhost_dev_kick(&to_vsock(vdev)->vhost, vq->index);
}

static const struct virtio_device_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = VSOCK_NR_QUEUES,
	.max_queue_size = VSOCK_QUEUE_SIZE,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.activate = vsock_activate,
};

/* ---- lifetime ---- */

static void vsock_free(struct virtio_vsock *vs)
{
	vhost_dev_exit(&vs->vhost);
	free(vs);
}

static int open_vhost(struct virtio_vsock *vs)
{
	int fd = open(VSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0) {
		int err = -errno;

		if (err == -ENOENT || err == -ENODEV || err == -ENXIO)
			pr_err("virtio-vsock: %s is missing: load the vhost_vsock module"
			       " (modprobe vhost_vsock)", VSOCK_DEVICE_PATH);
		else
			pr_err("virtio-vsock: cannot open %s: %s", VSOCK_DEVICE_PATH,
			       strerror(errno));
		return err;
	}
	ret = vhost_dev_init(&vs->vhost, fd, "virtio-vsock", "vsock-irq", VSOCK_VHOST_QUEUES);
	if (ret)
		return ret;
	if (ioctl(vs->vhost.fd, VHOST_VSOCK_SET_GUEST_CID, &vs->cid) < 0) {
		int err = -errno;

		if (errno == EADDRINUSE)
			pr_err("virtio-vsock: guest CID %llu is already used by another VM",
			       (unsigned long long)vs->cid);
		else
			pr_err("virtio-vsock: VHOST_VSOCK_SET_GUEST_CID %llu: %s",
			       (unsigned long long)vs->cid, strerror(errno));
		return err;
	}
	return 0;
}

static struct virtio_vsock *vsock_alloc(struct kvm *kvm, u64 cid)
{
	struct virtio_vsock *vs = calloc(1, sizeof(*vs));

	if (!vs)
		return NULL;
	vs->kvm = kvm;
	vs->cid = cid;
	vs->config.guest_cid = htole64(cid);
	return vs;
}

/* Offer what both the core and vhost support, plus vhost's SEQPACKET. */
static void limit_features(struct virtio_vsock *vs)
{
	u64 vhost = vs->vhost.features;
	u64 extra = vhost & (1ULL << VIRTIO_VSOCK_F_SEQPACKET);

	vs->vdev.device_features = (vs->vdev.device_features & vhost) | extra;
}

int virtio_vsock_init(struct kvm *kvm, u64 guest_cid, struct virtio_device **out)
{
	struct virtio_vsock *vs;
	int ret;

	if (!vsock_cid_valid(guest_cid)) {
		pr_err("virtio-vsock: guest CID %llu is reserved: use 3 to 4294967294",
		       (unsigned long long)guest_cid);
		return -EINVAL;
	}
	vs = vsock_alloc(kvm, guest_cid);
	if (!vs)
		return -ENOMEM;
	ret = open_vhost(vs);
	if (ret) {
		vsock_free(vs);
		return ret;
	}
	ret = virtio_device_init(&vs->vdev, &vsock_ops, &kvm->mem, &vs->config,
				 sizeof(vs->config));
	if (ret) {
		vsock_free(vs);
		return ret;
	}
	limit_features(vs);
	*out = &vs->vdev;
	return 0;
}

void virtio_vsock_exit(struct virtio_device *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);

	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	vsock_free(vs);
}
