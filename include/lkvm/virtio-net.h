#ifndef LKVM_VIRTIO_NET_H
#define LKVM_VIRTIO_NET_H
/*
 * virtio-net (device id 1): receiveq 0, transmitq 1, controlq 2, one
 * queue pair, over a back end from net/ (user, tap, tap+vhost).
 *
 * Offered: MAC, STATUS (link always up), MRG_RXBUF, CTRL_VQ, CTRL_RX,
 * CTRL_MAC_ADDR, MTU when mtu= is given, and the checksum/segmentation
 * offloads the back end can honour (tap: CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6; user:
 * GUEST_CSUM only, since libslirp takes only whole checksummed frames).
 *
 * Receive never loses a frame because the guest is out of buffers: the
 * back end keeps it and waits for the guest's next kick.  A frame that
 * can never fit (larger than every buffer the guest could post) or that
 * arrives while the driver is not running is dropped and counted.
 * Malformed transmit chains and headers are dropped and counted; the
 * device keeps running.  RX-mode and MAC-filter commands are acknowledged
 * and recorded but frames are not filtered: the guest's stack filters.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

struct kvm;
struct guest_mem;
struct net_params;
struct net_rx_sink;
struct net_backend;
struct virtio_device;

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_CTRLQ 2

struct virtio_net_stats {
	u64 rx_packets, rx_bytes;
	u64 rx_dropped;		/* driver not running, or frame can never fit */
	u64 rx_no_room;		/* deliveries deferred for lack of buffers */
	u64 tx_packets, tx_bytes;
	u64 tx_malformed;	/* bad chain or header from the guest */
	u64 tx_errors;		/* the back end refused the frame */
	u64 ctrl_ok, ctrl_errors;
};

/* The rx-mode / MAC filter state the driver last set. */
struct virtio_net_rx_mode {
	bool promisc, allmulti;
	unsigned int uc_entries, mc_entries;	/* in the last TABLE_SET */
};

typedef int (*net_backend_open_fn)(const struct net_params *p,
				   const struct net_rx_sink *sink,
				   struct net_backend **out);

/*
 * NIC number `index` with the back end p->mode names (user or tap), not
 * attached to a transport yet.  The MAC is p->guest_mac, or the default
 * of `index`.  Returns 0 and *out, or -errno after printing why.
 */
int virtio_net_init(struct kvm *kvm, const struct net_params *p, unsigned int index,
		    struct virtio_device **out);
/* The same on any guest memory and back end (unit tests). */
int virtio_net_create(const struct guest_mem *mem, const struct net_params *p,
		      unsigned int index, net_backend_open_fn open_backend,
		      struct virtio_device **out);
/* Stop and free a NIC (after the VM stopped), closing its back end. */
void virtio_net_exit(struct virtio_device *vdev);

void virtio_net_get_stats(struct virtio_device *vdev, struct virtio_net_stats *s);
void virtio_net_get_rx_mode(struct virtio_device *vdev, struct virtio_net_rx_mode *m);

#endif
