/* arm64 Image header checks: every refusal is one line saying why. */
#include "arm/image.h"

static u64 le64(const u8 *p)
{
	u64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static u32 le32(const u8 *p)
{
	return (u32)le64((const u8[8]){ p[0], p[1], p[2], p[3] });
}

const char *arm64_image_parse(const u8 *buf, size_t len, u64 file_size,
			      struct arm64_image *img)
{
	u64 flags;

	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return "gzip-compressed: decompress it first (zcat Image.gz > Image)";
	if (len < ARM64_IMAGE_HDR_SIZE || file_size < ARM64_IMAGE_HDR_SIZE)
		return "not an arm64 Image: shorter than its 64-byte header";
	if (le32(buf + 0x38) != ARM64_IMAGE_MAGIC)
		return "not an arm64 Image: no \"ARM\\x64\" magic at offset 0x38";
	img->text_offset = le64(buf + 0x08);
	img->image_size = le64(buf + 0x10);
	flags = le64(buf + 0x18);
	if (!img->image_size) {
		/* Pre-3.17: no size, fixed offset; the file is the whole kernel plus bss we cannot know. */
		img->text_offset = ARM64_IMAGE_OLD_TEXT_OFFSET;
		img->image_size = file_size;
		flags = 0;
	}
	if (flags & 1)
		return "a big-endian kernel: lkvm runs little-endian arm64 guests only";
	if (img->text_offset % 0x1000 || img->text_offset >= 0x200000)
		return "bad arm64 Image header: text_offset is not a 4 KiB multiple below 2 MiB";
	if (img->image_size < file_size)
		return "bad arm64 Image header: image_size is smaller than the file";
	switch ((flags >> 1) & 3) {
	case 0: img->page_kib = 0; break;
	case 1: img->page_kib = 4; break;
	case 2: img->page_kib = 16; break;
	default: img->page_kib = 64; break;
	}
	img->anywhere = flags & (1u << 3);
	return NULL;
}
