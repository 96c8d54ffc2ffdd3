/* bzImage header checks, zero page, e820 and the kernel command line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "x86/boot.h"
#include "x86/bzimage.h"
#include "x86/cpuid.h"
#include "x86/e820.h"
#include "x86/layout.h"
#include "../unit.h"

/* A minimal image with a valid setup header (protocol 2.15). */
static u8 *fake_bzimage(size_t *size)
{
	size_t n = 8 * 512;
	u8 *img = calloc(1, n);
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);

	h->setup_sects = 3;
	h->boot_flag = 0xaa55;
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->xloadflags = XLF_KERNEL_64;
	h->initrd_addr_max = 0x7fffffff;
	h->cmdline_size = 2047;
	h->init_size = 0x2000000;
	img[0x201] = 0x6a;	/* header ends at 0x26c */
	*size = n;
	return img;
}

static struct guest_mem mem_of(u64 ram)
{
	struct guest_mem m = { 0 };
	u64 low = MIN(ram, X86_PCI_HOLE_START);

	guest_mem_add(&m, 0, low, (void *)0x1000);
	if (ram > low)
		guest_mem_add(&m, X86_4GIB, ram - low, (void *)0x2000);
	return m;
}

static void test_parse_valid_header(void)
{
	size_t size;
	u8 *img = fake_bzimage(&size);
	struct bzimage_info info;
	const char *why = NULL;

	CHECK(bzimage_detect(img, size));
	CHECK_EQ(bzimage_parse(img, size, &info, &why), 0);
	CHECK_EQ(info.setup_size, 4 * 512);
	CHECK_EQ(info.version, 0x020f);
	CHECK_EQ(info.cmdline_size, 2047);
	CHECK_EQ(info.init_size, 0x2000000);
	free(img);
}

static void test_parse_rejects_bad_images(void)
{
	size_t size;
	u8 *img = fake_bzimage(&size);
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);
	struct bzimage_info info;
	const char *why = NULL;

	CHECK(!bzimage_detect(img, 0x100));
	h->xloadflags = 0;
	CHECK_EQ(bzimage_parse(img, size, &info, &why), -EINVAL);
	CHECK(why && strstr(why, "64-bit"));
	h->xloadflags = XLF_KERNEL_64;
	h->version = 0x0206;
	CHECK_EQ(bzimage_parse(img, size, &info, &why), -EINVAL);
	h->version = 0x020f;
	h->setup_sects = 60;	/* setup larger than the file */
	CHECK_EQ(bzimage_parse(img, size, &info, &why), -EINVAL);
	h->setup_sects = 3;
	h->header = 0;
	CHECK_EQ(bzimage_parse(img, size, &info, &why), -EINVAL);
	free(img);
}

/*
 * A file that ends inside the setup header (0x206..0x26b bytes, "HdrS"
 * present): detected as a truncated bzImage and refused, never read past
 * its end (each copy is exactly as long as the file, so ASan sees any
 * over-read; the old check needed only 0x264 bytes of the 0x26c).
 */
static void test_short_file_not_read_past(void)
{
	size_t size;
	u8 *full = fake_bzimage(&size);
	struct bzimage_info info;
	const char *why;

	for (size_t n = 0x206; n < 0x26c; n++) {
		u8 *img = malloc(n);

		memcpy(img, full, n);
		why = NULL;
		CHECK(bzimage_detect(img, n));
		CHECK_EQ(bzimage_parse(img, n, &info, &why), -EINVAL);
		CHECK(why && strstr(why, "truncated"));
		free(img);
	}
	free(full);
}

static void test_boot_params_fields(void)
{
	size_t size;
	u8 *img = fake_bzimage(&size);
	struct bzimage_info info;
	const char *why;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct guest_mem mem = mem_of(MiB(512));
	struct bzimage_load load = {
		.kernel_addr = X86_KERNEL_ADDR, .cmdline_addr = X86_CMDLINE_ADDR,
		.initrd_addr = 0x1f000000, .initrd_size = 0x123456, .rsdp_addr = 0xe0000,
	};

	CHECK_EQ(bzimage_parse(img, size, &info, &why), 0);
	memset(bp, 0xcc, sizeof(*bp));
	bzimage_fill_boot_params(bp, img, &info, &load, &mem);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK(bp->hdr.loadflags & CAN_USE_HEAP);
	CHECK_EQ(bp->hdr.cmd_line_ptr, X86_CMDLINE_ADDR);
	CHECK_EQ(bp->hdr.ramdisk_image, 0x1f000000);
	CHECK_EQ(bp->hdr.ramdisk_size, 0x123456);
	CHECK_EQ(bp->acpi_rsdp_addr, 0xe0000);
	CHECK_EQ(bp->sentinel, 0);	/* else the kernel wipes our fields */
	CHECK(bp->e820_entries >= 3);
	free(bp);
	free(img);
}

static void test_e820_small_and_large_ram(void)
{
	struct boot_e820_entry e[16];
	struct guest_mem small = mem_of(MiB(256)), big = mem_of(GiB(4));
	unsigned int n;

	n = e820_build(&small, e, 16);
	CHECK_EQ(n, 4);
	CHECK_EQ(e[0].addr, 0);
	CHECK_EQ(e[0].size, X86_EBDA_START);
	CHECK_EQ(e[0].type, 1);
	CHECK_EQ(e[2].addr, X86_ACPI_ADDR);
	CHECK_EQ(e[2].type, 2);
	CHECK_EQ(e[3].addr, MiB(1));
	CHECK_EQ(e[3].addr + e[3].size, MiB(256));
	CHECK_EQ(e[3].type, 1);

	/* 4 GiB: 3 GiB low, the PCI hole, then 1 GiB above 4 GiB. */
	n = e820_build(&big, e, 16);
	CHECK_EQ(n, 5);
	CHECK_EQ(e[3].addr + e[3].size, X86_PCI_HOLE_START);
	CHECK_EQ(e[4].addr, X86_4GIB);
	CHECK_EQ(e[4].size, GiB(1));
	/* Never more entries than room. */
	CHECK_EQ(e820_build(&big, e, 2), 2);
}

static void test_initrd_placement(void)
{
	size_t size;
	u8 *img = fake_bzimage(&size);
	struct bzimage_info info;
	const char *why;
	struct guest_mem mem = mem_of(MiB(256));
	u64 addr;

	bzimage_parse(img, size, &info, &why);
	addr = bzimage_initrd_addr(&info, &mem, MiB(33), MiB(10) + 5);
	CHECK(addr >= MiB(33));
	CHECK_EQ(addr % 4096, 0);
	CHECK(addr + MiB(10) + 5 <= MiB(256));
	/* Too big to fit above the kernel. */
	CHECK_EQ(bzimage_initrd_addr(&info, &mem, MiB(33), MiB(250)), 0);
	/* initrd_addr_max caps the top even with lots of RAM. */
	info.initrd_addr_max = MiB(128) - 1;
	addr = bzimage_initrd_addr(&info, &mem, MiB(33), MiB(1));
	CHECK(addr + MiB(1) <= MiB(128));
	free(img);
}

static void test_cmdline(void)
{
	char buf[64];

	CHECK(x86_build_cmdline(buf, sizeof(buf), NULL, NULL, NULL) > 0);
	CHECK_STR(buf, "console=ttyS0 reboot=k");
	CHECK(x86_build_cmdline(buf, sizeof(buf), "hvc0", "", "quiet token=1") > 0);
	CHECK_STR(buf, "console=hvc0 reboot=k quiet token=1");
	CHECK(x86_build_cmdline(buf, sizeof(buf), NULL, "x=1", "y") > 0);
	CHECK_STR(buf, "console=ttyS0 reboot=k x=1 y");
	CHECK_EQ(x86_build_cmdline(buf, 20, NULL, NULL, "a-very-long-parameter-list"), -ENAMETOOLONG);
}

static void test_cpuid_topology(void)
{
	struct kvm_cpuid_entry2 e1 = { .function = 1, .ebx = 0x00010800 };
	struct kvm_cpuid_entry2 b0 = { .function = 0xb, .index = 0 };
	struct kvm_cpuid_entry2 b1 = { .function = 0xb, .index = 1 };

	cpuid_fixup_entry(&e1, 3, 4);
	CHECK_EQ(e1.ebx >> 24, 3);
	CHECK_EQ((e1.ebx >> 16) & 0xff, 4);
	CHECK_EQ(e1.ebx & 0xffff, 0x0800);	/* CLFLUSH size kept */
	CHECK(e1.ecx & (1u << 31));
	cpuid_fixup_entry(&b0, 3, 4);
	cpuid_fixup_entry(&b1, 3, 4);
	CHECK_EQ(b0.edx, 3);
	CHECK_EQ(b0.ebx, 1);
	CHECK_EQ(b1.eax, 2);	/* 4 cores need 2 APIC id bits */
	CHECK_EQ(b1.ebx, 4);
	CHECK_EQ((b1.ecx >> 8) & 0xff, 2);
}

int main(void)
{
	RUN(test_parse_valid_header);
	RUN(test_parse_rejects_bad_images);
	RUN(test_short_file_not_read_past);
	RUN(test_boot_params_fields);
	RUN(test_e820_small_and_large_ram);
	RUN(test_initrd_placement);
	RUN(test_cmdline);
	RUN(test_cpuid_topology);
	return unit_summary();
}
