/* bzImage parsing and the zero page, written from the x86 boot protocol. */
#include <errno.h>
#include <string.h>
#include "x86/bzimage.h"
#include "x86/e820.h"
#include "x86/layout.h"

#define SETUP_HDR_OFFSET	0x1f1
#define SETUP_HDR_END		(SETUP_HDR_OFFSET + sizeof(struct setup_header))
#define HDRS_OFFSET		0x202
#define HDRS_MAGIC		0x53726448	/* "HdrS" */
#define MIN_PROTOCOL		0x020c		/* xloadflags: 64-bit entry */

static u32 get_le32(const u8 *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24;
}

/* The signature alone: a file too short for the whole header is a truncated bzImage. */
bool bzimage_detect(const u8 *img, size_t size)
{
	return size >= HDRS_OFFSET + 4 && get_le32(img + HDRS_OFFSET) == HDRS_MAGIC;
}

int bzimage_release(const u8 *img, size_t size, char *buf, size_t len)
{
	size_t off, n = 0;

	if (!bzimage_detect(img, size))
		return -ENOEXEC;
	off = (size_t)(img[0x20e] | img[0x20f] << 8) + 0x200;
	if (off == 0x200 || off >= size || !len)
		return -ENODATA;
	while (off + n < size && n + 1 < len && img[off + n] > ' ' && img[off + n] < 0x7f)
		n++;
	if (!n)
		return -ENODATA;
	memcpy(buf, img + off, n);
	buf[n] = '\0';
	return 0;
}

int bzimage_parse(const u8 *img, size_t size, struct bzimage_info *info,
		  const char **why)
{
	struct setup_header hdr;
	unsigned int setup_sects;

	if (!bzimage_detect(img, size)) {
		*why = "not a bzImage (no HdrS signature)";
		return -EINVAL;
	}
	if (size < SETUP_HDR_END) {
		*why = "truncated bzImage (setup header incomplete)";
		return -EINVAL;
	}
	memcpy(&hdr, img + SETUP_HDR_OFFSET, sizeof(hdr));
	if (hdr.version < MIN_PROTOCOL) {
		*why = "boot protocol older than 2.12: kernel too old for 64-bit entry";
		return -EINVAL;
	}
	if (!(hdr.xloadflags & XLF_KERNEL_64)) {
		*why = "kernel has no 64-bit entry point (not an x86_64 kernel?)";
		return -EINVAL;
	}
	if (!(hdr.loadflags & LOADED_HIGH)) {
		*why = "not a bzImage (zImage loaded low is unsupported)";
		return -EINVAL;
	}
	setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
	info->setup_size = (setup_sects + 1) * 512;
	if (info->setup_size >= size) {
		*why = "truncated bzImage";
		return -EINVAL;
	}
	info->version = hdr.version;
	info->init_size = hdr.init_size;
	info->initrd_addr_max = hdr.initrd_addr_max ? hdr.initrd_addr_max : 0x37ffffff;
	info->cmdline_size = hdr.cmdline_size ? hdr.cmdline_size : 255;
	return 0;
}

void bzimage_fill_boot_params(struct boot_params *bp, const u8 *img,
			      const struct bzimage_info *info,
			      const struct bzimage_load *load,
			      const struct guest_mem *mem)
{
	size_t hdr_end = 0x202 + img[0x201];	/* jump offset: header length */

	memset(bp, 0, sizeof(*bp));
	if (hdr_end > SETUP_HDR_OFFSET + sizeof(bp->hdr))
		hdr_end = SETUP_HDR_OFFSET + sizeof(bp->hdr);
	memcpy(&bp->hdr, img + SETUP_HDR_OFFSET, hdr_end - SETUP_HDR_OFFSET);

	bp->hdr.type_of_loader = 0xff;		/* undefined loader id */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.loadflags &= ~QUIET_FLAG;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;		/* "normal" */
	bp->hdr.code32_start = (u32)load->kernel_addr;
	bp->hdr.cmd_line_ptr = (u32)load->cmdline_addr;
	bp->ext_cmd_line_ptr = (u32)(load->cmdline_addr >> 32);
	bp->hdr.ramdisk_image = (u32)load->initrd_addr;
	bp->hdr.ramdisk_size = (u32)load->initrd_size;
	bp->ext_ramdisk_image = (u32)(load->initrd_addr >> 32);
	bp->ext_ramdisk_size = (u32)(load->initrd_size >> 32);
	bp->acpi_rsdp_addr = load->rsdp_addr;
	bp->e820_entries = e820_build(mem, bp->e820_table, ARRAY_SIZE(bp->e820_table));
}

u64 bzimage_initrd_addr(const struct bzimage_info *info, const struct guest_mem *mem,
			u64 kernel_end, u64 initrd_size)
{
	u64 top = 0;

	/* The highest RAM below 4 GiB: region starting at 0 on x86. */
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].gpa == 0)
			top = mem->regions[i].size;
	top = MIN(top, (u64)info->initrd_addr_max + 1);
	if (initrd_size > top)
		return 0;
	u64 addr = ALIGN_DOWN(top - initrd_size, 0x1000ULL);
	return addr >= kernel_end ? addr : 0;
}
