/* The port-I/O / MMIO range registry. */
#include <errno.h>
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

int main(void)
{
	RUN(test_dispatch_offsets_and_data);
	RUN(test_unmapped_reads_all_ones);
	RUN(test_overlap_refused_and_unregister);
	RUN(test_many_ranges_sorted);
	return unit_summary();
}
