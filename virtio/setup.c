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
	const char *t = kvm->cfg->transport;

	if (!strcmp(t, "pci"))
		return virtio_pci_attach(kvm, vdev, false);
	if (!strcmp(t, "pci-legacy"))
		return virtio_pci_attach(kvm, vdev, true);
	if (!strcmp(t, "mmio"))
		return virtio_mmio_attach(kvm, vdev, false);
	if (!strcmp(t, "mmio-legacy"))
		return virtio_mmio_attach(kvm, vdev, true);
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
		    kvm->cfg->transport, strerror(-ret));
}

/* -n options in order (NIC i gets default MAC i); none: one user-mode NIC. */
static void add_nics(struct kvm *kvm)
{
	unsigned int n = kvm->cfg->nr_nics ? kvm->cfg->nr_nics : 1;

	for (unsigned int i = 0; i < n; i++) {
		const char *spec = kvm->cfg->nr_nics ? kvm->cfg->net_specs[i] : "mode=user";
		struct virtio_device *vdev;
		struct net_params p;
		const char *why;
		int ret;

		if (net_parse_spec(spec, &p, &why))
			die("bad --network '%s': %s", spec, why);
		if (p.mode == NET_MODE_NONE)
			continue;
		ret = virtio_net_init(kvm, &p, i, &vdev);
		if (ret < 0)
			die("cannot create virtio-net %u: %s", i, strerror(-ret));
		ret = virtio_attach(kvm, vdev);
		if (ret < 0)
			die("cannot attach virtio-net %u: %s", i, strerror(-ret));
	}
}

static void add_9p(struct kvm *kvm, const char *spec)
{
	struct p9_params p;
	struct virtio_device *vdev;
	const char *why;

	if (virtio_9p_parse_spec(spec, &p, &why))
		die("bad --9p %s: %s", spec, why);
	if (virtio_9p_init(kvm, &p, &vdev) < 0)
		die("cannot share %s over 9p", p.dir);
	if (virtio_attach(kvm, vdev) < 0)
		die("cannot attach virtio-9p");
}

void virtio_devices_init(struct kvm *kvm)
{
	if (!strcmp(kvm->cfg->console, "virtio"))
		add_device(kvm, "virtio-console", virtio_console_init);
	if (kvm->cfg->rng)
		add_device(kvm, "virtio-rng", virtio_rng_init);
	if (kvm->cfg->balloon)
		add_device(kvm, "virtio-balloon", virtio_balloon_init);
	if (kvm->cfg->vsock_cid)
		add_device(kvm, "virtio-vsock", vsock_init);
	for (unsigned int i = 0; i < kvm->cfg->nr_disks; i++) {
		struct virtio_device *vdev;

		if (virtio_blk_init(kvm, kvm->cfg->disk_specs[i], i, &vdev) < 0)
			die("cannot use disk %s", kvm->cfg->disk_specs[i]);
		if (virtio_attach(kvm, vdev) < 0)
			die("cannot attach virtio-blk");
	}
	for (unsigned int i = 0; i < kvm->cfg->nr_p9; i++)
		add_9p(kvm, kvm->cfg->p9_specs[i]);
	add_nics(kvm);
}

const char *virtio_console_name(struct kvm *kvm)
{
	return strcmp(kvm->cfg->console, "virtio") ? NULL : "hvc0";
}
