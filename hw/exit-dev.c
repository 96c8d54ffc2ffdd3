/*
 * The exit device (lkvm/exit-dev.h): the guest's way to hand lkvm its exit
 * status, as a test harness or lkvm's own init does after running a
 * command.  The first write wins; kvm_request_guest_exit() ignores any
 * later stop request, so a guest writing in a loop stops at the first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lkvm/exit-dev.h"
#include "lkvm/kvm.h"
#include "lkvm/term.h"

static struct exit_dev_place place;

void exit_dev_access(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct exit_dev *dev = opaque;

	if (!is_write) {
		bus_data_put(data, len, offset == EXIT_DEV_STATUS ? EXIT_DEV_MAGIC : 0);
		return;
	}
	if (offset == EXIT_DEV_STATUS && len && dev->on_exit)
		dev->on_exit(dev->opaque, data[0]);
	else if (offset == EXIT_DEV_READY && dev->on_ready)
		dev->on_ready(dev->opaque);
}

static void exit_dev_stop_vm(void *opaque, u8 status)
{
	kvm_request_guest_exit(opaque, status);
}

static void exit_dev_console_ready(void *opaque UNUSED)
{
	term_release_input();
}

int exit_dev_register(struct kvm *kvm, enum exit_dev_bus bus, u64 base)
{
	struct exit_dev *dev = calloc(1, sizeof(*dev));
	int ret;

	if (!dev)
		return -ENOMEM;
	dev->on_exit = exit_dev_stop_vm;
	dev->on_ready = exit_dev_console_ready;
	dev->opaque = kvm;
	/* Lives as long as the VM; freed only on failure. */
	ret = bus_register(bus == EXIT_DEV_PIO ? &kvm->pio_bus : &kvm->mmio_bus,
			   base, EXIT_DEV_WINDOW, exit_dev_access, dev, "exit device");
	if (ret < 0) {
		free(dev);
		return ret;
	}
	place = (struct exit_dev_place){ .bus = bus, .base = base };
	return 0;
}

struct exit_dev_place exit_dev_location(void)
{
	return place;
}

int exit_dev_describe(char *buf, size_t size)
{
	int n;

	if (place.bus == EXIT_DEV_NONE)
		return -ENODEV;
	n = snprintf(buf, size, "%s:0x%llx", place.bus == EXIT_DEV_PIO ? "port" : "mmio",
		     (unsigned long long)place.base);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}
