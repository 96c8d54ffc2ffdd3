#ifndef LKVM_TESTS_PCI_FAKE_H
#define LKVM_TESTS_PCI_FAKE_H
/*
 * Shared fixture for the PCI unit tests: a struct kvm with real port and
 * MMIO buses but no /dev/kvm, recording stubs of the kvm_* interrupt
 * calls (defining them here keeps kvm.o out of the link), and guest-side
 * helpers that reach configuration space through 0xCF8/0xCFC exactly as
 * a guest does.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/bus.h"
#include "lkvm/kvm.h"
#include "lkvm/pci.h"
#include "unit.h"

#define FIRST_FAKE_GSI 24
#define MAX_FAKE_ROUTES 64

static struct kvm fake_kvm;

static int irq_level[256];
static int irq_line_calls;
static struct { u64 addr; u32 data; int irqfd; } routes[MAX_FAKE_ROUTES];
static int nr_routes, route_updates, signal_msi_calls;
static bool route_add_fails, irqfd_fails;
static u64 last_msi_addr;
static u32 last_msi_data;

int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	irq_level[gsi & 0xff] = level;
	irq_line_calls++;
	return 0;
}

int kvm_msi_route_add(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	if (route_add_fails || nr_routes == MAX_FAKE_ROUTES)
		return -ENOSPC;
	routes[nr_routes].addr = addr;
	routes[nr_routes].data = data;
	routes[nr_routes].irqfd = -1;
	return FIRST_FAKE_GSI + nr_routes++;
}

int kvm_msi_route_update(struct kvm *kvm, u32 gsi, u64 addr, u32 data, u32 devid)
{
	int i = (int)gsi - FIRST_FAKE_GSI;

	if (i < 0 || i >= nr_routes)
		return -EINVAL;
	routes[i].addr = addr;
	routes[i].data = data;
	route_updates++;
	return 0;
}

int kvm_signal_msi(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	signal_msi_calls++;
	last_msi_addr = addr;
	last_msi_data = data;
	return 0;
}

/* Every irqfd KVM holds, as (gsi, fd); routes[].irqfd is a route's first. */
#define MAX_FAKE_IRQFDS 64
static struct { u32 gsi; int fd; } irqfds[MAX_FAKE_IRQFDS];
static int nr_irqfds;

/* The gsi fd is bound to, -1 if KVM does not hold it. */
static UNUSED int irqfd_gsi(int fd)
{
	for (int k = 0; k < nr_irqfds; k++)
		if (irqfds[k].fd == fd)
			return (int)irqfds[k].gsi;
	return -1;
}

int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign)
{
	int i = (int)gsi - FIRST_FAKE_GSI;

	if (i < 0 || i >= nr_routes)
		return -EINVAL;
	if (assign && irqfd_fails)
		return -ENOSYS;
	if (assign) {
		/* KVM refuses an eventfd that is an irqfd already. */
		if (irqfd_gsi(fd) >= 0 || nr_irqfds == MAX_FAKE_IRQFDS)
			return -EBUSY;
		irqfds[nr_irqfds].gsi = gsi;
		irqfds[nr_irqfds++].fd = fd;
		if (routes[i].irqfd < 0)
			routes[i].irqfd = fd;
		return 0;
	}
	for (int k = 0; k < nr_irqfds; k++)
		if (irqfds[k].fd == fd && irqfds[k].gsi == gsi) {
			irqfds[k] = irqfds[--nr_irqfds];
			break;
		}
	if (routes[i].irqfd == fd)
		routes[i].irqfd = -1;
	return 0;
}

/* Eventfds registered with KVM directly (kvm_ioeventfd), not via ioevent_add. */
#define MAX_FAKE_KVM_IOEVENTS 32
static struct { u64 addr; bool pio; int fd; u64 match; } kvm_ioevents[MAX_FAKE_KVM_IOEVENTS];
static int nr_kvm_ioevents;
static bool kvm_ioevent_fails;

int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
		  bool datamatch, u64 match, bool assign)
{
	if (assign) {
		if (kvm_ioevent_fails || nr_kvm_ioevents == MAX_FAKE_KVM_IOEVENTS)
			return -ENOSPC;
		kvm_ioevents[nr_kvm_ioevents].addr = addr;
		kvm_ioevents[nr_kvm_ioevents].pio = pio;
		kvm_ioevents[nr_kvm_ioevents].fd = fd;
		kvm_ioevents[nr_kvm_ioevents++].match = match;
		return 0;
	}
	for (int k = 0; k < nr_kvm_ioevents; k++)
		if (kvm_ioevents[k].addr == addr && kvm_ioevents[k].pio == pio &&
		    kvm_ioevents[k].fd == fd) {
			kvm_ioevents[k] = kvm_ioevents[--nr_kvm_ioevents];
			return 0;
		}
	return -ENOENT;
}

/* The fd KVM signals for a write at addr, -1 if none. */
static UNUSED int kvm_ioevent_fd(u64 addr, bool pio)
{
	for (int k = 0; k < nr_kvm_ioevents; k++)
		if (kvm_ioevents[k].addr == addr && kvm_ioevents[k].pio == pio)
			return kvm_ioevents[k].fd;
	return -1;
}

/* Signals delivered through route i's irqfd since the last call. */
static UNUSED u64 irqfd_signals(int i)
{
	u64 n = 0;

	if (i < 0 || i >= nr_routes || routes[i].irqfd < 0)
		return 0;
	if (read(routes[i].irqfd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* A PC-like host (mechanism #1, the x86 windows) on every architecture. */
static const struct pci_host_config fake_host = {
	.mmio_base = 0xc0000000, .mmio_size = 0x3e000000,
	.io_base = 0xc000, .io_size = 0x4000,
	.intx_gsi_base = 16, .intx_gsi_count = 8,
	.cf8_ports = true,
	.bridge_vendor_id = 0x8086, .bridge_device_id = 0x1237,
};

static UNUSED void fake_kvm_init(void)
{
	memset(&fake_kvm, 0, sizeof(fake_kvm));
	bus_init(&fake_kvm.pio_bus, "pio");
	bus_init(&fake_kvm.mmio_bus, "mmio");
	memset(irq_level, 0, sizeof(irq_level));
	memset(routes, 0, sizeof(routes));
	irq_line_calls = nr_routes = route_updates = signal_msi_calls = nr_irqfds = 0;
	nr_kvm_ioevents = 0;
	kvm_ioevent_fails = false;
	route_add_fails = irqfd_fails = false;
	if (pci_host_setup(&fake_kvm, &fake_host)) {
		fprintf(stderr, "pci_host_setup failed\n");
		exit(2);
	}
}

static UNUSED void fake_kvm_exit(void)
{
	pci_host_exit(&fake_kvm);
	bus_destroy(&fake_kvm.pio_bus);
	bus_destroy(&fake_kvm.mmio_bus);
}

/* ---- guest-side accessors ---- */

static UNUSED u32 bus_rd(struct bus *bus, u64 addr, u32 len)
{
	u8 d[8] = { 0 };

	bus_dispatch(bus, addr, d, len, false);
	return (u32)bus_data_get(d, len);
}

static UNUSED u64 bus_rd64(struct bus *bus, u64 addr)
{
	u8 d[8] = { 0 };

	bus_dispatch(bus, addr, d, 8, false);
	return bus_data_get(d, 8);
}

static UNUSED void bus_wr(struct bus *bus, u64 addr, u32 len, u64 val)
{
	u8 d[8];

	bus_data_put(d, len, val);
	bus_dispatch(bus, addr, d, len, true);
}

#define pio_rd(a, l) bus_rd(&fake_kvm.pio_bus, a, l)
#define pio_wr(a, l, v) bus_wr(&fake_kvm.pio_bus, a, l, v)
#define mmio_rd(a, l) bus_rd(&fake_kvm.mmio_bus, a, l)
#define mmio_wr(a, l, v) bus_wr(&fake_kvm.mmio_bus, a, l, v)

static UNUSED void cfg_select(unsigned int bus, unsigned int slot, unsigned int fn, u32 off)
{
	pio_wr(0xcf8, 4, 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (off & 0xfc));
}

static UNUSED u32 cfg_rd(unsigned int slot, u32 off, u32 len)
{
	cfg_select(0, slot, 0, off);
	return pio_rd(0xcfc + (off & 3), len);
}

static UNUSED void cfg_wr(unsigned int slot, u32 off, u32 len, u32 val)
{
	cfg_select(0, slot, 0, off);
	pio_wr(0xcfc + (off & 3), len, val);
}

/* The BAR's address as the guest sees it, flag bits stripped. */
static UNUSED u32 bar_addr(unsigned int slot, unsigned int bar)
{
	u32 v = cfg_rd(slot, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	return v & PCI_BASE_ADDRESS_SPACE_IO ? v & ~3u : v & ~0xfu;
}

/* Offset of the n-th capability with this id (n from 0), 0 if none. */
static UNUSED u8 find_cap(unsigned int slot, u8 id, unsigned int n)
{
	u8 pos = (u8)cfg_rd(slot, PCI_CAPABILITY_LIST, 1);

	for (int guard = 0; pos && guard < 64; guard++) {
		if (cfg_rd(slot, pos, 1) == id && n-- == 0)
			return pos;
		pos = (u8)cfg_rd(slot, pos + PCI_CAP_LIST_NEXT, 1);
	}
	return 0;
}

#endif
