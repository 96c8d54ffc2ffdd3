/*
 * The virtio-pci transport: identity and capabilities as a driver finds
 * them, the modern common configuration and the legacy registers driven
 * over fake buses and guest RAM, notifications (ioeventfd and exit
 * paths), interrupts (ISR + INTx, MSI-X vectors), the PCI configuration
 * access capability, and guest nonsense.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/virtio-pci.h"
#include "lkvm/fd-budget.h"
#include "pci-fake.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x40000ULL
#define QSIZE 16
#define NQ 2
#define DEV_FEATURE 5
#define ST_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_DRV VIRTIO_CONFIG_S_DRIVER
#define ST_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define ST_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define SLOT 1

/* ---- ioeventfd stubs: record registrations, fire them by hand ---- */

struct ioevent {
	u64 addr;
	u32 len;
	bool pio, datamatch, live;
	u64 match;
	ioevent_fn fn;
	void *opaque;
};

static struct ioevent events[256];
static int nr_events;
static bool ioevents_work;

int ioevent_add(struct kvm *kvm, u64 addr, u32 len, bool pio, bool datamatch,
		u64 match, ioevent_fn fn, void *opaque, struct ioevent **out)
{
	if (!ioevents_work || nr_events == (int)ARRAY_SIZE(events))
		return -ENOSYS;
	events[nr_events] = (struct ioevent){ addr, len, pio, datamatch, true, match, fn, opaque };
	*out = &events[nr_events++];
	return 0;
}

void ioevent_del(struct ioevent *ev)
{
	if (ev)
		ev->live = false;
}

static struct ioevent *live_event(u64 addr, bool pio)
{
	for (int i = 0; i < nr_events; i++)
		if (events[i].live && events[i].addr == addr && events[i].pio == pio)
			return &events[i];
	return NULL;
}

static int live_events(void)
{
	int n = 0;

	for (int i = 0; i < nr_events; i++)
		n += events[i].live;
	return n;
}

/* ---- a dummy device over fake RAM ---- */

static struct guest_mem mem;
static u8 *ram;
static struct virtio_device vdev;
static u8 config_space[8];
static int notified[NQ], activations, resets;

static void d_notify(struct virtio_device *d, struct virt_queue *vq)
{
	notified[vq->index]++;
}

static int d_activate(struct virtio_device *d)
{
	activations++;
	return 0;
}

static void d_reset(struct virtio_device *d)
{
	resets++;
}

static void d_config_write(struct virtio_device *d, u32 off, const void *data, u32 len)
{
	memcpy(config_space + off, data, len);
}

static struct virtio_device_ops dev_ops = {
	.name = "dummy",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = NQ,
	.max_queue_size = QSIZE,
	.features = 1ULL << DEV_FEATURE,
	.queue_notify = d_notify,
	.reset = d_reset,
	.activate = d_activate,
	.config_write = d_config_write,
};

static void ram_init(void)
{
	if (!ram) {
		ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		if (ram == MAP_FAILED)
			exit(2);
		mem.regions[0] = (struct guest_mem_region){ RAM_GPA, RAM_SIZE, ram };
		mem.nr_regions = 1;
	}
	memset(ram, 0, RAM_SIZE);
}

static u32 bar0, bar1, bar4;	/* as the guest sees them */

static void setup(u32 device_id, bool legacy_only, bool with_ioevents)
{
	fake_kvm_init();
	ram_init();
	memset(notified, 0, sizeof(notified));
	activations = resets = 0;
	nr_events = 0;
	ioevents_work = with_ioevents;
	for (unsigned int i = 0; i < sizeof(config_space); i++)
		config_space[i] = (u8)(0xa0 + i);
	dev_ops.device_id = device_id;
	if (virtio_device_init(&vdev, &dev_ops, &mem, config_space, sizeof(config_space)) ||
	    virtio_pci_attach(&fake_kvm, &vdev, legacy_only)) {
		fprintf(stderr, "set-up failed\n");
		exit(2);
	}
	bar0 = bar_addr(SLOT, 0);
	bar1 = bar_addr(SLOT, 1);
	bar4 = bar_addr(SLOT, 4);
}

static void teardown(void)
{
	virtio_pci_detach(&vdev);
	virtio_device_exit(&vdev);
	fake_kvm_exit();
}

/* ---- modern driver helpers ---- */

static u32 common_rd(u32 off, u32 len)
{
	return mmio_rd(bar4 + VPCI_COMMON_OFF + off, len);
}

static void common_wr(u32 off, u32 len, u64 val)
{
	mmio_wr(bar4 + VPCI_COMMON_OFF + off, len, val);
}

static void modern_queue_setup(u16 q, u64 base)
{
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
	common_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, (u32)base);
	common_wr(VIRTIO_PCI_COMMON_Q_DESCHI, 4, base >> 32);
	common_wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (u32)(base + 0x1000));
	common_wr(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, (u32)(base + 0x2000));
	common_wr(VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

/* Negotiate VERSION_1 + the device bit, set up both queues, DRIVER_OK. */
static void modern_bring_up(void)
{
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, 1u << DEV_FEATURE);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, 1u << (VIRTIO_F_VERSION_1 - 32));
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV | ST_FOK);
	modern_queue_setup(0, RAM_GPA);
	modern_queue_setup(1, RAM_GPA + 0x10000);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
}

static u8 msix_cap(void)
{
	return find_cap(SLOT, PCI_CAP_ID_MSIX, 0);
}

static void msix_enable(void)
{
	cfg_wr(SLOT, msix_cap() + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static void msix_entry(unsigned int v, u32 data)
{
	u32 e = bar1 + 16 * v;	/* the table is at offset 0 of BAR1 */

	mmio_wr(e, 4, 0xfee00000);
	mmio_wr(e + 4, 4, 0);
	mmio_wr(e + 8, 4, data);
	mmio_wr(e + 12, 4, 0);
}

/* ---- identity and capabilities ---- */

static void test_transitional_identity(void)
{
	setup(VIRTIO_ID_NET, false, false);
	CHECK_EQ(cfg_rd(SLOT, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_rd(SLOT, PCI_DEVICE_ID, 2), 0x1000);
	CHECK_EQ(cfg_rd(SLOT, PCI_REVISION_ID, 1), 0);
	CHECK_EQ(cfg_rd(SLOT, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_rd(SLOT, PCI_SUBSYSTEM_ID, 2), VIRTIO_ID_NET);
	CHECK_EQ(cfg_rd(SLOT, PCI_CLASS_DEVICE, 2), 0x0200);
	CHECK_EQ(cfg_rd(SLOT, PCI_INTERRUPT_PIN, 1), 1);
	CHECK_EQ(cfg_rd(SLOT, PCI_BASE_ADDRESS_0, 4) & 1, PCI_BASE_ADDRESS_SPACE_IO);
	CHECK(bar0 >= 0xc000);
	CHECK(bar1 >= 0xc0000000u);
	CHECK(bar4 >= 0xc0000000u);
	CHECK_EQ(cfg_rd(SLOT, PCI_BASE_ADDRESS_2, 4), 0);
	teardown();
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_BLOCK), 0x1001);
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_CONSOLE), 0x1003);
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_RNG), 0x1005);
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_BALLOON), 0x1002);
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_9P), 0x1009);
	CHECK_EQ(virtio_pci_transitional_id(VIRTIO_ID_VSOCK), 0);
}

struct found_cap {
	u8 pos, len, bar;
	u32 offset, length;
};

/* Walk the list like a driver: each virtio cfg_type at most once here. */
static int walk_virtio_caps(struct found_cap caps[8])
{
	int n = 0;

	memset(caps, 0, 8 * sizeof(caps[0]));
	for (unsigned int i = 0; i < 8; i++) {
		u8 pos = find_cap(SLOT, PCI_CAP_ID_VNDR, i);
		u8 type;

		if (!pos)
			break;
		type = (u8)cfg_rd(SLOT, pos + offsetof(struct virtio_pci_cap, cfg_type), 1);
		if (type >= 8 || caps[type].pos)
			return -1;
		caps[type] = (struct found_cap){
			.pos = pos,
			.len = (u8)cfg_rd(SLOT, pos + offsetof(struct virtio_pci_cap, cap_len), 1),
			.bar = (u8)cfg_rd(SLOT, pos + offsetof(struct virtio_pci_cap, bar), 1),
			.offset = cfg_rd(SLOT, pos + offsetof(struct virtio_pci_cap, offset), 4),
			.length = cfg_rd(SLOT, pos + offsetof(struct virtio_pci_cap, length), 4),
		};
		n++;
	}
	return n;
}

/* Size of BAR b by the sizing protocol. */
static u32 bar_size(unsigned int b)
{
	u32 reg = PCI_BASE_ADDRESS_0 + 4 * b, old = cfg_rd(SLOT, reg, 4), mask;

	cfg_wr(SLOT, PCI_COMMAND, 2, 0);
	cfg_wr(SLOT, reg, 4, 0xffffffff);
	mask = cfg_rd(SLOT, reg, 4) & (old & 1 ? ~3u : ~0xfu);
	cfg_wr(SLOT, reg, 4, old);
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	if (old & 1)
		mask |= 0xffff0000;
	return mask ? ~mask + 1 : 0;
}

static void test_modern_capabilities(void)
{
	struct found_cap c[8];
	u32 size4;
	u8 m;

	setup(VIRTIO_ID_NET, false, false);
	CHECK(cfg_rd(SLOT, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	CHECK_EQ(walk_virtio_caps(c), 5);
	size4 = bar_size(4);
	CHECK(size4 >= 0x4000);
	CHECK_EQ(c[VIRTIO_PCI_CAP_COMMON_CFG].bar, 4);
	CHECK_EQ(c[VIRTIO_PCI_CAP_COMMON_CFG].offset, VPCI_COMMON_OFF);
	CHECK_EQ(c[VIRTIO_PCI_CAP_COMMON_CFG].length, sizeof(struct virtio_pci_common_cfg));
	CHECK_EQ(c[VIRTIO_PCI_CAP_COMMON_CFG].len, sizeof(struct virtio_pci_cap));
	CHECK_EQ(c[VIRTIO_PCI_CAP_NOTIFY_CFG].bar, 4);
	CHECK_EQ(c[VIRTIO_PCI_CAP_NOTIFY_CFG].offset, VPCI_NOTIFY_OFF);
	CHECK_EQ(c[VIRTIO_PCI_CAP_NOTIFY_CFG].length, NQ * VPCI_NOTIFY_MULT);
	CHECK_EQ(c[VIRTIO_PCI_CAP_NOTIFY_CFG].len, sizeof(struct virtio_pci_notify_cap));
	CHECK_EQ(cfg_rd(SLOT, c[VIRTIO_PCI_CAP_NOTIFY_CFG].pos +
				      offsetof(struct virtio_pci_notify_cap, notify_off_multiplier), 4),
		 VPCI_NOTIFY_MULT);
	CHECK_EQ(c[VIRTIO_PCI_CAP_ISR_CFG].bar, 4);
	CHECK_EQ(c[VIRTIO_PCI_CAP_ISR_CFG].offset, VPCI_ISR_OFF);
	CHECK(c[VIRTIO_PCI_CAP_ISR_CFG].length >= 1);
	CHECK_EQ(c[VIRTIO_PCI_CAP_DEVICE_CFG].bar, 4);
	CHECK_EQ(c[VIRTIO_PCI_CAP_DEVICE_CFG].offset, VPCI_DEVICE_OFF);
	CHECK_EQ(c[VIRTIO_PCI_CAP_DEVICE_CFG].length, sizeof(config_space));
	CHECK_EQ(c[VIRTIO_PCI_CAP_PCI_CFG].len, sizeof(struct virtio_pci_cfg_cap));
	/* Every structure lies inside BAR4 (drivers check this). */
	for (int t = 1; t <= 4; t++)
		CHECK(c[t].offset + c[t].length <= size4);
	/* MSI-X: a config vector plus one per queue, in BAR1. */
	m = msix_cap();
	CHECK(m);
	CHECK_EQ(cfg_rd(SLOT, m + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, NQ);
	CHECK_EQ(cfg_rd(SLOT, m + PCI_MSIX_TABLE, 4) & PCI_MSIX_TABLE_BIR, VPCI_MSIX_BAR);
	CHECK_EQ(cfg_rd(SLOT, m + PCI_MSIX_PBA, 4) & PCI_MSIX_PBA_BIR, VPCI_MSIX_BAR);
	CHECK(bar_size(1) >= 16 * (NQ + 1));
	/* The legacy BAR holds header, vectors and the device config. */
	CHECK(bar_size(0) >= VIRTIO_PCI_CONFIG_OFF(true) + sizeof(config_space));
	teardown();
}

/* ---- modern interface ---- */

static void test_modern_negotiation(void)
{
	struct virt_queue *vq;

	setup(VIRTIO_ID_NET, false, false);
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_DF, 4), virtio_get_device_features(&vdev, 0));
	CHECK(common_rd(VIRTIO_PCI_COMMON_DF, 4) & (1u << DEV_FEATURE));
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_DF, 4), (1u << (VIRTIO_F_VERSION_1 - 32)) |
		 (1u << (VIRTIO_F_RING_PACKED - 32)));
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 7);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_DF, 4), 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);

	modern_bring_up();
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_STATUS, 1), ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	CHECK_EQ(activations, 1);
	CHECK(vdev.modern);
	CHECK(virtio_has_feature(&vdev, VIRTIO_F_VERSION_1));
	CHECK(virtio_has_feature(&vdev, DEV_FEATURE));
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_GF, 4), 1u << DEV_FEATURE);

	/* Queue registers read back per selected queue. */
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), QSIZE);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), (u32)(RAM_GPA + 0x10000));
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_AVAILLO, 4), (u32)(RAM_GPA + 0x11000));
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_USEDLO, 4), (u32)(RAM_GPA + 0x12000));
	CHECK_EQ(bus_rd64(&fake_kvm.mmio_bus, bar4 + VIRTIO_PCI_COMMON_Q_USEDLO),
		 RAM_GPA + 0x12000);
	vq = virtio_get_queue(&vdev, 1);
	CHECK(vq->ready);
	CHECK_EQ(vq->used_gpa, RAM_GPA + 0x12000);

	/* Notify area: queue i at notify base + 4 * i, handled on exit. */
	mmio_wr(bar4 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * 1, 2, 1);
	mmio_wr(bar4 + VPCI_NOTIFY_OFF, 2, 0);
	CHECK_EQ(notified[0], 1);
	CHECK_EQ(notified[1], 1);

	/* Device config through the device cfg region. */
	CHECK_EQ(mmio_rd(bar4 + VPCI_DEVICE_OFF, 4), 0xa3a2a1a0);
	mmio_wr(bar4 + VPCI_DEVICE_OFF + 1, 1, 0x55);
	CHECK_EQ(config_space[1], 0x55);
	CHECK_EQ(mmio_rd(bar4 + VPCI_DEVICE_OFF + sizeof(config_space), 4), 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_CFGGENERATION, 1), 0);
	virtio_config_changed(&vdev);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_CFGGENERATION, 1), 1);

	/* Reset through status 0. */
	resets = 0;
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
	CHECK_EQ(resets, 1);
	CHECK(!vq->ready);
	teardown();
}

static void test_modern_queue_address_qword(void)
{
	setup(VIRTIO_ID_NET, false, false);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
	common_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x123456789000ULL);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x1234);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x56789000);
	/* A ring outside RAM: enable is refused, the queue stays off. */
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	teardown();
}

static void test_modern_requires_version1(void)
{
	setup(VIRTIO_ID_NET, false, false);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, 1u << DEV_FEATURE);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV | ST_FOK);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_STATUS, 1) & ST_FOK, 0);
	teardown();
}

static void test_out_of_range_queue_select(void)
{
	setup(VIRTIO_ID_NET, false, false);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRV);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, NQ);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0xffff);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	/* Queue 0 untouched. */
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), QSIZE);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	/* Notifies of queues that do not exist or are not ready do nothing. */
	mmio_wr(bar4 + VPCI_NOTIFY_OFF + 4 * 100, 2, 100);
	mmio_wr(bar4 + VPCI_NOTIFY_OFF, 2, 0);
	CHECK_EQ(notified[0] + notified[1], 0);
	teardown();
}

static void test_wrong_widths_ignored(void)
{
	setup(VIRTIO_ID_NET, false, false);
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 1, 1);	/* byte write to a dword */
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_NUMQ, 4), 0);	/* dword read of a word */
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_NUMQ + 1, 1), 0);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 2, ST_ACK);	/* word write of a byte */
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_DESCHI, 8, 0);	/* qword at a high half */
	CHECK_EQ(common_rd(0x38, 2), 0);		/* past the structure */
	CHECK_EQ(common_rd(0xffc, 4), 0);
	CHECK_EQ(mmio_rd(bar4 + VPCI_ISR_OFF + 4, 1), 0);
	CHECK_EQ(mmio_rd(bar4 + VPCI_NOTIFY_OFF, 2), 0);
	/* Legacy registers at the wrong width. */
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 2, ST_ACK);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_STATUS, 1), 0);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_HOST_FEATURES, 2), 0);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_NUM, 4), 0);
	teardown();
}

/* ---- notifications through ioeventfds ---- */

static void test_ioeventfd_registration(void)
{
	struct ioevent *ev;
	u32 old4;

	setup(VIRTIO_ID_NET, false, true);
	CHECK_EQ(live_events(), 2 * NQ);
	for (unsigned int q = 0; q < NQ; q++) {
		ev = live_event(bar4 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * q, false);
		CHECK(ev);
		if (ev) {
			CHECK_EQ(ev->len, 2);
			CHECK(ev->datamatch);
			CHECK_EQ(ev->match, q);
		}
	}
	/* The legacy port has one datamatch entry per queue index. */
	for (int i = 0, seen = 0; i < nr_events; i++) {
		if (!events[i].live || !events[i].pio)
			continue;
		CHECK_EQ(events[i].addr, bar0 + VIRTIO_PCI_QUEUE_NOTIFY);
		CHECK_EQ(events[i].match, seen++);
	}
	/* Firing one notifies its queue once the device runs. */
	modern_bring_up();
	ev = live_event(bar4 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT, false);
	ev->fn(ev->opaque);
	CHECK_EQ(notified[1], 1);
	CHECK_EQ(notified[0], 0);
	/* Moving BAR4 moves the modern ones, and only those. */
	old4 = bar4;
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO);
	CHECK_EQ(live_events(), NQ);
	cfg_wr(SLOT, PCI_BASE_ADDRESS_4, 4, 0xd0000000);
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(live_events(), 2 * NQ);
	CHECK(!live_event(old4 + VPCI_NOTIFY_OFF, false));
	CHECK(live_event(0xd0000000 + VPCI_NOTIFY_OFF, false));
	CHECK(live_event(0xd0000000 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT, false));
	/* I/O decode off drops the legacy ones. */
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(live_events(), NQ);
	teardown();
	CHECK_EQ(live_events(), 0);
}

/* A guest toggling decode forever cannot grow lkvm's memory forever. */
static void test_ioeventfd_churn_capped(void)
{
	setup(VIRTIO_ID_NET, false, true);
	modern_bring_up();
	for (int i = 0; i < 200; i++) {
		cfg_wr(SLOT, PCI_COMMAND, 2, 0);
		cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	}
	CHECK(nr_events <= (VPCI_MAX_IOEVENT_MAPS + 2) * NQ);
	CHECK_EQ(live_events(), 0);
	/* Notifications still work, through the exit path. */
	mmio_wr(bar4 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT, 2, 1);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
	CHECK_EQ(notified[1], 1);
	CHECK_EQ(notified[0], 1);
	teardown();
}

/* ---- interrupts ---- */

static void test_intx_and_isr(void)
{
	struct virt_queue *vq;
	u8 gsi;

	setup(VIRTIO_ID_NET, false, false);
	gsi = (u8)cfg_rd(SLOT, PCI_INTERRUPT_LINE, 1);
	CHECK_EQ(gsi, pci_slot_gsi(SLOT));
	modern_bring_up();
	virtio_config_changed(&vdev);
	CHECK_EQ(irq_level[gsi], 1);
	CHECK_EQ(mmio_rd(bar4 + VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	CHECK_EQ(irq_level[gsi], 0);
	CHECK_EQ(mmio_rd(bar4 + VPCI_ISR_OFF, 1), 0);
	/* A used-buffer interrupt: the core sets the ISR bit, then signals. */
	vq = virtio_get_queue(&vdev, 0);
	__atomic_or_fetch(&vdev.isr, VIRTIO_ISR_QUEUE, __ATOMIC_SEQ_CST);
	vdev.transport->signal_queue(&vdev, vq);
	CHECK_EQ(irq_level[gsi], 1);
	/* The legacy ISR register reads the same byte, and clears it. */
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_ISR, 1), VIRTIO_ISR_QUEUE);
	CHECK_EQ(irq_level[gsi], 0);
	/* Reset drops the line. */
	virtio_config_changed(&vdev);
	CHECK_EQ(irq_level[gsi], 1);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(irq_level[gsi], 0);
	CHECK_EQ(nr_routes, 0);
	teardown();
}

static void test_msix_vectors(void)
{
	struct virt_queue *vq0, *vq1;
	u8 gsi;

	setup(VIRTIO_ID_NET, false, false);
	gsi = (u8)cfg_rd(SLOT, PCI_INTERRUPT_LINE, 1);
	msix_enable();
	for (unsigned int v = 0; v <= NQ; v++)
		msix_entry(v, 0x40 + v);
	modern_bring_up();
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), 2);
	/* A vector the table does not have reads back as NO_VECTOR. */
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, NQ + 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);

	virtio_config_changed(&vdev);
	CHECK_EQ(nr_routes, 1);
	CHECK_EQ(routes[0].data, 0x40);
	CHECK_EQ(irqfd_signals(0), 1);
	CHECK_EQ(irq_level[gsi], 0);	/* no INTx while MSI-X is on */

	vq0 = virtio_get_queue(&vdev, 0);
	vq1 = virtio_get_queue(&vdev, 1);
	vdev.transport->signal_queue(&vdev, vq0);
	CHECK_EQ(nr_routes, 2);
	CHECK_EQ(routes[1].data, 0x42);
	CHECK_EQ(irqfd_signals(1), 1);
	/* NO_VECTOR: no interrupt at all. */
	vdev.transport->signal_queue(&vdev, vq1);
	CHECK_EQ(nr_routes, 2);
	CHECK_EQ(irqfd_signals(0) + irqfd_signals(1), 0);
	CHECK_EQ(irq_level[gsi], 0);
	CHECK_EQ(signal_msi_calls, 0);

	/* Reset returns every vector to NO_VECTOR. */
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	teardown();
}

/* ---- irqfds for a kernel data path (vhost) ---- */

static u32 msix_pba(void)
{
	return mmio_rd(bar1 + ALIGN_UP(16 * (NQ + 1), 8u), 4);	/* PBA after the table */
}

static void msix_mask(unsigned int v, bool masked)
{
	mmio_wr(bar1 + 16 * v + 12, 4, masked);
}

static void eventfd_put(int fd)
{
	u64 one = 1;

	CHECK_EQ(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static int route_of(int fd)
{
	int gsi = irqfd_gsi(fd);

	return gsi < 0 ? -1 : gsi - FIRST_FAKE_GSI;
}

/* MSI-X on, DRIVER_OK, queue 0 on vector 1, queue 1 on none. */
static void irqfd_bring_up(void)
{
	msix_enable();
	for (unsigned int v = 0; v <= NQ; v++)
		msix_entry(v, 0x40 + v);
	modern_bring_up();	/* resets first: vectors after it */
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
}

static void test_irqfd_follows_vector(void)
{
	int fds0 = fd_count_open(), fd, r;
	struct virt_queue *vq0, *vq1;

	setup(VIRTIO_ID_NET, false, false);
	irqfd_bring_up();
	vq0 = virtio_get_queue(&vdev, 0);
	vq1 = virtio_get_queue(&vdev, 1);
	fd = virtio_queue_irqfd(&vdev, vq0);
	CHECK(fd >= 0);
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq0), fd);	/* the same one again */
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq1), -1);	/* no vector: no irqfd */
	r = route_of(fd);
	CHECK(r >= 0);
	CHECK_EQ(routes[r].data, 0x41);

	/* The guest rewrites the unmasked entry: the route follows. */
	mmio_wr(bar1 + 16 * 1 + 8, 4, 0x51);
	CHECK_EQ(route_of(fd), r);
	CHECK_EQ(routes[r].data, 0x51);

	/* Masked: unbound; a kernel interrupt then is the pending bit. */
	msix_mask(1, true);
	CHECK_EQ(route_of(fd), -1);
	eventfd_put(fd);
	CHECK_EQ(msix_pba(), 1u << 1);
	CHECK_EQ(irqfd_signals(r), 0);
	/* Reprogrammed while masked, unmasked: delivered once, to the new target. */
	mmio_wr(bar1 + 16 * 1 + 8, 4, 0x61);
	msix_mask(1, false);
	CHECK_EQ(msix_pba(), 0);
	CHECK_EQ(irqfd_signals(r) + (u64)signal_msi_calls, 1);
	CHECK_EQ(routes[r].data, 0x61);
	CHECK_EQ(route_of(fd), r);

	/* Function mask: the same without touching the entry. */
	cfg_wr(SLOT, msix_cap() + PCI_MSIX_FLAGS, 2,
	       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	CHECK_EQ(route_of(fd), -1);
	eventfd_put(fd);
	CHECK_EQ(msix_pba(), 1u << 1);
	msix_enable();
	CHECK_EQ(msix_pba(), 0);
	CHECK_EQ(irqfd_signals(r), 1);
	CHECK_EQ(route_of(fd), r);

	/* The queue moves to vector 2, then to none. */
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	CHECK(route_of(fd) >= 0 && route_of(fd) != r);
	CHECK_EQ(routes[route_of(fd)].data, 0x42);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(route_of(fd), -1);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	CHECK_EQ(route_of(fd), r);

	/* Reset drops it; a new activation gets it back. */
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(route_of(fd), -1);
	irqfd_bring_up();
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq0), fd);
	CHECK_EQ(route_of(fd), r);
	teardown();
	CHECK_EQ(nr_irqfds, 0);
	CHECK_EQ(fd_count_open(), fds0);	/* every eventfd closed */
}

/* Where only lkvm can raise the interrupt, the device keeps its own path. */
static void test_irqfd_refused(void)
{
	struct virt_queue *vq0;

	setup(VIRTIO_ID_NET, false, false);
	modern_bring_up();
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	vq0 = virtio_get_queue(&vdev, 0);
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq0), -1);	/* INTx: the ISR first */
	irqfd_bring_up();
	msix_mask(1, true);
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq0), -1);	/* masked at DRIVER_OK */
	msix_mask(1, false);
	irqfd_fails = true;
	CHECK_EQ(virtio_queue_irqfd(&vdev, vq0), -1);	/* KVM without irqfds */
	CHECK_EQ(nr_irqfds, 0);
	teardown();
}

/* A kick fd replaces the queue's ioeventfds, follows its BARs, then closes. */
static void test_kickfd_follows_bar(void)
{
	int fds0 = fd_count_open(), fd;
	u64 notify0;

	setup(VIRTIO_ID_NET, false, true);
	modern_bring_up();
	notify0 = bar4 + VPCI_NOTIFY_OFF;
	fd = virtio_queue_kickfd(&vdev, virtio_get_queue(&vdev, 0));
	CHECK(fd >= 0);
	CHECK_EQ(virtio_queue_kickfd(&vdev, virtio_get_queue(&vdev, 0)), fd);
	CHECK(!live_event(notify0, false));		/* lkvm no longer reads it */
	CHECK_EQ(kvm_ioevent_fd(notify0, false), fd);
	CHECK_EQ(kvm_ioevent_fd(bar0 + VIRTIO_PCI_QUEUE_NOTIFY, true), fd);
	CHECK_EQ(kvm_ioevents[0].match, 0);
	CHECK(live_event(notify0 + VPCI_NOTIFY_MULT, false));	/* queue 1 unchanged */
	CHECK_EQ(live_events(), 2 * NQ - 2);

	/* BAR4 moves: so does the kick fd; memory decode off drops it. */
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO);
	CHECK_EQ(kvm_ioevent_fd(notify0, false), -1);
	cfg_wr(SLOT, PCI_BASE_ADDRESS_4, 4, 0xd0000000);
	cfg_wr(SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(kvm_ioevent_fd(0xd0000000 + VPCI_NOTIFY_OFF, false), fd);
	CHECK_EQ(live_events(), 2 * NQ - 2);
	CHECK_EQ(nr_kvm_ioevents, 2);

	/* Kept across a reset: the next activation finds it in place. */
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(kvm_ioevent_fd(0xd0000000 + VPCI_NOTIFY_OFF, false), fd);
	teardown();
	CHECK_EQ(nr_kvm_ioevents, 0);
	CHECK_EQ(fd_count_open(), fds0);
}

/* KVM refusing the kick fd leaves the exit path: the BAR handler notifies. */
static void test_kickfd_refused_exits(void)
{
	setup(VIRTIO_ID_NET, false, true);
	modern_bring_up();
	kvm_ioevent_fails = true;
	CHECK(virtio_queue_kickfd(&vdev, virtio_get_queue(&vdev, 0)) >= 0);
	CHECK_EQ(nr_kvm_ioevents, 0);
	mmio_wr(bar4 + VPCI_NOTIFY_OFF, 2, 0);
	CHECK_EQ(notified[0], 1);
	teardown();
}

/* ---- legacy interface ---- */

static void legacy_bring_up_queue0(void)
{
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_SEL, 2, 0);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_PFN, 4, RAM_GPA >> 12);
}

static void test_legacy_only_device(void)
{
	struct virt_queue *vq;

	setup(VIRTIO_ID_NET, true, false);
	CHECK_EQ(cfg_rd(SLOT, PCI_DEVICE_ID, 2), 0x1000);
	CHECK_EQ(cfg_rd(SLOT, PCI_REVISION_ID, 1), 0);
	CHECK_EQ(find_cap(SLOT, PCI_CAP_ID_VNDR, 0), 0);	/* no modern caps */
	CHECK(msix_cap());
	CHECK_EQ(cfg_rd(SLOT, PCI_BASE_ADDRESS_4, 4), 0);
	CHECK(!vdev.modern);

	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_HOST_FEATURES, 4), virtio_get_device_features(&vdev, 0));
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK);
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK | ST_DRV);
	pio_wr(bar0 + VIRTIO_PCI_GUEST_FEATURES, 4, 1u << DEV_FEATURE);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_GUEST_FEATURES, 4), 1u << DEV_FEATURE);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_NUM, 2), QSIZE);
	legacy_bring_up_queue0();
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_PFN, 4), RAM_GPA >> 12);
	vq = virtio_get_queue(&vdev, 0);
	CHECK(vq->ready);
	CHECK_EQ(vq->avail_gpa, RAM_GPA + 16 * QSIZE);
	CHECK_EQ(vq->used_gpa, RAM_GPA + 0x1000);
	/* No FEATURES_OK in legacy: DRIVER_OK is enough. */
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_STATUS, 1), ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(activations, 1);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_NOTIFY, 2, 1);	/* not set up: ignored */
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_NOTIFY, 2, 999);
	CHECK_EQ(notified[0], 1);
	CHECK_EQ(notified[1], 0);

	/* Device config at 20 without MSI-X... */
	CHECK_EQ(pio_rd(bar0 + 20, 1), 0xa0);
	CHECK_EQ(pio_rd(bar0 + 20, 4), 0xa3a2a1a0);
	pio_wr(bar0 + 22, 1, 0x66);
	CHECK_EQ(config_space[2], 0x66);
	/* ...and at 24 with it, the vector registers taking 20 and 22. */
	msix_enable();
	CHECK_EQ(pio_rd(bar0 + 24, 1), 0xa0);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_MSI_CONFIG_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	pio_wr(bar0 + VIRTIO_MSI_CONFIG_VECTOR, 2, 1);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_MSI_CONFIG_VECTOR, 2), 1);
	pio_wr(bar0 + VIRTIO_MSI_QUEUE_VECTOR, 2, 2);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_MSI_QUEUE_VECTOR, 2), 2);
	pio_wr(bar0 + VIRTIO_MSI_QUEUE_VECTOR, 2, 0x123);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_MSI_QUEUE_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_SEL, 2, 77);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_MSI_QUEUE_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_NUM, 2), 0);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_PFN, 4), 0);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_PFN, 4, RAM_GPA >> 12);
	/* Reset, and a PFN of 0 on the reset device. */
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, 0);
	CHECK(!vq->ready);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_SEL, 2, 0);
	pio_wr(bar0 + VIRTIO_PCI_QUEUE_PFN, 4, 0);
	CHECK_EQ(pio_rd(bar0 + VIRTIO_PCI_QUEUE_PFN, 4), 0);
	teardown();
}

/* A legacy driver on a transitional device: no VERSION_1 needed. */
static void test_transitional_legacy_driver(void)
{
	setup(VIRTIO_ID_NET, false, false);
	CHECK(vdev.modern);
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, 0);
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK);
	CHECK(!vdev.modern);
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK | ST_DRV);
	pio_wr(bar0 + VIRTIO_PCI_GUEST_FEATURES, 4, 1u << DEV_FEATURE);
	legacy_bring_up_queue0();
	pio_wr(bar0 + VIRTIO_PCI_STATUS, 1, ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(activations, 1);
	CHECK(!virtio_has_feature(&vdev, VIRTIO_F_VERSION_1));
	/* After a reset a modern driver may take over. */
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK);
	CHECK(vdev.modern);
	teardown();
}

/* ---- other identities ---- */

static void test_modern_only_and_legacy_fallback_ids(void)
{
	struct found_cap c[8];

	setup(VIRTIO_ID_VSOCK, false, false);
	CHECK_EQ(cfg_rd(SLOT, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_VSOCK);
	CHECK_EQ(cfg_rd(SLOT, PCI_REVISION_ID, 1), 1);
	CHECK(cfg_rd(SLOT, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	CHECK_EQ(cfg_rd(SLOT, PCI_BASE_ADDRESS_0, 4), 0);	/* no legacy BAR */
	CHECK_EQ(walk_virtio_caps(c), 5);
	CHECK(vdev.modern);
	teardown();

	setup(VIRTIO_ID_VSOCK, true, false);
	CHECK(cfg_rd(SLOT, PCI_DEVICE_ID, 2) >= 0x1000 && cfg_rd(SLOT, PCI_DEVICE_ID, 2) <= 0x103f);
	CHECK_EQ(cfg_rd(SLOT, PCI_SUBSYSTEM_ID, 2), VIRTIO_ID_VSOCK);
	CHECK(!vdev.modern);
	teardown();

	/* A device already attached cannot be attached twice. */
	setup(VIRTIO_ID_NET, false, false);
	CHECK_EQ(virtio_pci_attach(&fake_kvm, &vdev, false), -EINVAL);
	teardown();
}

/* ---- the PCI configuration access capability ---- */

static void cfg_cap_window(u8 pos, u8 bar, u32 off, u32 len)
{
	cfg_wr(SLOT, pos + offsetof(struct virtio_pci_cap, bar), 1, bar);
	cfg_wr(SLOT, pos + offsetof(struct virtio_pci_cap, offset), 4, off);
	cfg_wr(SLOT, pos + offsetof(struct virtio_pci_cap, length), 4, len);
}

static void test_pci_cfg_capability(void)
{
	struct found_cap c[8];
	u8 pos;
	u32 data;

	setup(VIRTIO_ID_NET, false, false);
	walk_virtio_caps(c);
	pos = c[VIRTIO_PCI_CAP_PCI_CFG].pos;
	CHECK(pos);
	data = pos + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	/* Read num_queues through configuration space. */
	cfg_cap_window(pos, VPCI_MODERN_BAR, VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ, 2);
	CHECK_EQ(cfg_rd(SLOT, data, 2), NQ);
	/* Write queue_select through it. */
	cfg_cap_window(pos, VPCI_MODERN_BAR, VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SELECT, 2);
	cfg_wr(SLOT, data, 2, 1);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	CHECK_EQ(cfg_rd(SLOT, data, 2), 1);
	/* The legacy BAR works too. */
	cfg_cap_window(pos, VPCI_LEGACY_BAR, VIRTIO_PCI_QUEUE_NUM, 2);
	CHECK_EQ(cfg_rd(SLOT, data, 2), QSIZE);
	/* Nonsense windows do nothing. */
	cfg_cap_window(pos, VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT, 3);
	cfg_wr(SLOT, data, 4, 0);
	cfg_cap_window(pos, 9, 0, 4);
	cfg_wr(SLOT, data, 4, 0);
	cfg_cap_window(pos, VPCI_MODERN_BAR, 0xfffffffc, 4);
	cfg_wr(SLOT, data, 4, 0);
	cfg_cap_window(pos, 2, 0, 4);		/* unimplemented BAR */
	cfg_wr(SLOT, data, 4, 0);
	cfg_cap_window(pos, VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT + 1, 2);	/* unaligned */
	cfg_wr(SLOT, data, 2, 0);
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	/* cap_vndr, cfg_type and the rest of the header are read-only. */
	cfg_wr(SLOT, pos, 4, 0);
	CHECK_EQ(cfg_rd(SLOT, pos, 1), PCI_CAP_ID_VNDR);
	CHECK_EQ(cfg_rd(SLOT, pos + 3, 1), VIRTIO_PCI_CAP_PCI_CFG);
	teardown();
}

/* ---- guest nonsense ---- */

static void test_random_guest_accesses(void)
{
	unsigned int seed = 4242;
	u8 buf[8];

	setup(VIRTIO_ID_NET, false, false);
	modern_bring_up();
	for (int i = 0; i < 300000; i++) {
		u32 r = (u32)rand_r(&seed), v = (u32)rand_r(&seed) * 2654435761u;
		u32 len = 1u << (r % 4), which = (r >> 2) % 6;
		u32 off = (r >> 5) % 0x4100;
		bool wr = (r >> 20) % 2;

		bus_data_put(buf, 8, (u64)v << 13 ^ v);
		switch (which) {
		case 0:	/* modern BAR, mostly the common structure */
			off = (r >> 24) % 2 ? off % 0x40 : off;
			bus_dispatch(&fake_kvm.mmio_bus, bar4 + off, buf, len, wr);
			break;
		case 1:
			bus_dispatch(&fake_kvm.pio_bus, bar0 + off % 64, buf, MIN(len, 4u), wr);
			break;
		case 2:
			bus_dispatch(&fake_kvm.mmio_bus, bar1 + off % 0x1000, buf, len, wr);
			break;
		case 3:	/* config space, but keep BARs and decode where they are */
			off %= 256;
			if (off >= 0x04 && off < 0x28)
				break;
			cfg_select(0, SLOT, 0, off);
			bus_dispatch(&fake_kvm.pio_bus, 0xcfc + (off & 3), buf,
				     MIN(len, 4 - (off & 3)), wr);
			break;
		case 4:	/* the device's interrupts, as device threads raise them */
			vdev.transport->signal_config(&vdev);
			vdev.transport->signal_queue(&vdev, virtio_get_queue(&vdev, r % NQ));
			break;
		default:
			bus_dispatch(&fake_kvm.mmio_bus, bar4 + VPCI_NOTIFY_OFF + off % 16,
				     buf, len, wr);
			break;
		}
	}
	/* The transport still works: a full reset and bring-up. */
	cfg_wr(SLOT, msix_cap() + PCI_MSIX_FLAGS, 2, 0);
	activations = 0;
	modern_bring_up();
	CHECK_EQ(common_rd(VIRTIO_PCI_COMMON_STATUS, 1), ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	CHECK_EQ(activations, 1);
	teardown();
}

int main(void)
{
	RUN(test_transitional_identity);
	RUN(test_modern_capabilities);
	RUN(test_modern_negotiation);
	RUN(test_modern_queue_address_qword);
	RUN(test_modern_requires_version1);
	RUN(test_out_of_range_queue_select);
	RUN(test_wrong_widths_ignored);
	RUN(test_ioeventfd_registration);
	RUN(test_ioeventfd_churn_capped);
	RUN(test_intx_and_isr);
	RUN(test_msix_vectors);
	RUN(test_irqfd_follows_vector);
	RUN(test_irqfd_refused);
	RUN(test_kickfd_follows_bar);
	RUN(test_kickfd_refused_exits);
	RUN(test_legacy_only_device);
	RUN(test_transitional_legacy_driver);
	RUN(test_modern_only_and_legacy_fallback_ids);
	RUN(test_pci_cfg_capability);
	RUN(test_random_guest_accesses);
	return unit_summary();
}
