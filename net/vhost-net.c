/*
 * vhost-net: the kernel's in-kernel virtio-net data path (see
 * include/lkvm/net.h).  The shared vhost set-up (memory table, rings,
 * kick and call wiring: virtio/vhost.c) plus what is net's own: the tap
 * attached as each ring's backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/vhost.h>
#include "lkvm/log.h"
#include "lkvm/net.h"
#include "lkvm/vhost.h"

#define VHOST_QUEUES 2	/* rx, tx */

struct vhost_net {
	struct vhost_dev dev;
};

struct vhost_net *vhost_net_open(void)
{
	struct vhost_net *vh = calloc(1, sizeof(*vh));
	int fd;

	if (!vh)
		return NULL;
	fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pr_err("vhost=1: cannot open /dev/vhost-net: %s%s", strerror(errno),
		       errno == ENOENT ? " (load the vhost_net module, or drop vhost=1)" : "");
		free(vh);
		return NULL;
	}
	if (vhost_dev_init(&vh->dev, fd, "vhost-net", "vhost-call", VHOST_QUEUES)) {
		vhost_net_close(vh);
		return NULL;
	}
	return vh;
}

u64 vhost_net_features(const struct vhost_net *vh)
{
	return vh->dev.features;
}

static int set_backend(struct vhost_net *vh, int tap_fd)
{
	for (unsigned int q = 0; q < VHOST_QUEUES; q++) {
		struct vhost_vring_file b = { .index = q, .fd = tap_fd };

		if (vhost_dev_ioctl(&vh->dev, VHOST_NET_SET_BACKEND, &b, "VHOST_NET_SET_BACKEND"))
			return -EIO;
	}
	return 0;
}

int vhost_net_start(struct vhost_net *vh, struct virtio_device *vdev, u64 features,
		    int tap_fd)
{
	int ret = vhost_dev_start(&vh->dev, vdev, features);

	if (ret)
		return ret;
	ret = set_backend(vh, tap_fd);
	if (ret) {
		vhost_net_stop(vh);
		return ret;
	}
	vhost_dev_kick_all(&vh->dev);
	return 0;
}

void vhost_net_stop(struct vhost_net *vh)
{
	if (!vh->dev.running)
		return;
	/* Detaching the tap stops and flushes the kernel's work on both rings. */
	set_backend(vh, -1);
	for (unsigned int q = 0; q < VHOST_QUEUES; q++) {
		struct vhost_vring_state base = { .index = q };

		vhost_dev_ioctl(&vh->dev, VHOST_GET_VRING_BASE, &base, "VHOST_GET_VRING_BASE");
	}
	vhost_dev_stop(&vh->dev);
}

void vhost_net_kick(struct vhost_net *vh, unsigned int index)
{
	vhost_dev_kick(&vh->dev, index);
}

void vhost_net_close(struct vhost_net *vh)
{
	if (!vh)
		return;
	vhost_net_stop(vh);
	vhost_dev_exit(&vh->dev);
	free(vh);
}
