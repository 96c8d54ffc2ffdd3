/* The PC platform devices every x86 guest gets. */
#include <errno.h>
#include <string.h>
#include "lkvm/exit-dev.h"
#include "lkvm/boot-trace.h"
#include "lkvm/i8042.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"
#include "lkvm/pvpanic.h"
#include "lkvm/rtc.h"
#include "lkvm/serial8250.h"
#include "lkvm/term.h"
#include "lkvm/testdev.h"
#include "lkvm/virtio-mmio.h"
#include "x86/acpi-pm.h"
#include "x86/layout.h"

static struct uart8250 serial0;
static struct rtc rtc;
static struct i8042 kbc;

/* The boot-progress port of --boot-trace: writes are timed, reads give 0. */
static void boot_progress_io(void *opaque UNUSED, u64 offset UNUSED, u8 *data, u32 len,
			     bool is_write)
{
	if (is_write)
		boot_trace_progress(data[0]);
	else
		memset(data, 0, len);
}

int kvm_arch_console_sysrq(struct kvm *kvm UNUSED, u8 key)
{
	return serial8250_console_sysrq(&serial0, key);
}

/*
 * Port 0x61, system control port B, when KVM's PIT does not claim it:
 * reads must not report SERR/IOCHK (bits 7, 6), or Linux takes every NMI
 * for a hardware error.  Bit 4 toggles like the DRAM refresh signal that
 * old delay loops poll; the gate/speaker bits read back as written.
 */
static void port61_io(void *opaque UNUSED, u64 offset UNUSED, u8 *data, u32 len,
		      bool is_write)
{
	static u8 control, refresh;

	if (is_write) {
		control = data[0] & 0x0f;
		return;
	}
	refresh ^= 0x10;
	memset(data, 0, len);
	data[0] = control | refresh;
}

static void check(int ret, const char *what)
{
	if (ret < 0)
		die("cannot set up %s (error %d)", what, ret);
}

void kvm_arch_init_devices(struct kvm *kvm)
{
	static const u32 mmio_gsis[] = X86_VIRTIO_MMIO_GSIS;

	check(virtio_mmio_set_layout(X86_VIRTIO_MMIO_BASE, X86_VIRTIO_MMIO_SIZE, mmio_gsis,
				     ARRAY_SIZE(mmio_gsis)), "virtio-mmio area");
	check(serial8250_console_register(kvm, &serial0, &kvm->pio_bus, X86_SERIAL0_PORT,
					  X86_SERIAL0_IRQ), "ttyS0");
	check(rtc_register(kvm, &rtc), "RTC");
	check(i8042_register(kvm, &kbc), "i8042");
	check(acpi_pm_register(kvm, X86_ACPI_PM_PORT), "ACPI PM");
	check(pvpanic_register(kvm, &kvm->pio_bus, X86_PVPANIC_PORT), "pvpanic");
	check(exit_dev_register(kvm, EXIT_DEV_PIO, X86_EXIT_DEV_PORT), "exit device");
	check(pci_host_init(kvm), "PCI host bridge");
	check(bus_register(&kvm->pio_bus, 0x61, 1, port61_io, NULL, "port 0x61"), "port 0x61");
	check(bus_register(&kvm->pio_bus, X86_BOOT_PROGRESS_PORT, 1, boot_progress_io, NULL,
			   "boot progress"), "boot-progress port");
	if (kvm->cfg->test_device)
		check(testdev_register(kvm), "test device");
}
