/* The PC platform devices every x86 guest gets. */
#include "lkvm/i8042.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"
#include "lkvm/pvpanic.h"
#include "lkvm/rtc.h"
#include "lkvm/serial8250.h"
#include "lkvm/term.h"
#include "lkvm/testdev.h"
#include "x86/acpi-pm.h"
#include "x86/layout.h"

static struct uart8250 serial0;
static struct rtc rtc;
static struct i8042 kbc;

static void serial_tx(void *opaque UNUSED, u8 byte)
{
	console_write(&byte, 1);
}

static size_t serial_console_push(void *opaque, const u8 *buf, size_t n)
{
	return uart8250_rx_push(opaque, buf, n);
}

static void serial_rx_ready(void *opaque UNUSED)
{
	term_input_ready();
}

static const struct uart8250_ops serial_console_ops = {
	.tx = serial_tx,
	.rx_ready = serial_rx_ready,
};

static void check(int ret, const char *what)
{
	if (ret < 0)
		die("cannot set up %s (error %d)", what, ret);
}

void kvm_arch_init_devices(struct kvm *kvm)
{
	struct console_input in = { .push = serial_console_push, .opaque = &serial0 };

	check(serial8250_register(kvm, &serial0, X86_SERIAL0_PORT, X86_SERIAL0_IRQ,
				  &serial_console_ops), "ttyS0");
	term_set_input(&in);
	check(rtc_register(kvm, &rtc), "RTC");
	check(i8042_register(kvm, &kbc), "i8042");
	check(acpi_pm_register(kvm, X86_ACPI_PM_PORT), "ACPI PM");
	check(pvpanic_register(kvm, X86_PVPANIC_PORT), "pvpanic");
	check(pci_host_init(kvm), "PCI host bridge");
	if (kvm->cfg->test_device)
		check(testdev_register(kvm), "test device");
}
