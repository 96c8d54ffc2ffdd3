/* ELF64 program headers and the PVH entry note (see x86/elf.h). */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include "x86/elf.h"

#define NOTE_ALIGN(x) (((x) + 3) & ~(u64)3)

bool elf_detect(const u8 *img, size_t size)
{
	return size >= 4 && !memcmp(img, ELFMAG, SELFMAG);
}

static int fail(const char **why, const char *msg, int err)
{
	*why = msg;
	return err;
}

static int check_header(const u8 *img, size_t size, Elf64_Ehdr *eh, const char **why)
{
	if (size < sizeof(*eh))
		return fail(why, "ELF file shorter than its header", -EINVAL);
	memcpy(eh, img, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(why, "not a little-endian ELF64 file", -EINVAL);
	if (eh->e_machine != EM_X86_64)
		return fail(why, "ELF file is not for x86_64", -EINVAL);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(why, "ELF program header size is not 56", -EINVAL);
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return fail(why, "ELF program header count is 0 or too large", -EINVAL);
	if (eh->e_phoff > size || (u64)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
		return fail(why, "ELF program headers lie outside the file", -EINVAL);
	return 0;
}

static bool in_file(size_t size, u64 off, u64 len)
{
	return off <= size && len <= size - off;
}

/* The PHYS32_ENTRY address from one PT_NOTE segment, if it has it. */
static int find_entry_note(const u8 *p, u64 len, u64 *entry, const char **why)
{
	while (len >= 12) {
		u32 namesz, descsz, type;
		u64 need;

		memcpy(&namesz, p, 4);
		memcpy(&descsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		need = 12 + NOTE_ALIGN((u64)namesz) + NOTE_ALIGN((u64)descsz);
		if (need > len)
			return fail(why, "ELF note runs past its segment", -EINVAL);
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    !memcmp(p + 12, "Xen", 4)) {
			const u8 *desc = p + 12 + 4;

			if (descsz == 4) {
				u32 v;
				memcpy(&v, desc, 4);
				*entry = v;
			} else if (descsz == 8) {
				memcpy(entry, desc, 8);
			} else {
				return fail(why, "XEN_ELFNOTE_PHYS32_ENTRY note has a bad size", -EINVAL);
			}
			return 1;
		}
		p += need;
		len -= need;
	}
	return 0;
}

static int add_segment(struct pvh_image *out, const Elf64_Phdr *ph, size_t size,
		       const struct guest_mem *mem, u64 min_paddr, const char **why)
{
	struct elf_load_seg s = {
		.paddr = ph->p_paddr, .offset = ph->p_offset,
		.filesz = ph->p_filesz, .memsz = ph->p_memsz,
	};

	if (!s.memsz)
		return 0;
	if (s.filesz > s.memsz || !in_file(size, s.offset, s.filesz))
		return fail(why, "ELF segment lies outside the file", -EINVAL);
	if (s.paddr < min_paddr || !guest_mem_range_ok(mem, s.paddr, s.memsz))
		return fail(why, "ELF segment lies outside guest RAM (or over lkvm's boot data below 1 MiB): use a larger -m",
			    -EINVAL);
	for (unsigned int i = 0; i < out->nr_segs; i++) {
		const struct elf_load_seg *o = &out->segs[i];

		if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
			return fail(why, "ELF segments overlap", -EINVAL);
	}
	if (out->nr_segs >= ELF_MAX_LOAD_SEGS)
		return fail(why, "too many ELF PT_LOAD segments", -EINVAL);
	out->segs[out->nr_segs++] = s;
	if (out->nr_segs == 1 || s.paddr < out->start)
		out->start = s.paddr;
	if (s.paddr + s.memsz > out->end)
		out->end = s.paddr + s.memsz;
	return 0;
}

static bool entry_loaded(const struct pvh_image *out)
{
	for (unsigned int i = 0; i < out->nr_segs; i++)
		if (out->entry >= out->segs[i].paddr &&
		    out->entry - out->segs[i].paddr < out->segs[i].filesz)
			return true;
	return false;
}

static void read_phdr(const u8 *img, const Elf64_Ehdr *eh, unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, img + eh->e_phoff + (u64)i * sizeof(*ph), sizeof(*ph));
}

/* The entry note first: an ELF without it is not a PVH kernel at all. */
static int find_entry(const u8 *img, size_t size, const Elf64_Ehdr *eh, u64 *entry,
		      const char **why)
{
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		int ret;

		read_phdr(img, eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (!in_file(size, ph.p_offset, ph.p_filesz))
			return fail(why, "ELF note segment lies outside the file", -EINVAL);
		ret = find_entry_note(img + ph.p_offset, ph.p_filesz, entry, why);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	return fail(why, "ELF file has no XEN_ELFNOTE_PHYS32_ENTRY note (type 18) in a PT_NOTE segment: build the kernel with CONFIG_PVH=y, or boot its bzImage",
		    -ENOEXEC);
}

int pvh_elf_parse(const u8 *img, size_t size, const struct guest_mem *mem,
		  u64 min_paddr, struct pvh_image *out, const char **why)
{
	Elf64_Ehdr eh;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!elf_detect(img, size))
		return fail(why, "not an ELF file", -EINVAL);
	ret = check_header(img, size, &eh, why);
	if (!ret)
		ret = find_entry(img, size, &eh, &out->entry, why);
	for (unsigned int i = 0; !ret && i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		read_phdr(img, &eh, i, &ph);
		if (ph.p_type == PT_LOAD)
			ret = add_segment(out, &ph, size, mem, min_paddr, why);
	}
	if (ret)
		return ret;
	if (!out->nr_segs)
		return fail(why, "ELF file has no PT_LOAD segment", -EINVAL);
	if (!entry_loaded(out))
		return fail(why, "PVH entry point lies outside the loaded segments", -EINVAL);
	return 0;
}
