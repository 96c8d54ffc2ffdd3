#ifndef LKVM_VIRTIO_VSOCK_H
#define LKVM_VIRTIO_VSOCK_H
/*
 * virtio socket device (device id 19, Virtio 1.2 section 5.10) backed by
 * the host kernel's vhost-vsock: the guest (CID given with --vsock) and
 * host programs talk over AF_VSOCK; the host is CID 2.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

struct kvm;
struct virtio_device;

#define VSOCK_DEVICE_PATH "/dev/vhost-vsock"

/* CIDs 0-2 are reserved (hypervisor, local, host), and so is U32_MAX (any). */
static inline bool vsock_cid_valid(u64 cid)
{
	return cid >= 3 && cid < 0xffffffffULL;
}

/*
 * Open /dev/vhost-vsock and claim guest_cid; 0 and *out, or -errno after
 * printing why (module not loaded, CID in use...).
 */
int virtio_vsock_init(struct kvm *kvm, u64 guest_cid, struct virtio_device **out);
/* Stop and free it (after the VM stopped). */
void virtio_vsock_exit(struct virtio_device *vdev);

#endif
