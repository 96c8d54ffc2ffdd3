/* arm64 address and interrupt arithmetic: no KVM, unit-tested on any host. */
#include "arm/layout.h"

/* KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT, spelled out: no asm/kvm.h here. */
#define IRQ_LINE_TYPE_SPI (1u << 24)

bool arm_gic_redist_fits(unsigned int nr_cpus)
{
	return nr_cpus && ARM_GIC_REDIST_BASE + arm_gic_redist_size(nr_cpus) <= ARM_GIC_REDIST_END;
}

u64 arm_gic_redist_size(unsigned int nr_cpus)
{
	return (u64)nr_cpus * ARM_GIC_REDIST_STRIDE;
}

/* The standard swizzle, matching hw/pci.c's INTA on base + slot % count. */
u32 arm_pci_intx_spi(unsigned int slot, unsigned int pin)
{
	return ARM_PCI_INTX_SPI + (slot + pin - 1) % ARM_PCI_INTX_COUNT;
}

u32 arm_irq_line_spi(u32 spi)
{
	return IRQ_LINE_TYPE_SPI | (ARM_SPI_BASE_INTID + spi);
}

const char *arm_boot_place(u64 ram_base, u64 ram_size, u64 text_offset, u64 image_size,
			   u64 initrd_size, struct arm_boot_layout *out)
{
	u64 ram_end = ram_base + ram_size;

	if (ram_size < 2 * ARM_FDT_MAX_SIZE)
		return "too little RAM for a kernel and a device tree";
	/* The DTB's 2 MiB at the top of RAM, kept apart from everything else. */
	out->dtb_addr = ALIGN_DOWN(ram_end - ARM_FDT_MAX_SIZE, ARM_KERNEL_ALIGN);
	out->kernel_addr = ALIGN_UP(ram_base, ARM_KERNEL_ALIGN) + text_offset;
	if (image_size > out->dtb_addr || out->kernel_addr > out->dtb_addr - image_size)
		return "the kernel is too big for RAM: give more with -m";
	out->kernel_end = out->kernel_addr + image_size;
	out->initrd_addr = out->initrd_end = 0;
	if (initrd_size) {
		/* Right after the kernel: the same 1 GiB-aligned 32 GiB window. */
		out->initrd_addr = ALIGN_UP(out->kernel_end, 0x1000);
		if (initrd_size > out->dtb_addr - out->initrd_addr)
			return "kernel and initrd are too big for RAM: give more with -m";
		out->initrd_end = out->initrd_addr + initrd_size;
	}
	return NULL;
}
