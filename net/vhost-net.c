/*
 * vhost-net: the kernel's in-kernel virtio-net data path (see
 * include/lkvm/net.h).  We describe guest RAM and the two rings to it,
 * give it one kick and one call eventfd per ring, and attach the tap.
 *
 * Kicks: the transport delivers the guest's notification to the device,
 * which writes our kick eventfd.  (A transport able to hand its own
 * ioeventfd over would save that hop.)
 * Calls: vhost has already applied the driver's interrupt suppression
 * when it signals, so the call thread sets the ISR bit and asks the
 * transport for the queue interrupt directly, without the device-side
 * should-signal decision (which needs the used index vhost keeps).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include "lkvm/log.h"
#include "lkvm/net.h"
#include "lkvm/virtio.h"

#define VHOST_QUEUES 2	/* rx, tx */

struct vhost_net {
	int fd;
	u64 features;
	int kick_fd[VHOST_QUEUES], call_fd[VHOST_QUEUES];
	int stop_fd;
	bool running;		/* control path only */
	pthread_t call_thread;
	struct virtio_device *vdev;
};

static int vhost_ioctl(struct vhost_net *vh, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vh->fd, req, arg) == 0)
		return 0;
	pr_err("vhost-net: %s failed: %s", what, strerror(errno));
	return -errno;
}

struct vhost_net *vhost_net_open(void)
{
	struct vhost_net *vh = calloc(1, sizeof(*vh));

	if (!vh)
		return NULL;
	vh->stop_fd = -1;
	for (int q = 0; q < VHOST_QUEUES; q++)
		vh->kick_fd[q] = vh->call_fd[q] = -1;
	vh->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (vh->fd < 0) {
		pr_err("vhost=1: cannot open /dev/vhost-net: %s%s", strerror(errno),
		       errno == ENOENT ? " (load the vhost_net module, or drop vhost=1)" : "");
		goto fail;
	}
	if (vhost_ioctl(vh, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER") ||
	    vhost_ioctl(vh, VHOST_GET_FEATURES, &vh->features, "VHOST_GET_FEATURES"))
		goto fail;
	vh->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vh->stop_fd < 0)
		goto fail_errno;
	for (int q = 0; q < VHOST_QUEUES; q++) {
		vh->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vh->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vh->kick_fd[q] < 0 || vh->call_fd[q] < 0)
			goto fail_errno;
	}
	return vh;
fail_errno:
	pr_err("vhost-net: eventfd: %s", strerror(errno));
fail:
	vhost_net_close(vh);
	return NULL;
}

u64 vhost_net_features(const struct vhost_net *vh)
{
	return vh->features;
}

static void *call_thread(void *arg)
{
	struct vhost_net *vh = arg;
	struct pollfd pfd[VHOST_QUEUES + 1];
	u64 v;

	pthread_setname_np(pthread_self(), "vhost-call");
	for (int q = 0; q < VHOST_QUEUES; q++)
		pfd[q] = (struct pollfd){ .fd = vh->call_fd[q], .events = POLLIN };
	pfd[VHOST_QUEUES] = (struct pollfd){ .fd = vh->stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, VHOST_QUEUES + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("vhost-net: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[VHOST_QUEUES].revents)
			return NULL;
		for (int q = 0; q < VHOST_QUEUES; q++)
			if ((pfd[q].revents & POLLIN) && read(vh->call_fd[q], &v, sizeof(v)) > 0)
				virtio_signal_queue(vh->vdev, &vh->vdev->vqs[q]);
	}
}

static int set_mem_table(struct vhost_net *vh, const struct guest_mem *mem)
{
	struct vhost_memory *m;
	int ret;

	m = calloc(1, sizeof(*m) + mem->nr_regions * sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = mem->nr_regions;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		m->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (u64)(uintptr_t)mem->regions[i].hva,
		};
	}
	ret = vhost_ioctl(vh, VHOST_SET_MEM_TABLE, m, "VHOST_SET_MEM_TABLE");
	free(m);
	return ret;
}

static int set_ring(struct vhost_net *vh, struct virt_queue *vq, unsigned int q)
{
	struct vhost_vring_state num = { .index = q, .num = vq->size };
	struct vhost_vring_state base = { .index = q, .num = vq->last_avail_idx };
	struct vhost_vring_addr addr = {
		.index = q,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	struct vhost_vring_file kick = { .index = q, .fd = vh->kick_fd[q] };
	struct vhost_vring_file call = { .index = q, .fd = vh->call_fd[q] };

	if (!__atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE)) {
		pr_err("vhost-net: the driver did not set up queue %u", q);
		return -EINVAL;
	}
	if (vhost_ioctl(vh, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM") ||
	    vhost_ioctl(vh, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE") ||
	    vhost_ioctl(vh, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR") ||
	    vhost_ioctl(vh, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK") ||
	    vhost_ioctl(vh, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL"))
		return -EIO;
	return 0;
}

static int set_backend(struct vhost_net *vh, int tap_fd)
{
	for (unsigned int q = 0; q < VHOST_QUEUES; q++) {
		struct vhost_vring_file b = { .index = q, .fd = tap_fd };

		if (vhost_ioctl(vh, VHOST_NET_SET_BACKEND, &b, "VHOST_NET_SET_BACKEND"))
			return -EIO;
	}
	return 0;
}

int vhost_net_start(struct vhost_net *vh, struct virtio_device *vdev, u64 features,
		    int tap_fd)
{
	u64 f = features & vh->features;
	int ret;

	vh->vdev = vdev;
	ret = vhost_ioctl(vh, VHOST_SET_FEATURES, &f, "VHOST_SET_FEATURES");
	if (!ret)
		ret = set_mem_table(vh, vdev->mem);
	for (unsigned int q = 0; q < VHOST_QUEUES && !ret; q++)
		ret = set_ring(vh, &vdev->vqs[q], q);
	if (ret)
		return ret;
	ret = -pthread_create(&vh->call_thread, NULL, call_thread, vh);
	if (ret) {
		pr_err("vhost-net: cannot start the interrupt thread: %s", strerror(-ret));
		return ret;
	}
	vh->running = true;
	ret = set_backend(vh, tap_fd);
	if (ret) {
		vhost_net_stop(vh);
		return ret;
	}
	/* Buffers the driver posted before DRIVER_OK. */
	for (unsigned int q = 0; q < VHOST_QUEUES; q++)
		vhost_net_kick(vh, q);
	return 0;
}

void vhost_net_stop(struct vhost_net *vh)
{
	u64 one = 1, junk;

	if (!vh->running)
		return;
	/* Detaching the tap stops and flushes the kernel's work on both rings. */
	set_backend(vh, -1);
	for (unsigned int q = 0; q < VHOST_QUEUES; q++) {
		struct vhost_vring_state base = { .index = q };

		vhost_ioctl(vh, VHOST_GET_VRING_BASE, &base, "VHOST_GET_VRING_BASE");
	}
	if (write(vh->stop_fd, &one, sizeof(one)) < 0)
		pr_err("vhost-net: cannot stop the interrupt thread: %s", strerror(errno));
	pthread_join(vh->call_thread, NULL);
	if (read(vh->stop_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		pr_debug("vhost-net: stop read: %s", strerror(errno));
	vh->running = false;
}

void vhost_net_kick(struct vhost_net *vh, unsigned int index)
{
	u64 one = 1;

	if (index < VHOST_QUEUES && write(vh->kick_fd[index], &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		pr_debug("vhost-net: kick: %s", strerror(errno));
}

void vhost_net_close(struct vhost_net *vh)
{
	if (!vh)
		return;
	vhost_net_stop(vh);
	for (int q = 0; q < VHOST_QUEUES; q++) {
		if (vh->kick_fd[q] >= 0)
			close(vh->kick_fd[q]);
		if (vh->call_fd[q] >= 0)
			close(vh->call_fd[q]);
	}
	if (vh->stop_fd >= 0)
		close(vh->stop_fd);
	if (vh->fd >= 0)
		close(vh->fd);
	free(vh);
}
