/* The x86 PCI host: an i440FX-looking bridge behind ports 0xCF8/0xCFC. */
#include "lkvm/pci.h"
#include "x86/layout.h"

int pci_host_init(struct kvm *kvm)
{
	/*
	 * I/O BARs from 0xC000 up: inside the DSDT's 0xD00-0xFFFF window and
	 * clear of the fixed ports (0x505 pvpanic, 0x600 ACPI PM, 0xCF8).
	 * IOAPIC pins 16-23 are the ones no ISA device uses.
	 */
	const struct pci_host_config cfg = {
		.mmio_base = X86_PCI_MMIO_BASE,
		.mmio_size = X86_PCI_MMIO_SIZE,
		.io_base = 0xc000,
		.io_size = 0x4000,
		.intx_gsi_base = 16,
		.intx_gsi_count = 8,
		.cf8_ports = true,
		.bridge_vendor_id = 0x8086,	/* Intel 440FX host bridge */
		.bridge_device_id = 0x1237,
	};

	return pci_host_setup(kvm, &cfg);
}
