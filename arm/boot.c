/*
 * Booting an arm64 Linux Image (Documentation/arch/arm64/booting.rst):
 * the Image at a 2 MiB aligned base + text_offset, the initrd after it,
 * the device tree at the top of RAM, vCPU 0 entering the Image with
 * x0 = the DTB's address.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/file.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "lkvm/virtio-mmio.h"
#include "lkvm/virtio-setup.h"
#include "arm/arm.h"
#include "arm/fdt.h"
#include "arm/image.h"

#define CMDLINE_MAX 2048

void kvm_arch_load_guest(struct kvm *kvm)
{
	struct arm_vm *vm = arm_vm(kvm);
	const char *path = kvm->cfg->kernel_path;
	size_t size, initrd_size = 0;
	u8 *img, *initrd = NULL;
	struct arm64_image hdr;
	const char *why;

	if (!path)
		die("no kernel: give -k Image (arm64 has no firmware loader)");
	img = read_whole_file(path, "kernel", &size);
	why = arm64_image_parse(img, size, size, &hdr);
	if (why)
		die("kernel %s: %s", path, why);
	if (kvm->cfg->initrd_path)
		initrd = read_whole_file(kvm->cfg->initrd_path, "initrd", &initrd_size);
	why = arm_boot_place(ARM_RAM_BASE, kvm->ram_size, hdr.text_offset, hdr.image_size,
			     initrd_size, &vm->boot);
	if (why)
		die("kernel %s: %s", path, why);
	memcpy(kvm_gpa_to_hva(kvm, vm->boot.kernel_addr, size), img, size);
	if (initrd)
		memcpy(kvm_gpa_to_hva(kvm, vm->boot.initrd_addr, initrd_size), initrd, initrd_size);
	pr_debug("Image: text_offset 0x%llx, image_size 0x%llx, loaded at 0x%llx; initrd at 0x%llx; "
		 "DTB at 0x%llx", (unsigned long long)hdr.text_offset,
		 (unsigned long long)hdr.image_size, (unsigned long long)vm->boot.kernel_addr,
		 (unsigned long long)vm->boot.initrd_addr, (unsigned long long)vm->boot.dtb_addr);
	free(img);
	free(initrd);
}

static void build_cmdline(struct kvm *kvm, char *buf, size_t size)
{
	const char *console = virtio_console_name(kvm);
	const char *params = kvm->cfg->params;
	int n;

	/*
	 * earlycon finds the UART through /chosen/stdout-path; a panic resets
	 * warm at once, which lkvm reports as a panic (arm/cpu.c).
	 */
	n = snprintf(buf, size, "console=%s earlycon panic=-1 reboot=panic_warm%s%s",
		     console ? console : "ttyS0",
		     params ? " " : "", params ? params : "");
	if (n < 0 || (size_t)n >= size)
		die("-p: the kernel command line is longer than %zu bytes", size - 1);
}

static void dump_dtb(const char *path, const void *fdt, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, fdt, size) != (ssize_t)size || close(fd) < 0)
		die("--dump-dtb %s: %s", path, strerror(errno));
	exit(0);
}

/* After every vCPU exists: their MPIDRs go into the tree. */
void arm_boot_finish(struct kvm *kvm)
{
	struct arm_vm *vm = arm_vm(kvm);
	const struct virtio_mmio_desc *md;
	unsigned int nr_mmio = virtio_mmio_list(&md);
	struct arm_fdt_mmio mmio[VIRTIO_MMIO_MAX_DEVICES];
	u64 mpidr[LKVM_MAX_CPUS];
	char cmdline[CMDLINE_MAX];
	void *fdt = kvm_gpa_to_hva(kvm, vm->boot.dtb_addr, ARM_FDT_MAX_SIZE);
	int ret;

	for (unsigned int i = 0; i < kvm->nr_cpus; i++) {
		ret = arm_cpu_get_reg(kvm->cpus[i], ARM_SYS_REG_MPIDR_EL1, &mpidr[i]);
		if (ret)
			die("vCPU %u: cannot read MPIDR_EL1: %s", i, strerror(-ret));
	}
	for (unsigned int i = 0; i < nr_mmio; i++)
		mmio[i] = (struct arm_fdt_mmio){ md[i].base, md[i].size, md[i].gsi };
	build_cmdline(kvm, cmdline, sizeof(cmdline));

	const struct arm_fdt_desc desc = {
		.ram_base = ARM_RAM_BASE, .ram_size = kvm->ram_size,
		.nr_cpus = kvm->nr_cpus, .mpidr = mpidr, .gic = vm->gic,
		.bootargs = cmdline,
		.initrd_start = vm->boot.initrd_addr, .initrd_end = vm->boot.initrd_end,
		.mmio = mmio, .nr_mmio = nr_mmio, .pci = true, .pvpanic = true,
	};
	ret = arm_fdt_build(&desc, fdt, ARM_FDT_MAX_SIZE);
	if (ret)
		die("cannot build the device tree: %s", strerror(-ret));
	pr_debug("device tree: %zu bytes at 0x%llx, bootargs \"%s\"", arm_fdt_size(fdt),
		 (unsigned long long)vm->boot.dtb_addr, cmdline);
	if (kvm->cfg->dump_dtb)
		dump_dtb(kvm->cfg->dump_dtb, fdt, arm_fdt_size(fdt));
	arm_cpu_set_boot_regs(kvm->cpus[0], vm->boot.kernel_addr, vm->boot.dtb_addr);
}
