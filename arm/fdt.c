/*
 * The guest's device tree (Devicetree Specification 0.4 and the Linux
 * bindings for each node), written with libfdt's sequential API.
 */
#include <errno.h>
#include <stdio.h>
#include <libfdt.h>
#include "arm/fdt.h"

/* GIC interrupt specifier: type, number, flags (bindings/interrupt-controller/arm,gic*.yaml). */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH 4
#define GIC_ADDR_CELLS 2	/* the GIC node's #address-cells (the ITS is its child) */

struct fdt_w {
	void *fdt;
	int err;		/* first libfdt error */
};

static void chk(struct fdt_w *w, int ret)
{
	if (ret < 0 && !w->err)
		w->err = ret;
}

static void prop_u32(struct fdt_w *w, const char *name, u32 v)
{
	chk(w, fdt_property_u32(w->fdt, name, v));
}

static void prop_str(struct fdt_w *w, const char *name, const char *s)
{
	chk(w, fdt_property_string(w->fdt, name, s));
}

static void prop_empty(struct fdt_w *w, const char *name)
{
	chk(w, fdt_property(w->fdt, name, NULL, 0));
}

/* Big-endian cells from a host array. */
static void prop_cells(struct fdt_w *w, const char *name, const u32 *cells, unsigned int n)
{
	fdt32_t be[64];

	if (n > ARRAY_SIZE(be)) {
		chk(w, -FDT_ERR_NOSPACE);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	chk(w, fdt_property(w->fdt, name, be, n * sizeof(be[0])));
}

/* reg = <addr size> with #address-cells = #size-cells = 2. */
static void prop_reg2(struct fdt_w *w, u64 addr, u64 size)
{
	const u32 c[] = { addr >> 32, (u32)addr, size >> 32, (u32)size };

	prop_cells(w, "reg", c, 4);
}

static void begin(struct fdt_w *w, const char *name, u64 addr, bool with_addr)
{
	char buf[64];

	if (with_addr)
		snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	chk(w, fdt_begin_node(w->fdt, buf));
}

static void end(struct fdt_w *w)
{
	chk(w, fdt_end_node(w->fdt));
}

static void spi_prop(struct fdt_w *w, u32 spi, u32 flags)
{
	const u32 c[] = { GIC_SPI, spi, flags };

	prop_cells(w, "interrupts", c, 3);
}

static void add_cpus(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	begin(w, "cpus", 0, false);
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < d->nr_cpus; i++) {
		/* reg is the affinity fields of MPIDR_EL1: Aff3 in the upper cell. */
		u64 aff = d->mpidr[i] & 0xff00ffffffULL;
		const u32 reg[] = { aff >> 32, (u32)aff };

		begin(w, "cpu", aff, true);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,armv8");
		prop_str(w, "enable-method", "psci");
		prop_cells(w, "reg", reg, 2);
		end(w);
	}
	end(w);
}

static void add_psci_timer(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	static const char psci_compat[] = "arm,psci-0.2\0arm,psci";
	/* GICv2 PPIs name the CPUs they reach in bits 8-15 of the flags. */
	u32 f = IRQ_LEVEL_HIGH;

	if (d->gic == ARM_GIC_V2)
		f |= ((1u << MIN(d->nr_cpus, 8u)) - 1) << 8;
	const u32 ppis[] = {
		GIC_PPI, ARM_TIMER_PPI_SEC, f, GIC_PPI, ARM_TIMER_PPI_PHYS, f,
		GIC_PPI, ARM_TIMER_PPI_VIRT, f, GIC_PPI, ARM_TIMER_PPI_HYP, f,
	};

	begin(w, "psci", 0, false);
	chk(w, fdt_property(w->fdt, "compatible", psci_compat, sizeof(psci_compat)));
	prop_str(w, "method", "hvc");
	end(w);

	begin(w, "timer", 0, false);
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", ppis, ARRAY_SIZE(ppis));
	prop_empty(w, "always-on");
	end(w);
}

static void add_gic(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	begin(w, "intc", ARM_GIC_DIST_BASE, true);
	prop_u32(w, "phandle", ARM_FDT_PHANDLE_GIC);
	prop_u32(w, "#interrupt-cells", 3);
	prop_empty(w, "interrupt-controller");
	prop_u32(w, "#address-cells", GIC_ADDR_CELLS);
	prop_u32(w, "#size-cells", 2);
	prop_empty(w, "ranges");
	if (d->gic == ARM_GIC_V2) {
		const u32 reg[] = { 0, (u32)ARM_GIC_DIST_BASE, 0, 0x1000,
				    0, (u32)ARM_GIC_CPU_BASE, 0, (u32)ARM_GIC_CPU_SIZE };

		prop_str(w, "compatible", "arm,cortex-a15-gic");
		prop_cells(w, "reg", reg, ARRAY_SIZE(reg));
		end(w);
		return;
	}
	const u32 reg[] = { 0, (u32)ARM_GIC_DIST_BASE, 0, (u32)ARM_GIC_DIST_SIZE,
			    0, (u32)ARM_GIC_REDIST_BASE, 0, (u32)arm_gic_redist_size(d->nr_cpus) };

	prop_str(w, "compatible", "arm,gic-v3");
	prop_u32(w, "#redistributor-regions", 1);
	prop_cells(w, "reg", reg, ARRAY_SIZE(reg));
	if (d->gic == ARM_GIC_V3_ITS) {
		begin(w, "msi-controller", ARM_GIC_ITS_BASE, true);
		prop_str(w, "compatible", "arm,gic-v3-its");
		prop_empty(w, "msi-controller");
		prop_u32(w, "#msi-cells", 1);
		prop_u32(w, "phandle", ARM_FDT_PHANDLE_ITS);
		prop_reg2(w, ARM_GIC_ITS_BASE, ARM_GIC_ITS_SIZE);
		end(w);
	}
	end(w);
}

static void add_uart_pvpanic(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	begin(w, "uart", ARM_UART_BASE, true);
	prop_str(w, "compatible", "ns16550a");
	prop_reg2(w, ARM_UART_BASE, ARM_UART_SIZE);
	prop_u32(w, "reg-shift", 0);
	prop_u32(w, "reg-io-width", 1);
	prop_u32(w, "clock-frequency", ARM_UART_CLOCK);
	/*
	 * Edge, as the ISA line of a PC: hw/serial8250.c gives a fresh rising
	 * edge for each THRE it reports (a THRE raised by THR writes waits for
	 * the next IIR/LSR read).  As a level interrupt, re-raised while the
	 * guest's handler still had it active, it was lost now and then on
	 * the nested vGIC and the console stalled after a FIFO load.
	 */
	spi_prop(w, ARM_UART_SPI, IRQ_EDGE_RISING);
	end(w);
	if (d->pvpanic) {
		begin(w, "pvpanic", ARM_PVPANIC_BASE, true);
		prop_str(w, "compatible", "qemu,pvpanic-mmio");
		prop_reg2(w, ARM_PVPANIC_BASE, ARM_PVPANIC_SIZE);
		end(w);
	}
}

static void add_virtio_mmio(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	for (unsigned int i = 0; i < d->nr_mmio; i++) {
		begin(w, "virtio_mmio", d->mmio[i].base, true);
		prop_str(w, "compatible", "virtio,mmio");
		prop_reg2(w, d->mmio[i].base, d->mmio[i].size);
		/* Level-like: see include/lkvm/virtio-mmio.h. */
		spi_prop(w, d->mmio[i].spi, IRQ_LEVEL_HIGH);
		prop_empty(w, "dma-coherent");
		end(w);
	}
}

/* Space codes of the PCI address's phys.hi cell (PCI bus binding). */
#define PCI_SPACE_IO	0x01000000u
#define PCI_SPACE_MEM32	0x02000000u

static void add_pci(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	enum { PER = 3 + 1 + 1 + GIC_ADDR_CELLS + 3 };
	static u32 map[31 * 4 * PER];
	unsigned int n = 0;
	const u32 ranges[] = {
		PCI_SPACE_IO, 0, 0, ARM_PCI_IO_CPU_BASE >> 32, (u32)ARM_PCI_IO_CPU_BASE,
		0, (u32)ARM_PCI_IO_SIZE,
		PCI_SPACE_MEM32, 0, (u32)ARM_PCI_MMIO_BASE, ARM_PCI_MMIO_BASE >> 32,
		(u32)ARM_PCI_MMIO_BASE, 0, (u32)ARM_PCI_MMIO_SIZE,
	};
	const u32 mask[] = { 0xf800, 0, 0, 7 };
	const u32 bus_range[] = { 0, 0 };

	begin(w, "pcie", ARM_PCI_ECAM_BASE, true);
	prop_str(w, "compatible", "pci-host-ecam-generic");
	prop_str(w, "device_type", "pci");
	prop_u32(w, "#address-cells", 3);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "#interrupt-cells", 1);
	prop_cells(w, "bus-range", bus_range, 2);
	prop_reg2(w, ARM_PCI_ECAM_BASE, ARM_PCI_ECAM_SIZE);
	prop_cells(w, "ranges", ranges, ARRAY_SIZE(ranges));
	prop_empty(w, "dma-coherent");
	/* INTA-D of slots 1-31 (slot 0 is the host bridge, without INTx). */
	for (u32 slot = 1; slot < 32; slot++) {
		for (u32 pin = 1; pin <= 4; pin++) {
			const u32 e[PER] = { slot << 11, 0, 0, pin, ARM_FDT_PHANDLE_GIC, 0, 0,
					     GIC_SPI, arm_pci_intx_spi(slot, pin), IRQ_LEVEL_HIGH };

			for (unsigned int i = 0; i < PER; i++)
				map[n++] = e[i];
		}
	}
	{
		fdt32_t be[ARRAY_SIZE(map)];

		for (unsigned int i = 0; i < n; i++)
			be[i] = cpu_to_fdt32(map[i]);
		chk(w, fdt_property(w->fdt, "interrupt-map", be, n * sizeof(be[0])));
	}
	prop_cells(w, "interrupt-map-mask", mask, 4);
	if (d->gic == ARM_GIC_V3_ITS) {
		/* The ITS device ID is the requester ID (bus << 8 | devfn). */
		const u32 msi_map[] = { 0, ARM_FDT_PHANDLE_ITS, 0, 0x10000 };

		prop_cells(w, "msi-map", msi_map, 4);
	}
	end(w);
}

static void add_chosen_memory(struct fdt_w *w, const struct arm_fdt_desc *d)
{
	char stdout_path[64];

	snprintf(stdout_path, sizeof(stdout_path), "/uart@%llx", (unsigned long long)ARM_UART_BASE);
	begin(w, "chosen", 0, false);
	prop_str(w, "bootargs", d->bootargs ? d->bootargs : "");
	prop_str(w, "stdout-path", stdout_path);
	/*
	 * Keep the BARs lkvm placed: reassigning them one by one would move
	 * one BAR over another of the same device for a moment.
	 */
	if (d->pci)
		prop_u32(w, "linux,pci-probe-only", 1);
	if (d->initrd_end > d->initrd_start) {
		chk(w, fdt_property_u64(w->fdt, "linux,initrd-start", d->initrd_start));
		chk(w, fdt_property_u64(w->fdt, "linux,initrd-end", d->initrd_end));
	}
	end(w);

	begin(w, "memory", d->ram_base, true);
	prop_str(w, "device_type", "memory");
	prop_reg2(w, d->ram_base, d->ram_size);
	end(w);
}

size_t arm_fdt_size(const void *fdt)
{
	return fdt_totalsize(fdt);
}

int arm_fdt_build(const struct arm_fdt_desc *d, void *buf, size_t size)
{
	struct fdt_w w = { .fdt = buf };

	if (!d->nr_cpus || !d->mpidr)
		return -EINVAL;
	chk(&w, fdt_create(buf, (int)size));
	chk(&w, fdt_finish_reservemap(buf));
	chk(&w, fdt_begin_node(buf, ""));
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_str(&w, "model", "lkvm arm64");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", ARM_FDT_PHANDLE_GIC);
	add_chosen_memory(&w, d);
	add_cpus(&w, d);
	add_psci_timer(&w, d);
	add_gic(&w, d);
	add_uart_pvpanic(&w, d);
	add_virtio_mmio(&w, d);
	if (d->pci)
		add_pci(&w, d);
	end(&w);
	chk(&w, fdt_finish(buf));
	if (w.err)
		return w.err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
	return 0;
}
