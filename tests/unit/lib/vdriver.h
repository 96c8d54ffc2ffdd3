#ifndef LKVM_TESTS_VDRIVER_H
#define LKVM_TESTS_VDRIVER_H
/*
 * The guest side of the device unit tests (virtio-blk, -net, -console,
 * -rng, -balloon), compiled once into tests/unit/lib/libunit.a: 1 MiB of
 * fake guest RAM fenced by PROT_NONE pages (a stray access crashes the
 * test), a transport that counts interrupts, and a split-ring driver for
 * up to VDRIVER_MAX_QUEUES queues: write chains, make them available,
 * read the used ring, wait for the device threads.
 */
#include <stdbool.h>
#include <linux/virtio_ring.h>
#include "lkvm/compiler.h"
#include "lkvm/guest-mem.h"
#include "lkvm/virtio.h"
#include "fenced-ram.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x100000ULL	/* 1 MiB */
#define QSIZE 16
#define VDRIVER_MAX_QUEUES 16

#define ST_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_DRV VIRTIO_CONFIG_S_DRIVER
#define ST_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define ST_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define F_V1 (1ULL << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)

extern u8 *ram;
/* Interrupts the device raised (bumped from device threads: atomic). */
extern int queue_signals, config_signals;
/* Per queue: its interrupts, and used->idx as the last one found it. */
extern int queue_signals_of[VDRIVER_MAX_QUEUES];
extern u16 used_idx_at_signal[VDRIVER_MAX_QUEUES];
extern const struct virtio_transport_ops fake_transport;

/* Map the RAM once (zeroed) and add it to mem. */
void ram_map(struct guest_mem *mem);
void *gpa(u64 addr);
int signals(void);	/* queue_signals, atomically */
int signals_of(unsigned int queue);	/* queue_signals_of[queue], atomically */
u16 signalled_used_idx(unsigned int queue);	/* used_idx_at_signal[queue] */

/* A queue as the guest driver keeps it: rings at base, +0x1000, +0x2000. */
struct tq {
	u64 base;
	u16 next_desc;
	u16 avail_idx;
	u16 used_seen;		/* for tests that walk the used ring */
};

extern struct tq queues[VDRIVER_MAX_QUEUES];

struct buf {
	u64 gpa;
	u32 len;
	bool writable;
};

struct vring_desc *tq_desc(struct tq *q);
struct vring_avail *tq_avail(struct tq *q);
struct vring_used *tq_used(struct tq *q);
/* Write a chain of bufs into the descriptor table; its head. */
u16 tq_chain(struct tq *q, const struct buf *b, unsigned int n);
/* Make head available (release store of avail->idx). */
void tq_offer(struct tq *q, u16 head);
/* Both: make a chain of bufs available; its head. */
u16 tq_add(struct tq *q, const struct buf *b, unsigned int n);
u16 used_idx(struct tq *q);
struct vring_used_elem used_elem(struct tq *q, unsigned int i);
/* The guest's interrupt threshold (used_event, after the avail ring). */
void tq_set_used_event(struct tq *q, u16 v);
/* avail_event, the device's kick threshold, after the used ring. */
u16 avail_event(struct tq *q);
/* Device threads complete asynchronously: wait up to 5 s for used->idx. */
bool wait_used(struct tq *q, u16 idx);
/* The device writes avail_event after its last used entry: wait for it. */
bool wait_avail_event(struct tq *q, u16 v);

/*
 * Reset vdev, zero the RAM, attach the counting transport (modern iff
 * F_V1), negotiate features and set up queues [0, nr_queues), stopping
 * short of DRIVER_OK; counters back to 0.  False if FEATURES_OK was
 * refused (the queues are then not set up).
 */
bool vdriver_negotiate(struct virtio_device *vdev, u64 features, unsigned int nr_queues);

#endif
