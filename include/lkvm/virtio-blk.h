#ifndef LKVM_VIRTIO_BLK_H
#define LKVM_VIRTIO_BLK_H
/*
 * virtio block device (device id 2) on a disk image (lkvm/disk.h): one
 * request queue per vCPU (at most VIRTIO_BLK_MAX_QUEUES), each served by
 * its own I/O thread.
 */
struct disk_params;
struct kvm;
struct virtio_device;

#define VIRTIO_BLK_MAX_QUEUES 16
#define VIRTIO_BLK_QUEUE_SIZE 256

/*
 * Open the image of a parsed -d spec (disk_parse_spec) and create its
 * device (not attached to a transport yet).  index is the position of
 * the -d option: 0 → serial "lkvm-vda", 1 → "lkvm-vdb"...  0 and *out, or
 * -errno after printing a message that names the problem and the path
 * (missing file, permission, locked by another process).
 */
int virtio_blk_init(struct kvm *kvm, const struct disk_params *p, unsigned int index,
		    struct virtio_device **out);
/* Stop the device, close its image and free it (after the VM stopped). */
void virtio_blk_exit(struct virtio_device *vdev);

#endif
