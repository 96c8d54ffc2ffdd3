/* The vmlinux/PVH ELF parser with good and malformed files, and start info. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "x86/elf.h"
#include "x86/layout.h"
#include "x86/pvh.h"
#include "unit.h"

#define IMG_SIZE 0x4000
#define NOTE_OFF 0x1000
#define SEG_OFF 0x2000

struct fake_elf {
	u8 *img;
	size_t size;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

/* An ELF64 with PT_LOAD at 16 MiB (0x1000 bytes, memsz 0x3000) and a PT_NOTE. */
static struct fake_elf fake_vmlinux(void)
{
	struct fake_elf f = { .img = calloc(1, IMG_SIZE), .size = IMG_SIZE };
	u8 *n;
	u32 hdr[3] = { 4, 8, XEN_ELFNOTE_PHYS32_ENTRY };
	u64 entry = 0x1000040;

	f.eh = (Elf64_Ehdr *)f.img;
	memcpy(f.eh->e_ident, ELFMAG, SELFMAG);
	f.eh->e_ident[EI_CLASS] = ELFCLASS64;
	f.eh->e_ident[EI_DATA] = ELFDATA2LSB;
	f.eh->e_machine = EM_X86_64;
	f.eh->e_phoff = sizeof(Elf64_Ehdr);
	f.eh->e_phentsize = sizeof(Elf64_Phdr);
	f.eh->e_phnum = 2;
	f.ph = (Elf64_Phdr *)(f.img + f.eh->e_phoff);
	f.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = SEG_OFF, .p_paddr = 0x1000000,
				.p_filesz = 0x1000, .p_memsz = 0x3000 };
	/* A GNU note first, then the Xen entry note (8-byte descriptor). */
	n = f.img + NOTE_OFF;
	u32 gnu[3] = { 4, 4, 3 };
	memcpy(n, gnu, 12);
	memcpy(n + 12, "GNU", 4);
	n += 20;
	memcpy(n, hdr, 12);
	memcpy(n + 12, "Xen", 4);
	memcpy(n + 16, &entry, 8);
	f.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_filesz = 44 };
	return f;
}

static struct guest_mem ram(u64 size)
{
	struct guest_mem m = { 0 };

	guest_mem_add(&m, 0, size, (void *)0x1000);
	return m;
}

static int parse(struct fake_elf *f, u64 ram_size, struct pvh_image *out, const char **why)
{
	struct guest_mem m = ram(ram_size);

	*why = NULL;
	return pvh_elf_parse(f->img, f->size, &m, X86_KERNEL_ADDR, out, why);
}

static void test_valid_vmlinux(void)
{
	struct fake_elf f = fake_vmlinux();
	struct pvh_image out;
	const char *why;

	CHECK(elf_detect(f.img, f.size));
	CHECK_EQ(parse(&f, 64 << 20, &out, &why), 0);
	CHECK_EQ(out.entry, 0x1000040);
	CHECK_EQ(out.nr_segs, 1);
	CHECK_EQ(out.segs[0].paddr, 0x1000000);
	CHECK_EQ(out.segs[0].memsz, 0x3000);
	CHECK_EQ(out.start, 0x1000000);
	CHECK_EQ(out.end, 0x1003000);
	/* A 4-byte descriptor is accepted too. */
	u32 *note = (u32 *)(f.img + NOTE_OFF + 20);
	note[1] = 4;
	f.ph[1].p_filesz = 40;
	CHECK_EQ(parse(&f, 64 << 20, &out, &why), 0);
	CHECK_EQ(out.entry, 0x1000040);
	free(f.img);
}

static void expect_reject(struct fake_elf *f, u64 ram_size, const char *what)
{
	struct pvh_image out;
	const char *why;

	CHECK(parse(f, ram_size, &out, &why) < 0);
	CHECK(why != NULL);
	if (why && !strstr(why, what)) {
		fprintf(stderr, "  message '%s' lacks '%s'\n", why, what);
		unit_case_failed = 1;
	}
}

static void test_short_files(void)
{
	struct fake_elf f = fake_vmlinux();
	size_t sizes[] = { 4, 16, sizeof(Elf64_Ehdr) - 1, sizeof(Elf64_Ehdr) + 10 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		f.size = sizes[i];
		expect_reject(&f, 64 << 20, "");
	}
	/* Cut inside the segment's data. */
	f.size = SEG_OFF + 0x800;
	expect_reject(&f, 64 << 20, "outside the file");
	free(f.img);
}

static void test_bad_headers(void)
{
	struct fake_elf f = fake_vmlinux();

	f.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&f, 64 << 20, "ELF64");
	f.eh->e_ident[EI_CLASS] = ELFCLASS64;
	f.eh->e_machine = EM_AARCH64;
	expect_reject(&f, 64 << 20, "x86_64");
	f.eh->e_machine = EM_X86_64;
	f.eh->e_phentsize = 32;
	expect_reject(&f, 64 << 20, "header size");
	f.eh->e_phentsize = sizeof(Elf64_Phdr);
	f.eh->e_phnum = 0xffff;
	expect_reject(&f, 64 << 20, "count");
	f.eh->e_phnum = 2;
	f.eh->e_phoff = ~0ULL - 8;
	expect_reject(&f, 64 << 20, "outside the file");
	f.eh->e_phoff = IMG_SIZE - 60;
	expect_reject(&f, 64 << 20, "outside the file");
	free(f.img);
}

static void test_segments_outside_ram(void)
{
	struct fake_elf f = fake_vmlinux();

	expect_reject(&f, 16 << 20, "outside guest RAM");	/* RAM ends at the segment */
	f.ph[0].p_paddr = 0x8000;				/* over the boot data */
	expect_reject(&f, 64 << 20, "boot data");
	f.ph[0].p_paddr = ~0ULL - 0x100;			/* wraps around */
	expect_reject(&f, 64 << 20, "outside guest RAM");
	f.ph[0].p_paddr = 0x1000000;
	f.ph[0].p_memsz = ~0ULL;				/* huge */
	expect_reject(&f, 64 << 20, "outside guest RAM");
	f.ph[0].p_memsz = 0x800;				/* filesz > memsz */
	expect_reject(&f, 64 << 20, "outside the file");
	f.ph[0].p_memsz = 0x3000;
	f.ph[0].p_offset = ~0ULL - 0x10;			/* offset wraps */
	expect_reject(&f, 64 << 20, "outside the file");
	free(f.img);
}

static void test_overlapping_segments(void)
{
	struct fake_elf f = fake_vmlinux();

	f.eh->e_phnum = 3;
	f.ph[2] = f.ph[0];
	f.ph[2].p_paddr = 0x1002000;	/* inside the first one's bss */
	expect_reject(&f, 64 << 20, "overlap");
	f.ph[2].p_paddr = 0x1003000;	/* adjacent: fine */
	struct pvh_image out;
	const char *why;
	CHECK_EQ(parse(&f, 64 << 20, &out, &why), 0);
	CHECK_EQ(out.nr_segs, 2);
	CHECK_EQ(out.end, 0x1006000);
	free(f.img);
}

static void test_too_many_segments(void)
{
	struct fake_elf f = fake_vmlinux();
	const unsigned int n = ELF_MAX_LOAD_SEGS + 2;

	/* Move the program headers to the end, where there is room. */
	f.size = IMG_SIZE + n * sizeof(Elf64_Phdr);
	f.img = realloc(f.img, f.size);
	f.eh = (Elf64_Ehdr *)f.img;
	f.eh->e_phoff = IMG_SIZE;
	f.eh->e_phnum = n;
	f.ph = (Elf64_Phdr *)(f.img + IMG_SIZE);
	f.ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_filesz = 44 };
	for (unsigned int i = 1; i < n; i++)
		f.ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = SEG_OFF,
					.p_paddr = 0x1000000 + i * 0x1000,
					.p_filesz = 0x100, .p_memsz = 0x1000 };
	expect_reject(&f, 64 << 20, "too many");
	free(f.img);
}

static void test_notes(void)
{
	struct fake_elf f = fake_vmlinux();
	u32 *xen = (u32 *)(f.img + NOTE_OFF + 20);

	xen[2] = 17;				/* another Xen note type */
	expect_reject(&f, 64 << 20, "XEN_ELFNOTE_PHYS32_ENTRY");
	xen[2] = XEN_ELFNOTE_PHYS32_ENTRY;
	f.eh->e_phnum = 1;			/* no PT_NOTE at all */
	expect_reject(&f, 64 << 20, "XEN_ELFNOTE_PHYS32_ENTRY");
	f.eh->e_phnum = 2;
	xen[1] = 0xfffffff0;			/* descriptor past the segment */
	expect_reject(&f, 64 << 20, "note");
	xen[1] = 3;				/* odd descriptor size */
	f.ph[1].p_filesz = 40;
	expect_reject(&f, 64 << 20, "bad size");
	xen[1] = 8;
	f.ph[1].p_filesz = 44;
	f.ph[1].p_offset = IMG_SIZE - 8;	/* note segment outside the file */
	expect_reject(&f, 64 << 20, "outside the file");
	f.ph[1].p_offset = NOTE_OFF;
	u64 far = 0x2000000;			/* entry not in a segment */
	memcpy(f.img + NOTE_OFF + 36, &far, 8);
	expect_reject(&f, 64 << 20, "entry point");
	f.eh->e_phnum = 1;
	f.ph[0].p_type = PT_NOTE;		/* notes only, no PT_LOAD */
	f.ph[0].p_offset = NOTE_OFF;
	f.ph[0].p_filesz = 44;
	expect_reject(&f, 64 << 20, "PT_LOAD");
	free(f.img);
}

static void test_start_info(void)
{
	struct guest_mem m = { 0 };
	struct pvh_boot_page page;
	struct pvh_boot b = {
		.info_paddr = X86_PVH_INFO_ADDR, .cmdline_paddr = X86_CMDLINE_ADDR,
		.initrd_paddr = 0x4000000, .initrd_size = 12345, .rsdp_paddr = 0xe0000,
	};

	guest_mem_add(&m, 0, 256 << 20, (void *)0x1000);
	pvh_fill_boot_page(&page, &b, &m);
	CHECK_EQ(page.info.magic, 0x336ec578);
	CHECK_EQ(page.info.version, 1);
	CHECK_EQ(page.info.cmdline_paddr, X86_CMDLINE_ADDR);
	CHECK_EQ(page.info.rsdp_paddr, 0xe0000);
	CHECK_EQ(page.info.nr_modules, 1);
	CHECK_EQ(page.info.modlist_paddr, X86_PVH_INFO_ADDR + 56);
	CHECK_EQ(page.module.paddr, 0x4000000);
	CHECK_EQ(page.module.size, 12345);
	CHECK_EQ(page.info.memmap_paddr, X86_PVH_INFO_ADDR + 56 + 32);
	CHECK_EQ(page.info.memmap_entries, 4);	/* low RAM, EBDA, BIOS area, RAM */
	CHECK_EQ(page.memmap[0].addr, 0);
	CHECK_EQ(page.memmap[0].type, 1);
	CHECK_EQ(page.memmap[2].type, 2);
	CHECK_EQ(page.memmap[3].addr, 0x100000);
	CHECK_EQ(page.memmap[3].size, (256 << 20) - 0x100000);
	b.initrd_size = 0;
	pvh_fill_boot_page(&page, &b, &m);
	CHECK_EQ(page.info.nr_modules, 0);
	CHECK_EQ(page.info.modlist_paddr, 0);
}

int main(void)
{
	RUN(test_valid_vmlinux);
	RUN(test_short_files);
	RUN(test_bad_headers);
	RUN(test_segments_outside_ram);
	RUN(test_overlapping_segments);
	RUN(test_too_many_segments);
	RUN(test_notes);
	RUN(test_start_info);
	return unit_summary();
}
