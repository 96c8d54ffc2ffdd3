/*
 * The modern virtio-pci registers (Virtio 1.2 section 4.1.4): common
 * configuration, ISR, device configuration and queue notify areas of the
 * modern BAR.  Each register accepts only its own width (64-bit queue
 * addresses also as two 32-bit halves); other accesses read 0 and are
 * ignored, as are unknown offsets.
 */
#include <string.h>
#include <linux/virtio_pci.h>
#include "lkvm/log.h"
#include "lkvm/virtio-pci.h"

/* Width of the common configuration register at off, 0 if none. */
static u32 common_width(u32 off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return 4;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	}
	return 0;
}

static bool is_queue_addr(u32 off)
{
	return off >= VIRTIO_PCI_COMMON_Q_DESCLO && off <= VIRTIO_PCI_COMMON_Q_USEDHI;
}

static enum virtq_area queue_area(u32 off)
{
	static const enum virtq_area areas[] = {
		VIRTQ_AREA_DESC, VIRTQ_AREA_DRIVER, VIRTQ_AREA_DEVICE,
	};

	return areas[(off - VIRTIO_PCI_COMMON_Q_DESCLO) / 8];
}

static bool is_high_half(u32 off)
{
	return (off - VIRTIO_PCI_COMMON_Q_DESCLO) % 8 == 4;
}

static bool common_access_ok(u32 off, u32 len)
{
	u32 width = common_width(off);

	if (width && len == width)
		return true;
	/* A whole 64-bit address in one access. */
	return len == 8 && is_queue_addr(off) && !is_high_half(off);
}

static u16 queue_vector_get(struct virtio_pci *vp, u32 sel)
{
	return sel < vp->vdev->nr_queues ? READ_ONCE(vp->queue_vector[sel])
					 : VIRTIO_MSI_NO_VECTOR;
}

static u64 queue_addr_read(struct virtio_pci *vp, u32 sel, u32 off, u32 len)
{
	u64 addr = virtio_queue_get_addr(vp->vdev, sel, queue_area(off));

	if (len == 8)
		return addr;
	return is_high_half(off) ? addr >> 32 : (u32)addr;
}

static u64 common_read(struct virtio_pci *vp, u32 off, u32 len)
{
	struct virtio_device *vdev = vp->vdev;
	u32 sel = READ_ONCE(vp->queue_sel);

	if (is_queue_addr(off))
		return queue_addr_read(vp, sel, off, len);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return READ_ONCE(vp->dfselect);
	case VIRTIO_PCI_COMMON_DF:
		return virtio_get_device_features(vdev, READ_ONCE(vp->dfselect));
	case VIRTIO_PCI_COMMON_GFSELECT:
		return READ_ONCE(vp->gfselect);
	case VIRTIO_PCI_COMMON_GF:
		return virtio_get_driver_features(vdev, READ_ONCE(vp->gfselect));
	case VIRTIO_PCI_COMMON_MSIX:
		return READ_ONCE(vp->config_vector);
	case VIRTIO_PCI_COMMON_NUMQ:
		return vdev->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return virtio_get_status(vdev);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return (u8)virtio_config_generation(vdev);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return sel;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return virtio_queue_get_size(vdev, sel);
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return queue_vector_get(vp, sel);
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return virtio_queue_is_ready(vdev, sel);
	case VIRTIO_PCI_COMMON_Q_NOFF:
		/* Queue i notifies at notify base + i * multiplier. */
		return sel < vdev->nr_queues ? sel : 0;
	}
	return 0;
}

static void queue_addr_write(struct virtio_pci *vp, u32 sel, u32 off, u32 len, u64 val)
{
	if (len == 8)
		virtio_queue_set_addr(vp->vdev, sel, queue_area(off), val);
	else
		virtio_queue_set_addr32(vp->vdev, sel, queue_area(off), is_high_half(off),
					(u32)val);
}

static void common_write(struct virtio_pci *vp, u32 off, u32 len, u64 val)
{
	struct virtio_device *vdev = vp->vdev;
	u32 sel = READ_ONCE(vp->queue_sel);

	if (is_queue_addr(off)) {
		queue_addr_write(vp, sel, off, len, val);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		WRITE_ONCE(vp->dfselect, (u32)val);
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		WRITE_ONCE(vp->gfselect, (u32)val);
		break;
	case VIRTIO_PCI_COMMON_GF:
		virtio_set_driver_features(vdev, READ_ONCE(vp->gfselect), (u32)val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		WRITE_ONCE(vp->config_vector, vpci_check_vector(vp, (u16)val));
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		vpci_set_status(vp, true, (u8)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		WRITE_ONCE(vp->queue_sel, (u16)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		virtio_queue_set_size(vdev, sel, (u16)val);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		vpci_set_queue_vector(vp, sel, (u16)val);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Drivers must not write 0; the core refuses a bad setup. */
		if (val == 1)
			virtio_queue_enable(vdev, sel);
		break;
	default:
		break;	/* read-only */
	}
}

static void common_access(struct virtio_pci *vp, u32 off, u8 *data, u32 len, bool is_write)
{
	if (!common_access_ok(off, len)) {
		pr_debug_ratelimited("virtio-%s: ignored %u-byte common cfg %s at 0x%x",
			 vp->vdev->ops->name, len, is_write ? "write" : "read", off);
		return;
	}
	if (is_write)
		common_write(vp, off, len, bus_data_get(data, len));
	else
		bus_data_put(data, len, common_read(vp, off, len));
}

static void notify_write(struct virtio_pci *vp, u32 off)
{
	/* The queue is the one whose address was written, whatever the value. */
	if (off % VPCI_NOTIFY_MULT == 0)
		virtio_queue_notify(vp->vdev, off / VPCI_NOTIFY_MULT);
}

void vpci_modern_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	u32 region = (u32)(off / VPCI_REGION_SIZE), rel = (u32)(off % VPCI_REGION_SIZE);

	if (!is_write)
		memset(data, 0, len);
	if (off >= VPCI_NOTIFY_OFF) {
		if (is_write)
			notify_write(vp, (u32)(off - VPCI_NOTIFY_OFF));
		return;
	}
	switch (region * VPCI_REGION_SIZE) {
	case VPCI_COMMON_OFF:
		common_access(vp, rel, data, len, is_write);
		break;
	case VPCI_ISR_OFF:
		if (!is_write && rel == 0)
			data[0] = vpci_isr_read(vp);
		break;
	case VPCI_DEVICE_OFF:
		if (is_write)
			virtio_config_write(vp->vdev, rel, data, len);
		else
			virtio_config_read(vp->vdev, rel, data, len);
		break;
	}
}
