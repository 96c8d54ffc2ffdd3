#ifndef LKVM_VIRTIO_BALLOON_H
#define LKVM_VIRTIO_BALLOON_H
/*
 * virtio memory balloon (device id 5, Virtio 1.2 section 5.5): the host
 * sets a target (config num_pages, in 4 KiB pages); the guest hands pages
 * over on the inflate queue and lkvm releases them (madvise DONTNEED), so
 * the lkvm process's RSS falls; deflated pages simply fault back in.
 * Features offered: MUST_TELL_HOST, STATS_VQ.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

struct kvm;
struct virtio_device;

#define BALLOON_PAGE_SIZE 4096u
#define BALLOON_PAGES_PER_MIB 256u
/* Statistics tags we keep (Linux's uapi defines 0..15 so far). */
#define BALLOON_STATS_MAX 16

struct balloon_stats {
	u64 value[BALLOON_STATS_MAX];
	u32 present;		/* bit n: tag n was reported */
	bool fresh;		/* the guest answered this request */
};

/* Create the device (not attached to a transport yet); 0 and *out, or -errno. */
int virtio_balloon_init(struct kvm *kvm, struct virtio_device **out);
/* Stop and free it (after the VM stopped). */
void virtio_balloon_exit(struct virtio_device *vdev);
/* The balloon of kvm, or NULL without --balloon. */
struct virtio_device *virtio_balloon_find(struct kvm *kvm);

/* New target in pages: 0, or -ERANGE beyond guest RAM. Config interrupt. */
int virtio_balloon_set_target(struct virtio_device *vdev, u64 pages);
/* Current target and what the guest reports it holds (pages). */
void virtio_balloon_get(struct virtio_device *vdev, u64 *target, u64 *actual);
/*
 * Ask the guest for fresh statistics and wait up to timeout_ms for them.
 * 0 with out filled (out->fresh false: the guest did not answer in time,
 * these are the last ones it sent); -ENODATA when the guest never sent
 * any (no driver, or STATS_VQ not negotiated).
 */
int virtio_balloon_stats(struct virtio_device *vdev, unsigned int timeout_ms,
			 struct balloon_stats *out);
/* "swap_in", "memfree", ... for a tag, or NULL for one we have no name for. */
const char *balloon_stat_name(unsigned int tag);

#endif
