/* The exit device's registers (lkvm/exit-dev.h), without KVM. */
#include "lkvm/exit-dev.h"
#include "unit.h"

static int exits, last_status, readies;

static void on_exit_cb(void *opaque, u8 status)
{
	(void)opaque;
	exits++;
	last_status = status;
}

static void on_ready_cb(void *opaque)
{
	(void)opaque;
	readies++;
}

static void test_registers(void)
{
	struct exit_dev dev = { .on_exit = on_exit_cb, .on_ready = on_ready_cb };
	u8 data[4] = { 0 };

	exit_dev_access(&dev, EXIT_DEV_STATUS, data, 1, false);
	CHECK_EQ(data[0], EXIT_DEV_MAGIC);
	exit_dev_access(&dev, EXIT_DEV_READY, data, 1, false);
	CHECK_EQ(data[0], 0);
	CHECK_EQ(exits + readies, 0);	/* reads change nothing */

	data[0] = 1;
	exit_dev_access(&dev, EXIT_DEV_READY, data, 1, true);
	CHECK_EQ(readies, 1);
	CHECK_EQ(exits, 0);

	/* A wider write: the low byte is the status. */
	data[0] = 0xfe; data[1] = 0x12; data[2] = 0x34; data[3] = 0x56;
	exit_dev_access(&dev, EXIT_DEV_STATUS, data, 4, true);
	CHECK_EQ(exits, 1);
	CHECK_EQ(last_status, 0xfe);
	data[0] = 0;
	exit_dev_access(&dev, EXIT_DEV_STATUS, data, 1, true);
	CHECK_EQ(last_status, 0);
}

static void test_describe_unregistered(void)
{
	char buf[32];

	CHECK_EQ(exit_dev_location().bus, EXIT_DEV_NONE);
	CHECK(exit_dev_describe(buf, sizeof(buf)) < 0);
}

int main(void)
{
	RUN(test_registers);
	RUN(test_describe_unregistered);
	return unit_summary();
}
