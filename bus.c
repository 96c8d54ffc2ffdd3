/*
 * Port-I/O and MMIO address-range registry.  Ranges are kept sorted so a
 * lookup is a binary search; a read-write lock lets all vCPUs dispatch in
 * parallel while devices are (rarely) added or removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/bus.h"
#include "lkvm/log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose end is above addr. */
static unsigned int bus_lower_bound(const struct bus *bus, u64 addr)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int bus_grow(struct bus *bus)
{
	unsigned int cap = bus->cap ? bus->cap * 2 : 16;
	struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));

	if (!r)
		return -ENOMEM;
	bus->ranges = r;
	bus->cap = cap;
	return 0;
}

int bus_register(struct bus *bus, u64 base, u64 len, bus_handler_fn fn,
		 void *opaque, const char *name)
{
	unsigned int i;
	int ret = 0;

	if (!len || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base < base + len) {
		pr_err("%s bus: %s at 0x%llx overlaps %s", bus->name, name,
		       (unsigned long long)base, bus->ranges[i].name);
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap && (ret = bus_grow(bus)))
		goto out;
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){
		.base = base, .len = len, .fn = fn, .opaque = opaque, .name = name,
	};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, u64 base)
{
	unsigned int i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool bus_dispatch(struct bus *bus, u64 addr, u8 *data, u32 len, bool is_write)
{
	struct bus_range r;
	unsigned int i;
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	i = bus_lower_bound(bus, addr);
	if (i < bus->nr && bus->ranges[i].base <= addr) {
		r = bus->ranges[i];
		found = true;
	}
	pthread_rwlock_unlock(&bus->lock);

	if (!found) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	r.fn(r.opaque, addr - r.base, data, len, is_write);
	return true;
}
