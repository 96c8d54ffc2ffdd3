/*
 * virtio entropy device (spec 5.4): every request is a chain of
 * device-writable buffers that we fill from the host's getrandom().
 *
 * Requests are served in queue_notify itself, under the device lock:
 * getrandom() does not block once the host pool is initialised and a
 * request is bounded, so no thread of its own is needed.  The lock is
 * still required: without ioeventfds, kicks come from any vCPU thread,
 * and reset must wait for a drain in progress.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-rng.h"

#define RNG_QUEUE_SIZE 64

struct virtio_rng {
	struct virtio_device vdev;
	pthread_mutex_t lock;	/* the request queue and active */
	bool active;
	struct virtq_elem *elem;
};

static struct virtio_rng *to_rng(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_rng, vdev);
}

/* Fill [buf, buf+len) completely; false on an error other than EINTR. */
static bool fill_random(u8 *buf, size_t len)
{
	while (len) {
		ssize_t n = getrandom(buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
}

/* Bytes written into the request's writable buffers, or -1 on failure. */
static ssize_t fill_request(const struct virtq_elem *e)
{
	size_t done = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num; i++) {
		size_t c = MIN(e->iov[i].iov_len, VIRTIO_RNG_MAX_REQUEST - done);

		if (!c)
			break;
		if (!fill_random(e->iov[i].iov_base, c))
			return -1;
		done += c;
	}
	return (ssize_t)done;
}

/*
 * A chain without writable buffers asks for nothing: it goes back with
 * length 0 rather than breaking the device, since the spec only forbids
 * us to write to readable buffers, and we write none.
 */
static void rng_drain(struct virtio_rng *rng, struct virt_queue *vq)
{
	do {
		virtq_disable_notify(vq);
		while (virtq_pop(vq, rng->elem)) {
			ssize_t n = fill_request(rng->elem);

			if (n < 0) {
				virtio_device_mark_broken(&rng->vdev, "getrandom failed (errno %d)",
							  errno);
				return;
			}
			virtq_push(vq, rng->elem->head, (u32)n);
		}
		virtq_signal_if_needed(vq);
	} while (virtq_enable_notify_and_check(vq));
}

static void rng_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_rng *rng = to_rng(vdev);

	pthread_mutex_lock(&rng->lock);
	if (rng->active)
		rng_drain(rng, vq);
	pthread_mutex_unlock(&rng->lock);
}

static int rng_activate(struct virtio_device *vdev)
{
	struct virtio_rng *rng = to_rng(vdev);

	pthread_mutex_lock(&rng->lock);
	rng->active = true;
	/* Requests queued before DRIVER_OK got no kick we would act on. */
	rng_drain(rng, &vdev->vqs[0]);
	pthread_mutex_unlock(&rng->lock);
	return 0;
}

static void rng_reset(struct virtio_device *vdev)
{
	struct virtio_rng *rng = to_rng(vdev);

	pthread_mutex_lock(&rng->lock);
	rng->active = false;
	pthread_mutex_unlock(&rng->lock);
}

static const struct virtio_device_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.max_queue_size = RNG_QUEUE_SIZE,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.activate = rng_activate,
};

static void rng_free(struct virtio_rng *rng)
{
	virtq_elem_free(rng->elem);
	pthread_mutex_destroy(&rng->lock);
	free(rng);
}

int virtio_rng_init(struct kvm *kvm, struct virtio_device **out)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	if (!rng)
		return -ENOMEM;
	pthread_mutex_init(&rng->lock, NULL);
	ret = virtio_device_init(&rng->vdev, &rng_ops, &kvm->mem, NULL, 0);
	if (ret) {
		rng_free(rng);
		return ret;
	}
	rng->elem = virtq_elem_alloc(&rng->vdev.vqs[0]);
	if (!rng->elem) {
		virtio_device_exit(&rng->vdev);
		rng_free(rng);
		return -ENOMEM;
	}
	*out = &rng->vdev;
	return 0;
}

void virtio_rng_exit(struct virtio_device *vdev)
{
	struct virtio_rng *rng = to_rng(vdev);

	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	rng_free(rng);
}
