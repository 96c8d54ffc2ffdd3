/*
 * The arm64 device tree (arm/fdt.c): read back with libfdt, and
 * decompiled with dtc where it is installed.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <libfdt.h>
#include "arm/fdt.h"
#include "../unit.h"

static u8 tree[ARM_FDT_MAX_SIZE];
static const u64 mpidr[2] = { 0x80000000, 0x80000001 };
static const struct arm_fdt_mmio mmio[2] = {
	{ 0x0a000000, 0x200, 16 }, { 0x0a000200, 0x200, 17 },
};

static struct arm_fdt_desc desc(enum arm_gic_type gic)
{
	return (struct arm_fdt_desc){
		.ram_base = ARM_RAM_BASE, .ram_size = MiB(256), .nr_cpus = 2, .mpidr = mpidr,
		.gic = gic, .bootargs = "console=ttyS0 earlycon",
		.initrd_start = 0x82000000, .initrd_end = 0x82100000,
		.mmio = mmio, .nr_mmio = 2, .pci = true, .pvpanic = true,
	};
}

static int node(const char *path)
{
	return fdt_path_offset(tree, path);
}

static const void *prop(const char *path, const char *name, int *len)
{
	int off = node(path);

	return off < 0 ? NULL : fdt_getprop(tree, off, name, len);
}

static u32 cell(const char *path, const char *name, int i)
{
	int len;
	const fdt32_t *p = prop(path, name, &len);

	return p && (i + 1) * 4 <= len ? fdt32_to_cpu(p[i]) : 0xdeadbeef;
}

static bool has_string(const char *path, const char *name, const char *s)
{
	int off = node(path);

	return off >= 0 && fdt_stringlist_search(tree, off, name, s) >= 0;
}

static void test_tree_valid(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK_EQ(fdt_check_header(tree), 0);
	CHECK(arm_fdt_size(tree) < ARM_FDT_MAX_SIZE);
	CHECK_EQ(cell("/", "#address-cells", 0), 2);
	CHECK_EQ(cell("/", "interrupt-parent", 0), ARM_FDT_PHANDLE_GIC);
}

static void test_memory_cpus_psci_timer(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(has_string("/memory@80000000", "device_type", "memory"));
	CHECK_EQ(cell("/memory@80000000", "reg", 1), 0x80000000);
	CHECK_EQ(cell("/memory@80000000", "reg", 3), MiB(256));
	/* reg is MPIDR's affinity: bit 31 (RES1) is not part of it. */
	CHECK(has_string("/cpus/cpu@1", "enable-method", "psci"));
	CHECK(has_string("/cpus/cpu@1", "compatible", "arm,armv8"));
	CHECK_EQ(cell("/cpus/cpu@1", "reg", 1), 1);
	CHECK(node("/cpus/cpu@0") >= 0);
	CHECK(node("/cpus/cpu@2") < 0);
	CHECK(has_string("/psci", "compatible", "arm,psci-0.2"));
	CHECK(has_string("/psci", "method", "hvc"));
	CHECK(has_string("/timer", "compatible", "arm,armv8-timer"));
	CHECK_EQ(cell("/timer", "interrupts", 1), 13);
	CHECK_EQ(cell("/timer", "interrupts", 4), 14);
	CHECK_EQ(cell("/timer", "interrupts", 7), 11);
	CHECK_EQ(cell("/timer", "interrupts", 10), 10);
	CHECK(prop("/timer", "always-on", NULL) != NULL);
}

static void test_chosen(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);
	int len;

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK_STR(prop("/chosen", "bootargs", &len), "console=ttyS0 earlycon");
	CHECK_STR(prop("/chosen", "stdout-path", &len), "/uart@9000000");
	CHECK_EQ(cell("/chosen", "linux,initrd-start", 1), 0x82000000);
	CHECK_EQ(cell("/chosen", "linux,initrd-end", 1), 0x82100000);
	d.initrd_start = d.initrd_end = 0;
	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(prop("/chosen", "linux,initrd-start", &len) == NULL);
}

static void test_gic_v3_its(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(has_string("/intc@8000000", "compatible", "arm,gic-v3"));
	CHECK_EQ(cell("/intc@8000000", "#redistributor-regions", 0), 1);
	CHECK_EQ(cell("/intc@8000000", "reg", 5), ARM_GIC_REDIST_BASE);
	CHECK_EQ(cell("/intc@8000000", "reg", 7), 2 * ARM_GIC_REDIST_STRIDE);
	CHECK(has_string("/intc@8000000/msi-controller@8080000", "compatible", "arm,gic-v3-its"));
	CHECK(prop("/intc@8000000/msi-controller@8080000", "msi-controller", NULL) != NULL);
	CHECK_EQ(cell("/pcie@c000000", "msi-map", 1), ARM_FDT_PHANDLE_ITS);
	d.gic = ARM_GIC_V3;
	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(node("/intc@8000000/msi-controller@8080000") < 0);
	CHECK(prop("/pcie@c000000", "msi-map", NULL) == NULL);
}

static void test_gic_v2(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V2);

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(has_string("/intc@8000000", "compatible", "arm,cortex-a15-gic"));
	CHECK_EQ(cell("/intc@8000000", "reg", 5), ARM_GIC_CPU_BASE);
	/* PPIs reach both CPUs: the CPU mask in bits 8-15 of the flags. */
	CHECK_EQ(cell("/timer", "interrupts", 2), 0x304);
}

static void test_devices(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(has_string("/uart@9000000", "compatible", "ns16550a"));
	CHECK_EQ(cell("/uart@9000000", "reg-shift", 0), 0);
	CHECK_EQ(cell("/uart@9000000", "reg-io-width", 0), 1);
	CHECK_EQ(cell("/uart@9000000", "interrupts", 1), ARM_UART_SPI);
	CHECK(has_string("/pvpanic@9010000", "compatible", "qemu,pvpanic-mmio"));
	CHECK(has_string("/virtio_mmio@a000200", "compatible", "virtio,mmio"));
	CHECK_EQ(cell("/virtio_mmio@a000200", "interrupts", 1), 17);
	CHECK_EQ(cell("/virtio_mmio@a000200", "interrupts", 2), 4);	/* level high */
	CHECK(node("/virtio_mmio@a000400") < 0);
}

static void test_pci_host(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);
	int len;
	const fdt32_t *map;

	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	CHECK(has_string("/pcie@c000000", "compatible", "pci-host-ecam-generic"));
	CHECK(has_string("/pcie@c000000", "device_type", "pci"));
	CHECK_EQ(cell("/pcie@c000000", "#address-cells", 0), 3);
	CHECK_EQ(cell("/pcie@c000000", "bus-range", 1), 0);
	CHECK_EQ(cell("/pcie@c000000", "ranges", 0), 0x01000000);	/* I/O */
	CHECK_EQ(cell("/pcie@c000000", "ranges", 4), ARM_PCI_IO_CPU_BASE);
	CHECK_EQ(cell("/pcie@c000000", "ranges", 7), 0x02000000);	/* 32-bit memory */
	CHECK_EQ(cell("/pcie@c000000", "interrupt-map-mask", 0), 0xf800);
	/* 31 slots x 4 pins, 10 cells each; slot 3 INTA at entry 8. */
	map = prop("/pcie@c000000", "interrupt-map", &len);
	CHECK_EQ(len, 31 * 4 * 10 * 4);
	if (map && len == 31 * 4 * 10 * 4) {
		const fdt32_t *e = map + 8 * 10;

		CHECK_EQ(fdt32_to_cpu(e[0]), 3 << 11);
		CHECK_EQ(fdt32_to_cpu(e[3]), 1);
		CHECK_EQ(fdt32_to_cpu(e[4]), ARM_FDT_PHANDLE_GIC);
		CHECK_EQ(fdt32_to_cpu(e[8]), arm_pci_intx_spi(3, 1));
	}
	CHECK_EQ(cell("/chosen", "linux,pci-probe-only", 0), 1);
}

static void test_too_small_buffer(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);
	static u8 small[512];

	CHECK_EQ(arm_fdt_build(&d, small, sizeof(small)), -ENOSPC);
	d.nr_cpus = 0;
	CHECK(arm_fdt_build(&d, tree, sizeof(tree)) < 0);
}

/* dtc accepts the tree and shows the nodes a kernel developer checks. */
static void test_dtc_decompiles(void)
{
	struct arm_fdt_desc d = desc(ARM_GIC_V3_ITS);
	char path[] = "/tmp/lkvm-test-fdt-XXXXXX", cmd[128], out[65536];
	size_t n;
	FILE *p;
	int fd;

	if (system("command -v dtc >/dev/null 2>&1")) {
		printf("SKIP: dtc not installed (apt-get install device-tree-compiler)\n");
		return;
	}
	CHECK_EQ(arm_fdt_build(&d, tree, sizeof(tree)), 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, tree, arm_fdt_size(tree)), (long long)arm_fdt_size(tree));
	close(fd);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts %s 2>&1", path);
	p = popen(cmd, "r");
	n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	CHECK(p && pclose(p) == 0);
	unlink(path);
	CHECK(strstr(out, "compatible = \"arm,gic-v3\";"));
	CHECK(strstr(out, "enable-method = \"psci\";"));
	CHECK(strstr(out, "compatible = \"pci-host-ecam-generic\";"));
	CHECK(strstr(out, "stdout-path = \"/uart@9000000\";"));
	CHECK(strstr(out, "virtio_mmio@a000000 {"));
	CHECK(strstr(out, "compatible = \"qemu,pvpanic-mmio\";"));
}

int main(void)
{
	RUN(test_tree_valid);
	RUN(test_memory_cpus_psci_timer);
	RUN(test_chosen);
	RUN(test_gic_v3_its);
	RUN(test_gic_v2);
	RUN(test_devices);
	RUN(test_pci_host);
	RUN(test_too_small_buffer);
	RUN(test_dtc_decompiles);
	return unit_summary();
}
