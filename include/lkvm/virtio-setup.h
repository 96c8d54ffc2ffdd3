#ifndef LKVM_VIRTIO_SETUP_H
#define LKVM_VIRTIO_SETUP_H

struct kvm;
struct virtio_device;

/*
 * Create the virtio devices the options ask for (--console virtio, --rng)
 * and attach each to the transport --virtio-transport names.  Dies with a
 * message if a device cannot be set up.
 */
void virtio_devices_init(struct kvm *kvm);
/* Attach one device to the configured transport; 0 or -errno. */
int virtio_attach(struct kvm *kvm, struct virtio_device *vdev);
/* The guest console device name for the kernel command line. */
const char *virtio_console_name(struct kvm *kvm);

#endif
