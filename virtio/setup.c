/* Which virtio devices a VM gets, and on which transport. */
#include <errno.h>
#include <string.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio-9p.h"
#include "lkvm/virtio-balloon.h"
#include "lkvm/virtio-blk.h"
#include "lkvm/virtio-console.h"
#include "lkvm/net.h"
#include "lkvm/virtio-mmio.h"
#include "lkvm/virtio-net.h"
#include "lkvm/virtio-pci.h"
#include "lkvm/virtio-rng.h"
#include "lkvm/virtio-setup.h"
#include "lkvm/virtio-vsock.h"

int virtio_attach(struct kvm *kvm, struct virtio_device *vdev)
{
	if (kvm->cfg->split_rings)
		virtio_device_no_packed(vdev);
	switch (kvm->cfg->transport) {
	case LKVM_TRANSPORT_PCI:
		return virtio_pci_attach(kvm, vdev, false);
	case LKVM_TRANSPORT_PCI_LEGACY:
		return virtio_pci_attach(kvm, vdev, true);
	case LKVM_TRANSPORT_MMIO:
		return virtio_mmio_attach(kvm, vdev, false);
	case LKVM_TRANSPORT_MMIO_LEGACY:
		return virtio_mmio_attach(kvm, vdev, true);
	}
	return -EINVAL;
}

static int vsock_init(struct kvm *kvm, struct virtio_device **out)
{
	return virtio_vsock_init(kvm, kvm->cfg->vsock_cid, out);
}

static void add_device(struct kvm *kvm, const char *what,
		       int (*init)(struct kvm *, struct virtio_device **))
{
	struct virtio_device *vdev;
	int ret = init(kvm, &vdev);

	if (ret < 0)
		die("cannot create %s: %s", what, strerror(-ret));
	ret = virtio_attach(kvm, vdev);
	if (ret < 0)
		die("cannot attach %s to the %s transport: %s", what,
		    lkvm_transport_name(kvm->cfg->transport), strerror(-ret));
}

/* NICs in -n order (NIC i gets default MAC i); mode=none makes none. */
static void add_nics(struct kvm *kvm)
{
	for (unsigned int i = 0; i < kvm->cfg->nr_nics; i++) {
		const struct net_params *p = &kvm->cfg->nics[i];
		struct virtio_device *vdev;
		int ret;

		if (p->mode == NET_MODE_NONE)
			continue;
		ret = virtio_net_init(kvm, p, i, &vdev);
		if (ret < 0)
			die("cannot create virtio-net %u: %s", i, strerror(-ret));
		ret = virtio_attach(kvm, vdev);
		if (ret < 0)
			die("cannot attach virtio-net %u: %s", i, strerror(-ret));
	}
}

static void add_9p(struct kvm *kvm, const struct p9_params *p)
{
	struct virtio_device *vdev;

	if (virtio_9p_init(kvm, p, &vdev) < 0)
		die("cannot share %s over 9p", p->dir);
	if (virtio_attach(kvm, vdev) < 0)
		die("cannot attach virtio-9p");
}

void virtio_devices_init(struct kvm *kvm)
{
	if (kvm->cfg->console == LKVM_CONSOLE_VIRTIO)
		add_device(kvm, "virtio-console", virtio_console_init);
	if (kvm->cfg->rng)
		add_device(kvm, "virtio-rng", virtio_rng_init);
	if (kvm->cfg->balloon)
		add_device(kvm, "virtio-balloon", virtio_balloon_init);
	if (kvm->cfg->vsock_cid)
		add_device(kvm, "virtio-vsock", vsock_init);
	for (unsigned int i = 0; i < kvm->cfg->nr_disks; i++) {
		const struct disk_params *p = &kvm->cfg->disks[i];
		struct virtio_device *vdev;

		if (virtio_blk_init(kvm, p, i, &vdev) < 0)
			die("cannot use disk %s", p->path);
		if (virtio_attach(kvm, vdev) < 0)
			die("cannot attach virtio-blk");
	}
	for (unsigned int i = 0; i < kvm->cfg->nr_p9; i++)
		add_9p(kvm, &kvm->cfg->p9[i]);
	add_nics(kvm);
}

const char *virtio_console_name(struct kvm *kvm)
{
	return kvm->cfg->console == LKVM_CONSOLE_VIRTIO ? "hvc0" : NULL;
}
