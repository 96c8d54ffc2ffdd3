/*
 * virtio-console with one port (spec 5.3).
 *
 * Input (receiveq): the terminal thread pushes stdin bytes straight into
 * the guest's receive buffers under rx_lock; when the guest has none left
 * it takes fewer bytes, asks for a kick, and the kick wakes the terminal
 * (term_input_ready) to retry.
 *
 * Output (transmitq): a device thread, started at DRIVER_OK and joined at
 * reset, drains the queue into console_write().  Not done in queue_notify
 * itself because that may run on the shared ioeventfd thread: a blocked
 * stdout (a full pipe) would then stall every other device's kicks.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/term.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-worker.h"
#include "lkvm/virtio-console.h"
#include "lkvm/sandbox.h"

#define CONSOLE_QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1

struct virtio_console {
	struct virtio_device vdev;
	struct virtio_console_config config;

	pthread_mutex_t rx_lock;	/* the receiveq and rx_active */
	bool rx_active;
	struct virtq_elem *rx_elem;

	struct virtq_worker tx;
	struct virtq_elem *tx_elem;
};

static struct virtio_console *to_console(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_console, vdev);
}

/* ---- receive: host terminal -> guest ---- */

static size_t copy_to_elem(const struct virtq_elem *e, const u8 *buf, size_t n)
{
	size_t done = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num && done < n; i++) {
		size_t c = MIN(e->iov[i].iov_len, n - done);

		memcpy(e->iov[i].iov_base, buf + done, c);
		done += c;
	}
	return done;
}

/* Take the next receive buffer, or arm the kick that says one arrived. */
static bool rx_next(struct virt_queue *vq, struct virtq_elem *elem)
{
	return virtq_pop(vq, elem) || (virtq_enable_notify_and_check(vq) && virtq_pop(vq, elem));
}

static size_t console_push(void *opaque, const u8 *buf, size_t n)
{
	struct virtio_console *con = opaque;
	struct virt_queue *vq = &con->vdev.vqs[RXQ];
	size_t taken = 0;
	bool pushed = false;

	pthread_mutex_lock(&con->rx_lock);
	while (con->rx_active && taken < n && rx_next(vq, con->rx_elem)) {
		size_t c = copy_to_elem(con->rx_elem, buf + taken, n - taken);

		/* A chain without writable room goes back empty. */
		virtq_push(vq, con->rx_elem->head, (u32)c);
		pushed = true;
		taken += c;
	}
	if (pushed)
		virtq_signal_if_needed(vq);
	pthread_mutex_unlock(&con->rx_lock);
	return taken;
}

/* ---- transmit: guest -> host terminal ---- */

static void tx_drain(void *opaque, unsigned int events)
{
	struct virtio_console *con = opaque;
	struct virt_queue *vq = &con->vdev.vqs[TXQ];
	struct virtq_elem *e = con->tx_elem;

	do {
		virtq_disable_notify(vq);
		while (!virtq_worker_stopping(&con->tx) && virtq_pop(vq, e)) {
			for (unsigned int i = 0; i < e->out_num; i++)
				console_write(e->iov[i].iov_base, e->iov[i].iov_len);
			virtq_push(vq, e->head, 0);
		}
		virtq_signal_if_needed(vq);
	} while (!virtq_worker_stopping(&con->tx) && virtq_enable_notify_and_check(vq));
}

static const struct virtq_worker_ops tx_ops = { .work = tx_drain };

/* ---- device ops ---- */

static void console_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	if (vq->index == TXQ)
		virtq_worker_kick(&to_console(vdev)->tx);
	else
		term_input_ready();	/* new receive buffers */
}

static int console_activate(struct virtio_device *vdev)
{
	struct virtio_console *con = to_console(vdev);
	int ret;

	ret = virtq_worker_start(&con->tx);
	if (ret)
		return ret;
	pthread_mutex_lock(&con->rx_lock);
	con->rx_active = true;
	pthread_mutex_unlock(&con->rx_lock);
	return 0;
}

static void console_reset(struct virtio_device *vdev)
{
	struct virtio_console *con = to_console(vdev);

	pthread_mutex_lock(&con->rx_lock);
	con->rx_active = false;
	pthread_mutex_unlock(&con->rx_lock);
	virtq_worker_stop(&con->tx);
}

/*
 * emerg_wr: one character, its low byte.  Spec: writable at any time once
 * offered, before the queues exist and even before negotiation.
 */
static void console_config_write(struct virtio_device *vdev, u32 offset,
				 const void *data, u32 len)
{
	if (offset == offsetof(struct virtio_console_config, emerg_wr))
		console_write(data, 1);
}

static const struct virtio_device_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.max_queue_size = CONSOLE_QUEUE_SIZE,
	.features = 1ULL << VIRTIO_CONSOLE_F_EMERG_WRITE,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
	.activate = console_activate,
	.config_write = console_config_write,
};

static void console_free(struct virtio_console *con)
{
	virtq_elem_free(con->rx_elem);
	virtq_elem_free(con->tx_elem);
	pthread_mutex_destroy(&con->rx_lock);
	virtq_worker_destroy(&con->tx);
	free(con);
}

int virtio_console_init(struct kvm *kvm, struct virtio_device **out)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	struct console_input in;
	int ret;

	if (!con)
		return -ENOMEM;
	pthread_mutex_init(&con->rx_lock, NULL);
	virtq_worker_init(&con->tx, &tx_ops, con, "virtio-con-tx", SANDBOX_CONSOLE_OUT);
	con->config.max_nr_ports = htole32(1);
	ret = virtio_device_init(&con->vdev, &console_ops, &kvm->mem, &con->config,
				 sizeof(con->config));
	if (ret) {
		console_free(con);
		return ret;
	}
	con->rx_elem = virtq_elem_alloc(&con->vdev.vqs[RXQ]);
	con->tx_elem = virtq_elem_alloc(&con->vdev.vqs[TXQ]);
	if (!con->rx_elem || !con->tx_elem) {
		virtio_device_exit(&con->vdev);
		console_free(con);
		return -ENOMEM;
	}
	in = (struct console_input){ .push = console_push, .opaque = con };
	term_set_input(&in);
	*out = &con->vdev;
	return 0;
}

void virtio_console_exit(struct virtio_device *vdev)
{
	struct virtio_console *con = to_console(vdev);
	struct console_input none = { 0 };

	/* After this no terminal push is in flight or will start. */
	term_set_input(&none);
	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	console_free(con);
}
