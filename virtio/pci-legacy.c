/*
 * The legacy virtio-pci registers in I/O BAR0 (Virtio 1.2 section
 * 4.1.4.10): 32 feature bits, a page frame number per queue, and two
 * MSI-X vector registers that exist only while MSI-X is enabled, which
 * moves the device configuration from offset 20 to 24.
 */
#include <string.h>
#include <linux/virtio_pci.h>
#include "lkvm/log.h"
#include "lkvm/virtio-pci.h"

static u32 reg_width(u32 off, bool msix)
{
	switch (off) {
	case VIRTIO_PCI_HOST_FEATURES:
	case VIRTIO_PCI_GUEST_FEATURES:
	case VIRTIO_PCI_QUEUE_PFN:
		return 4;
	case VIRTIO_PCI_QUEUE_NUM:
	case VIRTIO_PCI_QUEUE_SEL:
	case VIRTIO_PCI_QUEUE_NOTIFY:
		return 2;
	case VIRTIO_PCI_STATUS:
	case VIRTIO_PCI_ISR:
		return 1;
	case VIRTIO_MSI_CONFIG_VECTOR:
	case VIRTIO_MSI_QUEUE_VECTOR:
		return msix ? 2 : 0;
	}
	return 0;
}

static u32 legacy_read(struct virtio_pci *vp, u32 off)
{
	struct virtio_device *vdev = vp->vdev;
	u32 sel = READ_ONCE(vp->queue_sel);

	switch (off) {
	case VIRTIO_PCI_HOST_FEATURES:
		return virtio_get_device_features(vdev, 0);
	case VIRTIO_PCI_GUEST_FEATURES:
		return virtio_get_driver_features(vdev, 0);
	case VIRTIO_PCI_QUEUE_PFN:
		return virtio_queue_get_legacy_pfn(vdev, sel);
	case VIRTIO_PCI_QUEUE_NUM:
		return virtio_queue_get_size(vdev, sel);
	case VIRTIO_PCI_QUEUE_SEL:
		return sel;
	case VIRTIO_PCI_STATUS:
		return virtio_get_status(vdev);
	case VIRTIO_PCI_ISR:
		return vpci_isr_read(vp);
	case VIRTIO_MSI_CONFIG_VECTOR:
		return READ_ONCE(vp->config_vector);
	case VIRTIO_MSI_QUEUE_VECTOR:
		return sel < vdev->nr_queues ? READ_ONCE(vp->queue_vector[sel])
					     : VIRTIO_MSI_NO_VECTOR;
	}
	return 0;
}

static void legacy_write(struct virtio_pci *vp, u32 off, u32 val)
{
	struct virtio_device *vdev = vp->vdev;
	u32 sel = READ_ONCE(vp->queue_sel);

	switch (off) {
	case VIRTIO_PCI_GUEST_FEATURES:
		virtio_set_driver_features(vdev, 0, val);
		break;
	case VIRTIO_PCI_QUEUE_PFN:
		virtio_queue_set_legacy_pfn(vdev, sel, val, VIRTIO_LEGACY_PAGE_SIZE,
					    VIRTIO_LEGACY_ALIGN);
		break;
	case VIRTIO_PCI_QUEUE_SEL:
		WRITE_ONCE(vp->queue_sel, (u16)val);
		break;
	case VIRTIO_PCI_QUEUE_NOTIFY:
		virtio_queue_notify(vdev, (u16)val);
		break;
	case VIRTIO_PCI_STATUS:
		vpci_set_status(vp, false, (u8)val);
		break;
	case VIRTIO_MSI_CONFIG_VECTOR:
		WRITE_ONCE(vp->config_vector, vpci_check_vector(vp, (u16)val));
		break;
	case VIRTIO_MSI_QUEUE_VECTOR:
		vpci_set_queue_vector(vp, sel, (u16)val);
		break;
	default:
		break;	/* read-only */
	}
}

void vpci_legacy_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	bool msix = pci_msix_enabled(&vp->msix);
	u32 cfg = VIRTIO_PCI_CONFIG_OFF(msix);

	if (!is_write)
		memset(data, 0, len);
	if (off >= cfg) {
		if (is_write)
			virtio_config_write(vp->vdev, (u32)(off - cfg), data, len);
		else
			virtio_config_read(vp->vdev, (u32)(off - cfg), data, len);
		return;
	}
	if (len != reg_width((u32)off, msix)) {
		pr_debug_ratelimited("virtio-%s: ignored %u-byte legacy %s at 0x%llx", vp->vdev->ops->name,
			 len, is_write ? "write" : "read", (unsigned long long)off);
		return;
	}
	if (is_write)
		legacy_write(vp, (u32)off, (u32)bus_data_get(data, len));
	else
		bus_data_put(data, len, legacy_read(vp, (u32)off));
}
