/* The port-I/O / MMIO range registry. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include "lkvm/bus.h"
#include "unit.h"

struct probe {
	u64 offset;
	u32 len;
	bool write;
	u64 value;
	int calls;
};

static void probe_handler(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct probe *p = opaque;

	p->offset = offset;
	p->len = len;
	p->write = is_write;
	p->calls++;
	if (is_write)
		p->value = bus_data_get(data, len);
	else
		bus_data_put(data, len, 0x1122334455667788ULL);
}

static void test_dispatch_offsets_and_data(void)
{
	struct bus bus;
	struct probe a = { 0 }, b = { 0 };
	u8 buf[8] = { 0x78, 0x56, 0x34, 0x12 };

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x100, 8, probe_handler, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, probe_handler, &b, "b"), 0);
	CHECK(bus_dispatch(&bus, 0x3fd, buf, 4, true));
	CHECK_EQ(b.offset, 5);
	CHECK_EQ(b.len, 4);
	CHECK_EQ(b.value, 0x12345678);
	CHECK_EQ(a.calls, 0);
	CHECK(bus_dispatch(&bus, 0x107, buf, 2, false));
	CHECK_EQ(a.offset, 7);
	CHECK_EQ(buf[0], 0x88);
	CHECK_EQ(buf[1], 0x77);
	bus_destroy(&bus);
}

static void test_unmapped_reads_all_ones(void)
{
	struct bus bus;
	struct probe a = { 0 };
	u8 buf[4] = { 0 };

	bus_init(&bus, "test");
	bus_register(&bus, 0x100, 8, probe_handler, &a, "a");
	CHECK(!bus_dispatch(&bus, 0x108, buf, 4, false));
	CHECK_EQ(buf[0], 0xff);
	CHECK_EQ(buf[3], 0xff);
	CHECK(!bus_dispatch(&bus, 0xff, buf, 1, true));
	CHECK_EQ(a.calls, 0);
	bus_destroy(&bus);
}

static void test_overlap_refused_and_unregister(void)
{
	struct bus bus;
	struct probe a = { 0 };
	u8 buf[1];

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x1000, 0x100, probe_handler, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x10ff, 1, probe_handler, &a, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0xf01, 0x100, probe_handler, &a, "c"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x0, 0, probe_handler, &a, "d"), -EINVAL);
	CHECK_EQ(bus_register(&bus, 0xf00, 0x100, probe_handler, &a, "e"), 0);
	CHECK_EQ(bus_register(&bus, 0x1100, 0x10, probe_handler, &a, "f"), 0);
	CHECK_EQ(bus_unregister(&bus, 0x1000), 0);
	CHECK(!bus_dispatch(&bus, 0x1050, buf, 1, false));
	CHECK_EQ(bus_unregister(&bus, 0x1000), -ENOENT);
	bus_destroy(&bus);
}

static void test_many_ranges_sorted(void)
{
	struct bus bus;
	struct probe p[64] = { 0 };
	u8 buf[1];

	bus_init(&bus, "test");
	/* Registered in a scrambled order to exercise insertion. */
	for (int i = 0; i < 64; i++) {
		int j = (i * 37) % 64;
		CHECK_EQ(bus_register(&bus, 0x10000 + j * 0x10, 0x10, probe_handler, &p[j], "p"), 0);
	}
	for (int j = 0; j < 64; j++) {
		CHECK(bus_dispatch(&bus, 0x10000 + j * 0x10 + 3, buf, 1, false));
		CHECK_EQ(p[j].calls, 1);
		CHECK_EQ(p[j].offset, 3);
	}
	bus_destroy(&bus);
}

/* Adjacent ranges: each address goes to exactly one, at the right offset. */
static void test_adjacent_boundaries(void)
{
	struct bus bus;
	struct probe a = { 0 }, b = { 0 };
	u8 buf[1];

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x100, 8, probe_handler, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x108, 8, probe_handler, &b, "b"), 0);
	CHECK(!bus_dispatch(&bus, 0xff, buf, 1, false));
	CHECK(bus_dispatch(&bus, 0x100, buf, 1, false));
	CHECK_EQ(a.offset, 0);
	CHECK(bus_dispatch(&bus, 0x107, buf, 1, false));
	CHECK_EQ(a.offset, 7);
	CHECK(bus_dispatch(&bus, 0x108, buf, 1, false));
	CHECK_EQ(b.offset, 0);
	CHECK_EQ(a.calls, 2);
	CHECK(bus_dispatch(&bus, 0x10f, buf, 1, false));
	CHECK_EQ(b.offset, 7);
	/* Back and forth, so a remembered hit must not answer for its neighbour. */
	CHECK(bus_dispatch(&bus, 0x107, buf, 1, false));
	CHECK_EQ(a.calls, 3);
	CHECK(!bus_dispatch(&bus, 0x110, buf, 1, false));
	CHECK_EQ(b.calls, 2);
	/* Overlaps at either edge refused, the table unchanged. */
	CHECK_EQ(bus_register(&bus, 0xfc, 5, probe_handler, &a, "x"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x10f, 2, probe_handler, &a, "y"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x104, 1, probe_handler, &a, "z"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0xf0, 0x30, probe_handler, &a, "w"), -EEXIST);
	CHECK(!bus_dispatch(&bus, 0xfc, buf, 1, false));
	bus_destroy(&bus);
}

/* The very top of the address space; ranges that would wrap are refused. */
static void test_top_of_address_space(void)
{
	struct bus bus;
	struct probe a = { 0 };
	u8 buf[1];

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, UINT64_MAX - 0xfff, 0x1000, probe_handler, &a, "t"), -EINVAL);
	CHECK_EQ(bus_register(&bus, UINT64_MAX - 0xfff, 0xfff, probe_handler, &a, "t"), 0);
	CHECK(bus_dispatch(&bus, UINT64_MAX - 1, buf, 1, false));
	CHECK_EQ(a.offset, 0xffe);
	CHECK(!bus_dispatch(&bus, UINT64_MAX, buf, 1, false));
	CHECK(!bus_dispatch(&bus, 0, buf, 1, false));
	bus_destroy(&bus);
}

/* A remembered hit never outlives an edit of the bus, or the bus itself. */
static void test_remembered_hit_invalidated(void)
{
	struct bus bus;
	struct probe a = { 0 }, b = { 0 };
	u8 buf[1];

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x200, 0x10, probe_handler, &a, "a"), 0);
	CHECK(bus_dispatch(&bus, 0x204, buf, 1, false));
	CHECK(bus_dispatch(&bus, 0x205, buf, 1, false));
	CHECK_EQ(a.calls, 2);
	CHECK_EQ(bus_unregister(&bus, 0x200), 0);
	CHECK(!bus_dispatch(&bus, 0x204, buf, 1, false));
	CHECK_EQ(a.calls, 2);
	CHECK_EQ(bus_register(&bus, 0x200, 0x4, probe_handler, &b, "b"), 0);
	CHECK(bus_dispatch(&bus, 0x203, buf, 1, false));
	CHECK_EQ(b.calls, 1);
	CHECK(!bus_dispatch(&bus, 0x204, buf, 1, false));	/* shrunk */
	bus_destroy(&bus);

	/* Same address, same history of edits: a different bus all the same. */
	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x200, 0x4, probe_handler, &a, "a"), 0);
	CHECK(bus_dispatch(&bus, 0x203, buf, 1, false));
	CHECK_EQ(a.calls, 3);
	CHECK_EQ(b.calls, 1);
	bus_destroy(&bus);
}

/*
 * Dispatch on two threads while a third moves a range back and forth (a
 * PCI BAR the guest reprograms) and grows the table: every access lands on
 * the right handler at the right offset or on nothing, never elsewhere.
 */
#define MOVES 200000

struct race {
	struct bus bus;
	int stop, started;
	unsigned int bad, fixed_hits, moving_hits;
};

static void fixed_handler(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	data[0] = (u8)(0x10 + offset);
}

static void moving_handler(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	data[0] = (u8)(0x80 + offset);
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned int bad = 0, fixed = 0, moving = 0;

	__atomic_fetch_add(&r->started, 1, __ATOMIC_RELAXED);
	for (u64 i = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		u8 buf[1] = { 0 };
		u64 off = i % 8;

		/* The fixed range at 0x1000 is always there. */
		if (!bus_dispatch(&r->bus, 0x1000 + off, buf, 1, false) || buf[0] != 0x10 + off)
			bad++;
		else
			fixed++;
		/* The moving one sits at 0x2000 or 0x3000, or is unmapped. */
		if (bus_dispatch(&r->bus, (i & 8 ? 0x2000 : 0x3000) + off, buf, 1, false)) {
			if (buf[0] != 0x80 + off)
				bad++;
			moving++;
		} else if (buf[0] != 0xff) {
			bad++;
		}
	}
	__atomic_fetch_add(&r->bad, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->fixed_hits, fixed, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->moving_hits, moving, __ATOMIC_RELAXED);
	return NULL;
}

static void test_concurrent_dispatch_and_moves(void)
{
	static struct race r;
	pthread_t t[2];

	bus_init(&r.bus, "race");
	CHECK_EQ(bus_register(&r.bus, 0x1000, 8, fixed_handler, NULL, "fixed"), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_reader, &r);
	while (__atomic_load_n(&r.started, __ATOMIC_RELAXED) < 2)
		sched_yield();
	for (int i = 0; i < MOVES; i++) {
		u64 at = i & 1 ? 0x2000 : 0x3000;

		CHECK_EQ(bus_register(&r.bus, at, 8, moving_handler, NULL, "moving"), 0);
		/* Now and then more ranges, so the table is outgrown under readers. */
		if (i % 1000 == 0)
			CHECK_EQ(bus_register(&r.bus, 0x10000 + (u64)i * 16, 8, fixed_handler,
					      NULL, "filler"), 0);
		CHECK_EQ(bus_unregister(&r.bus, at), 0);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(r.bad, 0);
	CHECK(r.fixed_hits > 0);
	bus_destroy(&r.bus);
}

int main(void)
{
	RUN(test_dispatch_offsets_and_data);
	RUN(test_unmapped_reads_all_ones);
	RUN(test_overlap_refused_and_unregister);
	RUN(test_many_ranges_sorted);
	RUN(test_adjacent_boundaries);
	RUN(test_top_of_address_space);
	RUN(test_remembered_hit_invalidated);
	RUN(test_concurrent_dispatch_and_moves);
	return unit_summary();
}
