#ifndef LKVM_BUS_H
#define LKVM_BUS_H

#include <stdbool.h>
#include <pthread.h>
#include "lkvm/compiler.h"

/*
 * An address-range registry shared by all devices: one instance for port
 * I/O, one for MMIO.  vCPU threads dispatch exits through it concurrently;
 * a handler must do its own locking for its device state.
 *
 * The handler gets the offset from the start of its range, the access
 * width (1, 2, 4 or 8) and a little-endian data buffer: filled by the
 * handler on reads, supplied by the guest on writes.
 *
 * Concurrency: the lookup in bus_dispatch() takes no lock and writes no
 * shared memory (a sequence-counter read side, see bus.c), so vCPUs never
 * contend on the bus.  bus_register() and bus_unregister() serialise
 * among themselves on a mutex and may be called from any thread, also
 * from inside a handler (PCI BAR moves do).  A handler may still be
 * called once more on another vCPU after its range was unregistered (the
 * lookup had finished before): its opaque must outlive the bus, as every
 * device's does today.
 *
 * Each thread remembers the range of its last dispatch (a vCPU tends to hit
 * the same device again and again): the hit is reused while the bus's
 * sequence count shows no edit since it was looked up.
 */
typedef void (*bus_handler_fn)(void *opaque, u64 offset, u8 *data, u32 len,
			       bool is_write);

struct bus_range {
	u64 base;
	u64 end;	/* base + len: no range reaches 2^64 */
	bus_handler_fn fn;
	void *opaque;
	const char *name;
};

/* One allocation, so a reader's index is bounded by the cap it indexes. */
struct bus_table {
	struct bus_table *retired_next;	/* outgrown tables, freed at destroy */
	unsigned int nr, cap;
	struct bus_range ranges[];	/* sorted by base, non-overlapping */
};

struct bus {
	const char *name;
	u64 id;				/* unique in the process: keys lookup caches */
	pthread_mutex_t write_lock;	/* serialises register/unregister */
	unsigned int seq;		/* odd while the table is being edited */
	struct bus_table *table;
	struct bus_table *retired;
};

void bus_init(struct bus *bus, const char *name);
/* No dispatch may run or start on the bus any more. */
void bus_destroy(struct bus *bus);
/* 0, -EEXIST if it overlaps an existing range, -EINVAL if len is 0. */
int bus_register(struct bus *bus, u64 base, u64 len, bus_handler_fn fn,
		 void *opaque, const char *name);
int bus_unregister(struct bus *bus, u64 base);
/*
 * Dispatch an access; false if nothing is mapped there (reads then
 * return all ones).
 */
bool bus_dispatch(struct bus *bus, u64 addr, u8 *data, u32 len, bool is_write);

/* Little-endian helpers for handlers. */
static inline u64 bus_data_get(const u8 *data, u32 len)
{
	u64 v = 0;
	for (u32 i = 0; i < len && i < 8; i++)
		v |= (u64)data[i] << (8 * i);
	return v;
}

static inline void bus_data_put(u8 *data, u32 len, u64 v)
{
	for (u32 i = 0; i < len && i < 8; i++)
		data[i] = (u8)(v >> (8 * i));
}

#endif
