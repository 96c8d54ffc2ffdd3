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
 */
typedef void (*bus_handler_fn)(void *opaque, u64 offset, u8 *data, u32 len,
			       bool is_write);

struct bus_range {
	u64 base;
	u64 len;
	bus_handler_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	unsigned int nr, cap;
};

void bus_init(struct bus *bus, const char *name);
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
