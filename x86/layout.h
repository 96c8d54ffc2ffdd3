#ifndef LKVM_X86_LAYOUT_H
#define LKVM_X86_LAYOUT_H
/*
 * Guest-physical layout lkvm uses on x86.  Everything the VMM writes
 * before boot lives below 1 MiB, away from where the kernel is loaded.
 */
#include "lkvm/compiler.h"

#define X86_GDT_ADDR		0x0500ULL
#define X86_PVH_INFO_ADDR	0x6000ULL	/* struct pvh_boot_page */
#define X86_PVH_CMDLINE_MAX	2047		/* Linux's COMMAND_LINE_SIZE less the NUL */
#define X86_ZERO_PAGE_ADDR	0x7000ULL	/* struct boot_params */
#define X86_BOOT_STACK_TOP	0x8ff0ULL
#define X86_PML4_ADDR		0x9000ULL
#define X86_PDPT_ADDR		0xa000ULL
#define X86_PD_ADDR		0xb000ULL	/* 4 pages: identity map of 4 GiB */
#define X86_CMDLINE_ADDR	0x20000ULL
#define X86_CMDLINE_MAX		0x10000ULL
#define X86_FLAT_LOAD_ADDR	0x10000ULL	/* real-mode flat binaries: 1000:0000 */
#define X86_EBDA_START		0x9fc00ULL
#define X86_ACPI_ADDR		0xe0000ULL	/* ACPI tables, reserved in e820 */
#define X86_ACPI_SIZE		0x20000ULL
#define X86_BIOS_END		0x100000ULL
#define X86_KERNEL_ADDR		0x100000ULL

/* Guest RAM above this is moved above 4 GiB, leaving a hole for PCI. */
#define X86_PCI_HOLE_START	0xc0000000ULL
#define X86_4GIB		0x100000000ULL
#define X86_PCI_MMIO_BASE	X86_PCI_HOLE_START
#define X86_PCI_MMIO_SIZE	0x3e000000ULL	/* up to the test device and virtio-mmio area */
#define X86_TEST_MMIO_ADDR	0xfe000000ULL
#define X86_IOAPIC_ADDR		0xfec00000ULL
#define X86_LAPIC_ADDR		0xfee00000ULL
#define X86_IDENTITY_MAP_ADDR	0xfffbc000ULL	/* KVM's, one page */
#define X86_TSS_ADDR		0xfffbd000ULL	/* KVM's, three pages */

/* Legacy devices */
#define X86_SERIAL0_PORT	0x3f8
#define X86_SERIAL0_IRQ		4
#define X86_ACPI_PM_PORT	0x600
#define X86_ACPI_SCI_IRQ	9
#define X86_PVPANIC_PORT	0x505
#define X86_EXIT_DEV_PORT	0x500	/* lkvm/exit-dev.h: guest-chosen exit status */
#define X86_BOOT_PROGRESS_PORT	0x514	/* --boot-trace: any write marks progress */

/*
 * virtio-mmio windows: a sub-range of the PCI hole that the PCI BAR
 * allocator leaves alone, above the test device page (0xFE000000) and
 * below the IOAPIC (0xFEC00000).
 */
#define X86_VIRTIO_MMIO_BASE	0xfe800000ULL
#define X86_VIRTIO_MMIO_SIZE	0x00400000ULL	/* up to 0xFEBFFFFF */
/*
 * ISA IRQs no PC device claims here: not 0 (PIT), 1 (i8042), 2 (cascade),
 * 3 (COM2), 4 (COM1), 8 (RTC), 9 (SCI), 12 (PS/2 mouse), 13 (FPU).  PCI
 * INTx routing must not use these GSIs.
 */
#define X86_VIRTIO_MMIO_GSIS	{ 5, 6, 7, 10, 11, 14, 15 }

#endif
