/*
 * virtio-vsock on vhost-vsock.  The host kernel moves the data: it reads
 * and writes the rx (0) and tx (1) rings itself, straight in guest RAM, so
 * lkvm only hands it the memory map and the ring addresses when the driver
 * sets DRIVER_OK, and stops it on reset.  The event queue (2) stays with
 * lkvm: we never send an event (only migration would), so its buffers just
 * wait there.
 *
 * Notifications.  The transport owns the notify addresses and gives us no
 * eventfd for them, so kicks arrive as queue_notify calls and are passed on
 * by writing the queue's vhost kick eventfd.  In the other direction vhost
 * signals a per-queue "call" eventfd when it wants the guest interrupted
 * (it applies EVENT_IDX / NO_INTERRUPT itself, having written the used
 * ring); a thread of ours waits on those and raises the transport's queue
 * interrupt.  That is the one place a device here signals without
 * virtq_signal_if_needed(): the used ring is vhost's, not ours, and so is
 * the decision to interrupt.
 *
 * Lock order: vdev->lock (control path; activate/reset run under it)
 * before nothing: this file takes no other lock.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-vsock.h"

#define VSOCK_QUEUE_SIZE 256
#define VSOCK_NR_QUEUES 3
#define VSOCK_VHOST_QUEUES 2	/* rx and tx; the event queue is ours */

struct virtio_vsock {
	struct virtio_device vdev;
	struct virtio_vsock_config config;
	struct kvm *kvm;
	u64 cid;
	int vhost_fd;
	u64 vhost_features;
	int kick_fd[VSOCK_VHOST_QUEUES];
	int call_fd[VSOCK_VHOST_QUEUES];
	int stop_fd;			/* ends the call thread */
	pthread_t call_thread;
	bool thread_started;
	bool running;			/* vhost started; atomic */
};

static struct virtio_vsock *to_vsock(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_vsock, vdev);
}

static int vhost_ioctl(struct virtio_vsock *vs, unsigned long req, const void *arg,
		       const char *what)
{
	if (ioctl(vs->vhost_fd, req, arg) < 0) {
		int err = -errno;

		pr_err("virtio-vsock: %s: %s", what, strerror(errno));
		return err;
	}
	return 0;
}

static void eventfd_kick(int fd)
{
	u64 one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("virtio-vsock: eventfd write: %s", strerror(errno));
}

/* ---- interrupts from vhost ---- */

static void *call_thread(void *arg)
{
	struct virtio_vsock *vs = arg;
	struct pollfd pfd[VSOCK_VHOST_QUEUES + 1];

	pthread_setname_np(pthread_self(), "vsock-irq");
	for (int i = 0; i < VSOCK_VHOST_QUEUES; i++)
		pfd[i] = (struct pollfd){ .fd = vs->call_fd[i], .events = POLLIN };
	pfd[VSOCK_VHOST_QUEUES] = (struct pollfd){ .fd = vs->stop_fd, .events = POLLIN };
	for (;;) {
		u64 count;

		if (poll(pfd, VSOCK_VHOST_QUEUES + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("virtio-vsock: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[VSOCK_VHOST_QUEUES].revents)
			return NULL;
		for (int i = 0; i < VSOCK_VHOST_QUEUES; i++) {
			struct virtio_device *vdev = &vs->vdev;

			if (!(pfd[i].revents & POLLIN) ||
			    read(vs->call_fd[i], &count, sizeof(count)) != sizeof(count))
				continue;
			if (!__atomic_load_n(&vs->running, __ATOMIC_ACQUIRE))
				continue;
			virtio_signal_queue(vdev, &vdev->vqs[i]);
		}
	}
}

/* ---- starting and stopping vhost ---- */

static int set_mem_table(struct virtio_vsock *vs)
{
	const struct guest_mem *mem = &vs->kvm->mem;
	struct vhost_memory *table;
	int ret;

	table = calloc(1, sizeof(*table) + mem->nr_regions * sizeof(table->regions[0]));
	if (!table)
		return -ENOMEM;
	table->nregions = mem->nr_regions;
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		table->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (u64)(unsigned long)mem->regions[i].hva,
		};
	ret = vhost_ioctl(vs, VHOST_SET_MEM_TABLE, table, "VHOST_SET_MEM_TABLE");
	free(table);
	return ret;
}

static int setup_vring(struct virtio_vsock *vs, unsigned int i)
{
	struct virt_queue *vq = &vs->vdev.vqs[i];
	struct vhost_vring_state num = { .index = i, .num = vq->size };
	struct vhost_vring_state base = { .index = i, .num = vq->last_avail_idx };
	struct vhost_vring_addr addr = {
		.index = i,
		.desc_user_addr = (u64)(unsigned long)vq->desc,
		.avail_user_addr = (u64)(unsigned long)vq->avail,
		.used_user_addr = (u64)(unsigned long)vq->used,
	};
	struct vhost_vring_file kick = { .index = i, .fd = vs->kick_fd[i] };
	struct vhost_vring_file call = { .index = i, .fd = vs->call_fd[i] };

	if (!__atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE)) {
		pr_err("virtio-vsock: driver started without queue %u", i);
		return -EINVAL;
	}
	if (vhost_ioctl(vs, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM") ||
	    vhost_ioctl(vs, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE") ||
	    vhost_ioctl(vs, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR") ||
	    vhost_ioctl(vs, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK") ||
	    vhost_ioctl(vs, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL"))
		return -EIO;
	return 0;
}

static int vsock_activate(struct virtio_device *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);
	u64 features = vdev->driver_features & vs->vhost_features;
	int running = 1;

	if (vhost_ioctl(vs, VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES") ||
	    set_mem_table(vs))
		return -EIO;
	for (unsigned int i = 0; i < VSOCK_VHOST_QUEUES; i++)
		if (setup_vring(vs, i))
			return -EIO;
	__atomic_store_n(&vs->running, true, __ATOMIC_RELEASE);
	if (vhost_ioctl(vs, VHOST_VSOCK_SET_RUNNING, &running, "VHOST_VSOCK_SET_RUNNING")) {
		__atomic_store_n(&vs->running, false, __ATOMIC_RELEASE);
		return -EIO;
	}
	/* Buffers queued before DRIVER_OK: their kicks went nowhere. */
	for (unsigned int i = 0; i < VSOCK_VHOST_QUEUES; i++)
		eventfd_kick(vs->kick_fd[i]);
	return 0;
}

/* vhost stops touching the rings before the core forgets them. */
static void vsock_stop(struct virtio_vsock *vs)
{
	int running = 0;

	if (!__atomic_exchange_n(&vs->running, false, __ATOMIC_ACQ_REL))
		return;
	vhost_ioctl(vs, VHOST_VSOCK_SET_RUNNING, &running, "VHOST_VSOCK_SET_RUNNING 0");
}

static void vsock_reset(struct virtio_device *vdev)
{
	vsock_stop(to_vsock(vdev));
}

static void vsock_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_vsock *vs = to_vsock(vdev);

	/* The event queue's buffers wait for events we never send. */
	if (vq->index < VSOCK_VHOST_QUEUES)
		eventfd_kick(vs->kick_fd[vq->index]);
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

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void vsock_free(struct virtio_vsock *vs)
{
	if (vs->thread_started) {
		eventfd_kick(vs->stop_fd);
		pthread_join(vs->call_thread, NULL);
	}
	for (int i = 0; i < VSOCK_VHOST_QUEUES; i++) {
		close_fd(&vs->kick_fd[i]);
		close_fd(&vs->call_fd[i]);
	}
	close_fd(&vs->stop_fd);
	close_fd(&vs->vhost_fd);
	free(vs);
}

static int open_vhost(struct virtio_vsock *vs)
{
	vs->vhost_fd = open(VSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (vs->vhost_fd < 0) {
		int err = -errno;

		if (err == -ENOENT || err == -ENODEV || err == -ENXIO)
			pr_err("virtio-vsock: %s is missing: load the vhost_vsock module"
			       " (modprobe vhost_vsock)", VSOCK_DEVICE_PATH);
		else
			pr_err("virtio-vsock: cannot open %s: %s", VSOCK_DEVICE_PATH,
			       strerror(errno));
		return err;
	}
	if (vhost_ioctl(vs, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER") ||
	    vhost_ioctl(vs, VHOST_GET_FEATURES, &vs->vhost_features, "VHOST_GET_FEATURES"))
		return -EIO;
	if (ioctl(vs->vhost_fd, VHOST_VSOCK_SET_GUEST_CID, &vs->cid) < 0) {
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

static int make_eventfds(struct virtio_vsock *vs)
{
	for (int i = 0; i < VSOCK_VHOST_QUEUES; i++) {
		vs->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vs->call_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vs->kick_fd[i] < 0 || vs->call_fd[i] < 0)
			return -errno;
	}
	vs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return vs->stop_fd < 0 ? -errno : 0;
}

static struct virtio_vsock *vsock_alloc(struct kvm *kvm, u64 cid)
{
	struct virtio_vsock *vs = calloc(1, sizeof(*vs));

	if (!vs)
		return NULL;
	vs->kvm = kvm;
	vs->cid = cid;
	vs->vhost_fd = vs->stop_fd = -1;
	for (int i = 0; i < VSOCK_VHOST_QUEUES; i++)
		vs->kick_fd[i] = vs->call_fd[i] = -1;
	vs->config.guest_cid = htole64(cid);
	return vs;
}

/* Offer what both the core and vhost support, plus vhost's SEQPACKET. */
static void limit_features(struct virtio_vsock *vs)
{
	u64 extra = vs->vhost_features & (1ULL << VIRTIO_VSOCK_F_SEQPACKET);

	vs->vdev.device_features = (vs->vdev.device_features & vs->vhost_features) | extra;
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
	if (!ret)
		ret = make_eventfds(vs);
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
	ret = pthread_create(&vs->call_thread, NULL, call_thread, vs);
	if (ret) {
		virtio_device_exit(&vs->vdev);
		vsock_free(vs);
		return -ret;
	}
	vs->thread_started = true;
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
