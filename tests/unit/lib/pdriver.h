#ifndef LKVM_TESTS_PDRIVER_H
#define LKVM_TESTS_PDRIVER_H
/*
 * The guest side of a packed virtqueue (virtio 1.2 section 2.8) for the
 * tests: a driver that writes descriptor chains with its wrap counter,
 * makes them available (head flags last, with a release store), reads
 * used descriptors back with its own used wrap counter, and keeps the
 * event suppression areas.  It works on host pointers only, so unit, fuzz
 * and order tests can put its ring wherever their guest RAM is.
 */
#include <stdbool.h>
#include <linux/virtio_ring.h>
#include "lkvm/compiler.h"

#define PDRV_MAX_SIZE 256

struct pbuf {
	u64 gpa;
	u32 len;
	bool writable;
};

struct pdrv {
	struct vring_packed_desc *ring;
	struct vring_packed_desc_event *driver;	/* we write */
	struct vring_packed_desc_event *device;	/* the device writes */
	u16 size;
	u16 next_avail, next_used;
	bool avail_wrap, used_wrap;
	u16 slots[PDRV_MAX_SIZE];	/* ring slots each outstanding id took */
};

void pdrv_init(struct pdrv *p, void *ring, void *driver, void *device, u16 size);
/* AVAIL/USED bits of a descriptor made available in the lap of counter wrap. */
u16 pdrv_avail_bits(bool wrap);
/* Write one descriptor at slot (raw: for malformed rings). */
void pdrv_put(struct pdrv *p, u16 slot, u64 addr, u32 len, u16 id, u16 flags);
/*
 * Make the chain b[0..n) available as buffer id, the head's flags stored
 * last.  Returns the head slot.
 */
u16 pdrv_add(struct pdrv *p, const struct pbuf *b, unsigned int n, u16 id);
/* One INDIRECT descriptor for a table of n entries at table_gpa (host view table). */
u16 pdrv_add_indirect(struct pdrv *p, void *table, u64 table_gpa, const struct pbuf *b,
		      unsigned int n, u16 id);
/* Take the next used descriptor if the device wrote one: its id and len. */
bool pdrv_get_used(struct pdrv *p, u16 *id, u32 *len);
/* The driver event suppression structure: flags and off_wrap in one store. */
void pdrv_set_event(struct pdrv *p, u16 flags, u16 off_wrap);
/* off_wrap naming our next used slot (for FLAG_DESC). */
u16 pdrv_next_used_event(const struct pdrv *p);
/* The device's event structure. */
u16 pdrv_device_flags(const struct pdrv *p);
u16 pdrv_device_off_wrap(const struct pdrv *p);
/* Would the driver kick for what it just made available (spec 2.8.10)? */
bool pdrv_needs_kick(const struct pdrv *p, u16 old_avail, bool old_wrap);

#endif
