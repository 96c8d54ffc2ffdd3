#ifndef LKVM_PCI_H
#define LKVM_PCI_H
/*
 * A PCI host bridge with one bus (bus 0): type-0 configuration headers,
 * BAR allocation and relocation, INTx lines, capabilities and MSI-X.
 *
 * A device fills in its identity and BARs, optionally adds capabilities
 * (pci_add_cap, pci_msix_init), then calls pci_register_device(), which
 * gives it a slot, places its BARs in the host windows and maps them.
 * The guest may later move or disable BARs; the bar_moved hook tells the
 * device so it can move what is tied to addresses (ioeventfds).
 *
 * Locking: all configuration accesses are serialised by one host lock;
 * the cfg_read/cfg_write/bar_moved hooks run under it and must not
 * re-enter configuration space.  BAR handlers run without it.  INTx and
 * MSI-X signalling take only their own locks and may be called from any
 * thread, including with a virtio device lock held.
 */
#include <stdbool.h>
#include <pthread.h>
#include <linux/pci_regs.h>
#include "lkvm/bus.h"
#include "lkvm/compiler.h"

struct kvm;
struct pci_msix;

#define PCI_SLOTS 32
#define PCI_NUM_BARS 6
#define PCI_CFG_SIZE 256
#define PCI_CFG_HEADER_END 0x40	/* capabilities live above the header */
/*
 * The bus logs every BAR placed over another device; after this many per
 * device the core stops mapping BARs the guest moves, so a guest cannot
 * flood the log.
 */
#define PCI_MAX_BAR_COLLISIONS 16

/* Class codes: base class << 16 | subclass << 8 | programming interface. */
#define PCI_CLASS_CODE_SCSI 0x010000
#define PCI_CLASS_CODE_STORAGE_OTHER 0x018000
#define PCI_CLASS_CODE_ETHERNET 0x020000
#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000
#define PCI_CLASS_CODE_COMM_OTHER 0x078000
#define PCI_CLASS_CODE_UNASSIGNED 0xff0000

struct pci_bar {
	/* Set by the device; size 0 = BAR not implemented. */
	u32 size;		/* power of 2: >= 16 (memory) or >= 4 (I/O) */
	bool io;		/* I/O space, else 32-bit non-prefetchable memory */
	bus_handler_fn fn;	/* offset is from the start of the BAR */
	void *opaque;

	/* PCI core state. */
	bool mapped;		/* registered on the bus at mapped_addr */
	u64 mapped_addr;
};

struct pci_device {
	/* Set by the device before pci_register_device(). */
	const char *name;
	u16 vendor_id, device_id;
	u16 subsys_vendor_id, subsys_id;
	u8 revision;
	u32 class_code;		/* base class << 16 | subclass << 8 | prog-if */
	bool intx;		/* raises INTA# */
	struct pci_bar bars[PCI_NUM_BARS];
	void *priv;

	/* Optional hooks, called with the host lock held. */
	/* BAR `bar` now decodes at addr (mapped) or no longer decodes. */
	void (*bar_moved)(struct pci_device *dev, unsigned int bar, bool mapped, u64 addr);
	/*
	 * Config bytes [off, off+len) at or above PCI_CFG_HEADER_END: after
	 * the core stored a write (guest-writable bits only) / before it
	 * returns a read, so the device may act on or refresh them.
	 */
	void (*cfg_write)(struct pci_device *dev, u32 off, u32 len);
	void (*cfg_read)(struct pci_device *dev, u32 off, u32 len);

	/* PCI core state. */
	struct kvm *kvm;
	unsigned int slot;		/* 1..31 once registered, 0 before */
	u8 gsi;				/* INTA#'s GSI, 0 if no INTx */
	u8 cfg[PCI_CFG_SIZE];		/* little-endian configuration space */
	u8 wmask[PCI_CFG_SIZE];		/* bits the guest may write */
	u16 cap_end;			/* first free byte for capabilities */
	u8 last_cap;			/* offset of the last capability, 0 = none */
	struct pci_msix *msix;
	bool intx_level;		/* the device asserts INTA# */
	bool intx_disabled;		/* Command.INTx_Disable, under the irq lock */
	bool intx_counted;		/* ...and it is counted on the GSI */
	unsigned int bar_collisions;	/* BAR placements the bus refused */
};

/* Host bridge windows and INTx GSIs, chosen by the architecture. */
struct pci_host_config {
	u64 mmio_base, mmio_size;	/* 32-bit memory BARs come from here */
	u32 io_base, io_size;		/* I/O BARs (PCI I/O addresses) come from here */
	u8 intx_gsi_base;		/* slot s uses GSI base + s % count */
	u8 intx_gsi_count;
	bool cf8_ports;			/* register mechanism #1 on the pio bus */
	u64 ecam_base, ecam_size;	/* an ECAM window on the MMIO bus; size 0: none */
	bool io_on_mmio;		/* I/O space is MMIO at io_cpu_base + port */
	u64 io_cpu_base;
	u16 bridge_vendor_id, bridge_device_id;	/* the host bridge at 00:00.0 */
};

/*
 * The architecture's host bridge (x86/pci.c: mechanism #1 at 0xCF8/0xCFC;
 * arm/: ECAM), through pci_host_setup().  Returns 0 or -errno.
 */
int pci_host_init(struct kvm *kvm);
int pci_host_setup(struct kvm *kvm, const struct pci_host_config *cfg);
/* Unmap everything and forget all devices (tests, VM teardown). */
void pci_host_exit(struct kvm *kvm);

/*
 * One configuration access to bus/devfn.  off+len must stay inside one
 * dword.  Absent functions read all ones.
 */
void pci_cfg_access(u8 bus, u8 devfn, u32 off, u8 *data, u32 len, bool is_write);

/* 0 and dev->slot set, -ENOSPC (no slot or window space), -EINVAL. */
int pci_register_device(struct kvm *kvm, struct pci_device *dev);
void pci_unregister_device(struct pci_device *dev);
/* GSI that INTA-D of `slot` raise, for the ACPI _PRT; 0 = no device. */
u8 pci_slot_gsi(unsigned int slot);

/* Level-triggered INTA#, shared with other slots on the same GSI. */
void pci_irq_assert(struct pci_device *dev);
void pci_irq_deassert(struct pci_device *dev);

/* Address the guest programmed in BAR `bar` (without flag bits). */
u32 pci_bar_addr(const struct pci_device *dev, unsigned int bar);

/* ---- configuration space helpers for device code ---- */

/* Append a capability of len bytes (id, next, body); offset or -ENOSPC. */
int pci_add_cap(struct pci_device *dev, u8 cap_id, u8 len);
/* Guest may write `mask` bits of each byte in [off, off+len). */
void pci_cfg_set_wmask(struct pci_device *dev, u32 off, u32 len, u8 mask);

static inline u8 pci_cfg_get8(const struct pci_device *d, u32 off)
{
	return d->cfg[off];
}

static inline u16 pci_cfg_get16(const struct pci_device *d, u32 off)
{
	return (u16)(d->cfg[off] | d->cfg[off + 1] << 8);
}

static inline u32 pci_cfg_get32(const struct pci_device *d, u32 off)
{
	return pci_cfg_get16(d, off) | (u32)pci_cfg_get16(d, off + 2) << 16;
}

static inline void pci_cfg_set8(struct pci_device *d, u32 off, u8 v)
{
	d->cfg[off] = v;
}

static inline void pci_cfg_set16(struct pci_device *d, u32 off, u16 v)
{
	d->cfg[off] = (u8)v;
	d->cfg[off + 1] = (u8)(v >> 8);
}

static inline void pci_cfg_set32(struct pci_device *d, u32 off, u32 v)
{
	pci_cfg_set16(d, off, (u16)v);
	pci_cfg_set16(d, off + 2, (u16)(v >> 16));
}

/* ---- MSI-X (hw/pci-msix.c) ---- */

struct pci_msix_vector {
	u32 addr_lo, addr_hi, data, ctrl;	/* the guest-visible table entry */
	bool pending;
	bool stale;		/* entry changed since the KVM route was set */
	int gsi;		/* KVM MSI route, -1 until first delivery */
	int fd;			/* irqfd on gsi, -1 if none (then KVM_SIGNAL_MSI) */
};

/*
 * An eventfd that a producer outside lkvm (vhost) writes to raise a vector
 * without passing through lkvm: while the vector can deliver (MSI-X on,
 * neither it nor the function masked, a KVM route) the fd is a KVM irqfd
 * on the vector's route, which follows the guest's address/data writes.
 * Otherwise it is unbound, and what it collected becomes the vector's
 * pending bit (read at PBA reads and unmasks), delivered on unmask.
 * Owned by the caller; linked into the pci_msix while attached.
 */
struct pci_msix_bypass {
	int fd;
	unsigned int vector;		/* >= nr: none */
	int bound_gsi;			/* -1: not a KVM irqfd now */
	bool attached;
	struct pci_msix_bypass *next;
};

struct pci_msix {
	struct pci_device *dev;
	pthread_mutex_t lock;
	unsigned int nr;
	u8 cap;				/* config offset of the capability */
	u8 bar;
	u32 table_off, pba_off;		/* inside the BAR */
	bool enabled, func_masked;	/* Message Control, atomics */
	struct pci_msix_vector *vec;
	struct pci_msix_bypass *bypass;	/* attached, under lock */
};

/*
 * Add the MSI-X capability for nr vectors (1..2048) whose table and PBA
 * live in BAR `bar` at the given 8-byte aligned offsets.  The device's
 * BAR handler passes accesses to pci_msix_bar_access().  0 or -errno.
 */
int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned int nr,
		  unsigned int bar, u32 table_off, u32 pba_off);
void pci_msix_exit(struct pci_msix *msix);
/* Table/PBA access at BAR offset off; false if off is in neither. */
bool pci_msix_bar_access(struct pci_msix *msix, u64 off, u8 *data, u32 len, bool is_write);
/* Bytes of BAR space the table and PBA of nr vectors need. */
u32 pci_msix_table_size(unsigned int nr);
u32 pci_msix_pba_size(unsigned int nr);
bool pci_msix_enabled(const struct pci_msix *msix);
/* Send vector (or mark it pending while masked); false if MSI-X is off. */
bool pci_msix_signal(struct pci_msix *msix, unsigned int vector);
/* The core saw the guest write Message Control. */
void pci_msix_control_written(struct pci_msix *msix, u16 control);
/*
 * Attach b (b->fd set by the caller) to vector; true if it is a KVM irqfd
 * now.  When false b stays detached: the vector cannot deliver directly
 * (masked, MSI-X off, no route), the caller keeps its own path.
 */
bool pci_msix_bypass_attach(struct pci_msix *msix, struct pci_msix_bypass *b,
			    unsigned int vector);
/* The guest moved b's queue to another vector (>= nr: none). */
void pci_msix_bypass_move(struct pci_msix *msix, struct pci_msix_bypass *b,
			  unsigned int vector);
/* Unbind and unlink b (no-op if detached); b->fd stays open. */
void pci_msix_bypass_detach(struct pci_msix *msix, struct pci_msix_bypass *b);
bool pci_msix_bypass_attached(const struct pci_msix_bypass *b);

#endif
