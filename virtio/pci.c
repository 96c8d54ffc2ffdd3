/*
 * virtio-pci: the PCI identity, BARs and capabilities of a virtio device,
 * its interrupts (MSI-X vectors or ISR + INTA#) and its queue-notify
 * ioeventfds.  The registers themselves are in pci-modern.c and
 * pci-legacy.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio-pci.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define MODERN_ID_BASE 0x1040
/* Legacy drivers read the type from the subsystem id; any 0x1000-0x103f id binds. */
#define LEGACY_FALLBACK_ID 0x103f
#define LEGACY_BAR_MIN 32
#define LEGACY_BAR_MAX 256	/* the largest I/O BAR PCI allows */
#define MSIX_BAR_MIN 0x1000

static const struct {
	u32 virtio_id;
	u16 pci_id;
} transitional_ids[] = {
	{ VIRTIO_ID_NET, VIRTIO_TRANS_ID_NET },
	{ VIRTIO_ID_BLOCK, VIRTIO_TRANS_ID_BLOCK },
	{ VIRTIO_ID_BALLOON, VIRTIO_TRANS_ID_BALLOON },
	{ VIRTIO_ID_CONSOLE, VIRTIO_TRANS_ID_CONSOLE },
	{ VIRTIO_ID_SCSI, VIRTIO_TRANS_ID_SCSI },
	{ VIRTIO_ID_RNG, VIRTIO_TRANS_ID_RNG },
	{ VIRTIO_ID_9P, VIRTIO_TRANS_ID_9P },
};

u16 virtio_pci_transitional_id(u32 virtio_id)
{
	for (size_t i = 0; i < ARRAY_SIZE(transitional_ids); i++)
		if (transitional_ids[i].virtio_id == virtio_id)
			return transitional_ids[i].pci_id;
	return 0;
}

/* Drivers do not care; lspci and humans do. */
static u32 class_code(u32 virtio_id)
{
	switch (virtio_id) {
	case VIRTIO_ID_NET:
		return PCI_CLASS_CODE_ETHERNET;
	case VIRTIO_ID_BLOCK:
		return PCI_CLASS_CODE_STORAGE_OTHER;
	case VIRTIO_ID_SCSI:
		return PCI_CLASS_CODE_SCSI;
	case VIRTIO_ID_CONSOLE:
		return PCI_CLASS_CODE_COMM_OTHER;
	default:
		return PCI_CLASS_CODE_UNASSIGNED;
	}
}

static u32 pow2_at_least(u32 x, u32 min)
{
	u32 p = min;

	while (p < x)
		p <<= 1;
	return p;
}

/* ---- interrupts ---- */

u16 vpci_check_vector(struct virtio_pci *vp, u16 vector)
{
	return vector < vp->msix.nr ? vector : VIRTIO_MSI_NO_VECTOR;
}

/* MSI-X on: the vector or nothing.  Off: ISR (set by the core) + INTA#. */
static void interrupt(struct virtio_pci *vp, u16 vector)
{
	if (pci_msix_enabled(&vp->msix)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_signal(&vp->msix, vector);
		return;
	}
	pci_irq_assert(&vp->pci);
}

static void signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_pci *vp = vdev->transport_data;

	interrupt(vp, READ_ONCE(vp->queue_vector[vq->index]));
}

static void signal_config(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport_data;

	interrupt(vp, READ_ONCE(vp->config_vector));
}

void vpci_set_queue_vector(struct virtio_pci *vp, u32 sel, u16 vector)
{
	if (sel >= vp->vdev->nr_queues)
		return;
	vector = vpci_check_vector(vp, vector);
	WRITE_ONCE(vp->queue_vector[sel], vector);
	pci_msix_bypass_move(&vp->msix, &vp->irqfd[sel], vector);
}

/*
 * Only an MSI-X vector can take an irqfd: INTx and virtio-mmio need lkvm
 * to set the ISR before the interrupt, so their devices keep a thread.
 */
static int queue_irqfd(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_pci *vp = vdev->transport_data;
	struct pci_msix_bypass *b = &vp->irqfd[vq->index];
	u16 vector = READ_ONCE(vp->queue_vector[vq->index]);

	if (!pci_msix_enabled(&vp->msix) || vector == VIRTIO_MSI_NO_VECTOR)
		return -1;
	if (pci_msix_bypass_attached(b))
		return b->fd;
	if (b->fd < 0)
		b->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->fd < 0 || !pci_msix_bypass_attach(&vp->msix, b, vector))
		return -1;
	return b->fd;
}

static void irqfds_detach(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < vp->vdev->nr_queues; i++)
		pci_msix_bypass_detach(&vp->msix, &vp->irqfd[i]);
}

u8 vpci_isr_read(struct virtio_pci *vp)
{
	u8 isr = virtio_isr_read_clear(vp->vdev);

	pci_irq_deassert(&vp->pci);
	/* A bit set between the clear and the deassert must keep the line up. */
	if (virtio_isr_peek(vp->vdev) && !pci_msix_enabled(&vp->msix))
		pci_irq_assert(&vp->pci);
	return isr;
}

/* Device reset (vdev->lock held): vectors and selectors back to defaults. */
static void transport_reset(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport_data;

	WRITE_ONCE(vp->config_vector, VIRTIO_MSI_NO_VECTOR);
	for (unsigned int i = 0; i < vdev->nr_queues; i++)
		WRITE_ONCE(vp->queue_vector[i], VIRTIO_MSI_NO_VECTOR);
	WRITE_ONCE(vp->dfselect, 0);
	WRITE_ONCE(vp->gfselect, 0);
	WRITE_ONCE(vp->queue_sel, 0);
	irqfds_detach(vp);
	pci_irq_deassert(&vp->pci);
}

static int queue_kickfd(struct virtio_device *vdev, struct virt_queue *vq);

static const struct virtio_transport_ops vpci_transport = {
	.name = "pci",
	.signal_queue = signal_queue,
	.signal_config = signal_config,
	.reset = transport_reset,
	.queue_irqfd = queue_irqfd,
	.queue_kickfd = queue_kickfd,
};

/*
 * A transitional device serves whichever interface the driver starts
 * with: the core needs to know, since only the modern one requires
 * VERSION_1 and FEATURES_OK.
 */
void vpci_set_status(struct virtio_pci *vp, bool modern, u8 status)
{
	struct virtio_device *vdev = vp->vdev;

	if (vp->legacy && vp->modern && status) {
		virtio_device_lock(vdev);
		if (!virtio_get_status(vdev) && vdev->modern != modern)
			virtio_device_set_transport(vdev, &vpci_transport, vp, modern);
		virtio_device_unlock(vdev);
	}
	virtio_set_status(vdev, status);
}

/* ---- queue notifications ---- */

static void notify_event(void *opaque)
{
	struct virtio_pci_notify *n = opaque;

	virtio_queue_notify(n->vpci->vdev, n->index);
}

static void notify_move(struct virtio_pci *vp, struct virtio_pci_notify *n,
			struct ioevent **ev, bool pio, bool mapped, u64 addr)
{
	ioevent_del(*ev);
	*ev = NULL;
	/* On failure the write exits and the BAR handler does the notify. */
	if (mapped && ioevent_add(vp->kvm, addr, 2, pio, true, n->index, notify_event, n, ev))
		*ev = NULL;
}

static u64 notify_addr(struct virtio_pci *vp, unsigned int kind, u16 index)
{
	u64 base = vp->notify_base[kind];

	return kind == VPCI_NOTIFY_PIO ? base + VIRTIO_PCI_QUEUE_NOTIFY
				       : base + VPCI_NOTIFY_OFF + (u64)VPCI_NOTIFY_MULT * index;
}

/* A handed-out kick fd follows its BAR (notify_lock held). */
static void kick_place(struct virtio_pci *vp, struct virtio_pci_notify *n, unsigned int kind)
{
	bool pio = kind == VPCI_NOTIFY_PIO;

	if (n->kvm_on[kind])
		kvm_ioeventfd(vp->kvm, n->kvm_addr[kind], 2, pio, n->kick_fd, true, n->index,
			      false);
	n->kvm_on[kind] = false;
	if (!vp->notify_mapped[kind])
		return;
	n->kvm_addr[kind] = notify_addr(vp, kind, n->index);
	/* Refused: the write exits, and the BAR handler notifies. */
	n->kvm_on[kind] = !kvm_ioeventfd(vp->kvm, n->kvm_addr[kind], 2, pio, n->kick_fd,
					 true, n->index, true);
}

static void notify_place(struct virtio_pci *vp, struct virtio_pci_notify *n, unsigned int kind)
{
	bool pio = kind == VPCI_NOTIFY_PIO;

	if (n->direct)
		kick_place(vp, n, kind);
	else
		notify_move(vp, n, pio ? &n->pio_ev : &n->mmio_ev, pio, vp->notify_mapped[kind],
			    notify_addr(vp, kind, n->index));
}

static int queue_kickfd(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_pci *vp = vdev->transport_data;
	struct virtio_pci_notify *n = &vp->notify[vq->index];
	int fd;

	pthread_mutex_lock(&vp->notify_lock);
	if (!n->direct && n->kick_fd < 0)
		n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!n->direct && n->kick_fd >= 0) {
		ioevent_del(n->pio_ev);
		ioevent_del(n->mmio_ev);
		n->pio_ev = n->mmio_ev = NULL;
		n->direct = true;
		for (unsigned int k = 0; k < VPCI_NOTIFY_KINDS; k++)
			kick_place(vp, n, k);
	}
	fd = n->kick_fd;
	pthread_mutex_unlock(&vp->notify_lock);
	return fd;
}

static void kicks_close(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < vp->vdev->nr_queues; i++) {
		struct virtio_pci_notify *n = &vp->notify[i];

		if (n->kick_fd < 0)
			continue;
		for (unsigned int k = 0; k < VPCI_NOTIFY_KINDS; k++)
			if (n->kvm_on[k])
				kvm_ioeventfd(vp->kvm, n->kvm_addr[k], 2, k == VPCI_NOTIFY_PIO,
					      n->kick_fd, true, n->index, false);
		close(n->kick_fd);
		n->kick_fd = -1;
	}
}

static bool ioevents_allowed(struct virtio_pci *vp, bool mapped)
{
	if (!mapped)
		return true;
	if (vp->ioevent_maps == VPCI_MAX_IOEVENT_MAPS) {
		pr_warn("%s: BARs moved %u times; queue notifications now exit to lkvm",
			vp->name, VPCI_MAX_IOEVENT_MAPS);
		vp->ioevent_maps++;
	}
	if (vp->ioevent_maps > VPCI_MAX_IOEVENT_MAPS)
		return false;
	vp->ioevent_maps++;
	return true;
}

static void bar_moved(struct pci_device *pci, unsigned int bar, bool mapped, u64 addr)
{
	struct virtio_pci *vp = pci->priv;
	bool legacy = bar == VPCI_LEGACY_BAR && vp->legacy;
	bool modern = bar == VPCI_MODERN_BAR && vp->modern;

	unsigned int kind = legacy ? VPCI_NOTIFY_PIO : VPCI_NOTIFY_MMIO;

	if (!legacy && !modern)
		return;
	pthread_mutex_lock(&vp->notify_lock);
	vp->notify_mapped[kind] = ioevents_allowed(vp, mapped) && mapped;
	vp->notify_base[kind] = addr;
	for (unsigned int i = 0; i < vp->vdev->nr_queues; i++)
		notify_place(vp, &vp->notify[i], kind);
	pthread_mutex_unlock(&vp->notify_lock);
}

/* ---- the PCI configuration access capability ---- */

#define CFG_CAP_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

/* Perform the BAR access the capability describes, through pci_cfg_data. */
static void cfg_cap_access(struct virtio_pci *vp, bool is_write)
{
	struct pci_device *pci = &vp->pci;
	u8 bar = pci_cfg_get8(pci, vp->cfg_cap + offsetof(struct virtio_pci_cap, bar));
	u32 off = pci_cfg_get32(pci, vp->cfg_cap + offsetof(struct virtio_pci_cap, offset));
	u32 len = pci_cfg_get32(pci, vp->cfg_cap + offsetof(struct virtio_pci_cap, length));
	struct pci_bar *b;

	if (bar >= PCI_NUM_BARS || (len != 1 && len != 2 && len != 4) || off % len)
		return;
	b = &pci->bars[bar];
	if (!b->size || off >= b->size || len > b->size - off)
		return;
	b->fn(b->opaque, off, &pci->cfg[vp->cfg_cap + CFG_CAP_DATA], len, is_write);
}

static bool touches_cfg_data(struct virtio_pci *vp, u32 off, u32 len)
{
	u32 data = vp->cfg_cap + CFG_CAP_DATA;

	return vp->cfg_cap && off < data + 4 && data < off + len;
}

static void cfg_write(struct pci_device *pci, u32 off, u32 len)
{
	struct virtio_pci *vp = pci->priv;

	if (touches_cfg_data(vp, off, len))
		cfg_cap_access(vp, true);
}

static void cfg_read(struct pci_device *pci, u32 off, u32 len)
{
	struct virtio_pci *vp = pci->priv;

	if (touches_cfg_data(vp, off, len))
		cfg_cap_access(vp, false);
}

/* ---- set-up ---- */

static void msix_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;

	if (!pci_msix_bar_access(&vp->msix, off, data, len, is_write) && !is_write)
		memset(data, 0, len);
}

static int add_virtio_cap(struct virtio_pci *vp, u8 type, u8 len, u32 off, u32 length)
{
	struct pci_device *pci = &vp->pci;
	int c = pci_add_cap(pci, PCI_CAP_ID_VNDR, len);

	if (c < 0)
		return c;
	pci_cfg_set8(pci, c + offsetof(struct virtio_pci_cap, cap_len), len);
	pci_cfg_set8(pci, c + offsetof(struct virtio_pci_cap, cfg_type), type);
	pci_cfg_set8(pci, c + offsetof(struct virtio_pci_cap, bar), VPCI_MODERN_BAR);
	pci_cfg_set32(pci, c + offsetof(struct virtio_pci_cap, offset), off);
	pci_cfg_set32(pci, c + offsetof(struct virtio_pci_cap, length), length);
	return c;
}

static int add_modern_caps(struct virtio_pci *vp)
{
	struct pci_device *pci = &vp->pci;
	u32 nq = vp->vdev->nr_queues;
	int c;

	if ((c = add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap),
				VPCI_COMMON_OFF, sizeof(struct virtio_pci_common_cfg))) < 0)
		return c;
	if ((c = add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG,
				sizeof(struct virtio_pci_notify_cap), VPCI_NOTIFY_OFF,
				nq * VPCI_NOTIFY_MULT)) < 0)
		return c;
	pci_cfg_set32(pci, c + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier),
		      VPCI_NOTIFY_MULT);
	if ((c = add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap),
				VPCI_ISR_OFF, 1)) < 0)
		return c;
	if (vp->vdev->config_size &&
	    (c = add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap),
				VPCI_DEVICE_OFF,
				MIN(vp->vdev->config_size, (u32)VPCI_REGION_SIZE))) < 0)
		return c;
	/* bar, offset and length are zero: the driver chooses them. */
	if ((c = add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, sizeof(struct virtio_pci_cfg_cap),
				0, 0)) < 0)
		return c;
	pci_cfg_set8(pci, c + offsetof(struct virtio_pci_cap, bar), 0);
	pci_cfg_set_wmask(pci, c + offsetof(struct virtio_pci_cap, bar), 1, 0xff);
	pci_cfg_set_wmask(pci, c + offsetof(struct virtio_pci_cap, offset), 8, 0xff);
	pci_cfg_set_wmask(pci, c + CFG_CAP_DATA, 4, 0xff);
	vp->cfg_cap = (u8)c;
	return 0;
}

static void set_identity(struct virtio_pci *vp, bool legacy_only)
{
	struct pci_device *pci = &vp->pci;
	u32 id = vp->vdev->ops->device_id;
	u16 trans = virtio_pci_transitional_id(id);

	snprintf(vp->name, sizeof(vp->name), "virtio-%s", vp->vdev->ops->name);
	pci->name = vp->name;
	pci->vendor_id = VIRTIO_PCI_VENDOR;
	pci->subsys_vendor_id = VIRTIO_PCI_VENDOR;
	pci->class_code = class_code(id);
	pci->intx = true;
	pci->priv = vp;
	vp->legacy = legacy_only || trans;
	vp->modern = !legacy_only;
	if (vp->legacy) {
		pci->device_id = trans ? trans : LEGACY_FALLBACK_ID;
		pci->subsys_id = (u16)id;
		pci->revision = 0;
	} else {
		pci->device_id = (u16)(MODERN_ID_BASE + id);
		pci->subsys_id = 0x40;	/* spec: 0x40 or more when non-transitional */
		pci->revision = 1;
	}
}

static void set_bars(struct virtio_pci *vp)
{
	struct pci_device *pci = &vp->pci;
	u32 nq = vp->vdev->nr_queues;
	u32 legacy = VIRTIO_PCI_CONFIG_OFF(true) + vp->vdev->config_size;

	if (vp->legacy)
		pci->bars[VPCI_LEGACY_BAR] = (struct pci_bar){
			.size = MIN(pow2_at_least(legacy, LEGACY_BAR_MIN), (u32)LEGACY_BAR_MAX),
			.io = true, .fn = vpci_legacy_access, .opaque = vp,
		};
	pci->bars[VPCI_MSIX_BAR] = (struct pci_bar){
		.size = pow2_at_least(vp->msix.pba_off + pci_msix_pba_size(vp->msix.nr),
				      MSIX_BAR_MIN),
		.fn = msix_access, .opaque = vp,
	};
	if (vp->modern)
		pci->bars[VPCI_MODERN_BAR] = (struct pci_bar){
			.size = pow2_at_least(VPCI_NOTIFY_OFF + nq * VPCI_NOTIFY_MULT,
					      VPCI_NOTIFY_OFF + VPCI_REGION_SIZE),
			.fn = vpci_modern_access, .opaque = vp,
		};
	pci->bar_moved = bar_moved;
	pci->cfg_write = cfg_write;
	pci->cfg_read = cfg_read;
}

static void free_vp(struct virtio_pci *vp)
{
	if (vp->irqfd) {
		irqfds_detach(vp);
		for (unsigned int i = 0; i < vp->vdev->nr_queues; i++)
			if (vp->irqfd[i].fd >= 0)
				close(vp->irqfd[i].fd);
	}
	kicks_close(vp);
	pci_msix_exit(&vp->msix);
	pthread_mutex_destroy(&vp->notify_lock);
	free(vp->irqfd);
	free(vp->queue_vector);
	free(vp->notify);
	free(vp);
}

static struct virtio_pci *alloc_vp(struct kvm *kvm, struct virtio_device *vdev)
{
	u32 nq = vdev->nr_queues;
	struct virtio_pci *vp = calloc(1, sizeof(*vp));

	if (!vp)
		return NULL;
	vp->kvm = kvm;
	vp->vdev = vdev;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	vp->queue_vector = malloc(nq * sizeof(*vp->queue_vector));
	vp->notify = calloc(nq, sizeof(*vp->notify));
	vp->irqfd = calloc(nq, sizeof(*vp->irqfd));
	if (!vp->queue_vector || !vp->notify || !vp->irqfd) {
		free(vp->queue_vector);
		free(vp->notify);
		free(vp->irqfd);
		free(vp);
		return NULL;
	}
	pthread_mutex_init(&vp->notify_lock, NULL);
	for (u32 i = 0; i < nq; i++) {
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
		vp->notify[i] = (struct virtio_pci_notify){ .vpci = vp, .index = (u16)i,
							    .kick_fd = -1 };
		vp->irqfd[i] = (struct pci_msix_bypass){ .fd = -1, .bound_gsi = -1 };
	}
	return vp;
}

int virtio_pci_attach(struct kvm *kvm, struct virtio_device *vdev, bool legacy_only)
{
	u32 nvec = vdev->nr_queues + 1, table;
	struct virtio_pci *vp;
	int ret;

	if (!vdev->ops || vdev->nr_queues > 0xffff || vdev->transport)
		return -EINVAL;
	vp = alloc_vp(kvm, vdev);
	if (!vp)
		return -ENOMEM;
	set_identity(vp, legacy_only);
	table = pci_msix_table_size(nvec);
	ret = pci_msix_init(&vp->pci, &vp->msix, nvec, VPCI_MSIX_BAR, 0, ALIGN_UP(table, 8u));
	if (!ret && vp->modern)
		ret = add_modern_caps(vp);
	if (ret)
		goto fail;
	set_bars(vp);
	virtio_device_set_transport(vdev, &vpci_transport, vp, vp->modern);
	ret = pci_register_device(kvm, &vp->pci);
	if (!ret)
		return 0;
	virtio_device_set_transport(vdev, NULL, NULL, false);
fail:
	pr_err("virtio-%s: cannot attach to PCI (error %d)", vdev->ops->name, ret);
	free_vp(vp);
	return ret;
}

void virtio_pci_detach(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport_data;

	if (!vp || vdev->transport != &vpci_transport)
		return;
	pci_unregister_device(&vp->pci);	/* also drops the ioeventfds */
	virtio_device_set_transport(vdev, NULL, NULL, false);
	free_vp(vp);
}
