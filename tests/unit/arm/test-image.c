/* arm64 Image header parsing and boot placement (arm/image.c, arm/layout.c). */
#include <string.h>
#include "arm/image.h"
#include "arm/layout.h"
#include "../unit.h"

static void put64(u8 *p, u64 v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (u8)(v >> (8 * i));
}

/* A well-formed header: text_offset 0, image_size 32 MiB, 4 KiB pages, anywhere. */
static void good_header(u8 *h)
{
	memset(h, 0, ARM64_IMAGE_HDR_SIZE);
	put64(h + 0x08, 0);
	put64(h + 0x10, MiB(32));
	put64(h + 0x18, (1u << 1) | (1u << 3));
	memcpy(h + 0x38, "ARM\x64", 4);
}

static void test_good_header(void)
{
	u8 h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image img;

	good_header(h);
	CHECK(arm64_image_parse(h, sizeof(h), MiB(20), &img) == NULL);
	CHECK_EQ(img.text_offset, 0);
	CHECK_EQ(img.image_size, MiB(32));
	CHECK_EQ(img.page_kib, 4);
	CHECK(img.anywhere);
}

static void test_old_kernel_defaults(void)
{
	u8 h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image img;

	good_header(h);
	put64(h + 0x10, 0);		/* pre-3.17: no image_size, no flags */
	put64(h + 0x18, 1);
	CHECK(arm64_image_parse(h, sizeof(h), MiB(8), &img) == NULL);
	CHECK_EQ(img.text_offset, 0x80000);
	CHECK_EQ(img.image_size, MiB(8));
	CHECK(!img.anywhere);
}

/* Each malformed header is refused with its own one-line reason. */
static void expect_refused(const u8 *h, size_t len, u64 file_size, const char *word)
{
	struct arm64_image img;
	const char *why = arm64_image_parse(h, len, file_size, &img);

	CHECK(why != NULL);
	if (why) {
		CHECK(strstr(why, word) != NULL);
		CHECK(strchr(why, '\n') == NULL);
	}
}

static void test_malformed_refused(void)
{
	u8 h[ARM64_IMAGE_HDR_SIZE];

	good_header(h);
	expect_refused(h, 10, 10, "shorter");
	h[0x38] = 'X';
	expect_refused(h, sizeof(h), MiB(1), "not an arm64 Image");
	good_header(h);
	h[0] = 0x1f;
	h[1] = 0x8b;
	expect_refused(h, sizeof(h), MiB(1), "decompress");
	good_header(h);
	put64(h + 0x18, 1);
	expect_refused(h, sizeof(h), MiB(1), "big-endian");
	good_header(h);
	put64(h + 0x08, 0x1234);
	expect_refused(h, sizeof(h), MiB(1), "text_offset");
	good_header(h);
	put64(h + 0x08, MiB(2));
	expect_refused(h, sizeof(h), MiB(1), "text_offset");
	good_header(h);
	expect_refused(h, sizeof(h), MiB(33), "image_size");
}

static void test_placement(void)
{
	struct arm_boot_layout l;

	CHECK(arm_boot_place(ARM_RAM_BASE, MiB(256), 0x80000, MiB(30), MiB(2), &l) == NULL);
	CHECK_EQ(l.kernel_addr, ARM_RAM_BASE + 0x80000);
	CHECK_EQ(l.kernel_addr % ARM_KERNEL_ALIGN, 0x80000);
	CHECK_EQ(l.kernel_end, l.kernel_addr + MiB(30));
	CHECK(l.initrd_addr >= l.kernel_end);
	CHECK_EQ(l.initrd_end, l.initrd_addr + MiB(2));
	CHECK_EQ(l.dtb_addr % 8, 0);
	CHECK(l.dtb_addr >= l.initrd_end);
	CHECK(l.dtb_addr + ARM_FDT_MAX_SIZE <= ARM_RAM_BASE + MiB(256));
	/* Without an initrd there is none in the layout. */
	CHECK(arm_boot_place(ARM_RAM_BASE, MiB(64), 0, MiB(30), 0, &l) == NULL);
	CHECK_EQ(l.initrd_end, 0);
}

static void test_placement_refused(void)
{
	struct arm_boot_layout l;
	const char *why;

	why = arm_boot_place(ARM_RAM_BASE, MiB(32), 0, MiB(31), 0, &l);
	CHECK(why && strstr(why, "too big for RAM"));
	why = arm_boot_place(ARM_RAM_BASE, MiB(64), 0, MiB(30), MiB(40), &l);
	CHECK(why && strstr(why, "initrd"));
	why = arm_boot_place(ARM_RAM_BASE, MiB(64), 0, ~0ULL, 0, &l);
	CHECK(why != NULL);
	why = arm_boot_place(ARM_RAM_BASE, MiB(64), 0, MiB(1), ~0ULL, &l);
	CHECK(why != NULL);
}

static void test_gic_and_irq_numbers(void)
{
	CHECK(arm_gic_redist_fits(1));
	CHECK(arm_gic_redist_fits(64));
	CHECK(!arm_gic_redist_fits(0));
	CHECK(!arm_gic_redist_fits(200));
	CHECK_EQ(arm_gic_redist_size(2), 2 * 0x20000);
	/* KVM_IRQ_LINE: type SPI (1) in bits 24-27, INTID 32 + n below. */
	CHECK_EQ(arm_irq_line_spi(0), (1u << 24) | 32);
	CHECK_EQ(arm_irq_line_spi(16), (1u << 24) | 48);
	/* INTA of slot s is where hw/pci.c raises it: base + s % count. */
	for (unsigned int s = 1; s < 32; s++)
		CHECK_EQ(arm_pci_intx_spi(s, 1), ARM_PCI_INTX_SPI + s % ARM_PCI_INTX_COUNT);
	CHECK_EQ(arm_pci_intx_spi(1, 4), ARM_PCI_INTX_SPI + 0);
	/* The lines never collide with the UART's or virtio-mmio's, and fit the GIC. */
	CHECK(ARM_PCI_INTX_SPI + ARM_PCI_INTX_COUNT <= ARM_VIRTIO_MMIO_SPI);
	CHECK(ARM_UART_SPI < ARM_PCI_INTX_SPI);
	CHECK(ARM_VIRTIO_MMIO_SPI + ARM_VIRTIO_MMIO_NR_SPIS <= ARM_NR_SPIS);
	CHECK(ARM_FIRST_MSI_GSI >= ARM_NR_SPIS);
	/* Device windows stay apart and below RAM. */
	CHECK(ARM_GIC_REDIST_END <= ARM_UART_BASE);
	CHECK(ARM_VIRTIO_MMIO_BASE + ARM_VIRTIO_MMIO_SIZE <= ARM_PCI_IO_CPU_BASE);
	CHECK(ARM_PCI_ECAM_BASE + ARM_PCI_ECAM_SIZE <= ARM_PCI_MMIO_BASE);
	CHECK(ARM_PCI_MMIO_BASE + ARM_PCI_MMIO_SIZE <= ARM_RAM_BASE);
}

int main(void)
{
	RUN(test_good_header);
	RUN(test_old_kernel_defaults);
	RUN(test_malformed_refused);
	RUN(test_placement);
	RUN(test_placement_refused);
	RUN(test_gic_and_irq_numbers);
	return unit_summary();
}
