/*
 * PCI bus 0 behind a host bridge: configuration mechanism #1 or an ECAM
 * window, type-0 headers, BAR placement and relocation, and INTx lines
 * shared between slots.  The architecture chooses the windows
 * (pci_host_init() in x86/ and arm/).
 */
#include <errno.h>
#include <string.h>
#include <linux/pci.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"

#define CF8_PORT 0xcf8
#define CFC_PORT 0xcfc
#define CF8_ENABLE 0x80000000u
/* Enable, bus, device, function, dword register; reserved bits read 0. */
#define CF8_MASK 0x80fffffcu

#define CMD_DECODE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)
#define CMD_WRITABLE (CMD_DECODE | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
#define IO_SPACE_END 0x10000u

static struct pci_host {
	pthread_mutex_t lock;	/* config accesses, registry, BAR mapping */
	struct kvm *kvm;
	struct pci_host_config cfg;
	bool ready;
	u32 cf8;		/* the address register */
	u64 mem_next;		/* bump allocators for initial BAR placement */
	u64 io_next;
	struct pci_device bridge;
	struct pci_device *slots[PCI_SLOTS];
} host = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Wired-OR of INTx lines: KVM keeps one level per GSI for all of user space. */
static pthread_mutex_t irq_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int gsi_users[256];

/* ---- INTx ---- */

/* irq_lock held: make the device's share of its GSI match its state. */
static void intx_update(struct pci_device *dev)
{
	bool want = dev->intx_level && dev->gsi && !dev->intx_disabled;

	if (want == dev->intx_counted)
		return;
	dev->intx_counted = want;
	if (want ? gsi_users[dev->gsi]++ == 0 : --gsi_users[dev->gsi] == 0)
		kvm_irq_line(dev->kvm, dev->gsi, want);
}

static void intx_set(struct pci_device *dev, bool level)
{
	pthread_mutex_lock(&irq_lock);
	__atomic_store_n(&dev->intx_level, level, __ATOMIC_RELAXED);
	intx_update(dev);
	pthread_mutex_unlock(&irq_lock);
}

void pci_irq_assert(struct pci_device *dev)
{
	intx_set(dev, true);
}

void pci_irq_deassert(struct pci_device *dev)
{
	intx_set(dev, false);
}

static void intx_set_disabled(struct pci_device *dev, bool disabled)
{
	pthread_mutex_lock(&irq_lock);
	dev->intx_disabled = disabled;
	intx_update(dev);
	pthread_mutex_unlock(&irq_lock);
}

u8 pci_slot_gsi(unsigned int slot)
{
	u8 gsi = 0;

	pthread_mutex_lock(&host.lock);
	if (slot > 0 && slot < PCI_SLOTS && host.slots[slot])
		gsi = host.slots[slot]->gsi;
	pthread_mutex_unlock(&host.lock);
	return gsi;
}

static u8 slot_gsi(unsigned int slot)
{
	if (!host.cfg.intx_gsi_count)
		return 0;
	return (u8)(host.cfg.intx_gsi_base + slot % host.cfg.intx_gsi_count);
}

/* ---- BARs ---- */

static u32 bar_reg(unsigned int bar)
{
	return PCI_BASE_ADDRESS_0 + 4 * bar;
}

u32 pci_bar_addr(const struct pci_device *dev, unsigned int bar)
{
	u32 v = pci_cfg_get32(dev, bar_reg(bar));

	return dev->bars[bar].io ? v & PCI_BASE_ADDRESS_IO_MASK : v & PCI_BASE_ADDRESS_MEM_MASK;
}

/* The register value for a written address: size bits read back as 0. */
static u32 bar_encode(const struct pci_bar *b, u32 v)
{
	if (b->io)
		return (v & ~(b->size - 1) & (IO_SPACE_END - 1) & PCI_BASE_ADDRESS_IO_MASK) |
		       PCI_BASE_ADDRESS_SPACE_IO;
	return v & ~(b->size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
}

/* I/O BARs sit on the port bus, or at io_cpu_base on MMIO where CPUs have no ports. */
static struct bus *bar_bus(const struct pci_device *dev, const struct pci_bar *b)
{
	return b->io && !host.cfg.io_on_mmio ? &dev->kvm->pio_bus : &dev->kvm->mmio_bus;
}

static u64 bar_bus_addr(const struct pci_bar *b, u64 addr)
{
	return b->io && host.cfg.io_on_mmio ? host.cfg.io_cpu_base + addr : addr;
}

static void bar_unmap(struct pci_device *dev, unsigned int bar)
{
	struct pci_bar *b = &dev->bars[bar];

	if (!b->mapped)
		return;
	bus_unregister(bar_bus(dev, b), bar_bus_addr(b, b->mapped_addr));
	b->mapped = false;
	if (dev->bar_moved)
		dev->bar_moved(dev, bar, false, b->mapped_addr);
}

/* Host lock held: decode the BAR where the guest put it, if enabled. */
static void bar_update(struct pci_device *dev, unsigned int bar)
{
	struct pci_bar *b = &dev->bars[bar];
	u16 cmd = pci_cfg_get16(dev, PCI_COMMAND);
	u64 addr = pci_bar_addr(dev, bar);
	bool want;

	if (!b->size)
		return;
	want = addr && (cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY));
	if (b->io && addr + b->size > IO_SPACE_END)
		want = false;
	if (want && b->mapped && b->mapped_addr == addr)
		return;
	bar_unmap(dev, bar);
	if (!want)
		return;
	/* bus_register logs each collision: do not let a guest flood the log. */
	if (dev->bar_collisions >= PCI_MAX_BAR_COLLISIONS ||
	    bus_register(bar_bus(dev, b), bar_bus_addr(b, addr), b->size, b->fn, b->opaque,
			 dev->name)) {
		if (dev->bar_collisions < PCI_MAX_BAR_COLLISIONS &&
		    ++dev->bar_collisions == PCI_MAX_BAR_COLLISIONS)
			pr_warn("pci %s: BARs placed over other devices %u times; "
				"BARs that move now stay off", dev->name, PCI_MAX_BAR_COLLISIONS);
		return;
	}
	b->mapped = true;
	b->mapped_addr = addr;
	if (dev->bar_moved)
		dev->bar_moved(dev, bar, true, addr);
}

static void bar_write(struct pci_device *dev, unsigned int bar, u32 byte,
		      const u8 *data, u32 len)
{
	struct pci_bar *b = &dev->bars[bar];
	u32 v = pci_cfg_get32(dev, bar_reg(bar));

	if (!b->size)
		return;		/* unimplemented BARs read as 0 */
	for (u32 i = 0; i < len; i++) {
		u32 shift = 8 * (byte + i);

		v = (v & ~(0xffu << shift)) | (u32)data[i] << shift;
	}
	pci_cfg_set32(dev, bar_reg(bar), bar_encode(b, v));
	bar_update(dev, bar);
}

/* ---- configuration space ---- */

static bool touches(u32 off, u32 len, u32 reg, u32 reg_len)
{
	return off < reg + reg_len && reg < off + len;
}

static void command_written(struct pci_device *dev, u16 old)
{
	u16 cmd = pci_cfg_get16(dev, PCI_COMMAND);

	if ((old ^ cmd) & CMD_DECODE)
		for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
			bar_update(dev, i);
	if ((old ^ cmd) & PCI_COMMAND_INTX_DISABLE)
		intx_set_disabled(dev, cmd & PCI_COMMAND_INTX_DISABLE);
}

static void cfg_write(struct pci_device *dev, u32 off, const u8 *data, u32 len)
{
	u16 old_cmd = pci_cfg_get16(dev, PCI_COMMAND);

	if (off >= PCI_BASE_ADDRESS_0 && off <= PCI_BASE_ADDRESS_5 + 3) {
		bar_write(dev, (off - PCI_BASE_ADDRESS_0) / 4, off % 4, data, len);
		return;
	}
	for (u32 i = 0; i < len; i++)
		dev->cfg[off + i] = (dev->cfg[off + i] & ~dev->wmask[off + i]) |
				    (data[i] & dev->wmask[off + i]);
	if (touches(off, len, PCI_COMMAND, 2))
		command_written(dev, old_cmd);
	if (dev->msix && touches(off, len, dev->msix->cap + PCI_MSIX_FLAGS, 2))
		pci_msix_control_written(dev->msix,
					 pci_cfg_get16(dev, dev->msix->cap + PCI_MSIX_FLAGS));
	if (off >= PCI_CFG_HEADER_END && dev->cfg_write)
		dev->cfg_write(dev, off, len);
}

static void cfg_read(struct pci_device *dev, u32 off, u8 *data, u32 len)
{
	if (off >= PCI_CFG_HEADER_END && dev->cfg_read)
		dev->cfg_read(dev, off, len);
	memcpy(data, &dev->cfg[off], len);
	if (touches(off, len, PCI_STATUS, 1) &&
	    __atomic_load_n(&dev->intx_level, __ATOMIC_RELAXED))
		data[PCI_STATUS - off] |= PCI_STATUS_INTERRUPT;
}

static struct pci_device *lookup(u8 bus, u8 devfn)
{
	if (bus != 0 || PCI_FUNC(devfn) != 0 || !host.ready)
		return NULL;
	return host.slots[PCI_SLOT(devfn)];
}

/* Host lock held. */
static void cfg_access_locked(u8 bus, u8 devfn, u32 off, u8 *data, u32 len, bool is_write)
{
	struct pci_device *dev = lookup(bus, devfn);

	if (!dev || !len || len > 4 || off % 4 + len > 4 || off >= PCI_CFG_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		cfg_write(dev, off, data, len);
	else
		cfg_read(dev, off, data, len);
}

void pci_cfg_access(u8 bus, u8 devfn, u32 off, u8 *data, u32 len, bool is_write)
{
	pthread_mutex_lock(&host.lock);
	cfg_access_locked(bus, devfn, off, data, len, is_write);
	pthread_mutex_unlock(&host.lock);
}

/* Mechanism #1: only dword accesses reach the address register. */
static void cf8_access(void *opaque UNUSED, u64 off, u8 *data, u32 len, bool is_write)
{
	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&host.lock);
	if (is_write)
		host.cf8 = (u32)bus_data_get(data, 4) & CF8_MASK;
	else
		bus_data_put(data, 4, host.cf8);
	pthread_mutex_unlock(&host.lock);
}

static void cfc_access(void *opaque UNUSED, u64 off, u8 *data, u32 len, bool is_write)
{
	u32 a;

	pthread_mutex_lock(&host.lock);
	a = host.cf8;
	if (!(a & CF8_ENABLE) || off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
	} else {
		cfg_access_locked((u8)(a >> 16), (u8)(a >> 8), (a & 0xfc) + (u32)off,
				  data, len, is_write);
	}
	pthread_mutex_unlock(&host.lock);
}

/*
 * ECAM (PCIe memory-mapped configuration): bus << 20 | devfn << 12 | reg.
 * Accesses wider than a dword or crossing one read as all ones.
 */
static void ecam_access(void *opaque UNUSED, u64 off, u8 *data, u32 len, bool is_write)
{
	pci_cfg_access((u8)(off >> 20), (u8)(off >> 12), (u32)(off & 0xfff), data, len,
		       is_write);
}

/* ---- capabilities ---- */

int pci_add_cap(struct pci_device *dev, u8 cap_id, u8 len)
{
	u32 start = ALIGN_UP(MAX(dev->cap_end, (u32)PCI_CFG_HEADER_END), 4u);

	if (len < 2 || start + len > PCI_CFG_SIZE)
		return -ENOSPC;
	dev->cfg[start] = cap_id;
	dev->cfg[start + PCI_CAP_LIST_NEXT] = 0;
	if (dev->last_cap)
		dev->cfg[dev->last_cap + PCI_CAP_LIST_NEXT] = (u8)start;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (u8)start;
	dev->last_cap = (u8)start;
	dev->cap_end = (u16)(start + len);
	return (int)start;
}

void pci_cfg_set_wmask(struct pci_device *dev, u32 off, u32 len, u8 mask)
{
	for (u32 i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		dev->wmask[off + i] = mask;
}

/* ---- registration ---- */

static void init_header(struct pci_device *dev)
{
	pci_cfg_set16(dev, PCI_VENDOR_ID, dev->vendor_id);
	pci_cfg_set16(dev, PCI_DEVICE_ID, dev->device_id);
	pci_cfg_set8(dev, PCI_REVISION_ID, dev->revision);
	pci_cfg_set8(dev, PCI_CLASS_PROG, (u8)dev->class_code);
	pci_cfg_set16(dev, PCI_CLASS_DEVICE, (u16)(dev->class_code >> 8));
	pci_cfg_set8(dev, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	pci_cfg_set16(dev, PCI_SUBSYSTEM_VENDOR_ID, dev->subsys_vendor_id);
	pci_cfg_set16(dev, PCI_SUBSYSTEM_ID, dev->subsys_id);
	pci_cfg_set16(dev, PCI_STATUS, dev->last_cap ? PCI_STATUS_CAP_LIST : 0);
	pci_cfg_set8(dev, PCI_INTERRUPT_PIN, dev->intx ? 1 : 0);	/* INTA# */
	pci_cfg_set8(dev, PCI_INTERRUPT_LINE, dev->gsi);
	pci_cfg_set_wmask(dev, PCI_COMMAND, 1, (u8)CMD_WRITABLE);
	pci_cfg_set_wmask(dev, PCI_COMMAND + 1, 1, (u8)(CMD_WRITABLE >> 8));
	pci_cfg_set_wmask(dev, PCI_CACHE_LINE_SIZE, 1, 0xff);
	pci_cfg_set_wmask(dev, PCI_LATENCY_TIMER, 1, 0xff);
	pci_cfg_set_wmask(dev, PCI_INTERRUPT_LINE, 1, 0xff);
}

static bool bar_valid(const struct pci_bar *b)
{
	if (!b->size)
		return true;
	return !(b->size & (b->size - 1)) && b->size >= (b->io ? 4u : 16u) &&
	       (!b->io || b->size <= 256) && b->fn;
}

/* Natural alignment, bump allocation; false when the window is full. */
static bool window_alloc(u64 *next, u64 end, u32 size, u64 *addr)
{
	u64 a = ALIGN_UP(*next, (u64)size);

	if (a < *next || a + size > end)
		return false;
	*addr = a;
	*next = a + size;
	return true;
}

static int place_bars(struct pci_device *dev)
{
	u64 mem = host.mem_next, io = host.io_next, addr[PCI_NUM_BARS] = { 0 };
	u64 mem_end = host.cfg.mmio_base + host.cfg.mmio_size;
	u64 io_end = (u64)host.cfg.io_base + host.cfg.io_size;

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];

		if (b->size && !window_alloc(b->io ? &io : &mem, b->io ? io_end : mem_end,
					     b->size, &addr[i]))
			return -ENOSPC;
	}
	host.mem_next = mem;
	host.io_next = io;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (dev->bars[i].size)
			pci_cfg_set32(dev, bar_reg(i), bar_encode(&dev->bars[i], (u32)addr[i]));
	return 0;
}

static int free_slot(void)
{
	for (unsigned int s = 1; s < PCI_SLOTS; s++)
		if (!host.slots[s])
			return (int)s;
	return -ENOSPC;
}

/* Host lock held. */
static int register_locked(struct kvm *kvm, struct pci_device *dev)
{
	int slot, ret;

	if (!host.ready)
		return -ENODEV;
	slot = free_slot();
	if (slot < 0)
		return slot;
	ret = place_bars(dev);
	if (ret)
		return ret;
	dev->kvm = kvm;
	dev->slot = (unsigned int)slot;
	dev->gsi = dev->intx ? slot_gsi(dev->slot) : 0;
	init_header(dev);
	/* As firmware would leave it: decoding, not yet bus master. */
	pci_cfg_set16(dev, PCI_COMMAND, CMD_DECODE);
	host.slots[slot] = dev;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		bar_update(dev, i);
	return 0;
}

int pci_register_device(struct kvm *kvm, struct pci_device *dev)
{
	int ret = 0;

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (!bar_valid(&dev->bars[i]))
			ret = -EINVAL;
	if (!ret) {
		pthread_mutex_lock(&host.lock);
		ret = register_locked(kvm, dev);
		pthread_mutex_unlock(&host.lock);
	}
	if (ret)
		pr_err("pci: cannot register %s (error %d)", dev->name, ret);
	return ret;
}

static void unregister_locked(struct pci_device *dev)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		bar_unmap(dev, i);
	if (dev->slot && host.slots[dev->slot] == dev)
		host.slots[dev->slot] = NULL;
	dev->slot = 0;
	intx_set(dev, false);
}

void pci_unregister_device(struct pci_device *dev)
{
	pthread_mutex_lock(&host.lock);
	unregister_locked(dev);
	pthread_mutex_unlock(&host.lock);
}

/* ---- the host ---- */

static void init_bridge(void)
{
	struct pci_device *b = &host.bridge;

	memset(b, 0, sizeof(*b));
	b->name = "host bridge";
	b->vendor_id = host.cfg.bridge_vendor_id;
	b->device_id = host.cfg.bridge_device_id;
	b->class_code = PCI_CLASS_CODE_HOST_BRIDGE;
	b->kvm = host.kvm;
	init_header(b);
	pci_cfg_set16(b, PCI_COMMAND, CMD_DECODE);
	host.slots[0] = b;
}

int pci_host_setup(struct kvm *kvm, const struct pci_host_config *cfg)
{
	int ret = 0;

	pthread_mutex_lock(&host.lock);
	if (host.ready) {
		ret = -EBUSY;
		goto out;
	}
	if (cfg->cf8_ports) {
		ret = bus_register(&kvm->pio_bus, CF8_PORT, 4, cf8_access, NULL, "pci-cf8");
		if (!ret && (ret = bus_register(&kvm->pio_bus, CFC_PORT, 4, cfc_access, NULL,
						"pci-cfc")))
			bus_unregister(&kvm->pio_bus, CF8_PORT);
		if (ret)
			goto out;
	}
	if (cfg->ecam_size) {
		ret = bus_register(&kvm->mmio_bus, cfg->ecam_base, cfg->ecam_size, ecam_access,
				   NULL, "pci-ecam");
		if (ret) {
			if (cfg->cf8_ports) {
				bus_unregister(&kvm->pio_bus, CF8_PORT);
				bus_unregister(&kvm->pio_bus, CFC_PORT);
			}
			goto out;
		}
	}
	host.kvm = kvm;
	host.cfg = *cfg;
	host.cf8 = 0;
	host.mem_next = cfg->mmio_base;
	host.io_next = cfg->io_base;
	memset(host.slots, 0, sizeof(host.slots));
	init_bridge();
	host.ready = true;
out:
	pthread_mutex_unlock(&host.lock);
	return ret;
}

void pci_host_exit(struct kvm *kvm)
{
	pthread_mutex_lock(&host.lock);
	if (host.ready) {
		for (unsigned int s = 1; s < PCI_SLOTS; s++)
			if (host.slots[s])
				unregister_locked(host.slots[s]);
		if (host.cfg.cf8_ports) {
			bus_unregister(&kvm->pio_bus, CF8_PORT);
			bus_unregister(&kvm->pio_bus, CFC_PORT);
		}
		if (host.cfg.ecam_size)
			bus_unregister(&kvm->mmio_bus, host.cfg.ecam_base);
		host.slots[0] = NULL;
		host.ready = false;
	}
	pthread_mutex_unlock(&host.lock);
}
