#ifndef LKVM_VHOST_H
#define LKVM_VHOST_H
/*
 * A kernel (vhost) data path for some of a virtio device's rings: the
 * set-up shared by vhost-net (net/vhost-net.c) and vhost-vsock
 * (virtio/vsock.c).  The device opens its /dev/vhost-* node and owns the
 * device-specific part (the tap backend, SET_RUNNING); this helper does
 * the rest: owner and features, the guest memory table, each ring's size,
 * base and addresses, and the kick and call wiring.
 *
 * Kicks and calls.  Each vhost ring r has a kick fd (written to pass a
 * guest notification on) and a call fd (vhost writes it when the guest
 * wants an interrupt; vhost has already applied EVENT_IDX/NO_INTERRUPT).
 * Kicks go straight from KVM to vhost when the transport has a kick fd
 * for the queue (virtio_queue_kickfd(): virtio-pci's notify addresses);
 * otherwise, and for notifications that still exit to lkvm, the device's
 * queue_notify calls vhost_dev_kick(), which writes the ring's kick fd.
 * Calls go straight to the guest when the transport
 * has an irqfd for the queue (virtio_queue_irqfd(): an MSI-X vector;
 * masking and vector moves are the transport's business); otherwise (INTx,
 * virtio-mmio, which need lkvm to set the ISR first) the ring's call fd is
 * ours and one call thread turns calls into virtio_signal_queue().  The
 * thread exists only while some ring needs it.  LKVM_VHOST_IRQFD=0 in the
 * environment sends every ring through the thread (for comparisons).
 *
 * Threading: every function runs on the control path (device init,
 * activate, reset, exit), which the virtio core serialises.  The call
 * thread exists from vhost_dev_start() until vhost_dev_stop() returns.
 */
#include <stdbool.h>
#include <pthread.h>
#include "lkvm/compiler.h"

struct virtio_device;

#define VHOST_MAX_RINGS 2

struct vhost_ring {
	int kick_fd;		/* the guest's notifications, towards vhost */
	int call_fd;		/* vhost's interrupt requests, for the call thread */
	int kick_out;		/* the ring's kick fd in vhost: kick_fd or the transport's */
	bool direct;		/* running with the transport's irqfd instead */
};

/* Totals over all vhost devices (`lkvm stat`). */
struct vhost_irq_stats {
	u64 thread_signals;	/* interrupts the call threads passed on */
	u64 lkvm_kicks;		/* guest notifications lkvm passed on */
	unsigned int direct_rings;	/* running rings on an irqfd */
	unsigned int thread_rings;	/* running rings on the call thread */
};
void vhost_irq_stats(struct vhost_irq_stats *out);

struct vhost_dev {
	int fd;			/* /dev/vhost-*, owned */
	const char *name;	/* log prefix: "vhost-net", "virtio-vsock" */
	const char *thread_name;
	unsigned int nr_rings;	/* vhost takes queues [0, nr_rings) */
	u64 features;		/* VHOST_GET_FEATURES */
	struct vhost_ring rings[VHOST_MAX_RINGS];
	int stop_fd;		/* ends the call thread */
	pthread_t call_thread;
	bool thread_started;
	bool running;		/* vhost_dev_start() succeeded */
	bool no_irqfd;		/* LKVM_VHOST_IRQFD=0 */
	struct virtio_device *vdev;
};

/*
 * Take the open fd, become its owner, read its features, make the
 * eventfds.  0, or -errno after printing why; call vhost_dev_exit() in
 * either case.
 */
int vhost_dev_init(struct vhost_dev *vh, int fd, const char *name,
		   const char *thread_name, unsigned int nr_rings);
/* ioctl on the vhost fd; 0 or -errno after one line naming what failed. */
int vhost_dev_ioctl(struct vhost_dev *vh, unsigned long req, const void *arg,
		    const char *what);
/*
 * At DRIVER_OK: SET_FEATURES (features & vh->features), the memory table,
 * every ring of vdev's queues [0, nr_rings) (which must be ready), then
 * the call thread.  0 or -errno; on failure nothing is left running.
 */
int vhost_dev_start(struct vhost_dev *vh, struct virtio_device *vdev, u64 features);
/* Stop the call thread; the device has stopped vhost's work first. */
void vhost_dev_stop(struct vhost_dev *vh);
/* Pass a guest notification of ring r on. */
void vhost_dev_kick(struct vhost_dev *vh, unsigned int r);
/* Kick every ring: buffers posted before DRIVER_OK had nobody to kick. */
void vhost_dev_kick_all(struct vhost_dev *vh);
/* Stop and close everything: after init, failed or not; a zeroed one is left alone. */
void vhost_dev_exit(struct vhost_dev *vh);

#endif
