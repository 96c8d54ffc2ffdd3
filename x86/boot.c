/*
 * Putting the guest into RAM: a bzImage (64-bit boot protocol) with its
 * command line, initrd, zero page, ACPI tables and boot page tables; a
 * vmlinux through its PVH entry (ELF segments and hvm_start_info); or a
 * flat binary for the project's test guests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/file.h"
#include "lkvm/i8042.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"
#include "lkvm/virtio-mmio.h"
#include "lkvm/virtio-setup.h"
#include "x86/acpi.h"
#include "x86/boot.h"
#include "x86/bzimage.h"
#include "x86/elf.h"
#include "x86/layout.h"
#include "x86/pvh.h"

int x86_build_cmdline(char *buf, size_t size, const char *console,
		      const char *extra, const char *user_params)
{
	/* Reset through the i8042, which lkvm turns into a clean exit. */
	int n = snprintf(buf, size, "console=%s reboot=k%s%s%s%s",
			 console ? console : "ttyS0",
			 extra && *extra ? " " : "", extra ? extra : "",
			 user_params ? " " : "", user_params ? user_params : "");

	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

static void *guest_ptr_or_die(struct kvm *kvm, u64 gpa, u64 len, const char *what)
{
	void *p = kvm_gpa_to_hva(kvm, gpa, len);

	if (!p)
		die("%s (%llu bytes at 0x%llx) does not fit in guest RAM: use a larger -m",
		    what, (unsigned long long)len, (unsigned long long)gpa);
	return p;
}

/* Identity map of the low 4 GiB with 2 MiB pages, enough for any boot. */
static void write_boot_page_tables(struct kvm *kvm)
{
	u64 *pml4 = guest_ptr_or_die(kvm, X86_PML4_ADDR, 0x1000, "page tables");
	u64 *pdpt = guest_ptr_or_die(kvm, X86_PDPT_ADDR, 0x1000, "page tables");
	u64 *pd = guest_ptr_or_die(kvm, X86_PD_ADDR, 4 * 0x1000, "page tables");

	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = X86_PDPT_ADDR | 0x3;			/* present, writable */
	for (u64 i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_ADDR + i * 0x1000) | 0x3;
	for (u64 i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;		/* present, writable, 2 MiB */
}

/*
 * GDT with the selectors the 64-bit boot protocol names: 0x10 code, 0x18
 * data; 0x08 is flat 32-bit code for the PVH entry.
 */
static void write_boot_gdt(struct kvm *kvm)
{
	u64 *gdt = guest_ptr_or_die(kvm, X86_GDT_ADDR, 4 * 8, "GDT");

	gdt[0] = 0;
	gdt[1] = 0x00cf9b000000ffffULL;	/* 32-bit code, 4 GiB */
	gdt[2] = 0x00af9b000000ffffULL;	/* 64-bit code, present, DPL 0 */
	gdt[3] = 0x00cf93000000ffffULL;	/* data, 4 GiB, writable */
}

static void build_acpi(struct kvm *kvm)
{
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
	const struct virtio_mmio_desc *list;
	unsigned int nr_mmio = virtio_mmio_list(&list);
	struct acpi_config cfg = {
		.nr_cpus = kvm->nr_cpus,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.ioapic_id = kvm->nr_cpus,
		.lapic_addr = X86_LAPIC_ADDR,
		.pm_base = X86_ACPI_PM_PORT,
		.sci_irq = X86_ACPI_SCI_IRQ,
		.pci_mmio_base = X86_PCI_MMIO_BASE,
		.pci_mmio_size = X86_PCI_MMIO_SIZE,
		.pvpanic_port = X86_PVPANIC_PORT,
		/* ACPI's reboot pulses the i8042's reset line, as reboot=k does. */
		.reset_port = I8042_CMD_PORT,
		.reset_value = I8042_CMD_PULSE_RESET,
		.mmio_devs = mmio,
		.nr_mmio_devs = MIN(nr_mmio, ACPI_MAX_MMIO_DEVS),
	};
	void *buf = guest_ptr_or_die(kvm, X86_ACPI_ADDR, X86_ACPI_SIZE, "ACPI tables");

	for (unsigned int s = 0; s < ACPI_PCI_SLOTS; s++)
		cfg.pci_slot_gsi[s] = pci_slot_gsi(s);
	for (unsigned int i = 0; i < cfg.nr_mmio_devs; i++)
		mmio[i] = (struct acpi_mmio_dev){
			.base = (u32)list[i].base, .size = (u32)list[i].size, .gsi = list[i].gsi,
		};
	ssize_t n = acpi_build_tables(buf, X86_ACPI_SIZE, X86_ACPI_ADDR, &cfg,
				      &x86_vm(kvm)->rsdp_addr);

	if (n < 0)
		die("cannot build ACPI tables: %s", strerror((int)-n));
}

/* The initrd as high as it fits below addr_max, above kernel_end. */
static u64 load_initrd(struct kvm *kvm, u32 addr_max, u64 kernel_end, u64 *size)
{
	const struct bzimage_info limit = { .initrd_addr_max = addr_max };
	const char *path = kvm->cfg->initrd_path;
	size_t len;
	int fd = open_regular_file(path, "initrd", &len);
	u64 addr = bzimage_initrd_addr(&limit, &kvm->mem, kernel_end, len);

	if (!addr)
		die("initrd %s (%zu MiB) does not fit in guest RAM below 0x%x: use a larger -m",
		    path, len >> 20, addr_max);
	read_file_range(fd, path, "initrd", 0, guest_ptr_or_die(kvm, addr, len, "initrd"), len);
	close(fd);
	*size = len;
	return addr;
}

/* The kernel command line at X86_CMDLINE_ADDR, at most max bytes long. */
static char *write_cmdline(struct kvm *kvm, u32 max)
{
	char *cmdline = guest_ptr_or_die(kvm, X86_CMDLINE_ADDR, X86_CMDLINE_MAX, "command line");
	char mmio_arg[1024];

	if (virtio_mmio_cmdline_arg(mmio_arg, sizeof(mmio_arg)) < 0)
		die("too many virtio-mmio devices for the kernel command line");
	if (x86_build_cmdline(cmdline, MIN(X86_CMDLINE_MAX, (u64)max + 1),
			      virtio_console_name(kvm), mmio_arg, kvm->cfg->params) < 0)
		die("kernel command line longer than this kernel's %u bytes: shorten -p", max);
	return cmdline;
}

/*
 * img holds the file's first bytes (the setup header), size is the whole
 * file's: the protected-mode kernel is read from fd straight into guest
 * RAM.  In a nested guest faulting in and copying a buffer of the size of
 * the kernel took a good part of lkvm's start-up.
 */
static void load_bzimage(struct kvm *kvm, const char *path, int fd, const u8 *img,
			 size_t size)
{
	struct bzimage_info info;
	struct bzimage_load load = {
		.kernel_addr = X86_KERNEL_ADDR,
		.cmdline_addr = X86_CMDLINE_ADDR,
	};
	const char *why;
	char *cmdline;
	size_t kernel_size;

	if (bzimage_parse(img, size, &info, &why))
		die("kernel %s: %s", path, why);
	kernel_size = size - info.setup_size;
	read_file_range(fd, path, "kernel", info.setup_size,
			guest_ptr_or_die(kvm, load.kernel_addr,
					 MAX(kernel_size, info.init_size), "kernel"),
			kernel_size);

	cmdline = write_cmdline(kvm, info.cmdline_size);
	load.cmdline = cmdline;

	if (kvm->cfg->initrd_path)
		load.initrd_addr = load_initrd(kvm, info.initrd_addr_max,
					       load.kernel_addr + info.init_size,
					       &load.initrd_size);
	build_acpi(kvm);
	load.rsdp_addr = x86_vm(kvm)->rsdp_addr;
	bzimage_fill_boot_params(guest_ptr_or_die(kvm, X86_ZERO_PAGE_ADDR,
						  sizeof(struct boot_params), "zero page"),
				 img, &info, &load, &kvm->mem);
	write_boot_gdt(kvm);
	write_boot_page_tables(kvm);
	x86_vm(kvm)->boot_mode = X86_BOOT_LINUX64;
	x86_vm(kvm)->entry = load.kernel_addr + 0x200;	/* startup_64 */
	pr_debug("bzImage protocol %x.%02x, cmdline \"%s\"", info.version >> 8,
		 info.version & 0xff, cmdline);
}

/*
 * A vmlinux through the PVH entry: segments at their physical addresses,
 * the start info page with command line, initrd module and memory map,
 * entered in 32-bit protected mode (x86/cpu.c) with ebx pointing at it.
 */
static void load_pvh(struct kvm *kvm, const u8 *img, size_t size)
{
	struct pvh_image elf;
	struct pvh_boot b = {
		.info_paddr = X86_PVH_INFO_ADDR, .cmdline_paddr = X86_CMDLINE_ADDR,
	};
	const char *why;

	if (pvh_elf_parse(img, size, &kvm->mem, X86_KERNEL_ADDR, &elf, &why))
		die("kernel %s: %s", kvm->cfg->kernel_path, why);
	for (unsigned int i = 0; i < elf.nr_segs; i++) {
		const struct elf_load_seg *s = &elf.segs[i];
		u8 *dst = guest_ptr_or_die(kvm, s->paddr, s->memsz, "kernel segment");

		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	write_cmdline(kvm, X86_PVH_CMDLINE_MAX);
	if (kvm->cfg->initrd_path)
		b.initrd_paddr = load_initrd(kvm, 0xffffffffu, elf.end, &b.initrd_size);
	build_acpi(kvm);
	b.rsdp_paddr = x86_vm(kvm)->rsdp_addr;
	pvh_fill_boot_page(guest_ptr_or_die(kvm, X86_PVH_INFO_ADDR, sizeof(struct pvh_boot_page),
					    "PVH start info"), &b, &kvm->mem);
	write_boot_gdt(kvm);
	x86_vm(kvm)->boot_mode = X86_BOOT_PVH32;
	x86_vm(kvm)->entry = elf.entry;
	pr_debug("vmlinux: PVH entry 0x%llx, %u segments 0x%llx-0x%llx",
		 (unsigned long long)elf.entry, elf.nr_segs,
		 (unsigned long long)elf.start, (unsigned long long)elf.end);
}

static void load_flat(struct kvm *kvm, const u8 *img, size_t size)
{
	if (kvm->cfg->initrd_path || kvm->cfg->params)
		die("kernel %s is not a bzImage: -i and -p need a Linux kernel",
		    kvm->cfg->kernel_path);
	if (size > 0x10000 * 8)
		die("flat binary %s is larger than 512 KiB", kvm->cfg->kernel_path);
	memcpy(guest_ptr_or_die(kvm, X86_FLAT_LOAD_ADDR, size, "flat binary"), img, size);
	x86_vm(kvm)->boot_mode = X86_BOOT_FLAT;
	x86_vm(kvm)->entry = 0;
}

/* Enough of a bzImage for bzimage_parse and the boot parameters. */
#define BZIMAGE_HEAD_SIZE 4096

void kvm_arch_load_guest(struct kvm *kvm)
{
	const char *path = kvm->cfg->kernel_path ? kvm->cfg->kernel_path
						 : kvm->cfg->firmware_path;
	u8 head[BZIMAGE_HEAD_SIZE];
	size_t size;
	int fd = open_regular_file(path, "kernel", &size);
	u8 *img;

	read_file_range(fd, path, "kernel", 0, head, MIN(size, sizeof(head)));
	if (!elf_detect(head, MIN(size, sizeof(head))) &&
	    bzimage_detect(head, MIN(size, sizeof(head)))) {
		load_bzimage(kvm, path, fd, head, size);
		close(fd);
		return;
	}
	close(fd);
	img = read_whole_file(path, "kernel", &size);
	if (elf_detect(img, size))
		load_pvh(kvm, img, size);
	else
		load_flat(kvm, img, size);
	free(img);
}
