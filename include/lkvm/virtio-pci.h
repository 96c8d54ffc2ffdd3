#ifndef LKVM_VIRTIO_PCI_H
#define LKVM_VIRTIO_PCI_H
/*
 * The virtio PCI transport (Virtio 1.2 section 4.1).
 *
 * By default a device is transitional: PCI id 0x1000+ from the spec's
 * table, revision 0, the legacy registers in I/O BAR0 and the modern
 * capabilities in memory BAR4, so both legacy and modern drivers bind.
 * A device type without a transitional id is modern-only (0x1040 + id,
 * revision 1).  legacy_only gives a legacy device without modern
 * capabilities.  MSI-X (BAR1) has a vector for config changes and one per
 * queue; without MSI-X the ISR and INTA# are used.  A queue whose MSI-X
 * vector is set and unmasked at DRIVER_OK can get an irqfd of its own
 * (queue_irqfd): a kernel data path then interrupts the guest directly;
 * and its notifications can become an eventfd of its own (queue_kickfd)
 * that KVM signals and lkvm never reads.  (A driver that turns MSI-X off
 * without resetting the device gets no interrupts from such queues until
 * it resets it; Linux resets first.)
 *
 * Queue notifications are ioeventfds, one address per queue (modern
 * notify area, notify_off_multiplier 4) and a datamatch per queue index
 * on the legacy QUEUE_NOTIFY port; when KVM refuses one, the write exits
 * and the BAR handler performs it instead.
 */
#include <pthread.h>
#include <stdbool.h>
#include "lkvm/pci.h"
#include "lkvm/virtio.h"

struct kvm;
struct ioevent;

#define VPCI_LEGACY_BAR 0	/* I/O: legacy registers, then device config */
#define VPCI_MSIX_BAR 1		/* memory: MSI-X table, then PBA */
#define VPCI_MODERN_BAR 4	/* memory: the structures below */

/* Layout of the modern BAR: one 4 KiB region per structure. */
#define VPCI_COMMON_OFF 0x0000
#define VPCI_ISR_OFF 0x1000
#define VPCI_DEVICE_OFF 0x2000
#define VPCI_NOTIFY_OFF 0x3000
#define VPCI_REGION_SIZE 0x1000
#define VPCI_NOTIFY_MULT 4	/* bytes between two queues' notify addresses */

/* Transitional PCI device id for a virtio id, 0 if the spec lists none. */
u16 virtio_pci_transitional_id(u32 virtio_id);

/*
 * Expose vdev (already virtio_device_init()ed) as a PCI device; calls
 * virtio_device_set_transport() and pci_register_device().  0 or -errno.
 */
int virtio_pci_attach(struct kvm *kvm, struct virtio_device *vdev, bool legacy_only);
/* Remove the PCI device again (tests, hot-unplug). */
void virtio_pci_detach(struct virtio_device *vdev);

/* ---- shared by virtio/pci*.c ---- */

/* Notify BAR kinds, indexes of the arrays below. */
enum { VPCI_NOTIFY_PIO, VPCI_NOTIFY_MMIO, VPCI_NOTIFY_KINDS };

struct virtio_pci_notify {
	struct virtio_pci *vpci;
	u16 index;
	struct ioevent *mmio_ev, *pio_ev;	/* NULL: the BAR handler does it */
	/*
	 * Handed to a kernel data path (queue_kickfd): from then on the
	 * queue's ioeventfds are this fd, which lkvm never reads.
	 */
	int kick_fd;
	bool direct;
	bool kvm_on[VPCI_NOTIFY_KINDS];	/* kick_fd registered with KVM at kvm_addr */
	u64 kvm_addr[VPCI_NOTIFY_KINDS];
};

struct virtio_pci {
	struct kvm *kvm;
	struct virtio_device *vdev;
	struct pci_device pci;
	struct pci_msix msix;
	char name[32];
	bool legacy, modern;	/* which interfaces the device has */
	/* Guest-written selectors and vectors; plain atomic words, no lock. */
	u32 dfselect, gfselect;
	u16 queue_sel;
	u16 config_vector;
	u16 *queue_vector;
	struct pci_msix_bypass *irqfd;	/* per queue, handed to a kernel data path */
	struct virtio_pci_notify *notify;
	u8 cfg_cap;		/* VIRTIO_PCI_CAP_PCI_CFG offset, 0 = none */
	unsigned int ioevent_maps;	/* BAR mappings that registered ioeventfds */
	/* The notify BARs as last mapped (mapped: and ioeventfds allowed). */
	bool notify_mapped[VPCI_NOTIFY_KINDS];
	u64 notify_base[VPCI_NOTIFY_KINDS];
	pthread_mutex_t notify_lock;	/* the notify records and the two above */
};

/*
 * ioevent_del() cannot free its record (the epoll thread may hold it), so
 * a guest moving BARs in a loop would grow memory without bound: after
 * this many BAR mappings a device's notifications stay on the exit path.
 * Linux maps each BAR a handful of times while sizing them at boot.
 */
#define VPCI_MAX_IOEVENT_MAPS 64

void vpci_modern_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write);
void vpci_legacy_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write);
/* Status write through the legacy (modern=false) or modern interface. */
void vpci_set_status(struct virtio_pci *vp, bool modern, u8 status);
/* A vector number as the guest may set it: out of range → NO_VECTOR. */
u16 vpci_check_vector(struct virtio_pci *vp, u16 vector);
/* queue_msix_vector write (either interface); moves a handed-out irqfd. */
void vpci_set_queue_vector(struct virtio_pci *vp, u32 sel, u16 vector);
/* ISR read: clear it and drop INTA#. */
u8 vpci_isr_read(struct virtio_pci *vp);

#endif
