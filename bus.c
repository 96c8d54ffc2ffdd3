/*
 * Port-I/O and MMIO address-range registry.
 *
 * Ranges are kept sorted in one table, so a lookup is a binary search.
 * Exits are dispatched on every vCPU all the time while ranges change
 * rarely (set-up, PCI BAR moves), so the lookup is the read side of a
 * sequence counter: it takes no lock, stores nothing shared, and retries
 * if a writer was editing the table meanwhile.  Writers hold write_lock,
 * make seq odd, edit the table in place (or publish a bigger one), and
 * make seq even again.
 *
 * Readers may read a half-edited table before they notice and retry, so
 * every field they read is accessed atomically (plain loads and stores on
 * the hardware: no torn values, no data race in C11 terms), and a reader
 * indexes only below the cap of the table it loaded, which is always
 * allocated: outgrown tables are kept until bus_destroy().  That costs at
 * most the size of the current table again (each table doubles).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/bus.h"
#include "lkvm/log.h"

#define RELAXED __ATOMIC_RELAXED

/* Never 0, so a thread's empty cache matches no bus. */
static u64 next_bus_id = 1;

/*
 * This thread's last hit, valid while bus->seq still equals seq (always
 * even: stored only from a consistent lookup).  Keyed by the bus's id, not
 * its address, so a bus destroyed and re-created at the same address with
 * the same count cannot match.
 */
static __thread struct bus_hit {
	u64 bus_id;
	unsigned int seq;
	struct bus_range r;
} last_hit;

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	bus->id = __atomic_fetch_add(&next_bus_id, 1, RELAXED);
	pthread_mutex_init(&bus->write_lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	struct bus_table *t = bus->retired;

	while (t) {
		struct bus_table *next = t->retired_next;

		free(t);
		t = next;
	}
	free(bus->table);
	bus->table = bus->retired = NULL;
	pthread_mutex_destroy(&bus->write_lock);
}

/*
 * Index of the first of t's first nr ranges that ends above addr, nr if
 * none does (on either side).  Branch-free halving: one load and one
 * compare a step.
 */
static unsigned int lower_bound(const struct bus_table *t, unsigned int nr,
				u64 addr)
{
	const struct bus_range *r = t->ranges;

	if (!nr)
		return 0;
	while (nr > 1) {
		unsigned int half = nr / 2;

		r = __atomic_load_n(&r[half - 1].end, RELAXED) <= addr ? r + half : r;
		nr -= half;
	}
	return (unsigned int)(r - t->ranges) + (__atomic_load_n(&r->end, RELAXED) <= addr);
}

/* Writer side: only writers store, and they hold write_lock. */
static void write_begin(struct bus *bus)
{
	__atomic_store_n(&bus->seq, bus->seq + 1, RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct bus *bus)
{
	__atomic_store_n(&bus->seq, bus->seq + 1, __ATOMIC_RELEASE);
}

static void range_store(struct bus_range *dst, const struct bus_range *src)
{
	__atomic_store_n(&dst->base, src->base, RELAXED);
	__atomic_store_n(&dst->end, src->end, RELAXED);
	__atomic_store_n(&dst->fn, src->fn, RELAXED);
	__atomic_store_n(&dst->opaque, src->opaque, RELAXED);
	dst->name = src->name;	/* read by writers only */
}

static unsigned int table_nr(const struct bus *bus)
{
	return bus->table ? bus->table->nr : 0;
}

/*
 * A table with room for one more range and r at index i, published in
 * place of the full one.  Fails without touching the bus.
 */
static int insert_grown(struct bus *bus, unsigned int i, const struct bus_range *r)
{
	struct bus_table *old = bus->table, *t;
	unsigned int nr = table_nr(bus), cap = old ? old->cap * 2 : 16;

	t = calloc(1, sizeof(*t) + cap * sizeof(t->ranges[0]));
	if (!t)
		return -ENOMEM;
	t->cap = cap;
	t->nr = nr + 1;
	if (old) {
		memcpy(t->ranges, old->ranges, i * sizeof(t->ranges[0]));
		memcpy(&t->ranges[i + 1], &old->ranges[i], (nr - i) * sizeof(t->ranges[0]));
	}
	t->ranges[i] = *r;
	write_begin(bus);
	__atomic_store_n(&bus->table, t, __ATOMIC_RELEASE);
	write_end(bus);
	if (old) {
		old->retired_next = bus->retired;
		bus->retired = old;
	}
	return 0;
}

static void insert_in_place(struct bus *bus, unsigned int i, const struct bus_range *r)
{
	struct bus_table *t = bus->table;

	write_begin(bus);
	for (unsigned int j = t->nr; j > i; j--)
		range_store(&t->ranges[j], &t->ranges[j - 1]);
	range_store(&t->ranges[i], r);
	__atomic_store_n(&t->nr, t->nr + 1, RELAXED);
	write_end(bus);
}

int bus_register(struct bus *bus, u64 base, u64 len, bus_handler_fn fn,
		 void *opaque, const char *name)
{
	const struct bus_range r = {
		.base = base, .end = base + len, .fn = fn, .opaque = opaque, .name = name,
	};
	unsigned int i;
	int ret = 0;

	if (!len || base + len < base)
		return -EINVAL;
	pthread_mutex_lock(&bus->write_lock);
	i = bus->table ? lower_bound(bus->table, bus->table->nr, base) : 0;
	if (i < table_nr(bus) && bus->table->ranges[i].base < base + len) {
		pr_err("%s bus: %s at 0x%llx overlaps %s", bus->name, name,
		       (unsigned long long)base, bus->table->ranges[i].name);
		ret = -EEXIST;
	} else if (table_nr(bus) == (bus->table ? bus->table->cap : 0)) {
		ret = insert_grown(bus, i, &r);
	} else {
		insert_in_place(bus, i, &r);
	}
	pthread_mutex_unlock(&bus->write_lock);
	return ret;
}

int bus_unregister(struct bus *bus, u64 base)
{
	struct bus_table *t;
	unsigned int i;
	int ret = -ENOENT;

	pthread_mutex_lock(&bus->write_lock);
	t = bus->table;
	i = t ? lower_bound(t, t->nr, base) : 0;
	if (i < table_nr(bus) && t->ranges[i].base == base) {
		write_begin(bus);
		for (unsigned int j = i; j + 1 < t->nr; j++)
			range_store(&t->ranges[j], &t->ranges[j + 1]);
		__atomic_store_n(&t->nr, t->nr - 1, RELAXED);
		write_end(bus);
		ret = 0;
	}
	pthread_mutex_unlock(&bus->write_lock);
	return ret;
}

/*
 * The range holding addr, copied out of a table no writer touched while
 * we read it, and the sequence count it was read at; false if there is
 * none.
 */
static bool lookup(struct bus *bus, u64 addr, struct bus_range *out,
		   unsigned int *seq_out)
{
	for (;;) {
		unsigned int seq = __atomic_load_n(&bus->seq, __ATOMIC_ACQUIRE);
		const struct bus_table *t;
		bool found = false;

		if (seq & 1) {
			sched_yield();	/* a writer is mid-edit: let it finish */
			continue;
		}
		t = __atomic_load_n(&bus->table, __ATOMIC_ACQUIRE);
		if (t) {
			unsigned int nr = MIN(__atomic_load_n(&t->nr, RELAXED), t->cap);
			unsigned int i = lower_bound(t, nr, addr);

			if (i < nr) {
				const struct bus_range *r = &t->ranges[i];

				out->base = __atomic_load_n(&r->base, RELAXED);
				out->end = __atomic_load_n(&r->end, RELAXED);
				out->fn = __atomic_load_n(&r->fn, RELAXED);
				out->opaque = __atomic_load_n(&r->opaque, RELAXED);
				found = out->base <= addr && addr < out->end;
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&bus->seq, RELAXED) == seq) {
			*seq_out = seq;
			return found;
		}
	}
}

bool bus_dispatch(struct bus *bus, u64 addr, u8 *data, u32 len, bool is_write)
{
	struct bus_hit *h = &last_hit;
	unsigned int seq = __atomic_load_n(&bus->seq, __ATOMIC_ACQUIRE);

	if (h->bus_id != bus->id || h->seq != seq ||
	    addr < h->r.base || addr >= h->r.end) {
		if (!lookup(bus, addr, &h->r, &h->seq)) {
			h->bus_id = 0;
			if (!is_write)
				memset(data, 0xff, len);
			return false;
		}
		h->bus_id = bus->id;
	}
	h->r.fn(h->r.opaque, addr - h->r.base, data, len, is_write);
	return true;
}
