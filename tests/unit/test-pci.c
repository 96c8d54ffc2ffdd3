/*
 * The PCI host bridge: configuration mechanism #1, the type-0 header,
 * BAR sizing, placement and relocation, capabilities, shared INTx lines
 * and MSI-X, all driven through the ports and MMIO a guest would use.
 */
#include <stdlib.h>
#include "pci-fake.h"

#define CMD_DECODE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)

struct dummy {
	struct pci_device pci;
	struct pci_msix msix;
	int reads, writes;
	u64 last_off;
	int moves;
	bool last_mapped;
	unsigned int last_bar;
	u64 last_addr;
};

static void dummy_bar(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct dummy *d = opaque;

	d->last_off = off;
	if (is_write) {
		d->writes++;
	} else {
		d->reads++;
		bus_data_put(data, len, 0x5a5a5a5a5a5a5a5aULL);
	}
}

static void dummy_moved(struct pci_device *pci, unsigned int bar, bool mapped, u64 addr)
{
	struct dummy *d = pci->priv;

	d->moves++;
	d->last_bar = bar;
	d->last_mapped = mapped;
	d->last_addr = addr;
}

/* A device with a 4 KiB memory BAR0 and a 64-byte I/O BAR2. */
static struct dummy *dummy_new(void)
{
	struct dummy *d = calloc(1, sizeof(*d));

	d->pci.name = "dummy";
	d->pci.vendor_id = 0x1234;
	d->pci.device_id = 0x5678;
	d->pci.subsys_vendor_id = 0x1af4;
	d->pci.subsys_id = 0x0042;
	d->pci.revision = 3;
	d->pci.class_code = 0xff0000;
	d->pci.intx = true;
	d->pci.priv = d;
	d->pci.bar_moved = dummy_moved;
	d->pci.bars[0] = (struct pci_bar){ .size = 0x1000, .fn = dummy_bar, .opaque = d };
	d->pci.bars[2] = (struct pci_bar){ .size = 0x40, .io = true, .fn = dummy_bar, .opaque = d };
	return d;
}

static struct dummy *dummy_add(void)
{
	struct dummy *d = dummy_new();

	if (pci_register_device(&fake_kvm, &d->pci)) {
		fprintf(stderr, "register failed\n");
		exit(2);
	}
	return d;
}

static void test_address_register(void)
{
	fake_kvm_init();
	pio_wr(0xcf8, 4, 0x80000000);
	CHECK_EQ(pio_rd(0xcf8, 4), 0x80000000);
	/* Linux's probe: a byte write to 0xCFB must not change the register. */
	pio_wr(0xcfb, 1, 0x01);
	CHECK_EQ(pio_rd(0xcf8, 4), 0x80000000);
	pio_wr(0xcf8, 2, 0x1234);
	CHECK_EQ(pio_rd(0xcf8, 4), 0x80000000);
	/* Reserved bits 30-24 and 1-0 read as zero. */
	pio_wr(0xcf8, 4, 0xffffffff);
	CHECK_EQ(pio_rd(0xcf8, 4), 0x80fffffc);
	fake_kvm_exit();
}

static void test_host_bridge(void)
{
	fake_kvm_init();
	CHECK_EQ(cfg_rd(0, PCI_VENDOR_ID, 2), 0x8086);
	CHECK_EQ(cfg_rd(0, PCI_DEVICE_ID, 2), 0x1237);
	CHECK_EQ(cfg_rd(0, PCI_VENDOR_ID, 4), 0x12378086);
	CHECK_EQ(cfg_rd(0, PCI_CLASS_DEVICE, 2), 0x0600);
	CHECK_EQ(cfg_rd(0, PCI_HEADER_TYPE, 1), 0);
	CHECK_EQ(pci_slot_gsi(0), 0);
	/* Byte and word lanes of one dword. */
	CHECK_EQ(cfg_rd(0, 1, 1), 0x80);
	CHECK_EQ(cfg_rd(0, 2, 1), 0x37);
	CHECK_EQ(cfg_rd(0, 3, 1), 0x12);
	fake_kvm_exit();
}

static void test_absent_functions_read_ones(void)
{
	fake_kvm_init();
	CHECK_EQ(cfg_rd(5, PCI_VENDOR_ID, 4), 0xffffffff);
	cfg_select(0, 0, 1, 0);		/* function 1 of the bridge */
	CHECK_EQ(pio_rd(0xcfc, 4), 0xffffffff);
	cfg_select(1, 0, 0, 0);		/* bus 1 */
	CHECK_EQ(pio_rd(0xcfc, 4), 0xffffffff);
	pio_wr(0xcf8, 4, 0);		/* enable bit clear */
	CHECK_EQ(pio_rd(0xcfc, 4), 0xffffffff);
	pio_wr(0xcfc, 4, 0);		/* ignored, must not crash */
	/* A dword access at 0xCFE would cross the data port: all ones. */
	cfg_select(0, 0, 0, 0);
	CHECK_EQ(pio_rd(0xcfe, 4), 0xffffffff);
	pio_wr(0xcfd, 4, 0);
	CHECK_EQ(cfg_rd(0, PCI_VENDOR_ID, 2), 0x8086);
	fake_kvm_exit();
}

static void test_register_header(void)
{
	struct dummy *d;

	fake_kvm_init();
	d = dummy_add();
	CHECK_EQ(d->pci.slot, 1);
	CHECK_EQ(cfg_rd(1, PCI_VENDOR_ID, 2), 0x1234);
	CHECK_EQ(cfg_rd(1, PCI_DEVICE_ID, 2), 0x5678);
	CHECK_EQ(cfg_rd(1, PCI_REVISION_ID, 1), 3);
	CHECK_EQ(cfg_rd(1, PCI_CLASS_REVISION, 4) >> 8, 0xff0000);
	CHECK_EQ(cfg_rd(1, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_rd(1, PCI_SUBSYSTEM_ID, 2), 0x42);
	CHECK_EQ(cfg_rd(1, PCI_INTERRUPT_PIN, 1), 1);
	CHECK_EQ(cfg_rd(1, PCI_INTERRUPT_LINE, 1), 17);
	CHECK_EQ(pci_slot_gsi(1), 17);
	CHECK_EQ(pci_slot_gsi(2), 0);
	CHECK_EQ(pci_slot_gsi(99), 0);
	CHECK_EQ(cfg_rd(1, PCI_COMMAND, 2), CMD_DECODE);
	/* No capabilities: the status bit and pointer say so. */
	CHECK_EQ(cfg_rd(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	/* Read-only fields ignore writes; the Interrupt Line is the guest's. */
	cfg_wr(1, PCI_VENDOR_ID, 4, 0);
	cfg_wr(1, PCI_CLASS_REVISION, 4, 0);
	cfg_wr(1, PCI_INTERRUPT_LINE, 2, 0x0b0b);
	CHECK_EQ(cfg_rd(1, PCI_VENDOR_ID, 4), 0x56781234);
	CHECK_EQ(cfg_rd(1, PCI_CLASS_REVISION, 4), 0xff000003);
	CHECK_EQ(cfg_rd(1, PCI_INTERRUPT_LINE, 1), 0x0b);
	CHECK_EQ(cfg_rd(1, PCI_INTERRUPT_PIN, 1), 1);
	/* Only I/O, memory, bus master and INTx disable are writable. */
	cfg_wr(1, PCI_COMMAND, 2, 0xffff);
	CHECK_EQ(cfg_rd(1, PCI_COMMAND, 2), CMD_DECODE | PCI_COMMAND_MASTER |
						    PCI_COMMAND_INTX_DISABLE);
	fake_kvm_exit();
	free(d);
}

static void test_bar_placement(void)
{
	struct dummy *a, *b;

	fake_kvm_init();
	a = dummy_add();
	b = dummy_add();
	CHECK_EQ(b->pci.slot, 2);
	for (unsigned int s = 1; s <= 2; s++) {
		u32 mem = bar_addr(s, 0), io = bar_addr(s, 2);

		CHECK(mem >= 0xc0000000u && mem + 0x1000 <= 0xfec00000u);
		CHECK_EQ(mem % 0x1000, 0);
		CHECK(io >= 0xc000 && io + 0x40 <= 0x10000);
		CHECK_EQ(io % 0x40, 0);
		CHECK_EQ(cfg_rd(s, PCI_BASE_ADDRESS_2, 4) & 3, PCI_BASE_ADDRESS_SPACE_IO);
		CHECK_EQ(cfg_rd(s, PCI_BASE_ADDRESS_0, 4) & 0xf, 0);	/* 32-bit, no prefetch */
	}
	CHECK(bar_addr(1, 0) != bar_addr(2, 0));
	CHECK(bar_addr(1, 2) != bar_addr(2, 2));
	/* Decoding from the start: the guest reaches each device's handler. */
	CHECK_EQ(mmio_rd(bar_addr(2, 0) + 8, 4), 0x5a5a5a5a);
	CHECK_EQ(b->reads, 1);
	CHECK_EQ(b->last_off, 8);
	pio_wr(bar_addr(1, 2) + 4, 2, 7);
	CHECK_EQ(a->writes, 1);
	CHECK_EQ(a->last_off, 4);
	/* The initial mapping was announced through the hook. */
	CHECK(a->moves >= 2);
	fake_kvm_exit();
	free(a);
	free(b);
}

static void test_bar_sizing(void)
{
	struct dummy *d;
	u32 mem, io;

	fake_kvm_init();
	d = dummy_add();
	mem = cfg_rd(1, PCI_BASE_ADDRESS_0, 4);
	io = cfg_rd(1, PCI_BASE_ADDRESS_2, 4);
	/* The guest's sizing dance, with decoding off as Linux does it. */
	cfg_wr(1, PCI_COMMAND, 2, 0);
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
	cfg_wr(1, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_2, 4), 0x0000ffc1);
	/* Unimplemented BARs and the expansion ROM size as zero. */
	cfg_wr(1, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_1, 4), 0);
	cfg_wr(1, PCI_ROM_ADDRESS, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(1, PCI_ROM_ADDRESS, 4), 0);
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, mem);
	cfg_wr(1, PCI_BASE_ADDRESS_2, 4, io);
	cfg_wr(1, PCI_COMMAND, 2, CMD_DECODE);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), mem);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_2, 4), io);
	CHECK_EQ(mmio_rd(mem, 4), 0x5a5a5a5a);
	/* Word writes to the upper half of a BAR. */
	cfg_wr(1, PCI_COMMAND, 2, 0);
	cfg_wr(1, PCI_BASE_ADDRESS_0 + 2, 2, 0xd000);
	CHECK_EQ(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), 0xd0000000 | (mem & 0xffff));
	fake_kvm_exit();
	free(d);
}

static void test_bar_relocation_and_decode(void)
{
	struct dummy *d;
	u32 old;
	u8 buf[4];

	fake_kvm_init();
	d = dummy_add();
	old = bar_addr(1, 0);
	d->moves = 0;
	/* Memory decode off: unmapped, and the device is told. */
	cfg_wr(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
	CHECK(!bus_dispatch(&fake_kvm.mmio_bus, old, buf, 4, false));
	CHECK_EQ(d->moves, 1);
	CHECK(!d->last_mapped);
	CHECK_EQ(d->last_bar, 0);
	CHECK_EQ(d->last_addr, old);
	/* I/O BAR still decodes. */
	CHECK(bus_dispatch(&fake_kvm.pio_bus, bar_addr(1, 2), buf, 2, false));
	/* Move it while disabled: nothing happens until decode is on. */
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, 0xd0000000);
	CHECK_EQ(d->moves, 1);
	cfg_wr(1, PCI_COMMAND, 2, CMD_DECODE);
	CHECK_EQ(d->moves, 2);
	CHECK(d->last_mapped);
	CHECK_EQ(d->last_addr, 0xd0000000);
	CHECK(!bus_dispatch(&fake_kvm.mmio_bus, old, buf, 4, false));
	CHECK_EQ(mmio_rd(0xd0000000, 4), 0x5a5a5a5a);
	/* Moving while decoding: unmap then map at the new place. */
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, 0xd0010000);
	CHECK_EQ(d->moves, 4);
	CHECK_EQ(d->last_addr, 0xd0010000);
	CHECK(!bus_dispatch(&fake_kvm.mmio_bus, 0xd0000000, buf, 4, false));
	CHECK_EQ(mmio_rd(0xd0010000, 4), 0x5a5a5a5a);
	/* Rewriting the same address changes nothing. */
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, 0xd0010000);
	CHECK_EQ(d->moves, 4);
	/* Address 0 means unassigned. */
	cfg_wr(1, PCI_BASE_ADDRESS_0, 4, 0);
	CHECK(!d->last_mapped);
	/* An I/O BAR moved onto the config ports cannot decode there. */
	cfg_wr(1, PCI_BASE_ADDRESS_2, 4, 0xcc0);
	CHECK_EQ(pio_rd(0xcf8, 4) & 0x80000000, 0x80000000);
	CHECK_EQ(cfg_rd(1, PCI_VENDOR_ID, 2), 0x1234);
	fake_kvm_exit();
	free(d);
}

/* A guest piling BARs onto other devices cannot make lkvm log forever. */
static void test_bar_collisions_capped(void)
{
	struct dummy *d;
	u32 io;

	fake_kvm_init();
	d = dummy_add();
	io = bar_addr(1, 2);
	for (int i = 0; i < 100; i++) {
		cfg_wr(1, PCI_BASE_ADDRESS_2, 4, 0xcc0);	/* over 0xCF8 */
		cfg_wr(1, PCI_BASE_ADDRESS_2, 4, io);
	}
	CHECK_EQ(d->pci.bar_collisions, PCI_MAX_BAR_COLLISIONS);
	/* The I/O BAR got its place back until the cap was reached... */
	CHECK(!bus_dispatch(&fake_kvm.pio_bus, io, (u8[4]){ 0 }, 2, false));
	/* ...the memory BAR, mapped all along, still works. */
	CHECK_EQ(mmio_rd(bar_addr(1, 0), 4), 0x5a5a5a5a);
	CHECK_EQ(cfg_rd(1, PCI_VENDOR_ID, 2), 0x1234);
	fake_kvm_exit();
	free(d);
}

static void test_capability_list(void)
{
	struct dummy *d = dummy_new();
	int c1, c2;
	u8 pos;

	fake_kvm_init();
	c1 = pci_add_cap(&d->pci, PCI_CAP_ID_VNDR, 7);
	c2 = pci_add_cap(&d->pci, PCI_CAP_ID_VNDR, 16);
	CHECK_EQ(c1, 0x40);
	CHECK_EQ(c2, 0x48);	/* dword aligned */
	pci_cfg_set8(&d->pci, c2 + 2, 0x77);
	pci_cfg_set_wmask(&d->pci, c2 + 4, 4, 0xff);
	CHECK_EQ(pci_register_device(&fake_kvm, &d->pci), 0);
	CHECK(cfg_rd(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	pos = (u8)cfg_rd(1, PCI_CAPABILITY_LIST, 1);
	CHECK_EQ(pos, 0x40);
	CHECK_EQ(cfg_rd(1, pos, 1), PCI_CAP_ID_VNDR);
	pos = (u8)cfg_rd(1, pos + 1, 1);
	CHECK_EQ(pos, 0x48);
	CHECK_EQ(cfg_rd(1, pos + 1, 1), 0);	/* end of list */
	CHECK_EQ(cfg_rd(1, pos + 2, 1), 0x77);
	CHECK_EQ(find_cap(1, PCI_CAP_ID_VNDR, 1), 0x48);
	CHECK_EQ(find_cap(1, PCI_CAP_ID_MSIX, 0), 0);
	/* Capability headers are read-only; writable bytes take writes. */
	cfg_wr(1, 0x48, 4, 0xffffffff);
	cfg_wr(1, 0x4c, 4, 0x12345678);
	CHECK_EQ(cfg_rd(1, 0x48, 2), PCI_CAP_ID_VNDR);
	CHECK_EQ(cfg_rd(1, 0x4c, 4), 0x12345678);
	/* The space runs out. */
	CHECK_EQ(pci_add_cap(&d->pci, PCI_CAP_ID_VNDR, 200), -ENOSPC);
	fake_kvm_exit();
	free(d);
}

static void test_slot_exhaustion(void)
{
	struct dummy *d[32];
	struct dummy *extra;

	fake_kvm_init();
	for (int i = 0; i < 31; i++) {
		d[i] = dummy_add();
		CHECK_EQ(d[i]->pci.slot, i + 1);
		CHECK_EQ(pci_slot_gsi(i + 1), 16 + (i + 1) % 8);
	}
	extra = dummy_new();
	CHECK_EQ(pci_register_device(&fake_kvm, &extra->pci), -ENOSPC);
	/* A freed slot is reused. */
	pci_unregister_device(&d[4]->pci);
	CHECK_EQ(cfg_rd(5, PCI_VENDOR_ID, 4), 0xffffffff);
	CHECK_EQ(pci_slot_gsi(5), 0);
	CHECK_EQ(pci_register_device(&fake_kvm, &extra->pci), 0);
	CHECK_EQ(extra->pci.slot, 5);
	fake_kvm_exit();
	for (int i = 0; i < 31; i++)
		free(d[i]);
	free(extra);
}

static void test_bad_bars_refused(void)
{
	struct dummy *d = dummy_new();

	fake_kvm_init();
	d->pci.bars[0].size = 0x1800;	/* not a power of 2 */
	CHECK_EQ(pci_register_device(&fake_kvm, &d->pci), -EINVAL);
	d->pci.bars[0].size = 0x1000;
	d->pci.bars[2].size = 0x200;	/* I/O BARs stop at 256 bytes */
	CHECK_EQ(pci_register_device(&fake_kvm, &d->pci), -EINVAL);
	d->pci.bars[2].size = 0x40;
	d->pci.bars[3] = (struct pci_bar){ .size = 0x40000000, .fn = dummy_bar, .opaque = d };
	CHECK_EQ(pci_register_device(&fake_kvm, &d->pci), -ENOSPC);	/* window full */
	fake_kvm_exit();
	free(d);
}

static void test_intx_shared_line(void)
{
	struct dummy *d[9];

	fake_kvm_init();
	for (int i = 0; i < 9; i++)
		d[i] = dummy_add();
	/* Slots 1 and 9 share GSI 17. */
	CHECK_EQ(d[0]->pci.gsi, 17);
	CHECK_EQ(d[8]->pci.gsi, 17);
	pci_irq_assert(&d[0]->pci);
	CHECK_EQ(irq_level[17], 1);
	CHECK(cfg_rd(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	CHECK(!(cfg_rd(9, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	pci_irq_assert(&d[8]->pci);
	pci_irq_deassert(&d[0]->pci);
	CHECK_EQ(irq_level[17], 1);	/* slot 9 still holds it */
	CHECK(!(cfg_rd(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	pci_irq_deassert(&d[8]->pci);
	CHECK_EQ(irq_level[17], 0);
	/* Repeated asserts count once. */
	pci_irq_assert(&d[1]->pci);
	pci_irq_assert(&d[1]->pci);
	pci_irq_deassert(&d[1]->pci);
	CHECK_EQ(irq_level[18], 0);
	/* INTx Disable masks the line but keeps the device's state. */
	pci_irq_assert(&d[2]->pci);
	CHECK_EQ(irq_level[19], 1);
	cfg_wr(3, PCI_COMMAND, 2, CMD_DECODE | PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(irq_level[19], 0);
	CHECK(cfg_rd(3, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	cfg_wr(3, PCI_COMMAND, 2, CMD_DECODE);
	CHECK_EQ(irq_level[19], 1);
	/* Unregistering drops the device's share. */
	pci_unregister_device(&d[2]->pci);
	CHECK_EQ(irq_level[19], 0);
	fake_kvm_exit();
	for (int i = 0; i < 9; i++)
		free(d[i]);
}

/* ---- MSI-X ---- */

#define NVEC 4
#define PBA_OFF 0x800

static void msix_bar(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct dummy *d = opaque;

	if (!pci_msix_bar_access(&d->msix, off, data, len, is_write) && !is_write)
		memset(data, 0xee, len);
}

static struct dummy *msix_dummy(u32 *table)
{
	struct dummy *d = dummy_new();

	d->pci.bars[0].fn = msix_bar;
	CHECK_EQ(pci_msix_init(&d->pci, &d->msix, NVEC, 0, 0, PBA_OFF), 0);
	if (pci_register_device(&fake_kvm, &d->pci))
		exit(2);
	*table = bar_addr(1, 0);
	return d;
}

static void entry_write(u32 table, unsigned int v, u64 addr, u32 data, u32 ctrl)
{
	mmio_wr(table + 16 * v, 4, (u32)addr);
	mmio_wr(table + 16 * v + 4, 4, addr >> 32);
	mmio_wr(table + 16 * v + 8, 4, data);
	mmio_wr(table + 16 * v + 12, 4, ctrl);
}

static void msix_control(u16 bits)
{
	u8 cap = find_cap(1, PCI_CAP_ID_MSIX, 0);

	cfg_wr(1, cap + PCI_MSIX_FLAGS, 2, bits);
}

static void test_msix_capability(void)
{
	struct dummy *d;
	u32 table;
	u8 cap;

	fake_kvm_init();
	d = msix_dummy(&table);
	cap = find_cap(1, PCI_CAP_ID_MSIX, 0);
	CHECK(cap >= 0x40);
	CHECK_EQ(cfg_rd(1, cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
	CHECK_EQ(cfg_rd(1, cap + PCI_MSIX_TABLE, 4), 0 | 0);
	CHECK_EQ(cfg_rd(1, cap + PCI_MSIX_PBA, 4), PBA_OFF | 0);
	/* Only Enable and Function Mask are writable. */
	cfg_wr(1, cap + PCI_MSIX_FLAGS, 2, 0xffff);
	CHECK_EQ(cfg_rd(1, cap + PCI_MSIX_FLAGS, 2),
		 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1));
	CHECK(pci_msix_enabled(&d->msix));
	cfg_wr(1, cap + PCI_MSIX_FLAGS, 2, 0);
	CHECK(!pci_msix_enabled(&d->msix));
	/* The table starts masked and zeroed; entries read back. */
	CHECK_EQ(mmio_rd(table + 12, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	CHECK_EQ(mmio_rd(table + 0, 4), 0);
	entry_write(table, 2, 0xfee01000, 0x4041, 0xffffffff);
	CHECK_EQ(mmio_rd(table + 32, 4), 0xfee01000);
	CHECK_EQ(mmio_rd(table + 40, 4), 0x4041);
	CHECK_EQ(mmio_rd(table + 44, 4), 1);	/* reserved control bits stay 0 */
	CHECK_EQ(bus_rd64(&fake_kvm.mmio_bus, table + 32), 0xfee01000);
	/* Past the table and PBA: not MSI-X, the device's own bytes. */
	CHECK_EQ(mmio_rd(table + 16 * NVEC, 4), 0xeeeeeeee);
	fake_kvm_exit();
	pci_msix_exit(&d->msix);
	free(d);
}

static void test_msix_delivery(void)
{
	struct dummy *d;
	u32 table;

	fake_kvm_init();
	d = msix_dummy(&table);
	/* Disabled: the caller falls back to INTx. */
	CHECK(!pci_msix_signal(&d->msix, 0));
	/* Linux's order: enable with the function masked, program, unmask. */
	msix_control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	entry_write(table, 0, 0xfee00000, 0x31, 0);
	CHECK(pci_msix_signal(&d->msix, 0));
	CHECK_EQ(nr_routes, 0);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 4), 1);	/* pending */
	msix_control(PCI_MSIX_FLAGS_ENABLE);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 4), 0);
	CHECK_EQ(nr_routes, 1);
	CHECK_EQ(routes[0].addr, 0xfee00000);
	CHECK_EQ(routes[0].data, 0x31);
	CHECK(routes[0].irqfd >= 0);
	CHECK_EQ(irqfd_signals(0), 1);
	/* Later signals are eventfd writes on the same route. */
	pci_msix_signal(&d->msix, 0);
	pci_msix_signal(&d->msix, 0);
	CHECK_EQ(irqfd_signals(0), 2);
	CHECK_EQ(nr_routes, 1);
	CHECK_EQ(signal_msi_calls, 0);
	/* The guest retargets the vector: the route follows. */
	mmio_wr(table + 8, 4, 0x32);
	pci_msix_signal(&d->msix, 0);
	CHECK_EQ(route_updates, 1);
	CHECK_EQ(routes[0].data, 0x32);
	CHECK_EQ(irqfd_signals(0), 1);
	/* Per-vector mask: pending until the entry is unmasked. */
	mmio_wr(table + 12, 4, 1);
	pci_msix_signal(&d->msix, 0);
	CHECK_EQ(irqfd_signals(0), 0);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 1), 1);
	mmio_wr(table + 12, 4, 0);
	CHECK_EQ(irqfd_signals(0), 1);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 1), 0);
	/* A masked vector that never fired stays pending, others untouched. */
	entry_write(table, 3, 0xfee00000, 0x33, 1);
	pci_msix_signal(&d->msix, 3);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 1), 1 << 3);
	CHECK_EQ(nr_routes, 1);
	/* Out-of-range vectors are ignored. */
	CHECK(pci_msix_signal(&d->msix, NVEC + 5));
	/* PBA is read-only. */
	mmio_wr(table + PBA_OFF, 4, 0);
	CHECK_EQ(mmio_rd(table + PBA_OFF, 1), 1 << 3);
	fake_kvm_exit();
	pci_msix_exit(&d->msix);
	free(d);
}

static void test_msix_fallbacks(void)
{
	struct dummy *d;
	u32 table;

	fake_kvm_init();
	d = msix_dummy(&table);
	msix_control(PCI_MSIX_FLAGS_ENABLE);
	/* No irqfd: the route exists but delivery uses KVM_SIGNAL_MSI. */
	irqfd_fails = true;
	entry_write(table, 1, 0xfee02000, 0x41, 0);
	pci_msix_signal(&d->msix, 1);
	CHECK_EQ(nr_routes, 1);
	CHECK_EQ(signal_msi_calls, 1);
	CHECK_EQ(last_msi_addr, 0xfee02000);
	CHECK_EQ(last_msi_data, 0x41);
	/* No route at all: KVM_SIGNAL_MSI with the entry as it is now. */
	route_add_fails = true;
	entry_write(table, 2, 0x1fee03000ULL, 0x42, 0);
	pci_msix_signal(&d->msix, 2);
	pci_msix_signal(&d->msix, 2);
	CHECK_EQ(signal_msi_calls, 3);
	CHECK_EQ(last_msi_addr, 0x1fee03000ULL);
	mmio_wr(table + 32 + 8, 4, 0x43);
	pci_msix_signal(&d->msix, 2);
	CHECK_EQ(last_msi_data, 0x43);
	fake_kvm_exit();
	pci_msix_exit(&d->msix);
	free(d);
}

static void test_msix_odd_accesses(void)
{
	struct dummy *d;
	u32 table;
	u8 buf[8];

	fake_kvm_init();
	d = msix_dummy(&table);
	/* Byte, word and qword accesses to an entry. */
	mmio_wr(table + 16, 1, 0x78);
	mmio_wr(table + 17, 1, 0x56);
	mmio_wr(table + 18, 2, 0xfee0);
	CHECK_EQ(mmio_rd(table + 16, 4), 0xfee05678);
	bus_wr(&fake_kvm.mmio_bus, table + 24, 8, 0x0000000000000051ULL);
	CHECK_EQ(mmio_rd(table + 24, 4), 0x51);
	CHECK_EQ(mmio_rd(table + 28, 4), 0);	/* unmasked by the qword write */
	/* Accesses straddling the end of the table or wider than 8 bytes. */
	CHECK(!pci_msix_bar_access(&d->msix, 16 * NVEC - 4, buf, 8, false));
	CHECK(!pci_msix_bar_access(&d->msix, 0, buf, 16, false));
	CHECK(!pci_msix_bar_access(&d->msix, 0, buf, 0, true));
	CHECK(!pci_msix_bar_access(&d->msix, ~0ULL - 2, buf, 4, true));
	/* Bad init arguments. */
	struct pci_msix m;
	CHECK_EQ(pci_msix_init(&d->pci, &m, 0, 0, 0, 0x800), -EINVAL);
	CHECK_EQ(pci_msix_init(&d->pci, &m, 4, 6, 0, 0x800), -EINVAL);
	CHECK_EQ(pci_msix_init(&d->pci, &m, 4, 0, 4, 0x800), -EINVAL);
	CHECK_EQ(pci_msix_init(&d->pci, &m, 4000, 0, 0, 0x800), -EINVAL);
	fake_kvm_exit();
	pci_msix_exit(&d->msix);
	free(d);
}

/* Any config access a guest can make, to every slot, must be harmless. */
static void test_config_fuzz(void)
{
	struct dummy *d;
	u32 table;
	unsigned int seed = 12345;

	fake_kvm_init();
	d = msix_dummy(&table);
	for (int i = 0; i < 200000; i++) {
		u32 r = (u32)rand_r(&seed), val = (u32)rand_r(&seed) * 2654435761u;
		u32 slot = r % 4, off = (r >> 2) & 0xff, len = 1u << ((r >> 10) % 3);
		u32 port = 0xcfc + ((r >> 12) & 3);

		if ((r >> 14) % 8 == 0)
			pio_wr(0xcf8, 4, (r >> 17) % 2 ? val : 0x80000000u | slot << 11 | off);
		else
			cfg_select(0, slot, 0, off);
		if ((r >> 20) % 2)
			pio_wr(port, len, val);
		else
			pio_rd(port, len);
	}
	/* Still a working device after all that. */
	cfg_wr(1, PCI_COMMAND, 2, CMD_DECODE);
	CHECK_EQ(cfg_rd(1, PCI_VENDOR_ID, 4), 0x56781234);
	CHECK_EQ(cfg_rd(0, PCI_VENDOR_ID, 4), 0x12378086);
	fake_kvm_exit();
	pci_msix_exit(&d->msix);
	free(d);
}

int main(void)
{
	RUN(test_address_register);
	RUN(test_host_bridge);
	RUN(test_absent_functions_read_ones);
	RUN(test_register_header);
	RUN(test_bar_placement);
	RUN(test_bar_sizing);
	RUN(test_bar_relocation_and_decode);
	RUN(test_bar_collisions_capped);
	RUN(test_capability_list);
	RUN(test_slot_exhaustion);
	RUN(test_bad_bars_refused);
	RUN(test_intx_shared_line);
	RUN(test_msix_capability);
	RUN(test_msix_delivery);
	RUN(test_msix_fallbacks);
	RUN(test_msix_odd_accesses);
	RUN(test_config_fuzz);
	return unit_summary();
}
