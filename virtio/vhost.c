/*
 * The vhost set-up shared by the devices with a kernel data path (see
 * include/lkvm/vhost.h).  It reads the queues' ring addresses, which is
 * why it lives in virtio/ beside the virtqueue code.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include "lkvm/log.h"
#include "lkvm/sandbox.h"
#include "lkvm/vhost.h"
#include "lkvm/virtio.h"

/* Totals over every vhost device, for `lkvm stat` (vhost_irq_stats). */
static struct vhost_irq_stats stats;	/* atomics */

void vhost_irq_stats(struct vhost_irq_stats *out)
{
	out->thread_signals = __atomic_load_n(&stats.thread_signals, __ATOMIC_RELAXED);
	out->lkvm_kicks = __atomic_load_n(&stats.lkvm_kicks, __ATOMIC_RELAXED);
	out->direct_rings = __atomic_load_n(&stats.direct_rings, __ATOMIC_RELAXED);
	out->thread_rings = __atomic_load_n(&stats.thread_rings, __ATOMIC_RELAXED);
}

int vhost_dev_ioctl(struct vhost_dev *vh, unsigned long req, const void *arg,
		    const char *what)
{
	int err;

	if (ioctl(vh->fd, req, arg) == 0)
		return 0;
	err = -errno;
	pr_err_ratelimited("%s: %s failed: %s", vh->name, what, strerror(errno));
	return err;
}

static void eventfd_signal(const struct vhost_dev *vh, int fd)
{
	u64 one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("%s: eventfd write: %s", vh->name, strerror(errno));
}

static int new_eventfd(const struct vhost_dev *vh, int *fd)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd >= 0)
		return 0;
	pr_err("%s: eventfd: %s", vh->name, strerror(errno));
	return -1;
}

int vhost_dev_init(struct vhost_dev *vh, int fd, const char *name,
		   const char *thread_name, unsigned int nr_rings)
{
	*vh = (struct vhost_dev){ .fd = fd, .name = name, .thread_name = thread_name,
				  .nr_rings = MIN(nr_rings, (unsigned int)VHOST_MAX_RINGS),
				  .stop_fd = -1 };
	/* LKVM_VHOST_IRQFD=0: every interrupt through the call thread (comparisons). */
	const char *env = getenv("LKVM_VHOST_IRQFD");

	vh->no_irqfd = env && !strcmp(env, "0");
	for (unsigned int r = 0; r < VHOST_MAX_RINGS; r++)
		vh->rings[r].kick_fd = vh->rings[r].call_fd = vh->rings[r].kick_out = -1;
	if (vhost_dev_ioctl(vh, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER") ||
	    vhost_dev_ioctl(vh, VHOST_GET_FEATURES, &vh->features, "VHOST_GET_FEATURES"))
		return -EIO;
	/*
	 * The rings are handed over with VHOST_SET_VRING_ADDR/BASE in their
	 * split layout only, whatever the kernel reports: never offer packed.
	 */
	vh->features &= ~(1ULL << VIRTIO_F_RING_PACKED);
	if (new_eventfd(vh, &vh->stop_fd))
		return -errno;
	for (unsigned int r = 0; r < vh->nr_rings; r++)
		if (new_eventfd(vh, &vh->rings[r].kick_fd) ||
		    new_eventfd(vh, &vh->rings[r].call_fd))
			return -errno;
	return 0;
}

/* ---- interrupts from vhost ---- */

static void *call_thread(void *arg)
{
	struct vhost_dev *vh = arg;
	struct pollfd pfd[VHOST_MAX_RINGS + 1];
	unsigned int n = vh->nr_rings;
	u64 count;

	pthread_setname_np(pthread_self(), vh->thread_name);
	/* A direct ring's fd is -1 here: poll() ignores it. */
	for (unsigned int r = 0; r < n; r++)
		pfd[r] = (struct pollfd){ .fd = vh->rings[r].direct ? -1 : vh->rings[r].call_fd,
					  .events = POLLIN };
	pfd[n] = (struct pollfd){ .fd = vh->stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: poll: %s", vh->name, strerror(errno));
			return NULL;
		}
		if (pfd[n].revents)
			return NULL;
		for (unsigned int r = 0; r < n; r++)
			if ((pfd[r].revents & POLLIN) &&
			    read(vh->rings[r].call_fd, &count, sizeof(count)) == sizeof(count)) {
				__atomic_add_fetch(&stats.thread_signals, 1, __ATOMIC_RELAXED);
				virtio_signal_queue(vh->vdev, &vh->vdev->vqs[r]);
			}
	}
}

/* ---- starting and stopping ---- */

static int set_mem_table(struct vhost_dev *vh, const struct guest_mem *mem)
{
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
			.userspace_addr = (u64)(uintptr_t)mem->regions[i].hva,
		};
	ret = vhost_dev_ioctl(vh, VHOST_SET_MEM_TABLE, table, "VHOST_SET_MEM_TABLE");
	free(table);
	return ret;
}

static int set_ring(struct vhost_dev *vh, struct virt_queue *vq, unsigned int r)
{
	struct vhost_vring_state num = { .index = r, .num = vq->size };
	struct vhost_vring_state base = { .index = r, .num = vq->last_avail_idx };
	struct vhost_vring_addr addr = {
		.index = r,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	int kickfd = vh->no_irqfd ? -1 : virtio_queue_kickfd(vh->vdev, vq);
	int irqfd = vh->no_irqfd ? -1 : virtio_queue_irqfd(vh->vdev, vq);
	struct vhost_vring_file kick = { .index = r,
					 .fd = kickfd >= 0 ? kickfd : vh->rings[r].kick_fd };
	struct vhost_vring_file call = { .index = r, .fd = irqfd >= 0 ? irqfd : vh->rings[r].call_fd };

	if (!__atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE)) {
		pr_err_ratelimited("%s: the driver did not set up queue %u", vh->name, r);
		return -EINVAL;
	}
	if (vhost_dev_ioctl(vh, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM") ||
	    vhost_dev_ioctl(vh, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE") ||
	    vhost_dev_ioctl(vh, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR") ||
	    vhost_dev_ioctl(vh, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK") ||
	    vhost_dev_ioctl(vh, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL"))
		return -EIO;
	vh->rings[r].direct = irqfd >= 0;
	vh->rings[r].kick_out = kick.fd;
	return 0;
}

/* Interrupts of the rings without an irqfd pass through the call thread. */
static unsigned int count_direct(const struct vhost_dev *vh)
{
	unsigned int n = 0;

	for (unsigned int r = 0; r < vh->nr_rings; r++)
		n += vh->rings[r].direct;
	return n;
}

static void count_rings(const struct vhost_dev *vh, int sign)
{
	unsigned int direct = count_direct(vh);

	__atomic_add_fetch(&stats.direct_rings, sign * (int)direct, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stats.thread_rings, sign * (int)(vh->nr_rings - direct),
			   __ATOMIC_RELAXED);
}

int vhost_dev_start(struct vhost_dev *vh, struct virtio_device *vdev, u64 features)
{
	u64 f = features & vh->features;
	int ret;

	vh->vdev = vdev;
	ret = vhost_dev_ioctl(vh, VHOST_SET_FEATURES, &f, "VHOST_SET_FEATURES");
	if (!ret)
		ret = set_mem_table(vh, vdev->mem);
	for (unsigned int r = 0; r < vh->nr_rings && !ret; r++)
		ret = set_ring(vh, &vdev->vqs[r], r);
	if (ret)
		return ret;
	vh->thread_started = count_direct(vh) < vh->nr_rings;
	if (vh->thread_started)
		ret = -sandbox_thread_create(&vh->call_thread, NULL, SANDBOX_VHOST_CALL,
					     call_thread, vh);
	if (ret) {
		vh->thread_started = false;
		pr_err_ratelimited("%s: cannot start the interrupt thread: %s", vh->name, strerror(-ret));
		return ret;
	}
	count_rings(vh, 1);
	pr_debug("%s: %u of %u rings interrupt the guest through an irqfd", vh->name,
		 count_direct(vh), vh->nr_rings);
	vh->running = true;
	return 0;
}

void vhost_dev_stop(struct vhost_dev *vh)
{
	u64 junk;

	if (!vh->running)
		return;
	count_rings(vh, -1);
	if (vh->thread_started) {
		eventfd_signal(vh, vh->stop_fd);
		pthread_join(vh->call_thread, NULL);
		if (read(vh->stop_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
			pr_debug("%s: stop read: %s", vh->name, strerror(errno));
		vh->thread_started = false;
	}
	for (unsigned int r = 0; r < vh->nr_rings; r++)
		vh->rings[r].direct = false;
	vh->running = false;
}

/* Kicks that reached lkvm: all of them without the transport's kick fd. */
void vhost_dev_kick(struct vhost_dev *vh, unsigned int r)
{
	if (r >= vh->nr_rings)
		return;
	__atomic_add_fetch(&stats.lkvm_kicks, 1, __ATOMIC_RELAXED);
	eventfd_signal(vh, vh->rings[r].kick_out);
}

void vhost_dev_kick_all(struct vhost_dev *vh)
{
	for (unsigned int r = 0; r < vh->nr_rings; r++)
		vhost_dev_kick(vh, r);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vhost_dev_exit(struct vhost_dev *vh)
{
	if (!vh->name)
		return;	/* never initialised */
	vhost_dev_stop(vh);
	for (unsigned int r = 0; r < VHOST_MAX_RINGS; r++) {
		close_fd(&vh->rings[r].kick_fd);
		close_fd(&vh->rings[r].call_fd);
	}
	close_fd(&vh->stop_fd);
	close_fd(&vh->fd);
}
