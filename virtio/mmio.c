/*
 * virtio-mmio transport: translates the register window of spec 4.2.2
 * (version 2) and 4.2.4 (legacy version 1) into virtio core calls, and
 * drives the device's interrupt line from InterruptStatus.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_mmio.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-mmio.h"

#define MMIO_MAGIC	0x74726976	/* "virt" */
#define MMIO_VENDOR_ID	0x4d564b4c	/* "LKVM" */

/* An interrupt line, possibly shared: high while any user asserts it. */
struct mmio_line {
	pthread_mutex_t lock;
	u32 gsi;
	unsigned int asserted;	/* devices currently asserting */
};

struct mmio_notifier {
	struct virtio_mmio *m;
	u32 index;
	struct ioevent *ev;
};

struct virtio_mmio {
	struct kvm *kvm;
	struct virtio_device *vdev;
	bool legacy;
	u64 base;
	struct mmio_line *line;
	bool asserting;		/* under line->lock */
	char name[32];

	/*
	 * Driver-written selectors.  A driver serialises its own register
	 * accesses; relaxed atomics only keep racing vCPUs well-defined.
	 */
	u32 dev_features_sel, drv_features_sel, queue_sel;
	u32 guest_page_size;	/* legacy */
	u32 *queue_align;	/* legacy, per queue */
	struct mmio_notifier *notifiers;
};

static struct {
	pthread_mutex_t lock;
	u64 base, size;
	struct mmio_line lines[VIRTIO_MMIO_MAX_GSIS];
	unsigned int nr_lines;
	struct virtio_mmio_desc descs[VIRTIO_MMIO_MAX_DEVICES];
	unsigned int nr_devs;
} area = { .lock = PTHREAD_MUTEX_INITIALIZER };

static u32 sel_load(const u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void sel_store(u32 *p, u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* ---- layout ---- */

static void set_layout_locked(u64 base, u64 size, const u32 *gsis, unsigned int n)
{
	area.base = base;
	area.size = size;
	area.nr_lines = n;
	for (unsigned int i = 0; i < n; i++) {
		pthread_mutex_init(&area.lines[i].lock, NULL);
		area.lines[i].gsi = gsis[i];
		area.lines[i].asserted = 0;
	}
}

int virtio_mmio_set_layout(u64 base, u64 size, const u32 *gsis, unsigned int nr_gsis)
{
	int ret = 0;

	if (size < VIRTIO_MMIO_WINDOW_SIZE || base + size < base || !nr_gsis ||
	    nr_gsis > VIRTIO_MMIO_MAX_GSIS || base % VIRTIO_MMIO_WINDOW_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&area.lock);
	if (area.nr_devs)
		ret = -EBUSY;
	else
		set_layout_locked(base, size, gsis, nr_gsis);
	pthread_mutex_unlock(&area.lock);
	return ret;
}

/* ---- interrupt line ---- */

/* This device's contribution to its line becomes `level`; line lock held. */
static void line_set_locked(struct virtio_mmio *m, bool level)
{
	struct mmio_line *line = m->line;

	if (level == m->asserting)
		return;
	m->asserting = level;
	/* Only the first raise and the last release move the shared line. */
	if (level ? line->asserted++ == 0 : --line->asserted == 0)
		kvm_irq_line(m->kvm, line->gsi, level);
}

/*
 * Re-derive the level from InterruptStatus.  Whoever changes the ISR calls
 * this afterwards; the line lock orders the evaluations, so the last one
 * sees every ISR change made before it and the line ends up right.
 */
static void update_irq(struct virtio_mmio *m)
{
	pthread_mutex_lock(&m->line->lock);
	line_set_locked(m, virtio_isr_peek(m->vdev) != 0);
	pthread_mutex_unlock(&m->line->lock);
}

static void mmio_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	update_irq(vdev->transport_data);
}

static void mmio_signal_config(struct virtio_device *vdev)
{
	update_irq(vdev->transport_data);
}

/* Device reset (vdev->lock held): the core clears the ISR right after. */
static void mmio_reset(struct virtio_device *vdev)
{
	struct virtio_mmio *m = vdev->transport_data;

	pthread_mutex_lock(&m->line->lock);
	line_set_locked(m, false);
	pthread_mutex_unlock(&m->line->lock);
}

static const struct virtio_transport_ops mmio_transport = {
	.name = "mmio",
	.signal_queue = mmio_signal_queue,
	.signal_config = mmio_signal_config,
	.reset = mmio_reset,
};

/* ---- registers ---- */

static u32 device_features(struct virtio_mmio *m)
{
	u32 sel = sel_load(&m->dev_features_sel);

	/* A legacy device has no VERSION_1 (bit 32) to offer. */
	if (m->legacy && sel)
		return 0;
	return virtio_get_device_features(m->vdev, sel);
}

static u32 reg_read_legacy(struct virtio_mmio *m, u64 off)
{
	if (off == VIRTIO_MMIO_QUEUE_PFN)
		return virtio_queue_get_legacy_pfn(m->vdev, sel_load(&m->queue_sel));
	return 0;
}

static u32 reg_read_modern(struct virtio_mmio *m, u64 off)
{
	switch (off) {
	case VIRTIO_MMIO_QUEUE_READY:
		return virtio_queue_is_ready(m->vdev, sel_load(&m->queue_sel));
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return virtio_config_generation(m->vdev);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff;	/* no shared memory regions: length -1 */
	}
	return 0;
}

static u32 reg_read(struct virtio_mmio *m, u64 off)
{
	struct virtio_device *vdev = m->vdev;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return m->legacy ? 1 : 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return MMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return device_features(m);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return virtio_queue_get_max_size(vdev, sel_load(&m->queue_sel));
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return virtio_isr_peek(vdev);
	case VIRTIO_MMIO_STATUS:
		return virtio_get_status(vdev);
	}
	/* Write-only and unknown registers read as 0. */
	return m->legacy ? reg_read_legacy(m, off) : reg_read_modern(m, off);
}

static void write_legacy_queue(struct virtio_mmio *m, u64 off, u32 val)
{
	u32 q = sel_load(&m->queue_sel);

	if (q >= m->vdev->nr_queues)
		return;
	if (off == VIRTIO_MMIO_QUEUE_ALIGN)
		sel_store(&m->queue_align[q], val);
	else
		virtio_queue_set_legacy_pfn(m->vdev, q, val, sel_load(&m->guest_page_size),
					    sel_load(&m->queue_align[q]));
}

static void reg_write_legacy(struct virtio_mmio *m, u64 off, u32 val)
{
	switch (off) {
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		/* Checked by the core when a PFN is written. */
		sel_store(&m->guest_page_size, val);
		break;
	case VIRTIO_MMIO_QUEUE_ALIGN:
	case VIRTIO_MMIO_QUEUE_PFN:
		write_legacy_queue(m, off, val);
		break;
	default:
		pr_debug_ratelimited("%s: write 0x%x to unknown register 0x%llx", m->name, val,
			 (unsigned long long)off);
	}
}

static void write_queue_ready(struct virtio_mmio *m, u32 val)
{
	u32 q = sel_load(&m->queue_sel);

	if (val == 1) {
		virtio_queue_enable(m->vdev, q);
	} else if (val == 0 && virtio_queue_is_ready(m->vdev, q)) {
		/*
		 * Drivers write 0 when they delete a queue (normally after a
		 * reset).  The core's "PFN 0" path takes a queue back to its
		 * reset state, and only while DRIVER_OK is clear.
		 */
		virtio_queue_set_legacy_pfn(m->vdev, q, 0, VIRTIO_LEGACY_PAGE_SIZE,
					    VIRTIO_LEGACY_ALIGN);
	}
}

static void reg_write_modern(struct virtio_mmio *m, u64 off, u32 val)
{
	u32 q = sel_load(&m->queue_sel);

	switch (off) {
	case VIRTIO_MMIO_QUEUE_READY:
		write_queue_ready(m, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		virtio_queue_set_addr32(m->vdev, q, VIRTQ_AREA_DESC,
					off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		virtio_queue_set_addr32(m->vdev, q, VIRTQ_AREA_DRIVER,
					off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		virtio_queue_set_addr32(m->vdev, q, VIRTQ_AREA_DEVICE,
					off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break;	/* no regions: every selection reads length -1 */
	default:
		pr_debug_ratelimited("%s: write 0x%x to unknown register 0x%llx", m->name, val,
			 (unsigned long long)off);
	}
}

static void reg_write(struct virtio_mmio *m, u64 off, u32 val)
{
	struct virtio_device *vdev = m->vdev;
	u32 sel;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		sel_store(&m->dev_features_sel, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		sel = sel_load(&m->drv_features_sel);
		if (!m->legacy || sel == 0)
			virtio_set_driver_features(vdev, sel, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		sel_store(&m->drv_features_sel, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		sel_store(&m->queue_sel, val);
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		virtio_queue_set_size(vdev, sel_load(&m->queue_sel), val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Only without an ioeventfd for this queue index. */
		virtio_queue_notify(vdev, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		virtio_isr_ack(vdev, (u8)val);
		update_irq(m);
		break;
	case VIRTIO_MMIO_STATUS:
		virtio_set_status(vdev, (u8)val);
		break;
	default:
		if (m->legacy)
			reg_write_legacy(m, off, val);
		else
			reg_write_modern(m, off, val);
	}
}

static void mmio_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_mmio *m = opaque;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (is_write)
			virtio_config_write(m->vdev, off - VIRTIO_MMIO_CONFIG, data, len);
		else
			virtio_config_read(m->vdev, off - VIRTIO_MMIO_CONFIG, data, len);
		return;
	}
	/* Control registers are 32-bit, aligned (spec 4.2.2.2). */
	if (len != 4 || off % 4) {
		pr_debug_ratelimited("%s: %u-byte %s at 0x%llx ignored", m->name, len,
			 is_write ? "write" : "read", (unsigned long long)off);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		reg_write(m, off, (u32)bus_data_get(data, 4));
	else
		bus_data_put(data, 4, reg_read(m, off));
}

/* ---- attach ---- */

static void notify_event(void *opaque)
{
	struct mmio_notifier *n = opaque;

	virtio_queue_notify(n->m->vdev, n->index);
}

/* One ioeventfd per queue: the written value is the queue index. */
static void add_notifiers(struct virtio_mmio *m)
{
	u64 addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY;
	int ret;

	for (u32 i = 0; i < m->vdev->nr_queues; i++) {
		struct mmio_notifier *n = &m->notifiers[i];

		n->m = m;
		n->index = i;
		ret = ioevent_add(m->kvm, addr, 4, false, true, i, notify_event, n, &n->ev);
		if (ret) {
			pr_debug("%s: queue %u notifications through exits (ioeventfd: %d)",
				 m->name, i, ret);
			n->ev = NULL;
		}
	}
}

static struct virtio_mmio *mmio_new(struct kvm *kvm, struct virtio_device *vdev, bool legacy)
{
	struct virtio_mmio *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->queue_align = calloc(vdev->nr_queues, sizeof(*m->queue_align));
	m->notifiers = calloc(vdev->nr_queues, sizeof(*m->notifiers));
	if (!m->queue_align || !m->notifiers) {
		free(m->queue_align);
		free(m->notifiers);
		free(m);
		return NULL;
	}
	m->kvm = kvm;
	m->vdev = vdev;
	m->legacy = legacy;
	m->guest_page_size = VIRTIO_LEGACY_PAGE_SIZE;
	for (u32 i = 0; i < vdev->nr_queues; i++)
		m->queue_align[i] = VIRTIO_LEGACY_ALIGN;
	return m;
}

static void mmio_free(struct virtio_mmio *m)
{
	free(m->queue_align);
	free(m->notifiers);
	free(m);
}

static int attach_locked(struct kvm *kvm, struct virtio_device *vdev, bool legacy)
{
	unsigned int slot = area.nr_devs;
	u64 base = area.base + slot * VIRTIO_MMIO_WINDOW_SIZE;
	struct virtio_mmio *m;
	int ret;

	if (slot >= VIRTIO_MMIO_MAX_DEVICES ||
	    (u64)(slot + 1) * VIRTIO_MMIO_WINDOW_SIZE > area.size)
		return -ENOSPC;
	m = mmio_new(kvm, vdev, legacy);
	if (!m)
		return -ENOMEM;
	m->base = base;
	m->line = &area.lines[slot % area.nr_lines];
	snprintf(m->name, sizeof(m->name), "virtio-mmio-%s", vdev->ops->name);
	/* Transport first: the window must never reach a device without one. */
	virtio_device_set_transport(vdev, &mmio_transport, m, !legacy);
	ret = bus_register(&kvm->mmio_bus, base, VIRTIO_MMIO_WINDOW_SIZE, mmio_access, m,
			   m->name);
	if (ret) {
		virtio_device_set_transport(vdev, NULL, NULL, false);
		mmio_free(m);
		return ret;
	}
	add_notifiers(m);
	area.descs[slot] = (struct virtio_mmio_desc){
		.base = base, .size = VIRTIO_MMIO_WINDOW_SIZE, .gsi = m->line->gsi,
		.device_id = vdev->ops->device_id, .legacy = legacy,
	};
	area.nr_devs++;
	pr_debug("%s at 0x%llx, GSI %u%s", m->name, (unsigned long long)base,
		 m->line->gsi, legacy ? ", legacy" : "");
	return 0;
}

int virtio_mmio_attach(struct kvm *kvm, struct virtio_device *vdev, bool legacy)
{
	int ret;

	pthread_mutex_lock(&area.lock);
	ret = area.nr_lines ? attach_locked(kvm, vdev, legacy) : -ENODEV;
	pthread_mutex_unlock(&area.lock);
	return ret;
}

unsigned int virtio_mmio_list(const struct virtio_mmio_desc **out)
{
	unsigned int n;

	pthread_mutex_lock(&area.lock);
	n = area.nr_devs;
	pthread_mutex_unlock(&area.lock);
	*out = area.descs;
	return n;
}

int virtio_mmio_cmdline_arg(char *buf, size_t size)
{
	const struct virtio_mmio_desc *d;
	unsigned int n = virtio_mmio_list(&d);
	size_t used = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		int w = snprintf(buf + used, size - used, "%svirtio_mmio.device=0x%llx@0x%llx:%u",
				 i ? " " : "", (unsigned long long)d[i].size,
				 (unsigned long long)d[i].base, d[i].gsi);

		if (w < 0 || (size_t)w >= size - used) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		used += w;
	}
	return (int)used;
}
