#ifndef LKVM_X86_ACPI_H
#define LKVM_X86_ACPI_H

#include <sys/types.h>
#include "lkvm/compiler.h"

/*
 * ACPI tables for an x86 guest: RSDP, XSDT, RSDT, FADT, FACS, DSDT and
 * MADT, laid out in one buffer that the caller copies to guest RAM.
 * Without them a kernel built without MP-table support sees one CPU and
 * cannot power off.
 */

#define ACPI_PCI_SLOTS 32

struct acpi_config {
	unsigned int nr_cpus;	/* local APIC ids and processor UIDs 0..n-1 */
	u64 lapic_addr;		/* 0xFEE00000 */
	u64 ioapic_addr;	/* 0xFEC00000 */
	u8 ioapic_id;
	u16 pm_base;		/* port of the block acpi_pm_register() serves */
	u8 sci_irq;		/* ISA IRQ = GSI of the SCI; 9 */
	/*
	 * Host bridge PCI0 (bus 0, config through ports 0xCF8/0xCFC, I/O
	 * windows 0-0xCF7 and 0xD00-0xFFFF) with this 32-bit MMIO window;
	 * pci_mmio_size == 0 leaves PCI0 out of the DSDT.
	 */
	u64 pci_mmio_base;
	u64 pci_mmio_size;
	/*
	 * Optional INTx routing (_PRT): INTA..INTD of device slot s all raise
	 * GSI pci_slot_gsi[s]; 0 = no entry.  All zero = no _PRT, and Linux
	 * then uses the Interrupt Line register if it is below 16.
	 */
	u8 pci_slot_gsi[ACPI_PCI_SLOTS];
	u16 pvpanic_port;	/* 0x505; 0 = no pvpanic device */
	/*
	 * The FADT's RESET_REG, a byte register in port I/O, and the value
	 * that resets the machine: the OS's ACPI reboot (Linux's reboot=a, its
	 * default without reboot=) writes it.  reset_port 0 = none.
	 */
	u16 reset_port;
	u8 reset_value;
	/*
	 * virtio-mmio devices, described as _HID "LNRO0005" (the id Linux's
	 * virtio_mmio driver binds) with a memory window and a level,
	 * active-high interrupt.
	 */
	const struct acpi_mmio_dev *mmio_devs;
	unsigned int nr_mmio_devs;
};

#define ACPI_MAX_MMIO_DEVS 32

struct acpi_mmio_dev {
	u32 base;
	u32 size;
	u32 gsi;
};

/*
 * Build the tables into buf, which the guest will see at gpa (the RSDP
 * lands 16-byte aligned inside it).  Returns the number of bytes used and
 * sets *rsdp_gpa, or -ENOSPC if size is too small, -EINVAL for a config
 * the tables cannot describe.
 */
ssize_t acpi_build_tables(void *buf, size_t size, u64 gpa,
			  const struct acpi_config *cfg, u64 *rsdp_gpa);

#endif
