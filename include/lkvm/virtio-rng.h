#ifndef LKVM_VIRTIO_RNG_H
#define LKVM_VIRTIO_RNG_H
/*
 * virtio-rng / entropy device (device id 4): one requestq whose
 * device-writable buffers are filled from getrandom().
 */
struct kvm;
struct virtio_device;

/* Bytes of entropy at most per request. */
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024)

/* Create the device (not attached to a transport yet); 0 and *out, or -errno. */
int virtio_rng_init(struct kvm *kvm, struct virtio_device **out);
/* Stop and free a device from virtio_rng_init (after the VM stopped). */
void virtio_rng_exit(struct virtio_device *vdev);

#endif
