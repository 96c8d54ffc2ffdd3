#ifndef LKVM_ARM_LAYOUT_H
#define LKVM_ARM_LAYOUT_H
/*
 * Guest-physical layout and interrupt numbering lkvm uses on arm64.
 * Devices live below 2 GiB, RAM starts at 2 GiB.  This header and
 * arm/layout.c need no KVM, so the unit tests build them on any host.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

/* GIC: distributor, ITS, then one 128 KiB redistributor frame pair per vCPU. */
#define ARM_GIC_DIST_BASE	0x08000000ULL
#define ARM_GIC_DIST_SIZE	0x00010000ULL
#define ARM_GIC_CPU_BASE	0x08010000ULL	/* GICv2 CPU interface */
#define ARM_GIC_CPU_SIZE	0x00002000ULL
#define ARM_GIC_ITS_BASE	0x08080000ULL
#define ARM_GIC_ITS_SIZE	0x00020000ULL
#define ARM_GIC_REDIST_BASE	0x080a0000ULL
#define ARM_GIC_REDIST_STRIDE	0x00020000ULL
#define ARM_GIC_REDIST_END	0x09000000ULL

#define ARM_UART_BASE		0x09000000ULL
#define ARM_UART_SIZE		0x00001000ULL
#define ARM_UART_CLOCK		1843200
#define ARM_PVPANIC_BASE	0x09010000ULL
#define ARM_PVPANIC_SIZE	0x1ULL
#define ARM_EXIT_DEV_BASE	0x09020000ULL	/* lkvm/exit-dev.h: guest-chosen exit status */
#define ARM_VIRTIO_MMIO_BASE	0x0a000000ULL
#define ARM_VIRTIO_MMIO_SIZE	0x00010000ULL	/* room for all 64 windows of 0x200 */
#define ARM_PCI_IO_CPU_BASE	0x0b000000ULL	/* PCI I/O space 0-0xffff */
#define ARM_PCI_IO_SIZE		0x00010000ULL
#define ARM_PCI_IO_ALLOC_BASE	0x1000		/* I/O BARs from here */
#define ARM_PCI_ECAM_BASE	0x0c000000ULL
#define ARM_PCI_ECAM_SIZE	0x00100000ULL	/* bus 0 only */
#define ARM_PCI_MMIO_BASE	0x10000000ULL
#define ARM_PCI_MMIO_SIZE	0x70000000ULL	/* up to RAM */
#define ARM_RAM_BASE		0x80000000ULL

/*
 * Interrupts: GSI n is SPI n (INTID 32 + n), so irqfd routes and
 * KVM_IRQ_LINE agree.  MSI routes get GSIs above every SPI.
 */
#define ARM_SPI_BASE_INTID	32
#define ARM_GIC_NR_IRQS		128		/* INTIDs 0-127: 96 SPIs */
#define ARM_NR_SPIS		(ARM_GIC_NR_IRQS - ARM_SPI_BASE_INTID)
#define ARM_UART_SPI		0
#define ARM_PCI_INTX_SPI	4		/* 4 lines, INTA-D swizzled by slot */
#define ARM_PCI_INTX_COUNT	4
#define ARM_VIRTIO_MMIO_SPI	16		/* 32 lines */
#define ARM_VIRTIO_MMIO_NR_SPIS	32
#define ARM_FIRST_MSI_GSI	ARM_GIC_NR_IRQS

/* Arch timer PPIs (INTID 16 + n): secure, non-secure physical, virtual, hyp. */
#define ARM_TIMER_PPI_SEC	13
#define ARM_TIMER_PPI_PHYS	14
#define ARM_TIMER_PPI_VIRT	11
#define ARM_TIMER_PPI_HYP	10

/* Limits of the boot protocol (Documentation/arch/arm64/booting.rst). */
#define ARM_KERNEL_ALIGN	0x200000ULL	/* the Image goes at 2 MiB + text_offset */
#define ARM_FDT_MAX_SIZE	0x200000ULL	/* the DTB must be below 2 MiB */

enum arm_gic_type { ARM_GIC_V2, ARM_GIC_V3, ARM_GIC_V3_ITS };

/* Redistributor frames for nr_cpus vCPUs; false if they do not fit. */
bool arm_gic_redist_fits(unsigned int nr_cpus);
u64 arm_gic_redist_size(unsigned int nr_cpus);
/* The SPI that PCI slot `slot` raises on pin 1..4 (INTA..INTD). */
u32 arm_pci_intx_spi(unsigned int slot, unsigned int pin);
/* KVM_IRQ_LINE's irq field for SPI `spi`. */
u32 arm_irq_line_spi(u32 spi);

/* Where the kernel, initrd and DTB go in RAM. */
struct arm_boot_layout {
	u64 kernel_addr;	/* load address: 2 MiB aligned base + text_offset */
	u64 kernel_end;		/* kernel_addr + image_size (bss included) */
	u64 initrd_addr, initrd_end;
	u64 dtb_addr;		/* 8-byte (here 2 MiB) aligned, below RAM's end */
};

/*
 * Place an Image of image_size bytes (text_offset inside its 2 MiB slot),
 * an initrd of initrd_size bytes (0: none) and a DTB of up to 2 MiB in
 * RAM.  Returns NULL or why they do not fit.
 */
const char *arm_boot_place(u64 ram_base, u64 ram_size, u64 text_offset, u64 image_size,
			   u64 initrd_size, struct arm_boot_layout *out);

#endif
