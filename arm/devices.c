/* The arm64 platform devices: 8250 console and pvpanic on MMIO, virtio-mmio area, PCI. */
#include <string.h>
#include "lkvm/exit-dev.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"
#include "lkvm/pvpanic.h"
#include "lkvm/serial8250.h"
#include "lkvm/virtio-mmio.h"
#include "arm/layout.h"

static struct uart8250 serial0;

int kvm_arch_console_sysrq(struct kvm *kvm UNUSED, u8 key)
{
	return serial8250_console_sysrq(&serial0, key);
}

int pci_host_init(struct kvm *kvm)
{
	const struct pci_host_config cfg = {
		.mmio_base = ARM_PCI_MMIO_BASE,
		.mmio_size = ARM_PCI_MMIO_SIZE,
		.io_base = ARM_PCI_IO_ALLOC_BASE,
		.io_size = ARM_PCI_IO_SIZE - ARM_PCI_IO_ALLOC_BASE,
		.intx_gsi_base = ARM_PCI_INTX_SPI,
		.intx_gsi_count = ARM_PCI_INTX_COUNT,
		.ecam_base = ARM_PCI_ECAM_BASE,
		.ecam_size = ARM_PCI_ECAM_SIZE,
		.io_on_mmio = true,
		.io_cpu_base = ARM_PCI_IO_CPU_BASE,
		.bridge_vendor_id = 0x1b36,	/* Red Hat: generic PCIe host bridge */
		.bridge_device_id = 0x0008,
	};

	return pci_host_setup(kvm, &cfg);
}

static void check(int ret, const char *what)
{
	if (ret < 0)
		die("cannot set up %s (error %d)", what, ret);
}

void kvm_arch_init_devices(struct kvm *kvm)
{
	u32 spis[ARM_VIRTIO_MMIO_NR_SPIS];

	if (kvm->cfg->test_device)
		die("--test-device: the direct test guests are x86 only");
	for (unsigned int i = 0; i < ARRAY_SIZE(spis); i++)
		spis[i] = ARM_VIRTIO_MMIO_SPI + i;
	check(virtio_mmio_set_layout(ARM_VIRTIO_MMIO_BASE, ARM_VIRTIO_MMIO_SIZE, spis,
				     ARRAY_SIZE(spis)), "virtio-mmio area");
	check(serial8250_console_register(kvm, &serial0, &kvm->mmio_bus, ARM_UART_BASE,
					  ARM_UART_SPI), "ttyS0");
	check(pvpanic_register(kvm, &kvm->mmio_bus, ARM_PVPANIC_BASE), "pvpanic");
	check(exit_dev_register(kvm, EXIT_DEV_MMIO, ARM_EXIT_DEV_BASE), "exit device");
	check(pci_host_init(kvm), "PCI host bridge");
}
