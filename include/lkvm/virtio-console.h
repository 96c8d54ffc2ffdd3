#ifndef LKVM_VIRTIO_CONSOLE_H
#define LKVM_VIRTIO_CONSOLE_H
/*
 * virtio-console (device id 3) with a single port: receiveq 0 carries the
 * host terminal's input to the guest, transmitq 1 the guest's output to
 * console_write().  Offers VIRTIO_CONSOLE_F_EMERG_WRITE (one byte through
 * config space) and nothing else.
 */
struct kvm;
struct virtio_device;

/*
 * Create the device (not attached to a transport yet) and make it the
 * terminal's input device.  Returns 0 and *out, or -errno.
 */
int virtio_console_init(struct kvm *kvm, struct virtio_device **out);
/* Stop and free a device from virtio_console_init (after the VM stopped). */
void virtio_console_exit(struct virtio_device *vdev);

#endif
